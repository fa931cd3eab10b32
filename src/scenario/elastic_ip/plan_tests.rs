use super::*;

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

fn write(s: &Step) -> Option<&Write> {
    match &s.write {
        Some(crate::scenario::Write::ElasticIp(w)) => Some(w),
        _ => None,
    }
}

fn slot(s: &Step) -> &str {
    match write(s) {
        Some(Write::Associate { private_ip, .. }) => private_ip,
        other => panic!("{other:?}"),
    }
}

#[test]
fn taking_associates_an_eip_held_elsewhere() {
    let a = addr("eipalloc-1", "54.0.0.1", Some("eni-old"), Some("10.0.4.5"));
    let steps = plan_eips(&[a], &[], Goal::Take, "eni-me", &ips(&["10.0.2.5"]), &[]);
    assert_eq!(
        write(&steps[0]),
        Some(&Write::Associate {
            allocation_id: "eipalloc-1".into(),
            eni: "eni-me".into(),
            private_ip: "10.0.2.5".into(),
            pinned: false
        })
    );
    assert_eq!(
        steps[0].plan_line(),
        "eip eipalloc-1 (54.0.0.1): eni-old -> eni-me 10.0.2.5 (associate) via AssociateAddress"
    );
}

#[test]
fn taking_keeps_an_eip_already_here_because_each_remap_is_billed() {
    let a = addr("eipalloc-1", "54.0.0.1", Some("eni-me"), Some("10.0.2.5"));
    let steps = plan_eips(
        std::slice::from_ref(&a),
        std::slice::from_ref(&a),
        Goal::Take,
        "eni-me",
        &ips(&["10.0.2.5"]),
        &[],
    );
    assert!(steps[0].is_keep());
    assert!(steps[0].plan_line().contains("already associated with this node"));
}

#[test]
fn taking_never_displaces_a_foreign_eip_on_our_eni() {
    let foreign = addr("eipalloc-f", "54.0.0.9", Some("eni-me"), Some("10.0.2.5"));
    let want = addr("eipalloc-1", "54.0.0.1", None, None);
    let two = ips(&["10.0.2.5", "10.0.2.6"]);
    let steps = plan_eips(
        std::slice::from_ref(&want),
        std::slice::from_ref(&foreign),
        Goal::Take,
        "eni-me",
        &two,
        &[],
    );
    assert_eq!(slot(&steps[0]), "10.0.2.6");
    let steps = plan_eips(&[want], &[foreign], Goal::Take, "eni-me", &ips(&["10.0.2.5"]), &[]);
    assert!(
        matches!(&steps[0].action, Action::Blocked(why) if why.contains("no private IP left")),
        "{steps:?}"
    );
    assert!(steps[0].write.is_none());
}

#[test]
fn an_eip_without_a_free_private_ip_does_not_block_the_others() {
    let a = addr("eipalloc-1", "54.0.0.1", None, None);
    let b = addr("eipalloc-2", "54.0.0.2", Some("eni-old"), Some("10.0.4.5"));
    let steps = plan_eips(&[a, b], &[], Goal::Take, "eni-me", &ips(&["10.0.2.5"]), &[]);
    assert_eq!(slot(&steps[0]), "10.0.2.5");
    assert!(matches!(steps[1].action, Action::Blocked(_)), "{steps:?}");
    assert!(steps[1].drift_line().unwrap().contains("eipalloc-2"));
}

#[test]
fn two_eips_take_two_private_ips_in_order() {
    let a = addr("eipalloc-1", "54.0.0.1", None, None);
    let b = addr("eipalloc-2", "54.0.0.2", Some("eni-old"), Some("10.0.4.5"));
    let steps = plan_eips(&[a, b], &[], Goal::Take, "eni-me", &ips(&["10.0.2.5", "10.0.2.6"]), &[]);
    assert_eq!(steps.iter().map(slot).collect::<Vec<_>>(), vec!["10.0.2.5", "10.0.2.6"]);
}

#[test]
fn release_disassociates_only_from_our_eni() {
    let here = addr("eipalloc-1", "54.0.0.1", Some("eni-me"), Some("10.0.2.5"));
    let steps = plan_eips(&[here], &[], Goal::Release, "eni-me", &[], &[]);
    assert_eq!(
        write(&steps[0]),
        Some(&Write::Disassociate {
            allocation_id: "eipalloc-1".into(),
            association_id: "eipassoc-eni-me".into()
        })
    );
    // A late BACKUP after the peer became MASTER: the address is on the peer's ENI.
    let there = addr("eipalloc-1", "54.0.0.1", Some("eni-peer"), Some("10.0.4.5"));
    let steps = plan_eips(&[there], &[], Goal::Release, "eni-me", &[], &[]);
    assert!(matches!(&steps[0].action, Action::Keep(why) if why.contains("eni-peer")), "{steps:?}");
    let loose = addr("eipalloc-1", "54.0.0.1", None, None);
    assert!(plan_eips(&[loose], &[], Goal::Release, "eni-me", &[], &[])[0].is_keep());
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
fn a_pinned_eip_goes_to_its_private_ip_and_no_other_takes_that_ip() {
    let pinned = addr("eipalloc-1", "54.0.0.1", Some("eni-old"), Some("10.0.2.100"));
    let loose = addr("eipalloc-2", "54.0.0.2", None, None);
    let pins = [("eipalloc-1".to_string(), "10.0.2.100".to_string())];
    let ips = ips(&["10.0.2.100", "10.0.2.5"]);
    let steps = plan_eips(&[pinned.clone(), loose], &[], Goal::Take, "eni-me", &ips, &pins);
    assert_eq!(slot(&steps[0]), "10.0.2.100");
    assert!(matches!(write(&steps[0]), Some(Write::Associate { pinned: true, .. })));
    assert_eq!(slot(&steps[1]), "10.0.2.5", "the pinned private IP is not free for another");
    let here = addr("eipalloc-1", "54.0.0.1", Some("eni-me"), Some("10.0.2.100"));
    assert!(plan_eips(&[here], &[], Goal::Take, "eni-me", &ips, &pins)[0].is_keep());
    let wrong_ip = addr("eipalloc-1", "54.0.0.1", Some("eni-me"), Some("10.0.2.5"));
    assert!(plan_eips(&[wrong_ip], &[], Goal::Take, "eni-me", &ips, &pins)[0].write.is_some());
}
