use super::*;
use crate::model::{Route, RouteTable, RouteTarget};

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

fn eni(id: &str) -> RouteTarget {
    RouteTarget::NetworkInterface(id.into())
}

fn table(id: &str, routes: &[(&str, RouteTarget)]) -> RouteTable {
    RouteTable {
        id: id.into(),
        vpc_id: "vpc-1".into(),
        routes: routes.iter().map(|(d, t)| Route { destination: net(d), target: t.clone() }).collect(),
    }
}

/// The guide's local-recovery example: table A and B hold 10.1.0.10/32 on the old ENI,
/// B also holds 10.1.0.20/32 of another cluster, which must not be touched.
#[test]
fn guide_example_replaces_only_the_vip_routes() {
    let tables = [
        table("rtb-a", &[("10.1.0.10/32", eni("eni-89abcdef"))]),
        table("rtb-b", &[("10.1.0.10/32", eni("eni-89abcdef")), ("10.1.0.20/32", eni("eni-89abcdef"))]),
    ];
    let plan = plan_routes(&tables, &[net("10.1.0.10/32")], "eni-01234567");
    let replaced: Vec<_> = plan.replacements().map(|s| (s.table_id.as_str(), s.destination)).collect();
    assert_eq!(replaced, vec![("rtb-a", net("10.1.0.10/32")), ("rtb-b", net("10.1.0.10/32"))]);
    assert_eq!(plan.steps.len(), 2, "10.1.0.20/32 is never part of the plan");
    assert!(plan.missing.is_empty());
}

#[test]
fn routes_already_on_our_eni_are_kept_and_others_replaced() {
    let tables = [
        table("rtb-a", &[("10.1.0.10/32", eni("eni-me"))]),
        table("rtb-b", &[("10.1.0.10/32", RouteTarget::Instance("i-old".into()))]),
        table("rtb-c", &[("10.1.0.10/32", RouteTarget::Blackhole)]),
    ];
    let plan = plan_routes(&tables, &[net("10.1.0.10/32")], "eni-me");
    let actions: Vec<_> = plan.steps.iter().map(|s| (s.table_id.as_str(), s.action.clone())).collect();
    assert_eq!(
        actions,
        vec![("rtb-a", RouteAction::Keep), ("rtb-b", RouteAction::Replace), ("rtb-c", RouteAction::Replace)]
    );
}

#[test]
fn gateway_routes_are_not_owned() {
    let igw = RouteTarget::Other { kind: "gateway", id: "igw-1".into() };
    let tables = [table("rtb-a", &[("10.1.0.10/32", igw.clone())])];
    let plan = plan_routes(&tables, &[net("10.1.0.10/32")], "eni-me");
    assert_eq!(plan.steps[0].action, RouteAction::NotOwned);
    assert_eq!(plan.steps[0].current, igw);
    assert_eq!(plan.replacements().count(), 0);
}

#[test]
fn missing_destinations_are_reported() {
    let tables = [table("rtb-a", &[("10.1.0.10/32", eni("eni-old"))])];
    let plan = plan_routes(&tables, &[net("10.1.0.10/32"), net("10.9.9.9/32")], "eni-me");
    assert_eq!(plan.missing, vec![net("10.9.9.9/32")]);
    assert_eq!(plan.replacements().count(), 1);
}

#[test]
fn vip_inside_vpc_is_detected() {
    let vpc = [net("10.0.0.0/16"), net("100.64.0.0/16")];
    assert!(inside_vpc(&[net("10.1.0.10/32")], &vpc).is_none());
    assert_eq!(inside_vpc(&[net("10.0.2.9/32")], &vpc).unwrap().1, net("10.0.0.0/16"));
    assert_eq!(inside_vpc(&[net("100.0.0.0/8")], &vpc).unwrap().1, net("100.64.0.0/16"));
    assert!(inside_vpc(&[net("fd00::1/128")], &vpc).is_none());
}

fn addr(alloc: &str, ip: &str, eni: Option<&str>, private_ip: Option<&str>) -> Address {
    Address {
        allocation_id: alloc.into(),
        public_ip: ip.into(),
        association_id: eni.map(|e| format!("eipassoc-{e}")),
        network_interface_id: eni.map(String::from),
        private_ip: private_ip.map(String::from),
    }
}

fn ips(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn master_associates_eip_held_elsewhere() {
    let a = addr("eipalloc-1", "54.0.0.1", Some("eni-old"), Some("10.0.4.5"));
    let acts = plan_eips(&[a], &[], Role::Master, false, "eni-me", &ips(&["10.0.2.5"])).unwrap();
    assert_eq!(
        acts,
        vec![EipAction::Associate {
            allocation_id: "eipalloc-1".into(),
            public_ip: "54.0.0.1".into(),
            private_ip: "10.0.2.5".into(),
            from_eni: Some("eni-old".into())
        }]
    );
}

#[test]
fn master_keeps_eip_already_here_because_each_remap_is_billed() {
    let a = addr("eipalloc-1", "54.0.0.1", Some("eni-me"), Some("10.0.2.5"));
    let acts = plan_eips(
        std::slice::from_ref(&a),
        std::slice::from_ref(&a),
        Role::Master,
        false,
        "eni-me",
        &ips(&["10.0.2.5"]),
    )
    .unwrap();
    assert!(matches!(acts[0], EipAction::Keep { .. }));
}

#[test]
fn master_never_displaces_a_foreign_eip_on_our_eni() {
    let foreign = addr("eipalloc-f", "54.0.0.9", Some("eni-me"), Some("10.0.2.5"));
    let want = addr("eipalloc-1", "54.0.0.1", None, None);
    let acts = plan_eips(
        std::slice::from_ref(&want),
        std::slice::from_ref(&foreign),
        Role::Master,
        false,
        "eni-me",
        &ips(&["10.0.2.5", "10.0.2.6"]),
    )
    .unwrap();
    assert!(matches!(&acts[0], EipAction::Associate { private_ip, .. } if private_ip == "10.0.2.6"));
    let err = plan_eips(&[want], &[foreign], Role::Master, false, "eni-me", &ips(&["10.0.2.5"])).unwrap_err();
    assert!(err.contains("no private IP left"), "{err}");
}

#[test]
fn two_eips_take_two_private_ips_in_order() {
    let a = addr("eipalloc-1", "54.0.0.1", None, None);
    let b = addr("eipalloc-2", "54.0.0.2", Some("eni-old"), Some("10.0.4.5"));
    let acts =
        plan_eips(&[a, b], &[], Role::Master, false, "eni-me", &ips(&["10.0.2.5", "10.0.2.6"])).unwrap();
    let slots: Vec<_> = acts
        .iter()
        .map(|a| match a {
            EipAction::Associate { private_ip, .. } => private_ip.as_str(),
            _ => panic!("{a:?}"),
        })
        .collect();
    assert_eq!(slots, vec!["10.0.2.5", "10.0.2.6"]);
}

#[test]
fn backup_without_release_changes_nothing() {
    let a = addr("eipalloc-1", "54.0.0.1", Some("eni-me"), Some("10.0.2.5"));
    for role in [Role::Backup, Role::Fault, Role::Stop] {
        let acts = plan_eips(std::slice::from_ref(&a), &[], role, false, "eni-me", &[]).unwrap();
        assert!(matches!(acts[0], EipAction::Keep { .. }), "{role}");
    }
}

#[test]
fn release_disassociates_only_from_our_eni() {
    let here = addr("eipalloc-1", "54.0.0.1", Some("eni-me"), Some("10.0.2.5"));
    let acts = plan_eips(&[here], &[], Role::Backup, true, "eni-me", &[]).unwrap();
    assert_eq!(
        acts,
        vec![EipAction::Disassociate {
            allocation_id: "eipalloc-1".into(),
            public_ip: "54.0.0.1".into(),
            association_id: "eipassoc-eni-me".into()
        }]
    );
    // A late BACKUP after the peer became MASTER: the address is on the peer's ENI.
    let there = addr("eipalloc-1", "54.0.0.1", Some("eni-peer"), Some("10.0.4.5"));
    let acts = plan_eips(&[there], &[], Role::Backup, true, "eni-me", &[]).unwrap();
    assert!(matches!(&acts[0], EipAction::Keep { reason, .. } if reason.contains("eni-peer")));
}

#[test]
fn eip_refs_resolve_in_user_order_and_unknown_is_reported() {
    let found = [addr("eipalloc-2", "54.0.0.2", None, None), addr("eipalloc-1", "54.0.0.1", None, None)];
    let refs = [EipRef::AllocationId("eipalloc-1".into()), EipRef::PublicIp("54.0.0.2".parse().unwrap())];
    let got = resolve_eips(&refs, &found).unwrap();
    assert_eq!(got[0].allocation_id, "eipalloc-1");
    assert_eq!(got[1].allocation_id, "eipalloc-2");
    let missing = EipRef::AllocationId("eipalloc-9".into());
    assert_eq!(resolve_eips(std::slice::from_ref(&missing), &found).unwrap_err(), missing);
}

#[test]
fn keepalived_states_parse() {
    assert_eq!(Role::parse_keepalived("MASTER"), Some(Role::Master));
    assert_eq!(Role::parse_keepalived("backup"), Some(Role::Backup));
    assert_eq!(Role::parse_keepalived("FAULT"), Some(Role::Fault));
    assert_eq!(Role::parse_keepalived("STOP"), Some(Role::Stop));
    assert_eq!(Role::parse_keepalived("DELETED"), None);
}
