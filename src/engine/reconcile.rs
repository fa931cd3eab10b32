//! Local recovery over every scenario: does each resource point where this node's MASTER
//! wants it? With repair, put back what drifted — under the instance's lock, only while
//! its last recorded transition (in this boot) is MASTER, never remapping what is already
//! right. Without any record this node is not known to own anything: drift is reported,
//! never repaired.

use super::apply::{apply, plan_all, steps, Planned};
use super::{Engine, Session};
use crate::aws::Cloud;
use crate::config::Resources;
use crate::deadline::Deadline;
use crate::error::Error;
use crate::ordering::{boot_seconds, Guard, MAX_HOLD};
use crate::scenario::{Goal, Scenario};
use log::warn;

/// The outcome of checking one instance.
#[derive(Debug, PartialEq)]
pub enum Checked {
    /// Everything points here.
    Right,
    /// The last recorded transition says this node is not MASTER: nothing to check.
    NotMaster(String),
    /// These resources drifted (and, with repair, are still wrong afterwards).
    Drifted(Vec<String>),
    /// They drifted and were put back.
    Repaired(Vec<String>),
    /// They drifted, but no transition is recorded for this node in this boot: it is not
    /// known to own them, so nothing was repaired.
    Unowned(Vec<String>),
    /// Split brain: another node that also claims MASTER (`other`) took them back after our
    /// repair and wins the tie-break; this node repairs nothing for `secs` more seconds.
    /// `fresh`: the contest was found in this run (not an earlier run's hold-off).
    Yielding { lines: Vec<String>, other: String, secs: f64, fresh: bool },
}

/// A repair taken back within this many seconds is a contest, not drift.
pub const CONTEST_WINDOW: f64 = 120.0;

/// The nodes (ENIs or instances) that hold resources this node's MASTER wants.
fn holders(plans: &[Planned], eni: &str) -> Vec<String> {
    let mut out: Vec<String> = steps(plans)
        .filter(|s| s.write.is_some())
        .filter_map(|s| s.current.clone())
        .filter(|c| c != eni && (c.starts_with("eni-") || c.starts_with("i-")))
        .collect();
    out.sort();
    out.dedup();
    out
}

fn drift(plans: &[Planned]) -> Vec<String> {
    steps(plans).filter_map(|s| s.drift_line()).collect()
}

/// Where a VIP's resources point now: how many point at this node, and a drift line for
/// each of the others (no record, no lock: OCF's monitor decides with these).
#[derive(Debug, PartialEq)]
pub struct Survey {
    pub here: usize,
    pub drift: Vec<String>,
}

impl<K: Cloud> Engine<K> {
    pub async fn survey(
        &self,
        session: &Session<K::Client>,
        res: &Resources,
        deadline: &Deadline,
    ) -> Result<Survey, Error> {
        let plans = plan_all(&session.ctx(deadline), &Scenario::for_resources(res), Goal::Take).await?;
        Ok(Survey { here: steps(&plans).filter(|s| s.is_keep()).count(), drift: drift(&plans) })
    }

    pub async fn reconcile(
        &self,
        session: &Session<K::Client>,
        res: &Resources,
        key: &str,
        repair: bool,
        deadline: &Deadline,
    ) -> Result<Checked, Error> {
        let guard = Guard::new(&self.settings.state_dir, key)?;
        let recorded = guard.latest()?;
        if let Some(r) = recorded.as_ref().filter(|r| r.state != "MASTER") {
            return Ok(Checked::NotMaster(r.state.clone()));
        }
        let cx = session.ctx(deadline);
        let scenarios = Scenario::for_resources(res);
        let found = drift(&plan_all(&cx, &scenarios, Goal::Take).await?);
        if found.is_empty() {
            return Ok(Checked::Right);
        }
        if recorded.is_none() {
            return Ok(Checked::Unowned(found));
        }
        if !repair {
            return Ok(Checked::Drifted(found));
        }
        let _held = guard.lock(deadline).await?;
        let record = match guard.latest()? {
            Some(r) if r.state == "MASTER" => r,
            Some(r) => return Ok(Checked::NotMaster(r.state)),
            None => return Ok(Checked::Unowned(found)),
        };
        let plans = plan_all(&cx, &scenarios, Goal::Take).await?;
        let found = drift(&plans);
        if found.is_empty() {
            return Ok(Checked::Right);
        }
        // Split brain: did another node take back what this node repaired?
        let mut contest = guard.contest(&record);
        let now = boot_seconds();
        if let Some(until) = contest.yield_until.filter(|u| *u > now) {
            return Ok(Checked::Yielding {
                lines: found,
                other: contest.other,
                secs: until - now,
                fresh: false,
            });
        }
        let others = holders(&plans, &session.me.eni_id);
        let retaken = contest.repaired_at.is_some_and(|t| now - t < CONTEST_WINDOW) && !others.is_empty();
        if retaken {
            let other = others.join(",");
            // Both sides see each other's ENI: the lower id keeps the VIP, the other yields.
            if others.iter().any(|o| o.as_str() < session.me.eni_id.as_str()) {
                let hold = contest.hold;
                contest.yield_until = Some(now + hold);
                contest.hold = (hold * 2.0).min(MAX_HOLD);
                contest.repaired_at = None;
                contest.other = other.clone();
                if let Err(e) = guard.set_contest(&contest) {
                    warn!("{e}");
                }
                log::error!(
                    "split brain: {other} took {} resource(s) back after this node repaired them, so it \
                     also claims MASTER; the lower ENI id keeps the VIP, this node ({}) yields for {hold:.0} s \
                     and `check` exits 1 meanwhile. Likely cause: VRRP between the nodes is blocked (a \
                     security group without IP protocol 112, or wrong unicast peers)",
                    found.len(),
                    session.me.eni_id
                );
                return Ok(Checked::Yielding { lines: found, other, secs: hold, fresh: true });
            }
            warn!("split brain: {other} took the resources back after our repair; this node keeps them (lower ENI id)");
        }
        for d in &found {
            warn!("drift: {d}; repairing");
        }
        // A transition recorded while we repair ends the repair.
        let stop = || match guard.latest() {
            Ok(Some(r)) if r == record => None,
            Ok(Some(r)) => Some(format!("superseded by a newer {}", r.state)),
            Ok(None) | Err(_) => Some("the transition record is gone".into()),
        };
        let report = apply(&cx, &plans, &stop).await;
        for f in report.failures() {
            warn!("repair: {f}");
        }
        if report.changed().next().is_some() {
            contest.repaired_at = Some(boot_seconds());
            contest.yield_until = None;
            if let Err(e) = guard.set_contest(&contest) {
                warn!("{e}");
            }
        }
        let after = drift(&plan_all(&cx, &scenarios, Goal::Take).await?);
        Ok(if after.is_empty() { Checked::Repaired(found) } else { Checked::Drifted(after) })
    }
}
