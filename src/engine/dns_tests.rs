//! The Route 53 scenario through the engine, on the fake: a change still PENDING is
//! written and propagating (not waited for under the lock), and
//! Route 53's PriorRequestNotComplete is retried like throttling.

use super::tests::{engine, master, resources};
use crate::aws::fake::{FakeEc2, World};
use crate::aws::faulty::Faulty;
use crate::config::dns::{DnsRecord, DnsType, DnsValue};
use crate::config::Resources;
use crate::engine::report::Outcome;
use crate::keepalived::Role;
use crate::model::RecordSet;

fn world(pending: usize) -> World {
    let set = RecordSet {
        name: "db.example.".into(),
        kind: "A".into(),
        ttl: Some(60),
        values: vec!["10.0.4.6".into()],
        special: None,
    };
    World { records: vec![("Z1".into(), set)], pending, ..World::default() }
}

fn dns_only() -> Resources {
    let rec = DnsRecord {
        zone: "Z1".into(),
        name: "db.example.".into(),
        kind: DnsType::A,
        value: DnsValue::Local,
        ttl: 60,
        role_arn: None,
        external_id: None,
    };
    Resources { routes: Vec::new(), tables: Default::default(), dns_records: vec![rec], ..resources(false) }
}

#[tokio::test(start_paused = true)]
async fn a_pending_change_is_written_and_propagating_not_waited_for() {
    let fake = FakeEc2::new(world(3));
    let e = engine("dns-pending", fake.clone());
    let report = master(&e, &dns_only()).await;
    assert!(report.finish(Role::Master, 0).is_ok(), "accepted: Route 53 propagates it: {report:?}");
    assert!(matches!(report.entries[0].outcome, Outcome::Propagating(_)), "{report:?}");
    assert_eq!(report.changed().count(), 1, "{report:?}");
    let w = fake.world.borrow();
    assert_eq!(w.records[0].1.values, ["10.0.2.5"], "the ENI's primary private IPv4");
    assert_eq!(w.calls.get("GetChange"), None, "not polled: {:?}", w.calls);
    assert_eq!(w.calls["ChangeResourceRecordSets"], 1);
    assert_eq!(w.calls["ListResourceRecordSets"], 2, "planned, then read back once");
}

#[tokio::test(start_paused = true)]
async fn prior_request_not_complete_is_retried_like_throttling() {
    let faulty = Faulty::new(FakeEc2::new(world(0)));
    // Call 1 reads the record; call 2, the change, finds another change of it in progress.
    faulty.faults.borrow_mut().fail_nth.insert(2, "PriorRequestNotComplete");
    let e = engine("dns-prior", faulty.clone());
    let report = master(&e, &dns_only()).await;
    assert!(report.finish(Role::Master, 0).is_ok(), "{report:?}");
    let w = faulty.inner.world.borrow();
    assert_eq!(w.records[0].1.values, ["10.0.2.5"]);
    assert_eq!(w.calls["ChangeResourceRecordSets"], 1, "made once it got through");
}
