use super::*;
use crate::config::dns::DEFAULT_TTL;

fn rec(kind: DnsType, value: DnsValue) -> DnsRecord {
    DnsRecord {
        zone: "Z1".into(),
        name: "db.example.".into(),
        kind,
        value,
        ttl: 10,
        role_arn: None,
        external_id: None,
    }
}

fn set(values: &[&str], ttl: i64) -> RecordSet {
    RecordSet {
        name: "db.example.".into(),
        kind: "A".into(),
        ttl: Some(ttl),
        values: values.iter().map(|v| v.to_string()).collect(),
        special: None,
    }
}

fn me() -> Identity {
    Identity {
        instance_id: "i-1".into(),
        region: "us-east-1".into(),
        mac: "02:00:00:00:00:01".into(),
        eni_id: "eni-1".into(),
        vpc_id: "vpc-1".into(),
        vpc_cidrs: Vec::new(),
        private_ips: vec!["10.0.2.5".into(), "10.0.2.100".into()],
        subnet_id: None,
        subnet_cidr: None,
        subnet_ipv6_cidrs: Vec::new(),
        ipv6s: Vec::new(),
        public_ipv4: None,
    }
}

#[test]
fn values_resolve_from_the_enis_addresses() {
    let mut me = me();
    assert_eq!(resolve_value(&rec(DnsType::A, DnsValue::Local), &me).unwrap(), "10.0.2.5");
    let err = resolve_value(&rec(DnsType::A, DnsValue::Public), &me).unwrap_err();
    assert!(err.ends_with("value public: eni-1 has no public IPv4 address in instance metadata"), "{err}");
    let err = resolve_value(&rec(DnsType::Aaaa, DnsValue::Local), &me).unwrap_err();
    assert!(err.contains("IPv6"), "{err}");
    me.public_ipv4 = Some("198.51.100.7".into());
    me.ipv6s = vec!["2600:1f18::5".into()];
    assert_eq!(resolve_value(&rec(DnsType::A, DnsValue::Public), &me).unwrap(), "198.51.100.7");
    assert_eq!(resolve_value(&rec(DnsType::Aaaa, DnsValue::Local), &me).unwrap(), "2600:1f18::5");
    let fixed = rec(DnsType::A, DnsValue::Address("192.0.2.1".parse().unwrap()));
    assert_eq!(resolve_value(&fixed, &me).unwrap(), "192.0.2.1");
}

#[test]
fn taking_upserts_only_where_the_record_differs() {
    let r = rec(DnsType::A, DnsValue::Local);
    let keep = plan_record(&r, "10.0.2.5", Some(&set(&["10.0.2.5"], 10)), Goal::Take);
    assert_eq!(keep.action, Action::Keep("already names this node".into()));
    assert!(keep.write.is_none() && keep.proves_here());
    // A fixed value reads the same whichever node wrote it: kept, but no proof it is here
    // (an OCF probe of a node that does not hold the VIP said "running" on it: issue 27, item 4).
    let fixed = rec(DnsType::A, DnsValue::Address("10.9.9.9".parse().unwrap()));
    let same = plan_record(&fixed, "10.9.9.9", Some(&set(&["10.9.9.9"], 10)), Goal::Take);
    assert!(same.is_keep() && !same.proves_here(), "{same:?}");
    let other = plan_record(&r, "10.0.2.5", Some(&set(&["10.0.4.6"], 10)), Goal::Take);
    assert_eq!(
        other.plan_line(),
        "dns A db.example. in Z1: 10.0.4.6 -> 10.0.2.5 (upsert) via ChangeResourceRecordSets"
    );
    let Some(crate::scenario::Write::DnsRecord(Write::Upsert { zone, set: s, .. })) = &other.write else {
        panic!()
    };
    assert_eq!((zone.as_str(), s.values.as_slice(), s.ttl), ("Z1", &["10.0.2.5".to_string()][..], Some(10)));
    let ttl = plan_record(&r, "10.0.2.5", Some(&set(&["10.0.2.5"], 300)), Goal::Take);
    assert_eq!(
        (ttl.current.as_deref(), ttl.desired.as_str()),
        (Some("10.0.2.5 (TTL 300)"), "10.0.2.5 (TTL 10)")
    );
    assert!(ttl.write.is_some(), "a wrong TTL is rewritten");
    let two = plan_record(&r, "10.0.2.5", Some(&set(&["10.0.2.5", "10.0.4.6"], 10)), Goal::Take);
    assert!(two.write.is_some(), "a record that also names the peer is not ours alone");
    let none = plan_record(&r, "10.0.2.5", None, Goal::Take);
    assert_eq!(
        none.drift_line().unwrap(),
        "dns A db.example. in Z1 is missing, not 10.0.2.5 as this node wants"
    );
    let mut alias = set(&[], 10);
    alias.special = Some("an alias record".into());
    let alias = plan_record(&r, "10.0.2.5", Some(&alias), Goal::Take);
    assert_eq!(alias.action, Action::NotOwned("an alias record".into()));
    assert_eq!(DEFAULT_TTL, 60);
}

#[test]
fn releasing_deletes_only_a_record_that_names_this_node_with_its_exact_values() {
    let r = rec(DnsType::A, DnsValue::Local);
    let mine = plan_record(&r, "10.0.2.5", Some(&set(&["10.0.2.5"], 300)), Goal::Release);
    let Some(crate::scenario::Write::DnsRecord(Write::Delete { set: s, .. })) = &mine.write else { panic!() };
    assert_eq!(s, &set(&["10.0.2.5"], 300), "the DELETE carries the record as it is (TTL 300)");
    let theirs = plan_record(&r, "10.0.2.5", Some(&set(&["10.0.4.6"], 10)), Goal::Release);
    assert_eq!(theirs.action, Action::Keep("names another node".into()));
    let gone = plan_record(&r, "10.0.2.5", None, Goal::Release);
    assert!(gone.is_keep() && gone.write.is_none());
}

#[test]
fn a_record_already_right_is_reasserted_with_the_same_value_and_ttl() {
    let r = rec(DnsType::A, DnsValue::Local);
    let keep = plan_record(&r, "10.0.2.5", Some(&set(&["10.0.2.5"], 10)), Goal::Take);
    let again = reassert(&keep).unwrap();
    assert_eq!(again.action, Action::Write { verb: "reassert", call: "ChangeResourceRecordSets" });
    let Some(crate::scenario::Write::DnsRecord(Write::Upsert { set: s, .. })) = &again.write else {
        panic!()
    };
    assert_eq!(s, &set(&["10.0.2.5"], 10));
    let upsert = plan_record(&r, "10.0.2.5", None, Goal::Take);
    assert!(reassert(&upsert).is_none());
}

#[test]
fn a_fixed_value_is_never_deleted_on_release() {
    // The same address on every node: the old master's BACKUP would delete the new one's.
    let r = rec(DnsType::A, DnsValue::Address("10.9.9.9".parse().unwrap()));
    let step = plan_record(&r, "10.9.9.9", Some(&set(&["10.9.9.9"], 60)), Goal::Release);
    assert!(step.is_keep() && step.write.is_none(), "{step:?}");
}

#[test]
fn a_record_this_node_cannot_name_is_blocked_not_bad_input() {
    let r = rec(DnsType::A, DnsValue::Public);
    let take = unresolved(&r, "no public IPv4".into(), Goal::Take);
    assert_eq!((take.action, take.write), (Action::Blocked("no public IPv4".into()), None));
    let release = unresolved(&r, "no public IPv4".into(), Goal::Release);
    assert!(release.is_keep() && release.write.is_none(), "nothing of this node's to delete");
}
