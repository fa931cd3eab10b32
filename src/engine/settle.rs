//! Split-brain settlement for a repair. Before local recovery puts drifted resources back,
//! decide from this instance's contest memory (`ordering::Contest`) and the current holders:
//! repair, or yield to another node that also claims MASTER (the lower ENI id keeps the
//! VIP; the other holds off 60 s, doubling to 15 min).
//!
//! While yielding, ask EC2 whether the winner is still alive: its ENI still exists and is
//! attached, and its instance is not stopping, stopped, shutting down or terminated. A dead
//! winner ends the hold-off at once; an ask that fails keeps yielding (never a takeover on
//! an API error).

use super::apply::{steps, Planned};
use super::checked::{Checked, CONTEST_WINDOW};
use crate::aws::{read, Ec2};
use crate::ordering::{boot_seconds, Contest, Guard, Record, MAX_HOLD};
use crate::scenario::{Ctx, Kind};
use log::{error, warn};
use std::net::IpAddr;

/// What settlement decided.
pub(super) enum Settle {
    /// Do not repair; report this.
    Yield(Checked),
    /// Repair, then keep this memory (with the repair's time).
    Repair(Contest),
}

/// Instance states in which a node holds nothing any more.
const DEAD_STATES: [&str; 4] = ["stopping", "stopped", "shutting-down", "terminated"];

/// The nodes that hold resources this node's MASTER wants, and this node's name to compare
/// them with: ENIs or instances, and this node's ENI; or, where no route or address is
/// held elsewhere (a DNS-only section), the addresses the records name instead of this
/// node's (`local`, or `public` without an Elastic IP: one address per node), and this
/// node's. A record every node writes alike (a fixed value, an Elastic IP's) names no
/// holder: both MASTERs want the same, so they never fight over it.
pub(super) fn holders(plans: &[Planned], eni: &str) -> (Vec<String>, String) {
    let writes = || steps(plans).filter(|s| s.write.is_some());
    let mut out: Vec<String> = writes()
        .filter_map(|s| s.current.clone())
        .filter(|c| c != eni && (c.starts_with("eni-") || c.starts_with("i-")))
        .collect();
    let mut me = eni.to_string();
    if out.is_empty() && !super::knobs::reverted(super::knobs::Knob::DnsSettlement) {
        let records = writes().filter(|s| s.kind == Kind::DnsRecord && s.desired.parse::<IpAddr>().is_ok());
        for s in records {
            // A record set's values, with " (TTL n)" when that differs too.
            let named = s.current.as_deref().and_then(|c| c.split([' ', ',']).next());
            if let Some(ip) = named.filter(|n| n.parse::<IpAddr>().is_ok() && *n != s.desired) {
                out.push(ip.to_string());
                me.clone_from(&s.desired);
            }
        }
    }
    out.sort();
    out.dedup();
    (out, me)
}

/// Whether holder `a` is below `b`: ENI ids as text, addresses by number (the same order
/// on every node, so exactly one of two MASTERs yields).
fn below(a: &str, b: &str) -> bool {
    match (a.parse::<IpAddr>(), b.parse::<IpAddr>()) {
        (Ok(a), Ok(b)) => a < b,
        _ => a < b,
    }
}

/// Decide whether to repair. `persist`: keep a fresh contest in the state directory (false
/// under --dry-run, which writes nothing).
pub(super) async fn settle<C: Ec2>(
    cx: &Ctx<'_, C>,
    guard: &Guard,
    record: &Record,
    plans: &[Planned],
    found: &[String],
    persist: bool,
) -> Settle {
    let mut contest = guard.contest(record);
    let now = boot_seconds();
    let (others, me) = holders(plans, &cx.me.eni_id);
    if let Some(until) = contest.yield_until.filter(|u| *u > now) {
        let Some(why) = winner_gone(cx, &others).await else {
            let (lines, other) = (found.to_vec(), contest.other);
            return Settle::Yield(Checked::Yielding { lines, other, secs: until - now, fresh: false });
        };
        warn!(
            "split brain: the winner {} is gone ({why}); this node ({}) ends its hold-off and repairs now",
            others.join(","),
            cx.me.eni_id
        );
        contest.yield_until = None;
        return Settle::Repair(contest);
    }
    let retaken = contest.repaired_at.is_some_and(|t| now - t < CONTEST_WINDOW) && !others.is_empty();
    if !retaken {
        return Settle::Repair(contest);
    }
    let other = others.join(",");
    // Both sides see each other's ENI (or address): the lower keeps the VIP, the other yields.
    if !others.iter().any(|o| below(o, &me)) {
        warn!("split brain: {other} took the resources back after our repair; this node keeps them (lower ENI id or address)");
        return Settle::Repair(contest);
    }
    let hold = contest.hold;
    contest.yield_until = Some(now + hold);
    contest.hold = (hold * 2.0).min(MAX_HOLD);
    contest.repaired_at = None;
    contest.other = other.clone();
    if persist {
        if let Err(e) = guard.set_contest(&contest) {
            warn!("{e}");
        }
    }
    error!(
        "split brain: {other} took {} resource(s) back after this node repaired them, so it \
         also claims MASTER; the lower ENI id (or address) keeps the VIP, this node ({me}) yields \
         for {hold:.0} s and `check` exits 1 meanwhile. Likely cause: VRRP between the nodes is \
         blocked (a security group without IP protocol 112, or wrong unicast peers)",
        found.len(),
    );
    Settle::Yield(Checked::Yielding { lines: found.to_vec(), other, secs: hold, fresh: true })
}

/// Why every holder is gone, or None if one is alive, none is known, or EC2 could not say.
pub(super) async fn winner_gone<C: Ec2>(cx: &Ctx<'_, C>, holders: &[String]) -> Option<String> {
    // An address (a DNS-only section's holder) tells EC2 no ENI or instance to ask about:
    // the hold-off runs its course.
    if holders.is_empty() || holders.iter().any(|h| !(h.starts_with("eni-") || h.starts_with("i-"))) {
        return None;
    }
    let mut why = Vec::with_capacity(holders.len());
    for h in holders {
        match node_gone(cx, h).await {
            Ok(Some(reason)) => why.push(reason),
            Ok(None) => return None,
            Err(e) => {
                warn!("split brain: cannot tell whether {h} is alive ({e}); still yielding");
                return None;
            }
        }
    }
    Some(why.join("; "))
}

/// Why the node behind `holder` (an ENI or an instance id) is gone; None: alive.
async fn node_gone<C: Ec2>(cx: &Ctx<'_, C>, holder: &str) -> Result<Option<String>, String> {
    let instance = if holder.starts_with("i-") {
        holder.to_string()
    } else {
        let step = format!("DescribeNetworkInterfaces {holder}");
        let attachment = read(cx.deadline, &step, || cx.ec2.eni_attachment(holder)).await;
        match attachment.map_err(|e| e.to_string())?.map_err(|e| e.to_string())? {
            None => return Ok(Some(format!("ENI {holder} no longer exists"))),
            Some(a) if !matches!(a.status.as_deref(), Some("attached" | "attaching")) => {
                let status = a.status.unwrap_or_else(|| "detached".into());
                return Ok(Some(format!("ENI {holder} is {status}")));
            }
            Some(a) => match a.instance_id {
                Some(i) => i,
                None => return Ok(Some(format!("ENI {holder} is attached to no instance"))),
            },
        }
    };
    let step = format!("DescribeInstanceStatus {instance}");
    let state = read(cx.deadline, &step, || cx.ec2.instance_state(&instance)).await;
    Ok(match state.map_err(|e| e.to_string())?.map_err(|e| e.to_string())? {
        None => Some(format!("instance {instance} no longer exists")),
        Some(s) if DEAD_STATES.contains(&s.as_str()) => Some(format!("instance {instance} is {s}")),
        Some(_) => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::fake::{FakeEc2, World};
    use crate::aws::faulty::Faulty;
    use crate::deadline::Deadline;
    use crate::engine::tests::me;
    use crate::model::EniAttachment;
    use std::time::Duration;

    /// The winner eni-1 on i-1: `status` of the ENI (None: no such ENI), `state` of i-1.
    fn world(status: Option<&str>, state: &str) -> Faulty<FakeEc2> {
        let mut w = World::default();
        if let Some(s) = status {
            let a = EniAttachment { status: Some(s.into()), instance_id: Some("i-1".into()) };
            w.attachments.insert("eni-1".into(), a);
        }
        w.instances.insert("i-1".into(), state.into());
        Faulty::new(FakeEc2::new(w))
    }

    async fn gone(ec2: &Faulty<FakeEc2>, holders: &[&str]) -> Option<String> {
        let (me, d) = (me(), Deadline::after(Duration::from_secs(5)));
        let cx = Ctx { me: &me, ec2, sites: &[], zones: &[], deadline: &d };
        winner_gone(&cx, &holders.iter().map(|h| h.to_string()).collect::<Vec<_>>()).await
    }

    #[test]
    fn a_dns_only_section_is_held_by_the_address_its_record_names() {
        use crate::config::dns::{DnsRecord, DnsType, DnsValue};
        use crate::model::RecordSet;
        use crate::scenario::dns_record::{plan_record, DnsRecords};
        use crate::scenario::{Goal, Scenario};
        let rec = |value| DnsRecord {
            zone: "Z1".into(),
            name: "db.example.".into(),
            kind: DnsType::A,
            value,
            ttl: 60,
            role_arn: None,
            external_id: None,
        };
        let set = |v: &str| RecordSet {
            name: "db.example.".into(),
            kind: "A".into(),
            ttl: Some(60),
            values: vec![v.into()],
            special: None,
        };
        let sc = Scenario::DnsRecord(DnsRecords { records: Vec::new(), release: false, eip: None });
        let local = plan_record(&rec(DnsValue::Local), "10.0.4.10", Some(&set("10.0.2.10")), Goal::Take);
        let plans = vec![(sc.clone(), vec![local])];
        assert_eq!(holders(&plans, "eni-2"), (vec!["10.0.2.10".to_string()], "10.0.4.10".to_string()));
        assert!(below("10.0.2.10", "10.0.4.10") && !below("10.0.10.1", "10.0.9.1"), "by number");
        // Already right: nobody else holds it.
        let mine = plan_record(&rec(DnsValue::Local), "10.0.4.10", Some(&set("10.0.4.10")), Goal::Take);
        assert_eq!(holders(&[(sc, vec![mine])], "eni-2").0, Vec::<String>::new());
    }

    #[tokio::test(start_paused = true)]
    async fn a_winner_is_dead_only_when_ec2_says_so() {
        assert_eq!(gone(&world(Some("attached"), "running"), &["eni-1"]).await, None);
        assert_eq!(gone(&world(Some("attached"), "pending"), &["eni-1"]).await, None);
        assert_eq!(gone(&world(Some("attached"), "running"), &[]).await, None, "no winner known");
        for state in DEAD_STATES {
            let why = gone(&world(Some("attached"), state), &["eni-1"]).await;
            assert_eq!(why, Some(format!("instance i-1 is {state}")));
        }
        let why = gone(&world(Some("detached"), "running"), &["eni-1"]).await;
        assert_eq!(why.as_deref(), Some("ENI eni-1 is detached"));
        let why = gone(&world(None, "running"), &["eni-1"]).await;
        assert_eq!(why.as_deref(), Some("ENI eni-1 no longer exists"));
        let why = gone(&world(None, "stopped"), &["i-1"]).await;
        assert_eq!(why.as_deref(), Some("instance i-1 is stopped"), "an instance holder");
        let why = gone(&world(None, "stopped"), &["i-9"]).await;
        assert_eq!(why.as_deref(), Some("instance i-9 no longer exists"));
        // Every holder must be gone: one alive keeps this node yielding.
        let mut w = world(Some("attached"), "stopped");
        w.inner.world.borrow_mut().instances.insert("i-3".into(), "running".into());
        assert_eq!(gone(&w, &["eni-1", "i-3"]).await, None);
        // An ask that fails is no evidence: keep yielding.
        w = world(Some("attached"), "stopped");
        w.faults.borrow_mut().fail_always.insert("DescribeInstanceStatus", "UnauthorizedOperation");
        assert_eq!(gone(&w, &["eni-1"]).await, None);
        w.faults.borrow_mut().fail_always.insert("DescribeNetworkInterfaces", "InternalError");
        assert_eq!(gone(&w, &["eni-1"]).await, None);
    }
}
