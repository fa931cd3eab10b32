//! doctor's AWS side: IMDSv2, the region and where it came from, the credentials' source
//! and the caller's ARN (STS GetCallerIdentity), and per config section the ENI, its
//! source/destination check, the VIP routes and addresses, and every write the section
//! needs and split-brain liveness's read, proven with DryRun; its DNS records through
//! [`super::dns`]. Read-only: DryRun changes nothing.

use super::{Finding, Level};
use crate::aws::credentials;
use crate::aws::probe::{Probe, Verdict, NO_DRY_RUN};
use crate::aws::{Cloud, Ec2, SdkCloud, SdkEc2};
use crate::config::Resources;
use crate::deadline::Deadline;
use crate::engine::Engine;
use crate::model::{Identity, RouteTarget, TableChoice};
use crate::scenario::iam::Scope;
use crate::scenario::Scenario;

const HOP_LIMIT: &str = "if ec2-vip runs in a container, raise the token hop limit: aws ec2 \
    modify-instance-metadata-options --instance-id ID --http-tokens required --http-put-response-hop-limit 2";
const POLICY: &str =
    "grant it to the instance role: `ec2-vip iam-policy` prints the policy this config needs";

const STS: &str = "harmless for a failover unless a Transit Gateway site has a role_arn \
    (AssumeRole needs STS): give a VPC without internet access an STS interface endpoint";

/// IMDSv2, region and credentials (their source and the caller's ARN), once; None when IMDS cannot be asked (nothing else can be then).
pub async fn node(
    engine: &Engine<SdkCloud>,
    out: &mut Vec<Finding>,
    d: &Deadline,
) -> Option<(Identity, SdkEc2)> {
    let me = match engine.cloud.identity(&crate::model::EniChoice::Primary, d).await {
        Ok(me) => me,
        Err(e) => {
            out.push(Finding::fail("imds", format!("IMDSv2 did not answer: {e}"), HOP_LIMIT));
            return None;
        }
    };
    out.push(Finding::ok(
        "imds",
        format!("IMDSv2 answers with a token: {} in {}", me.instance_id, me.vpc_id),
    ));
    let s = &engine.settings;
    let region = s.region.clone().unwrap_or_else(|| me.region.clone());
    out.push(match s.region_mismatch(&me.region) {
        Some(w) => Finding::new(Level::Warn, "region", w, &format!("unset {}", s.region_from)),
        None if s.region.is_some() => Finding::ok("region", format!("{region} (from {})", s.region_from)),
        None => Finding::ok("region", format!("{region} (from IMDS)")),
    });
    let ec2 = engine.cloud.client(&region, &Default::default(), d).await.ok()?;
    let imds = crate::aws::imds::Imds::new(d.total());
    match credentials::source(&ec2.config, &imds, d).await {
        Ok(from) => {
            out.push(Finding::ok("credentials", format!("credentials resolve, from {from}")));
            out.push(match credentials::caller_arn(&ec2.config, d).await {
                Ok(arn) => Finding::ok("caller", format!("AWS says the caller is {arn}")),
                Err(e) => Finding::new(Level::Warn, "caller", e, STS),
            });
        }
        Err(e) => out.push(Finding::fail(
            "credentials",
            format!("no credentials: {e}"),
            "attach an instance profile (IAM role) to the instance, or set AWS_PROFILE",
        )),
    }
    Some((me, ec2))
}

/// Every check of one config section.
pub async fn section(
    engine: &Engine<SdkCloud>,
    ec2: &SdkEc2,
    name: &str,
    res: &Resources,
    d: &Deadline,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let f =
        |level, check: &str, message: String, fix: &str| Finding::new(level, check, message, fix).of(name);
    let me = match engine.cloud.identity(&res.eni, d).await {
        Ok(me) => me,
        Err(e) => {
            out.push(f(Level::Fail, "eni", format!("{e}"), "name an interface or ENI that is attached"));
            return out;
        }
    };
    out.push(f(Level::Ok, "eni", format!("VIP goes to {} ({})", me.eni_id, me.vpc_id), ""));
    let region = res.access.region.clone().or_else(|| engine.settings.region.clone());
    let region = region.unwrap_or_else(|| me.region.clone());
    let own;
    let ec2 = match res.access.is_default() {
        true => ec2,
        false => match engine.cloud.client(&region, &res.access, d).await {
            Ok(c) => {
                own = c;
                &own
            }
            Err(e) => {
                out.push(f(Level::Fail, "access", e.to_string(), "fix the section's profile"));
                return out;
            }
        },
    };
    if !res.sites.is_empty() {
        out.push(f(
            Level::Warn,
            "transit-gateway",
            format!("{} site(s): discovery and permissions are not proven by doctor", res.sites.len()),
            "run `ec2-vip status` on each node to see every site's routes",
        ));
    }
    if !res.routes.is_empty() && res.sites.is_empty() {
        routes(ec2, &me, res, &mut out, name, d).await;
    }
    if !res.eips.is_empty() {
        addresses(ec2, &me, res, &mut out, name, d).await;
    }
    // The split-brain settlement (route tables and Elastic IPs) asks whether the winner's
    // instance is alive: prove that read on this node's own instance.
    if (!res.routes.is_empty() && res.sites.is_empty()) || !res.eips.is_empty() {
        let p = Probe::DescribeInstanceStatus { instance_id: me.instance_id.clone() };
        probe(ec2, p, &mut out, name, d).await;
    }
    out.extend(super::dns::records(engine, ec2, &me, &res.dns_records, name, d).await);
    for ip in &res.private_ips {
        let inside = me.subnet_cidr.map(|c| c.contains(&std::net::IpAddr::V4(*ip)));
        out.push(match inside {
            None => f(
                Level::Warn,
                "private-ip",
                format!("IMDS tells no subnet CIDR for {}", me.eni_id),
                "make sure the address lies in the ENI's subnet",
            ),
            Some(true) => f(Level::Ok, "private-ip", format!("{ip} is in {}'s subnet", me.eni_id), ""),
            Some(false) => f(
                Level::Fail,
                "private-ip",
                format!("{ip} is outside {}'s subnet", me.eni_id),
                "a secondary IP moves only within one subnet: use routes for nodes in different subnets",
            ),
        });
    }
    for ip in &res.ipv6_addresses {
        let inside = me.subnet_ipv6_cidrs.iter().any(|c| c.contains(&std::net::IpAddr::V6(*ip)));
        out.push(match inside {
            true => f(Level::Ok, "ipv6-address", format!("{ip} is in {}'s subnet", me.eni_id), ""),
            false => f(
                Level::Fail,
                "ipv6-address",
                format!("{ip} is outside {}'s subnet IPv6 CIDRs", me.eni_id),
                "an IPv6 address moves only within one subnet: use an IPv6 route instead",
            ),
        });
    }
    let scope = Scope { region, account: "*".into(), vpc: Some(me.vpc_id.clone()) };
    for p in Scenario::for_resources(res).iter().flat_map(|s| s.permissions(&scope)) {
        let action = p.action.trim_start_matches("ec2:");
        if NO_DRY_RUN.contains(&action) {
            out.push(f(
                Level::Warn,
                "permission",
                format!("ec2:{action} cannot be proven: EC2 has no DryRun for it"),
                "make sure the instance role allows it (`ec2-vip iam-policy`)",
            ));
        }
    }
    out
}

async fn probe(ec2: &SdkEc2, p: Probe, out: &mut Vec<Finding>, name: &str, d: &Deadline) {
    let (action, on) = (p.action(), p.target().to_string());
    let verdict = match d.run(action, ec2.probe(&p)).await {
        Ok(v) => v,
        Err(e) => Verdict::Unknown(e.to_string()),
    };
    out.push(
        match verdict {
            Verdict::Allowed => Finding::ok("permission", format!("ec2:{action} on {on} allowed (DryRun)")),
            Verdict::Denied(e) => {
                Finding::fail("permission", format!("ec2:{action} on {on} denied: {e}"), POLICY)
            }
            Verdict::Unknown(e) => Finding::new(
                Level::Warn,
                "permission",
                format!("ec2:{action} on {on} not proven: {e}"),
                POLICY,
            ),
        }
        .of(name),
    );
}

async fn routes(
    ec2: &SdkEc2,
    me: &Identity,
    res: &Resources,
    out: &mut Vec<Finding>,
    name: &str,
    d: &Deadline,
) {
    let f = |level, message: String, fix: &str| Finding::new(level, "route", message, fix).of(name);
    let sdc = d.run("DescribeNetworkInterfaces", ec2.source_dest_check(&me.eni_id)).await;
    out.push(match sdc {
        Ok(Ok(Some(false))) => Finding::ok("source-dest-check", format!("off on {}", me.eni_id)),
        Ok(Ok(Some(true))) => Finding::fail(
            "source-dest-check",
            format!("{} has source/destination check on: it drops traffic for the VIP", me.eni_id),
            &format!("aws ec2 modify-network-interface-attribute --network-interface-id {} --no-source-dest-check", me.eni_id),
        ),
        Ok(Ok(None)) => Finding::fail("source-dest-check", format!("{} not found", me.eni_id), "check --eni / interface"),
        Ok(Err(e)) => Finding::new(Level::Warn, "source-dest-check", e.to_string(), POLICY),
        Err(e) => Finding::new(Level::Warn, "source-dest-check", e.to_string(), ""),
    }.of(name));
    let all = match d.run("DescribeRouteTables", ec2.route_tables_tagged(&me.vpc_id, &[])).await {
        Ok(Ok(t)) => t,
        Ok(Err(e)) => return out.push(f(Level::Fail, e.to_string(), POLICY)),
        Err(e) => return out.push(f(Level::Fail, e.to_string(), "")),
    };
    for dest in &res.routes {
        if let Some(c) = me.vpc_cidrs.iter().find(|c| c.contains(dest)) {
            out.push(f(
                Level::Fail,
                format!("{dest} lies inside the VPC CIDR {c}: EC2 routes it locally"),
                "choose a VIP outside every VPC CIDR, or move a secondary private IP instead",
            ));
            continue;
        }
        let holds = |t: &crate::model::RouteTable| {
            t.routes.iter().find(|r| r.destination == *dest).map(|r| r.target.clone())
        };
        let named: Option<Vec<&str>> = match &res.tables {
            TableChoice::Ids(ids) => Some(ids.iter().map(String::as_str).collect()),
            _ => None,
        };
        let mut holding = Vec::new();
        for t in &all {
            match (holds(t), &named) {
                (Some(target), _) => {
                    let owned = target.is_node_target();
                    if owned {
                        probe(ec2, Probe::ReplaceRoute { table_id: t.id.clone(), destination: *dest, eni: me.eni_id.clone() }, out, name, d).await;
                        holding.push(t.id.clone());
                    } else {
                        out.push(f(Level::Warn, format!("{dest} in {} targets {target}: not a node's, never touched", t.id), "point it at a node's ENI if it is the VIP"));
                    }
                }
                (None, Some(ids)) if ids.contains(&t.id.as_str()) => {
                    out.push(f(Level::Ok, format!("{dest} is missing in {}: created on failover", t.id), ""));
                    probe(ec2, Probe::CreateRoute { table_id: t.id.clone(), destination: *dest, eni: me.eni_id.clone() }, out, name, d).await;
                }
                (None, None) if private_with_egress(t) => out.push(f(
                    Level::Fail,
                    format!("{} (a private table: default route via {}) has no route for {dest}: its subnets cannot reach the VIP", t.id, default_target(t)),
                    &format!("aws ec2 create-route --route-table-id {} --destination-cidr-block {dest} --network-interface-id {}, or list the tables in route_tables", t.id, me.eni_id),
                )),
                _ => {}
            }
        }
        if let Some(ids) = &named {
            for id in ids.iter().filter(|id| !all.iter().any(|t| t.id == **id)) {
                out.push(f(
                    Level::Fail,
                    format!("route table {id} is not in {}", me.vpc_id),
                    "fix route_tables",
                ));
            }
        }
        if named.is_none() {
            out.push(match holding.is_empty() {
                true => f(Level::Fail, format!("no route table of {} holds a route for {dest}", me.vpc_id),
                          &format!("add it to each table whose subnets reach the VIP: aws ec2 create-route --route-table-id RTB --destination-cidr-block {dest} --network-interface-id {}", me.eni_id)),
                false => f(Level::Ok, format!("{dest} is in {}", holding.join(", ")), ""),
            });
        }
    }
}

fn default_target(t: &crate::model::RouteTable) -> String {
    t.routes
        .iter()
        .find(|r| r.destination.prefix_len() == 0)
        .map(|r| r.target.to_string())
        .unwrap_or_default()
}

/// A table whose default route leaves through something other than an internet gateway
/// (NAT gateway, NAT instance, Transit Gateway): a private subnet's table.
fn private_with_egress(t: &crate::model::RouteTable) -> bool {
    t.routes.iter().any(|r| {
        r.destination.prefix_len() == 0
            && !matches!(&r.target, RouteTarget::Other { kind: "gateway", id } if id.starts_with("igw-"))
    })
}

async fn addresses(
    ec2: &SdkEc2,
    me: &Identity,
    res: &Resources,
    out: &mut Vec<Finding>,
    name: &str,
    d: &Deadline,
) {
    let found = match d.run("DescribeAddresses", ec2.addresses(&res.eips)).await {
        Ok(Ok(a)) => a,
        Ok(Err(e)) => {
            let fix =
                if e.is_not_found() { "fix elastic_ips: allocate it or correct the id" } else { POLICY };
            return out.push(Finding::fail("elastic-ip", e.to_string(), fix).of(name));
        }
        Err(e) => return out.push(Finding::fail("elastic-ip", e.to_string(), "").of(name)),
    };
    for a in found {
        let at = a.network_interface_id.clone().unwrap_or_else(|| "no ENI".into());
        out.push(
            Finding::ok("elastic-ip", format!("{} ({}) exists, now on {at}", a.public_ip, a.allocation_id))
                .of(name),
        );
        let p = Probe::AssociateAddress { allocation_id: a.allocation_id.clone(), eni: me.eni_id.clone() };
        probe(ec2, p, out, name, d).await;
        if let (true, Some(assoc)) = (res.release, a.association_id.clone()) {
            probe(ec2, Probe::DisassociateAddress { association_id: assoc }, out, name, d).await;
        }
    }
}
