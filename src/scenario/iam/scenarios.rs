//! Each scenario's permissions (see the module above for the rules they follow).

use super::{partition, role_home, Condition, Permission, Place, Scope};
use crate::config::Site;
use crate::model::{Access, EipRef, TableChoice};
use crate::scenario::dns_record::DnsRecords;
use crate::scenario::Scenario;

/// One VIP's permissions: its scenarios' in its own region (a section's `region`, else the
/// scope's). With a `role_arn`, its resources are in the role's account and every call is
/// made as that role ([`Permission::via`]; a Transit Gateway site's own role is assumed
/// from there): the node's policy needs only `sts:AssumeRole` on it.
pub fn for_vip(scenarios: &[Scenario], scope: &Scope, access: &Access) -> Vec<Permission> {
    let role = access.role_arn.as_ref();
    let mut here = scope.clone();
    if let Some(region) = &access.region {
        here.region.clone_from(region);
    }
    if let Some((_, account)) = role.and_then(|r| role_home(r)) {
        here.account = account.to_string();
    }
    let mut p: Vec<Permission> = scenarios
        .iter()
        .flat_map(|s| s.permissions(&here))
        .map(|p| if p.via.is_none() { p.via(role) } else { p })
        .collect();
    if let Some(role) = role {
        p.push(Permission::on("sts:AssumeRole", vec![role.clone()]));
    }
    p
}

impl Scenario {
    /// What this scenario may call, on what, under which conditions. `scope`: the node's
    /// region, account and VPC (`*` where unknown); Transit Gateway sites name their own.
    pub fn permissions(&self, scope: &Scope) -> Vec<Permission> {
        let here = Place { region: &scope.region, account: &scope.account };
        let vpc = scope.vpc.as_deref().unwrap_or("*");
        let enis =
            |action| Permission::on(action, here.arns("network-interface", &[])).when(here.in_vpc(vpc));
        match self {
            Scenario::RouteTable(r) => {
                let mut p = vec![Permission::any("ec2:DescribeRouteTables")];
                p.extend(route_writes(here, &r.tables, vpc));
                p
            }
            Scenario::ElasticIp(e) => {
                let mut p = vec![Permission::any("ec2:DescribeAddresses")];
                let mut actions = vec!["ec2:AssociateAddress"];
                if e.release {
                    actions.push("ec2:DisassociateAddress");
                }
                for action in actions {
                    p.extend(eip_writes(here, action, &e.refs));
                    p.push(enis(action));
                }
                p
            }
            Scenario::PrivateIp(s) => {
                let mut p = vec![
                    Permission::any("ec2:DescribeNetworkInterfaces"),
                    enis("ec2:AssignPrivateIpAddresses"),
                ];
                if s.release {
                    p.push(enis("ec2:UnassignPrivateIpAddresses"));
                }
                p
            }
            // Moving an IPv6 address unassigns it where it is first, so both always.
            Scenario::Ipv6Address(_) => vec![
                Permission::any("ec2:DescribeNetworkInterfaces"),
                enis("ec2:UnassignIpv6Addresses"),
                enis("ec2:AssignIpv6Addresses"),
            ],
            Scenario::TransitGateway(t) => t.sites.iter().flat_map(|s| site(s, &scope.account)).collect(),
            Scenario::DnsRecord(d) => dns(d, partition(&scope.region)),
        }
    }

    /// Whether its permissions are scoped to the node's VPC (discovered route tables, the
    /// ENIs addresses move between): then the caller must know the VPC.
    pub fn needs_vpc(&self) -> bool {
        match self {
            Scenario::RouteTable(r) => r.tables == TableChoice::Holding,
            Scenario::TransitGateway(_) | Scenario::DnsRecord(_) => false,
            Scenario::ElasticIp(_) | Scenario::PrivateIp(_) | Scenario::Ipv6Address(_) => true,
        }
    }
}

/// ReplaceRoute (and CreateRoute where tables are chosen) on the chosen tables: by id; by
/// tag (every tag must match); or the VPC's tables that hold the route (by `ec2:Vpc`).
fn route_writes(place: Place, tables: &TableChoice, vpc: &str) -> Vec<Permission> {
    let any_table = || place.arns("route-table", &[]);
    let (resources, condition, create) = match tables {
        TableChoice::Holding => (any_table(), Some(place.in_vpc(vpc)), false),
        TableChoice::Ids(ids) => (place.arns("route-table", ids), None, true),
        TableChoice::Tagged(tags) => {
            let mut p: Vec<Permission> = Vec::new();
            for action in ["ec2:ReplaceRoute", "ec2:CreateRoute"] {
                let mut one = Permission::on(action, any_table());
                for (key, pattern) in tags {
                    let key = format!("ec2:ResourceTag/{key}");
                    one = one.when(Condition { op: "StringLike", key, values: vec![pattern.clone()] });
                }
                p.push(one);
            }
            return p;
        }
    };
    let actions: &[&'static str] =
        if create { &["ec2:ReplaceRoute", "ec2:CreateRoute"] } else { &["ec2:ReplaceRoute"] };
    actions
        .iter()
        .map(|a| {
            let p = Permission::on(a, resources.clone());
            match &condition {
                Some(c) => p.when(c.clone()),
                None => p,
            }
        })
        .collect()
}

/// An Elastic IP write on the addresses named by allocation id, and on those named by
/// public IP through `ec2:PublicIpAddress` (their allocation ids only EC2 knows).
fn eip_writes(place: Place, action: &'static str, refs: &[EipRef]) -> Vec<Permission> {
    let (mut ids, mut ips) = (Vec::new(), Vec::new());
    for r in refs {
        match r {
            EipRef::AllocationId(id) => ids.push(id.clone()),
            EipRef::PublicIp(ip) => ips.push(ip.to_string()),
        }
    }
    let mut p = Vec::new();
    if !ids.is_empty() {
        p.push(Permission::on(action, place.arns("elastic-ip", &ids)));
    }
    if !ips.is_empty() {
        let by_ip = Condition { op: "StringEquals", key: "ec2:PublicIpAddress".into(), values: ips };
        p.push(Permission::on(action, place.arns("elastic-ip", &[])).when(by_ip));
    }
    p
}

/// One Transit Gateway site: its region's partition, its role's account (else the node's),
/// made with its role's credentials; the node then needs `sts:AssumeRole` on that role.
fn site(s: &Site, node_account: &str) -> Vec<Permission> {
    let role = s.role_arn.as_ref();
    let account = role.and_then(|r| role_home(r)).map_or(node_account, |(_, account)| account);
    let place = Place { region: &s.region, account };
    let mut p = vec![
        Permission::any("ec2:DescribeTransitGatewayAttachments"),
        Permission::any("ec2:DescribeTransitGatewayRouteTables"),
        Permission::any("ec2:DescribeRouteTables"),
    ];
    let tables = match &s.route_tables {
        Some(ids) => TableChoice::Ids(ids.clone()),
        None => TableChoice::Holding,
    };
    p.extend(route_writes(place, &tables, &s.vpc_id));
    let tgw_tables =
        place.arns("transit-gateway-route-table", s.tgw_route_tables.as_deref().unwrap_or_default());
    p.push(Permission::on("ec2:SearchTransitGatewayRoutes", tgw_tables.clone()));
    let tgw = [tgw_tables, place.arns("transit-gateway-attachment", &[])].concat();
    p.push(Permission::on("ec2:ReplaceTransitGatewayRoute", tgw.clone()));
    if s.tgw_route_tables.is_some() {
        p.push(Permission::on("ec2:CreateTransitGatewayRoute", tgw));
    }
    let mut p: Vec<Permission> = p.into_iter().map(|p| p.via(role)).collect();
    if let Some(role) = role {
        p.push(Permission::on("sts:AssumeRole", vec![role.clone()]));
    }
    p
}

/// Route 53: per hosted zone, ChangeResourceRecordSets only for the config's names, types
/// and actions (UPSERT, and DELETE with `release`), ListResourceRecordSets and GetHostedZone
/// (doctor) on the zone (no GetChange: a PENDING change is not waited for). A zone reached through
/// `role_arn` is that role's to allow, for that role's records only (records of one zone
/// may be reached through different roles, or some as the node itself); the node then
/// needs `sts:AssumeRole` on it.
fn dns(d: &DnsRecords, partition: &str) -> Vec<Permission> {
    // One grant per zone and the role its records are reached through (None: the node).
    let mut zones: Vec<(&str, Option<&String>)> =
        d.records.iter().map(|r| (r.zone.as_str(), r.role_arn.as_ref())).collect();
    zones.sort_unstable();
    zones.dedup();
    let all = |values: Vec<String>| {
        let mut v = values;
        v.sort();
        v.dedup();
        v
    };
    let mut p = Vec::new();
    for (zone, role) in zones {
        let arn = vec![format!("arn:{partition}:route53:::hostedzone/{zone}")];
        let in_zone = || d.records.iter().filter(|r| r.zone == zone && r.role_arn.as_ref() == role);
        let names = all(in_zone().map(|r| r.name.trim_end_matches('.').to_string()).collect());
        let types = all(in_zone().map(|r| r.kind.as_str().to_string()).collect());
        let actions = if d.release { vec!["DELETE".into(), "UPSERT".into()] } else { vec!["UPSERT".into()] };
        let each = |key: &str, values: Vec<String>| Condition {
            op: "ForAllValues:StringEquals",
            key: format!("route53:ChangeResourceRecordSets{key}"),
            values,
        };
        let change = Permission::on("route53:ChangeResourceRecordSets", arn.clone())
            .when(each("NormalizedRecordNames", names))
            .when(each("RecordTypes", types))
            .when(each("Actions", actions));
        for perm in [
            change,
            Permission::on("route53:ListResourceRecordSets", arn.clone()),
            // Read by `doctor` only (the zone's name, private or public).
            Permission::on("route53:GetHostedZone", arn),
        ] {
            p.push(perm.via(role));
        }
        if let Some(role) = role {
            p.push(Permission::on("sts:AssumeRole", vec![role.clone()]));
        }
    }
    p
}
