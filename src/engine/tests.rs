//! The engine on the in-memory EC2 (`aws::fake`) and the fault wrapper (`aws::faulty`):
//! no network, paused clock.

use super::reconcile::Checked;
use super::report::Outcome;
use super::transition::{Job, Ran};
use super::{Engine, Settings};
use crate::aws::fake::{FakeCloud, FakeEc2, World};
use crate::aws::faulty::Faulty;
use crate::aws::{Ec2, Route53, TransitGateways};
use crate::config::{Resources, Site};
use crate::deadline::Deadline;
use crate::keepalived::Role;
use crate::model::{
    Address, EipRef, EniAttachment, EniChoice, Identity, Route, RouteTable, RouteTarget, TgwRoute,
};
use crate::ordering::{Guard, Stamp};
use std::path::PathBuf;
use std::time::Duration;

const VIP: &str = "10.1.0.10/32";

fn eni(id: &str) -> RouteTarget {
    RouteTarget::NetworkInterface(id.into())
}

fn tgw(id: &str) -> RouteTarget {
    RouteTarget::Other { kind: "transit-gateway", id: id.into() }
}

fn table(id: &str, vpc: &str, target: RouteTarget) -> RouteTable {
    RouteTable {
        id: id.into(),
        vpc_id: vpc.into(),
        routes: vec![Route { destination: VIP.parse().unwrap(), target }],
    }
}

/// Node 2 (eni-2 in vpc-a) is about to become MASTER; node 1 (eni-1) holds everything.
pub(super) fn me() -> Identity {
    Identity {
        instance_id: "i-2".into(),
        region: "us-east-1".into(),
        mac: "02:00:00:00:00:02".into(),
        eni_id: "eni-2".into(),
        vpc_id: "vpc-a".into(),
        vpc_cidrs: vec!["10.0.0.0/16".parse().unwrap()],
        private_ips: vec!["10.0.2.5".into()],
        subnet_id: Some("subnet-a".into()),
        subnet_cidr: Some("10.0.2.0/24".parse().unwrap()),
        subnet_ipv6_cidrs: Vec::new(),
        ipv6s: Vec::new(),
        public_ipv4: Some("198.51.100.2".into()),
    }
}

fn eip() -> Address {
    Address {
        allocation_id: "eipalloc-1".into(),
        public_ip: "198.51.100.1".into(),
        association_id: Some("eipassoc-1".into()),
        network_interface_id: Some("eni-1".into()),
        private_ip: Some("10.0.1.5".into()),
    }
}

/// Route tables A and B of vpc-a hold the VIP on eni-1; the Elastic IP is on eni-1.
fn single_vpc() -> World {
    World {
        tables: vec![table("rtb-a", "vpc-a", eni("eni-1")), table("rtb-b", "vpc-a", eni("eni-1"))],
        addresses: vec![eip()],
        attachments: [1, 2].map(|n| (format!("eni-{n}"), attached(&format!("i-{n}")))).into(),
        instances: [1, 2].map(|n| (format!("i-{n}"), "running".to_string())).into(),
        ..World::default()
    }
}

fn attached(instance: &str) -> EniAttachment {
    EniAttachment { status: Some("attached".into()), instance_id: Some(instance.into()) }
}

/// Three VPCs on one Transit Gateway: node 1 in vpc-b was MASTER; vpc-c holds clients.
fn three_vpcs() -> World {
    let att = |v: &str| (format!("vpc-{v}"), "tgw-1".to_string(), format!("tgw-attach-{v}"));
    let route = TgwRoute {
        destination: VIP.parse().unwrap(),
        attachment_id: Some("tgw-attach-b".into()),
        is_static: true,
    };
    World {
        tables: vec![
            table("rtb-a", "vpc-a", tgw("tgw-1")),
            table("rtb-b", "vpc-b", eni("eni-1")),
            table("rtb-c", "vpc-c", tgw("tgw-1")),
        ],
        addresses: vec![eip()],
        vpc_attachments: vec![att("a"), att("b"), att("c")],
        tgw_tables: vec![("tgw-1".into(), "tgw-rtb-1".into(), vec![route])],
        ..World::default()
    }
}

pub(super) fn resources(eips: bool) -> Resources {
    Resources {
        routes: vec![VIP.parse().unwrap()],
        eips: if eips { vec![EipRef::AllocationId("eipalloc-1".into())] } else { Vec::new() },
        eip_pins: Vec::new(),
        private_ips: Vec::new(),
        ipv6_addresses: Vec::new(),
        tables: Default::default(),
        eni: EniChoice::Primary,
        release: false,
        sites: Vec::new(),
        dns_records: Vec::new(),
        access: Default::default(),
    }
}

fn sites() -> Vec<Site> {
    ["a", "b", "c"]
        .iter()
        .map(|v| Site {
            region: "us-east-1".into(),
            vpc_id: format!("vpc-{v}"),
            transit_gateway_id: None,
            route_tables: None,
            tgw_route_tables: None,
            role_arn: None,
            external_id: None,
        })
        .collect()
}

fn state_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ec2-vip-engine-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

pub(super) fn engine<C: Ec2 + TransitGateways + Route53 + Clone>(
    name: &str,
    client: C,
) -> Engine<FakeCloud<C>> {
    let settings = Settings {
        state_dir: state_dir(name),
        region: None,
        region_from: "",
        timeout: Duration::from_secs(10),
        max_attempts: 1,
        dry_run: false,
        consistency_window: Duration::from_secs(2),
    };
    Engine::new(settings, FakeCloud { identity: me(), client })
}

fn stamp(ticks: u64) -> Stamp {
    Stamp { start_ticks: ticks, pid: 1, seq: 0 }
}

fn deadline() -> Deadline {
    Deadline::after(Duration::from_secs(10))
}

pub(super) async fn master<C: Ec2 + TransitGateways + Route53 + Clone>(
    e: &Engine<FakeCloud<C>>,
    res: &Resources,
) -> super::report::Report {
    let job = Job { role: Role::Master, res, key: "VI_1", stamp: stamp(100), prior: None };
    match e.transition(&job, None, &deadline()).await.unwrap() {
        Ran::Applied { report, .. } => report,
        other => panic!("{other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn master_moves_routes_eip_and_transit_gateway_routes() {
    let fake = FakeEc2::new(three_vpcs());
    let e = engine("tgw", fake.clone());
    let res = Resources { sites: sites(), ..resources(true) };
    let report = master(&e, &res).await;
    assert!(report.finish(Role::Master, 0).is_ok(), "{report:?}");
    let w = fake.world.borrow();
    assert_eq!(w.route("rtb-a", VIP), Some(eni("eni-2")), "this node's VPC points at its ENI");
    assert_eq!(w.route("rtb-b", VIP), Some(tgw("tgw-1")), "the old master's VPC goes through the TGW");
    assert_eq!(w.route("rtb-c", VIP), Some(tgw("tgw-1")));
    assert_eq!(w.tgw_route("tgw-rtb-1", VIP).as_deref(), Some("tgw-attach-a"));
    assert_eq!(w.address("eipalloc-1").unwrap().network_interface_id.as_deref(), Some("eni-2"));
    assert_eq!(report.changed().count(), 4, "rtb-a, rtb-b, the TGW route, the EIP: {report:?}");
    assert_eq!(w.writes(), 4, "{:?}", w.calls);
}

#[tokio::test(start_paused = true)]
async fn a_throttled_write_is_retried_until_it_succeeds() {
    let faulty = Faulty::new(FakeEc2::new(single_vpc()));
    faulty.faults.borrow_mut().throttle.insert("ReplaceRoute", 5);
    let e = engine("throttled", faulty.clone());
    let report = master(&e, &resources(false)).await;
    assert!(report.finish(Role::Master, 0).is_ok(), "{report:?}");
    let w = faulty.inner.world.borrow();
    assert_eq!(w.route("rtb-a", VIP), Some(eni("eni-2")));
    assert_eq!(w.route("rtb-b", VIP), Some(eni("eni-2")));
    assert_eq!(w.calls["ReplaceRoute"], 2, "each table written once it got through");
}

#[tokio::test(start_paused = true)]
async fn a_write_that_keeps_failing_is_reported_per_resource_without_spinning() {
    let faulty = Faulty::new(FakeEc2::new(single_vpc()));
    faulty.faults.borrow_mut().fail_always.insert("ReplaceRoute", "UnauthorizedOperation");
    let e = engine("refused", faulty.clone());
    let started = tokio::time::Instant::now();
    let report = master(&e, &resources(true)).await;
    assert!(started.elapsed() < Duration::from_secs(1), "no waiting for the deadline");
    let failed: Vec<_> = report.failures().map(|f| f.to_string()).collect();
    assert_eq!(failed.len(), 2, "{failed:?}");
    assert!(failed.iter().any(|f| f.contains("rtb-a") && f.contains("UnauthorizedOperation")), "{failed:?}");
    assert!(failed.iter().any(|f| f.contains("rtb-b")), "{failed:?}");
    assert_eq!(report.changed().count(), 1, "the Elastic IP still moved");
    let err = report.finish(Role::Master, 0).unwrap_err();
    assert_eq!(err.exit_code(), crate::error::EXIT_FAILED);
    assert!(err.to_string().contains("2 failed"), "{err}");
    assert_eq!(faulty.faults.borrow().calls, 7, "describe×3, replace×2, associate, read back");
}

#[tokio::test(start_paused = true)]
async fn a_read_back_that_never_shows_the_write_is_reported() {
    let faulty = Faulty::new(FakeEc2::new(single_vpc()));
    let world = faulty.inner.world.clone();
    let mut calls = 0;
    // Someone puts rtb-a back before every read after the writes: the read back never sees eni-2.
    faulty.faults.borrow_mut().before = Some(Box::new(move |op| {
        if op == "DescribeRouteTables" {
            calls += 1;
            if calls > 1 {
                let mut w = world.borrow_mut();
                w.tables[0].routes[0].target = eni("eni-1");
            }
        }
    }));
    let e = engine("readback", faulty.clone());
    let report = master(&e, &resources(false)).await;
    let failed: Vec<_> = report.failures().collect();
    assert_eq!(failed.len(), 1, "{report:?}");
    assert!(matches!(&failed[0].outcome, Outcome::Unconfirmed(why) if why.contains("eni-1")), "{failed:?}");
    assert!(failed[0].to_string().contains("rtb-a"));
    assert_eq!(report.changed().count(), 1, "rtb-b confirmed");
}

#[tokio::test(start_paused = true)]
async fn a_superseded_transition_does_not_write() {
    let faulty = Faulty::new(FakeEc2::new(single_vpc()));
    let e = engine("superseded", faulty.clone());
    let guard = Guard::new(&e.settings.state_dir, "VI_1").unwrap();
    // keepalived records a newer BACKUP while this MASTER is still describing.
    let dir = e.settings.state_dir.clone();
    faulty.faults.borrow_mut().before = Some(Box::new(move |_| {
        Guard::new(&dir, "VI_1").unwrap().record(stamp(200), "BACKUP").unwrap();
    }));
    let res = resources(true);
    let job = Job { role: Role::Master, res: &res, key: "VI_1", stamp: stamp(100), prior: None };
    let ran = e.transition(&job, None, &deadline()).await.unwrap();
    assert!(matches!(ran, Ran::Superseded(ref r) if r.state == "BACKUP"), "{ran:?}");
    assert_eq!(faulty.inner.world.borrow().writes(), 0);
    assert_eq!(guard.latest().unwrap().unwrap().state, "BACKUP");
}

#[tokio::test(start_paused = true)]
async fn a_transition_superseded_while_writing_stops_writing() {
    let faulty = Faulty::new(FakeEc2::new(single_vpc()));
    let e = engine("mid-apply", faulty.clone());
    let dir = e.settings.state_dir.clone();
    faulty.faults.borrow_mut().before = Some(Box::new(move |op| {
        if op == "ReplaceRoute" {
            Guard::new(&dir, "VI_1").unwrap().record(stamp(200), "BACKUP").unwrap();
        }
    }));
    let report = master(&e, &resources(false)).await;
    assert!(report.superseded.is_some(), "{report:?}");
    assert_eq!(faulty.inner.world.borrow().calls["ReplaceRoute"], 1, "the second table was not written");
    assert!(report.finish(Role::Master, 0).is_ok(), "superseded is not a failure");
}

#[tokio::test(start_paused = true)]
async fn reconcile_repairs_transit_gateway_drift() {
    let fake = FakeEc2::new(three_vpcs());
    let e = engine("reconcile-tgw", fake.clone());
    let res = Resources { sites: sites(), ..resources(false) };
    master(&e, &res).await;
    let session = e.connect(&res, &deadline()).await.unwrap();
    assert_eq!(e.reconcile(&session, &res, "VI_1", true, &deadline()).await.unwrap(), Checked::Right);
    // Someone points the TGW route back at vpc-b's attachment.
    fake.world.borrow_mut().tgw_tables[0].2[0].attachment_id = Some("tgw-attach-b".into());
    let drifted = e.reconcile(&session, &res, "VI_1", false, &deadline()).await.unwrap();
    assert!(
        matches!(&drifted, Checked::Drifted(l) if l.len() == 1 && l[0].contains("tgw-rtb-1")),
        "{drifted:?}"
    );
    let repaired = e.reconcile(&session, &res, "VI_1", true, &deadline()).await.unwrap();
    assert!(matches!(repaired, Checked::Repaired(_)), "{repaired:?}");
    assert_eq!(fake.world.borrow().tgw_route("tgw-rtb-1", VIP).as_deref(), Some("tgw-attach-a"));
}

#[tokio::test(start_paused = true)]
async fn backup_without_release_makes_no_call() {
    let faulty = Faulty::new(FakeEc2::new(single_vpc()));
    let e = engine("backup", faulty.clone());
    let res = resources(true);
    let job = Job { role: Role::Backup, res: &res, key: "VI_1", stamp: stamp(100), prior: None };
    assert!(matches!(e.transition(&job, None, &deadline()).await.unwrap(), Ran::NothingToDo));
    assert_eq!(faulty.faults.borrow().calls, 0);
}

#[tokio::test(start_paused = true)]
async fn throttled_describes_are_retried_within_the_deadline() {
    let faulty = Faulty::new(FakeEc2::new(single_vpc()));
    faulty.faults.borrow_mut().throttle.insert("DescribeRouteTables", 4);
    faulty.faults.borrow_mut().throttle.insert("DescribeAddresses", 2);
    let e = engine("throttled-reads", faulty.clone());
    let report = master(&e, &resources(true)).await;
    assert!(report.finish(Role::Master, 0).is_ok(), "{report:?}");
    let w = faulty.inner.world.borrow();
    assert_eq!(w.route("rtb-a", VIP), Some(eni("eni-2")));
    assert_eq!(w.address("eipalloc-1").unwrap().network_interface_id.as_deref(), Some("eni-2"));
}

#[tokio::test(start_paused = true)]
async fn a_split_brain_settles_on_the_lower_eni_and_stays() {
    let fake = FakeEc2::new(single_vpc());
    let node2 = engine("split-2", fake.clone());
    let mut node1 = engine("split-1", fake.clone());
    node1.cloud.identity = Identity { instance_id: "i-1".into(), eni_id: "eni-1".into(), ..me() };
    node1.cloud.identity.private_ips = vec!["10.0.1.5".into()];
    let res = resources(true);
    let holder = || {
        let w = fake.world.borrow();
        (w.route("rtb-a", VIP), w.address("eipalloc-1").unwrap().network_interface_id.clone())
    };
    let mut seen = vec![holder()];
    let mut flips = 0;
    let mut note = |seen: &mut Vec<_>| {
        let now = holder();
        if Some(&now) != seen.last() {
            flips += 1;
        }
        seen.push(now);
    };
    master(&node1, &res).await; // already node1's: nothing to write
    master(&node2, &res).await; // VRRP blocked: node2 is MASTER too and takes everything
    note(&mut seen);
    let (s1, s2) =
        (node1.connect(&res, &deadline()).await.unwrap(), node2.connect(&res, &deadline()).await.unwrap());
    let mut last = Vec::new();
    for _ in 0..8 {
        let a = node1.reconcile(&s1, &res, "VI_1", true, &deadline()).await.unwrap();
        note(&mut seen);
        let b = node2.reconcile(&s2, &res, "VI_1", true, &deadline()).await.unwrap();
        note(&mut seen);
        last = vec![a, b];
    }
    assert!(flips <= 4, "{flips} flips: {seen:?}");
    assert_eq!(holder(), (Some(eni("eni-1")), Some("eni-1".to_string())), "the lower ENI keeps the VIP");
    assert_eq!(last[0], Checked::Right);
    assert!(matches!(&last[1], Checked::Yielding { other, .. } if other == "eni-1"), "{:?}", last[1]);
    let tail: Vec<_> = seen.iter().skip(seen.len() - 8).collect();
    assert!(tail.windows(2).all(|w| w[0] == w[1]), "settled: {seen:?}");
}

#[tokio::test(start_paused = true)]
async fn a_failed_transit_gateway_write_is_reported_at_once() {
    let faulty = Faulty::new(FakeEc2::new(three_vpcs()));
    faulty.faults.borrow_mut().fail_always.insert("ReplaceTransitGatewayRoute", "IncorrectState");
    let e = engine("tgw-refused", faulty.clone());
    let res = Resources { sites: sites(), ..resources(false) };
    let started = tokio::time::Instant::now();
    let report = master(&e, &res).await;
    assert!(started.elapsed() < Duration::from_secs(1), "failed writes are not read back until the deadline");
    let failed: Vec<_> = report.failures().map(|f| f.to_string()).collect();
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(failed[0].contains("tgw-rtb-1") && failed[0].contains("IncorrectState"), "{failed:?}");
    assert_eq!(report.changed().count(), 2, "the VPC routes still moved: {report:?}");
}

#[tokio::test(start_paused = true)]
async fn transit_gateway_failover_in_few_round_trips_and_calls() {
    // 30 ms per call, as the bench adds: the paused clock counts sequential round trips.
    let faulty = Faulty::new(FakeEc2::new(three_vpcs()));
    faulty.faults.borrow_mut().delay = Duration::from_millis(30);
    let e = engine("tgw-rtt", faulty.clone());
    let res = Resources { sites: sites(), ..resources(false) };
    let session = e.connect(&res, &deadline()).await.unwrap();
    let job = Job { role: Role::Master, res: &res, key: "VI_1", stamp: stamp(100), prior: None };
    let started = tokio::time::Instant::now();
    let ran = e.transition(&job, Some(&session), &deadline()).await.unwrap();
    let round_trips = started.elapsed().as_millis() / 30;
    assert!(matches!(ran, Ran::Applied { ref report, .. } if report.failures().count() == 0), "{ran:?}");
    let calls = faulty.faults.borrow().calls;
    // attachments + VPC tables | TGW tables + peerings | TGW routes | writes | read back
    assert_eq!(round_trips, 5, "{round_trips} sequential round trips");
    assert!(calls <= 15, "{calls} calls: {:?}", faulty.inner.world.borrow().calls);
}
