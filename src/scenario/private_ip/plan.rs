//! Secondary private IP scenario, pure planning. No I/O here; tested with plain data.

use super::Write;
use crate::model::Interface;
use crate::scenario::{Action, Goal, Kind, Resource, Step};
use std::net::Ipv4Addr;

/// Taking, each address goes to our ENI (AssignPrivateIpAddresses with AllowReassignment
/// moves it from the peer's); releasing, it is unassigned only while still on our ENI, so
/// a late BACKUP never takes it from the new master.
pub fn plan_private_ips(
    interfaces: &[Interface],
    ips: &[Ipv4Addr],
    subnet: &str,
    goal: Goal,
    eni: &str,
) -> Vec<Step> {
    ips.iter()
        .map(|ip| {
            let holder = interfaces.iter().find(|i| i.private_ips.contains(ip)).map(|i| i.id.clone());
            let ours = holder.as_deref() == Some(eni);
            let (desired, action, write) = match (goal, ours) {
                (Goal::Take, true) => (eni.to_string(), Action::Keep("already on this node".into()), None),
                (Goal::Take, false) => (
                    eni.to_string(),
                    Action::Write { verb: "assign", call: "AssignPrivateIpAddresses" },
                    Some(Write::Assign { eni: eni.into(), ip: *ip }),
                ),
                (Goal::Release, true) => (
                    "unassigned".into(),
                    Action::Write { verb: "release", call: "UnassignPrivateIpAddresses" },
                    Some(Write::Unassign { eni: eni.into(), ip: *ip }),
                ),
                (Goal::Release, false) => {
                    let why = match &holder {
                        Some(other) => format!("on {other}, not this node"),
                        None => "not assigned".into(),
                    };
                    ("unassigned".into(), Action::Keep(why), None)
                }
            };
            Step {
                kind: Kind::PrivateIp,
                resource: Resource::PrivateIp { ip: *ip, subnet: subnet.into() },
                current: holder,
                desired,
                action,
                write: write.map(crate::scenario::Write::PrivateIp),
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
            private_ips: ips.iter().map(|s| s.parse().unwrap()).collect(),
            ipv6: Vec::new(),
        }
    }

    fn vip() -> Ipv4Addr {
        "10.0.2.100".parse().unwrap()
    }

    #[test]
    fn taking_moves_the_address_from_the_peer_and_keeps_it_when_here() {
        let world = [iface("eni-peer", &["10.0.2.10", "10.0.2.100"]), iface("eni-me", &["10.0.2.20"])];
        let steps = plan_private_ips(&world, &[vip()], "subnet-1", Goal::Take, "eni-me");
        assert_eq!(
            steps[0].write,
            Some(crate::scenario::Write::PrivateIp(Write::Assign { eni: "eni-me".into(), ip: vip() }))
        );
        assert_eq!(
            steps[0].plan_line(),
            "private IP 10.0.2.100 in subnet-1: eni-peer -> eni-me (assign) via AssignPrivateIpAddresses"
        );
        let here = [iface("eni-me", &["10.0.2.20", "10.0.2.100"])];
        assert!(plan_private_ips(&here, &[vip()], "subnet-1", Goal::Take, "eni-me")[0].is_keep());
        let nowhere = plan_private_ips(&[], &[vip()], "subnet-1", Goal::Take, "eni-me");
        assert!(nowhere[0].write.is_some() && nowhere[0].current.is_none());
    }

    #[test]
    fn releasing_unassigns_only_from_our_eni() {
        let here = [iface("eni-me", &["10.0.2.100"])];
        let steps = plan_private_ips(&here, &[vip()], "subnet-1", Goal::Release, "eni-me");
        assert_eq!(
            steps[0].write,
            Some(crate::scenario::Write::PrivateIp(Write::Unassign { eni: "eni-me".into(), ip: vip() }))
        );
        // A late BACKUP: the new master has it already.
        let there = [iface("eni-peer", &["10.0.2.100"]), iface("eni-me", &["10.0.2.20"])];
        let steps = plan_private_ips(&there, &[vip()], "subnet-1", Goal::Release, "eni-me");
        assert!(matches!(&steps[0].action, Action::Keep(why) if why.contains("eni-peer")), "{steps:?}");
    }
}
