//! EC2 is eventually consistent: for a while after a write (the consistency window), a
//! Describe may answer what was true before it. A MASTER that trusted such a read ("already
//! this node's, keep") would leave the VIP on the peer after a fast failback and exit 0 —
//! and this node cannot know whether the peer wrote in the last window: keepalived
//! re-sending MASTER, a split brain healing or an operator's `master` record no BACKUP in
//! between.
//!
//! The rule, for a MASTER (the window not 0):
//! - a route that reads as already this node's is never trusted: ReplaceRoute to the same
//!   ENI is free and idempotent, so it is written anyway ("reassert"), whatever the record
//!   says. Reported as already right (no event), unless the reads were suspect (below),
//!   when it most likely moved something back;
//! - where no write is free (private and IPv6 addresses; an Elastic IP, whose
//!   AssociateAddress is a remap that AWS bills past 100 a month and that makes a new
//!   association id) and this MASTER repeats this node's last recorded transition (MASTER)
//!   or follows a suspect one (below), the plan is read again once the window has passed,
//!   and that read is trusted: a repeat MASTER holding such a resource takes one window
//!   longer (bounded by the deadline); a failover that writes everything waits for nothing.
//!   A MASTER with no record (the first since boot) or after an old BACKUP trusts them;
//! - when the reads are suspect (this instance's previous transition on this node was
//!   BACKUP/FAULT/STOP and recent, within [`SUSPECT_WINDOWS`] windows: a fast failback,
//!   the peer most likely just took everything), Elastic IPs are reasserted too
//!   (AssociateAddress where the address already is), a Route 53 record is UPSERTed with
//!   its same value and a Transit Gateway route is read again. Without a suspect record
//!   those two are trusted: Route 53's API shows its own writes at once (and an UPSERT is
//!   a change batch and a propagation), and a TGW route names a VPC attachment, which a
//!   failover inside one VPC never changes.
//!
//! Likewise a release (BACKUP/FAULT/STOP with `release`) soon after this node's MASTER does
//! not trust "not on this node": it may not show this node's own write yet, so it reads
//! again once the window has passed.
//!
//! Drift seen by `check`/`watch` is confirmed the same way (see `reconcile`); their "all
//! right" is trusted: `watch` reads again at every interval, and a repair never rewrites
//! what reads as right.

use super::apply::Planned;
use crate::ordering::{Record, Stamp};
use crate::scenario::{dns_record, elastic_ip, route_table, Goal, Kind, Resource, Step};
use std::time::Duration;

/// A previous non-MASTER transition less than this many consistency windows ago makes a
/// MASTER's reads suspect: the peer's write follows our BACKUP by its own run time, and its
/// effect may stay invisible for a window after that.
pub const SUSPECT_WINDOWS: f64 = 3.0;

/// Whether a transition stamped `now` towards `goal` should distrust what reads as already
/// done, given the record it found before recording itself: a MASTER after a recent
/// non-MASTER, a release after a recent MASTER. Some(why) when it should.
pub fn suspect(prior: Option<&Record>, now: &Stamp, window: Duration, goal: Goal) -> Option<String> {
    let p = prior.filter(|p| (p.state == "MASTER") == (goal == Goal::Release))?;
    use super::knobs::{reverted, Knob};
    if reverted(if goal == Goal::Take { Knob::StaleKeep } else { Knob::ReleaseAfterTakeover }) {
        return None;
    }
    let ago = now.seconds_since(&p.stamp);
    (ago < SUSPECT_WINDOWS * window.as_secs_f64().max(0.0))
        .then(|| format!("{} was recorded {ago:.1} s ago", p.state))
}

/// What to do with a plan made from reads that may be stale.
#[derive(Debug, PartialEq)]
pub enum Distrust {
    /// Nothing reads as "already here" that is not trusted: the plan stands.
    Trusted,
    /// Every "already here" step not trusted can be written anyway: the plan with those
    /// writes, and the resources written anyway.
    Reassert(Vec<Planned>, Vec<Resource>),
    /// Some cannot: read again once the window has passed.
    ReadAgain,
}

/// A step that reads as already this node's, as a write that makes sure of it: a route's
/// ReplaceRoute always; an Elastic IP's AssociateAddress (a remap, which AWS bills past
/// 100 a month, and a new association id) and a record's UPSERT only when `suspect`.
fn reassert_step(s: &Step, suspect: bool) -> Option<Step> {
    let suspect_only =
        || if suspect { elastic_ip::reassert(s).or_else(|| dns_record::reassert(s)) } else { None };
    route_table::reassert(s).or_else(suspect_only)
}

/// Whether a kept step may stand without a write or a second read: without a suspect
/// record, a Route 53 record (its reads are not EC2's) and a Transit Gateway route (it
/// names a VPC attachment, which a failover inside one VPC never changes: re-reading it
/// would make every such failover a window slower).
fn trusted_keep(s: &Step, suspect: bool) -> bool {
    matches!(s.kind, Kind::DnsRecord | Kind::TransitGateway) && !suspect
}

/// Whether a MASTER repeats this node's last recorded transition, MASTER: whatever
/// happened since (the peer's MASTER), this node recorded none of it.
pub fn repeat(prior: Option<&Record>, goal: Goal) -> bool {
    goal == Goal::Take && prior.is_some_and(|p| p.state == "MASTER")
}

/// Decide for a plan towards `goal`, made from reads a window long; `suspect`: a recent
/// transition the other way (see [`suspect`]); `repeat`: see [`repeat`]. `window`: 0
/// turns it all off.
pub fn distrust(plans: &[Planned], goal: Goal, suspect: bool, repeat: bool, window: Duration) -> Distrust {
    let knob = super::knobs::reverted(super::knobs::Knob::StaleKeep) && goal == Goal::Take;
    if window.is_zero() || knob {
        return Distrust::Trusted;
    }
    if goal == Goal::Release {
        let kept = plans.iter().flat_map(|(_, s)| s).any(Step::is_keep);
        return if kept && suspect { Distrust::ReadAgain } else { Distrust::Trusted };
    }
    // A first MASTER (no record) or one after an old BACKUP trusts what has no free write.
    let wary = suspect || repeat;
    let mut written = Vec::new();
    let mut out = Vec::with_capacity(plans.len());
    for (scenario, steps) in plans {
        let mut new = Vec::with_capacity(steps.len());
        for s in steps {
            if !s.is_keep() || trusted_keep(s, suspect) {
                new.push(s.clone());
                continue;
            }
            match reassert_step(s, suspect) {
                Some(w) => {
                    written.push(s.resource.clone());
                    new.push(w);
                }
                None if !wary => new.push(s.clone()),
                None => return Distrust::ReadAgain,
            }
        }
        out.push((scenario.clone(), new));
    }
    if written.is_empty() {
        Distrust::Trusted
    } else {
        Distrust::Reassert(out, written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{RouteTable, RouteTarget};
    use crate::scenario::{route_table::RouteTables, Action, Scenario};

    fn rec(state: &str, ticks: u64) -> Record {
        Record { stamp: Stamp { start_ticks: ticks, pid: 1, seq: 0 }, state: state.into() }
    }

    #[test]
    fn only_a_recent_non_master_record_makes_reads_suspect() {
        let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK).unwrap().unwrap() as u64;
        let now = Stamp { start_ticks: 1000 * hz, pid: 2, seq: 0 };
        let w = Duration::from_secs(2);
        let take = Goal::Take;
        assert!(suspect(Some(&rec("BACKUP", 999 * hz)), &now, w, take).is_some());
        assert!(suspect(Some(&rec("FAULT", 995 * hz)), &now, w, take).is_some());
        assert!(suspect(Some(&rec("BACKUP", 993 * hz)), &now, w, take).is_none(), "older than 3 windows");
        assert!(suspect(Some(&rec("MASTER", 999 * hz)), &now, w, take).is_none());
        assert!(suspect(None, &now, w, take).is_none());
        assert!(
            suspect(Some(&rec("BACKUP", 999 * hz)), &now, Duration::ZERO, take).is_none(),
            "window 0: off"
        );
        assert!(suspect(Some(&rec("MASTER", 999 * hz)), &now, w, Goal::Release).is_some());
        assert!(suspect(Some(&rec("BACKUP", 999 * hz)), &now, w, Goal::Release).is_none());
    }

    fn table(id: &str, eni: &str) -> RouteTable {
        let dest = "10.1.0.10/32".parse().unwrap();
        RouteTable {
            id: id.into(),
            vpc_id: "vpc-1".into(),
            routes: vec![crate::model::Route {
                destination: dest,
                target: RouteTarget::NetworkInterface(eni.into()),
            }],
        }
    }

    #[test]
    fn already_here_routes_are_reasserted_others_stay() {
        let dests = vec!["10.1.0.10/32".parse().unwrap()];
        let steps = route_table::plan_routes(
            &[table("rtb-a", "eni-me"), table("rtb-b", "eni-peer")],
            &dests,
            "vpc-1",
            "eni-me",
            false,
        );
        let sc =
            Scenario::RouteTable(RouteTables { destinations: dests.clone(), tables: Default::default() });
        let w = Duration::from_secs(2);
        let Distrust::Reassert(plans, written) =
            distrust(&[(sc.clone(), steps.clone())], Goal::Take, false, true, w)
        else {
            panic!()
        };
        assert_eq!(written, vec![steps[0].resource.clone()], "no BACKUP recorded: reasserted all the same");
        assert_eq!(plans[0].1[0].action, Action::Write { verb: "reassert", call: "ReplaceRoute" });
        assert!(plans[0].1[0].plan_line().contains("eni-me -> eni-me (reassert) via ReplaceRoute"));
        assert_eq!(plans[0].1[1], steps[1], "a write stays as planned");
        let only_writes = vec![steps[1].clone()];
        assert_eq!(distrust(&[(sc.clone(), only_writes)], Goal::Take, true, false, w), Distrust::Trusted);
        let take =
            |suspect, repeat, w| distrust(&[(sc.clone(), steps.clone())], Goal::Take, suspect, repeat, w);
        assert_eq!(take(true, false, Duration::ZERO), Distrust::Trusted, "window 0: off");
        assert!(matches!(take(false, false, w), Distrust::Reassert(..)), "a route's write is free: always");
        assert!(matches!(take(true, false, w), Distrust::Reassert(..)));
        let ipv6 = Step {
            kind: Kind::Ipv6Address,
            resource: Resource::Ipv6Address { ip: "2600::1".parse().unwrap(), subnet: "subnet-1".into() },
            current: Some("eni-me".into()),
            desired: "eni-me".into(),
            action: Action::Keep("already on this node".into()),
            write: None,
        };
        let mixed = vec![steps[1].clone(), ipv6.clone()];
        assert_eq!(distrust(&[(sc.clone(), mixed.clone())], Goal::Take, false, true, w), Distrust::ReadAgain);
        assert_eq!(distrust(&[(sc.clone(), mixed.clone())], Goal::Take, true, false, w), Distrust::ReadAgain);
        assert_eq!(
            distrust(&[(sc.clone(), mixed)], Goal::Take, false, false, w),
            Distrust::Trusted,
            "no record, or an old BACKUP: an address without a free write is trusted"
        );
        let release =
            |suspect| distrust(&[(sc.clone(), vec![ipv6.clone()])], Goal::Release, suspect, false, w);
        assert_eq!(release(true), Distrust::ReadAgain);
        assert_eq!(release(false), Distrust::Trusted, "no MASTER recorded");
    }
}
