//! EC2 is eventually consistent: for a while after a write (the consistency window), a
//! Describe may answer what was true before it. A MASTER that trusted such a read ("already
//! this node's, keep") would leave the VIP on the peer after a fast failback and exit 0.
//!
//! The rule: when this instance's previous transition on this node was BACKUP/FAULT/STOP
//! and recent (within [`SUSPECT_WINDOWS`] windows), the peer may just have taken the
//! resources, so a MASTER's "already here" is not trusted:
//! - where the write is free and idempotent (ReplaceRoute to the same ENI, AssociateAddress
//!   where the address already is, an UPSERT of the record's same value), it is made anyway
//!   ("reassert");
//! - where it is not (private and IPv6 addresses, Transit Gateway routes), the plan is read
//!   again once the window has passed, and that read is trusted.
//!
//! Likewise a release (BACKUP/FAULT/STOP with `release`) soon after this node's MASTER does
//! not trust "not on this node": it may not show this node's own write yet, so it reads
//! again once the window has passed.
//!
//! Drift seen by `check`/`watch` is confirmed the same way: see `reconcile`.

use super::apply::Planned;
use crate::ordering::{Record, Stamp};
use crate::scenario::{dns_record, elastic_ip, route_table, Goal, Step};
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
    /// Nothing reads as "already here": the plan stands.
    Trusted,
    /// Every "already here" step can be written anyway: the plan with those writes.
    Reassert(Vec<Planned>, usize),
    /// Some cannot: read again once the window has passed.
    ReadAgain,
}

/// A step that reads as already this node's, as a write that makes sure of it.
fn reassert_step(s: &Step) -> Option<Step> {
    route_table::reassert(s).or_else(|| elastic_ip::reassert(s)).or_else(|| dns_record::reassert(s))
}

/// Decide for a plan made from suspect reads.
pub fn distrust(plans: &[Planned], goal: Goal) -> Distrust {
    if goal == Goal::Release {
        let kept = plans.iter().flat_map(|(_, s)| s).any(Step::is_keep);
        return if kept { Distrust::ReadAgain } else { Distrust::Trusted };
    }
    let mut count = 0;
    let mut out = Vec::with_capacity(plans.len());
    for (scenario, steps) in plans {
        let mut new = Vec::with_capacity(steps.len());
        for s in steps {
            if !s.is_keep() {
                new.push(s.clone());
                continue;
            }
            match reassert_step(s) {
                Some(w) => {
                    count += 1;
                    new.push(w);
                }
                None => return Distrust::ReadAgain,
            }
        }
        out.push((scenario.clone(), new));
    }
    if count == 0 {
        Distrust::Trusted
    } else {
        Distrust::Reassert(out, count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{RouteTable, RouteTarget};
    use crate::scenario::{route_table::RouteTables, Action, Kind, Resource, Scenario};

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
        let Distrust::Reassert(plans, n) = distrust(&[(sc.clone(), steps.clone())], Goal::Take) else {
            panic!()
        };
        assert_eq!(n, 1);
        assert_eq!(plans[0].1[0].action, Action::Write { verb: "reassert", call: "ReplaceRoute" });
        assert!(plans[0].1[0].plan_line().contains("eni-me -> eni-me (reassert) via ReplaceRoute"));
        assert_eq!(plans[0].1[1], steps[1], "a write stays as planned");
        let only_writes = vec![steps[1].clone()];
        assert_eq!(distrust(&[(sc.clone(), only_writes)], Goal::Take), Distrust::Trusted);
        let ipv6 = Step {
            kind: Kind::Ipv6Address,
            resource: Resource::Ipv6Address { ip: "2600::1".parse().unwrap(), subnet: "subnet-1".into() },
            current: Some("eni-me".into()),
            desired: "eni-me".into(),
            action: Action::Keep("already on this node".into()),
            write: None,
        };
        assert_eq!(
            distrust(&[(sc.clone(), vec![steps[1].clone(), ipv6.clone()])], Goal::Take),
            Distrust::ReadAgain
        );
        assert_eq!(distrust(&[(sc, vec![ipv6])], Goal::Release), Distrust::ReadAgain, "a release re-reads");
    }
}
