//! The IAM permissions each scenario needs: the API actions it may call and, where the
//! config names them, the resources they act on (ARNs; `*` otherwise). Pure: this is what
//! `ec2-vip iam-policy` prints, and a test checks it against the calls really made.

use super::Scenario;
use crate::model::{EipRef, TableChoice};

/// One action and the resource ARNs it needs (`["*"]` when any).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Permission {
    pub action: &'static str,
    pub resources: Vec<String>,
}

fn any(action: &'static str) -> Permission {
    Permission { action, resources: vec!["*".into()] }
}

fn on(action: &'static str, resources: Vec<String>) -> Permission {
    Permission { action, resources }
}

/// `arn:aws:ec2:REGION:*:TYPE/ID` for each id, or `TYPE/*` when none is named.
fn arns(region: &str, kind: &str, ids: &[String]) -> Vec<String> {
    if ids.is_empty() {
        return vec![format!("arn:aws:ec2:{region}:*:{kind}/*")];
    }
    ids.iter().map(|id| format!("arn:aws:ec2:{region}:*:{kind}/{id}")).collect()
}

impl Scenario {
    /// `region`: the node's region if known ("*" otherwise); Transit Gateway sites name theirs.
    pub fn permissions(&self, region: &str) -> Vec<Permission> {
        let enis = || arns(region, "network-interface", &[]);
        match self {
            Scenario::RouteTable(r) => {
                let (tables, create) = match &r.tables {
                    TableChoice::Holding => (Vec::new(), false),
                    TableChoice::Ids(ids) => (ids.clone(), true),
                    TableChoice::Tagged(_) => (Vec::new(), true),
                };
                let tables = arns(region, "route-table", &tables);
                let mut p = vec![any("ec2:DescribeRouteTables"), on("ec2:ReplaceRoute", tables.clone())];
                if create {
                    p.push(on("ec2:CreateRoute", tables));
                }
                p
            }
            Scenario::ElasticIp(e) => {
                let ids: Vec<String> = e
                    .refs
                    .iter()
                    .filter_map(|r| match r {
                        EipRef::AllocationId(id) => Some(id.clone()),
                        EipRef::PublicIp(_) => None,
                    })
                    .collect();
                // An EIP named by its public IP has an allocation id only EC2 knows.
                let by_ip = ids.len() < e.refs.len();
                let eips = arns(region, "elastic-ip", if by_ip { &[] } else { &ids });
                let mut p = vec![
                    any("ec2:DescribeAddresses"),
                    on("ec2:AssociateAddress", [eips.clone(), enis()].concat()),
                ];
                if e.release {
                    p.push(on("ec2:DisassociateAddress", eips));
                }
                p
            }
            Scenario::PrivateIp(s) => {
                let mut p =
                    vec![any("ec2:DescribeNetworkInterfaces"), on("ec2:AssignPrivateIpAddresses", enis())];
                if s.release {
                    p.push(on("ec2:UnassignPrivateIpAddresses", enis()));
                }
                p
            }
            // Moving an IPv6 address unassigns it where it is first, so both always.
            Scenario::Ipv6Address(_) => vec![
                any("ec2:DescribeNetworkInterfaces"),
                on("ec2:UnassignIpv6Addresses", enis()),
                on("ec2:AssignIpv6Addresses", enis()),
            ],
            Scenario::TransitGateway(t) => {
                let mut p = vec![
                    any("ec2:DescribeTransitGatewayAttachments"),
                    any("ec2:DescribeTransitGatewayRouteTables"),
                    any("ec2:SearchTransitGatewayRoutes"),
                    any("ec2:DescribeRouteTables"),
                ];
                for s in &t.sites {
                    let tables =
                        arns(&s.region, "route-table", s.route_tables.as_deref().unwrap_or_default());
                    p.push(on("ec2:ReplaceRoute", tables.clone()));
                    if s.route_tables.is_some() {
                        p.push(on("ec2:CreateRoute", tables));
                    }
                    let named = s.tgw_route_tables.as_deref().unwrap_or_default();
                    let tgw = arns(&s.region, "transit-gateway-route-table", named);
                    let tgw = [tgw, arns(&s.region, "transit-gateway-attachment", &[])].concat();
                    p.push(on("ec2:ReplaceTransitGatewayRoute", tgw.clone()));
                    if s.tgw_route_tables.is_some() {
                        p.push(on("ec2:CreateTransitGatewayRoute", tgw));
                    }
                    if let Some(role) = &s.role_arn {
                        p.push(on("sts:AssumeRole", vec![role.clone()]));
                    }
                }
                p
            }
        }
    }
}

/// Merge permissions: one entry per action, its resources united (`*` absorbs the rest).
pub fn merge(perms: impl IntoIterator<Item = Permission>) -> Vec<Permission> {
    let mut by: std::collections::BTreeMap<&'static str, Vec<String>> = Default::default();
    for p in perms {
        by.entry(p.action).or_default().extend(p.resources);
    }
    by.into_iter()
        .map(|(action, mut resources)| {
            resources.sort();
            resources.dedup();
            if resources.iter().any(|r| r == "*") {
                resources = vec!["*".into()];
            }
            Permission { action, resources }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn perms(toml: &str) -> Vec<Permission> {
        let c = Config::parse("t.toml", toml).unwrap();
        let res = c.instances.values().next().unwrap();
        merge(Scenario::for_resources(res).iter().flat_map(|s| s.permissions("*")))
    }

    fn actions(p: &[Permission]) -> Vec<&str> {
        p.iter().map(|p| p.action).collect()
    }

    #[test]
    fn each_scenario_asks_for_what_it_calls() {
        let p = perms("[instance.A]\nroutes = [\"10.1.0.10/32\"]\nelastic_ips = [\"eipalloc-1\"]\n");
        assert_eq!(
            actions(&p),
            ["ec2:AssociateAddress", "ec2:DescribeAddresses", "ec2:DescribeRouteTables", "ec2:ReplaceRoute"]
        );
        assert_eq!(p[3].resources, ["arn:aws:ec2:*:*:route-table/*"]);
        assert_eq!(
            p[0].resources,
            ["arn:aws:ec2:*:*:elastic-ip/eipalloc-1", "arn:aws:ec2:*:*:network-interface/*"]
        );
        let p = perms("[instance.A]\nroutes = [\"10.1.0.10/32\"]\nroute_tables = [\"rtb-1\", \"rtb-2\"]\n");
        assert_eq!(actions(&p), ["ec2:CreateRoute", "ec2:DescribeRouteTables", "ec2:ReplaceRoute"]);
        assert_eq!(
            p[2].resources,
            ["arn:aws:ec2:*:*:route-table/rtb-1", "arn:aws:ec2:*:*:route-table/rtb-2"]
        );
        let p = perms("[instance.A]\nprivate_ips = [\"10.0.2.100\"]\nrelease = true\n");
        assert_eq!(
            actions(&p),
            [
                "ec2:AssignPrivateIpAddresses",
                "ec2:DescribeNetworkInterfaces",
                "ec2:UnassignPrivateIpAddresses"
            ]
        );
        let p = perms("[instance.A]\nelastic_ips = [\"198.51.100.1\"]\nrelease = true\n");
        assert_eq!(p[2].action, "ec2:DisassociateAddress");
        assert_eq!(p[2].resources, ["arn:aws:ec2:*:*:elastic-ip/*"]);
    }

    #[test]
    fn transit_gateway_sites_name_their_region_tables_and_roles() {
        let p = perms(
            "[instance.A]\nroutes = [\"10.1.0.10/32\"]\n[[instance.A.sites]]\nregion = \"eu-west-1\"\n\
             vpc_id = \"vpc-1\"\ntgw_route_tables = [\"tgw-rtb-1\"]\n\
             role_arn = \"arn:aws:iam::222222222222:role/r\"\n",
        );
        let names = actions(&p);
        assert!(
            names.contains(&"ec2:CreateTransitGatewayRoute") && names.contains(&"sts:AssumeRole"),
            "{names:?}"
        );
        assert!(!names.contains(&"ec2:CreateRoute"), "{names:?}");
        let tgw = p.iter().find(|p| p.action == "ec2:ReplaceTransitGatewayRoute").unwrap();
        assert!(tgw
            .resources
            .contains(&"arn:aws:ec2:eu-west-1:*:transit-gateway-route-table/tgw-rtb-1".into()));
    }
}
