//! IPv6 address scenario, pure planning. EC2 has no reassignment for IPv6 addresses: a
//! move is "unassign on the ENI holding it, then assign here", one step. No I/O here.

use super::Write;
use crate::model::Interface;
use crate::scenario::{Action, Goal, Kind, Resource, Step};
use std::net::Ipv6Addr;

pub fn plan_ipv6(
    interfaces: &[Interface],
    ips: &[Ipv6Addr],
    subnet: &str,
    goal: Goal,
    eni: &str,
) -> Vec<Step> {
    ips.iter()
        .map(|ip| {
            let holders: Vec<&str> =
                interfaces.iter().filter(|i| i.ipv6.contains(ip)).map(|i| i.id.as_str()).collect();
            let ours = holders.contains(&eni);
            let others: Vec<String> = holders.iter().filter(|h| **h != eni).map(|h| h.to_string()).collect();
            let current = (!holders.is_empty()).then(|| holders.join(","));
            let (desired, action, write) = match (goal, ours, others.is_empty()) {
                (Goal::Take, true, true) => {
                    (eni.to_string(), Action::Keep("already on this node".into()), None)
                }
                (Goal::Take, _, _) => (
                    eni.to_string(),
                    Action::Write { verb: "move", call: "UnassignIpv6Addresses + AssignIpv6Addresses" },
                    Some(Write::Move { from: others, to: eni.into(), ip: *ip }),
                ),
                (Goal::Release, true, _) => (
                    "unassigned".into(),
                    Action::Write { verb: "release", call: "UnassignIpv6Addresses" },
                    Some(Write::Unassign { eni: eni.into(), ip: *ip }),
                ),
                (Goal::Release, false, _) => {
                    let why = if others.is_empty() {
                        "not assigned".into()
                    } else {
                        format!("on {}, not this node", others.join(","))
                    };
                    ("unassigned".into(), Action::Keep(why), None)
                }
            };
            Step {
                kind: Kind::Ipv6Address,
                resource: Resource::Ipv6Address { ip: *ip, subnet: subnet.into() },
                current,
                desired,
                action,
                write: write.map(crate::scenario::Write::Ipv6Address),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iface(id: &str, ips: &[&str]) -> Interface {
        Interface {
            id: id.into(),
            private_ips: Vec::new(),
            ipv6: ips.iter().map(|s| s.parse().unwrap()).collect(),
        }
    }

    fn vip() -> Ipv6Addr {
        "2600:1f18::100".parse().unwrap()
    }

    #[test]
    fn taking_moves_from_the_holder_and_releasing_only_ours() {
        let world = [iface("eni-peer", &["2600:1f18::100"]), iface("eni-me", &[])];
        let steps = plan_ipv6(&world, &[vip()], "subnet-1", Goal::Take, "eni-me");
        let want = Write::Move { from: vec!["eni-peer".into()], to: "eni-me".into(), ip: vip() };
        assert_eq!(steps[0].write, Some(crate::scenario::Write::Ipv6Address(want)));
        let here = [iface("eni-me", &["2600:1f18::100"])];
        assert!(plan_ipv6(&here, &[vip()], "subnet-1", Goal::Take, "eni-me")[0].is_keep());
        // On both (a half-finished move): taking removes it from the other one.
        let both = [iface("eni-peer", &["2600:1f18::100"]), iface("eni-me", &["2600:1f18::100"])];
        assert!(plan_ipv6(&both, &[vip()], "subnet-1", Goal::Take, "eni-me")[0].write.is_some());
        let rel = plan_ipv6(&world, &[vip()], "subnet-1", Goal::Release, "eni-me");
        assert!(matches!(&rel[0].action, Action::Keep(why) if why.contains("eni-peer")), "{rel:?}");
        let rel = plan_ipv6(&here, &[vip()], "subnet-1", Goal::Release, "eni-me");
        assert_eq!(
            rel[0].write,
            Some(crate::scenario::Write::Ipv6Address(Write::Unassign { eni: "eni-me".into(), ip: vip() }))
        );
    }
}
