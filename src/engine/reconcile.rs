//! Local recovery over every scenario: does each resource point where this node's MASTER
//! wants it? With repair, put back what drifted — under the instance's lock, only while
//! its last recorded transition (in this boot) is MASTER, never remapping what is already
//! right. Without any record this node is not known to own anything: drift is reported,
//! never repaired. Under --dry-run a repair is only planned: nothing is written to EC2 or
//! to the state directory (no lock file, no contest memory).

use super::apply::{apply, plan_all, steps, Planned};
pub use super::checked::{Checked, CONTEST_WINDOW};
use super::settle::{settle, Settle};
use super::{Engine, Session};
use crate::aws::{Cloud, Ec2, Route53, TransitGateways};
use crate::config::Resources;
use crate::deadline::Deadline;
use crate::error::Error;
use crate::ordering::{boot_seconds, Contest, Guard, Record};
use crate::scenario::{Ctx, Goal, Scenario};
use log::{debug, info, warn};

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
    /// Wait until the consistency window has passed since `since`: the next read is past
    /// any stale answer `since`'s read could have had. Err when the deadline comes first
    /// (then nothing can be told).
    async fn wait_out_window(&self, since: tokio::time::Instant, deadline: &Deadline) -> Result<(), Error> {
        let wait = self.settings.consistency_window.saturating_sub(since.elapsed());
        if wait.is_zero() {
            return Ok(());
        }
        debug!("drift seen; reading again in {} ms to rule out a stale answer", wait.as_millis());
        if deadline.remaining() <= wait || !deadline.sleep(wait).await {
            return Err(Error::Deadline {
                timeout_secs: deadline.total().as_secs_f64(),
                step: "waiting out EC2's consistency window to confirm drift".into(),
            });
        }
        Ok(())
    }

    /// Where the resources point now. Drift, as for `reconcile`, is believed only when a
    /// read a consistency window after the first still shows it (a monitor right after a
    /// start must not fail on a stale answer).
    pub async fn survey(
        &self,
        session: &Session<K::Client>,
        res: &Resources,
        deadline: &Deadline,
    ) -> Result<Survey, Error> {
        let (cx, scenarios) = (session.ctx(deadline), Scenario::for_resources(res));
        let first_read = tokio::time::Instant::now();
        let mut plans = plan_all(&cx, &scenarios, Goal::Take).await?;
        if !drift(&plans).is_empty() {
            self.wait_out_window(first_read, deadline).await?;
            plans = plan_all(&cx, &scenarios, Goal::Take).await?;
        }
        Ok(Survey { here: steps(&plans).filter(|s| s.proves_here()).count(), drift: drift(&plans) })
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
        let first_read = tokio::time::Instant::now();
        let plans = plan_all(&cx, &scenarios, Goal::Take).await?;
        let found = drift(&plans);
        if found.is_empty() {
            return Ok(Checked::Right);
        }
        let Some(record) = recorded else {
            return Ok(Checked::Unowned(found));
        };
        // EC2 may answer from before a write made within the consistency window (this node's
        // own transition or repair, or the peer's): drift is believed, repaired or taken for
        // a split brain only when a read that long after the first still shows it.
        self.wait_out_window(first_read, deadline).await?;
        if !repair || self.settings.dry_run {
            let plans = plan_all(&cx, &scenarios, Goal::Take).await?;
            let found = drift(&plans);
            return Ok(match (found.is_empty(), repair) {
                (true, _) => Checked::Right,
                (false, false) => Checked::Drifted(found),
                (false, true) => would_repair(&cx, &guard, &record, &plans, found).await,
            });
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
        let contest = match settle(&cx, &guard, &record, &plans, &found, true).await {
            Settle::Yield(checked) => return Ok(checked),
            Settle::Repair(contest) => contest,
        };
        repair_now(&cx, &guard, &record, &plans, contest, &found, self.settings.consistency_window).await;
        let after = drift(&plan_all(&cx, &scenarios, Goal::Take).await?);
        Ok(if after.is_empty() { Checked::Repaired(found) } else { Checked::Drifted(after) })
    }
}

/// --dry-run: settle without keeping anything, and say what a repair would write.
async fn would_repair<C: Ec2>(
    cx: &Ctx<'_, C>,
    guard: &Guard,
    record: &Record,
    plans: &[Planned],
    found: Vec<String>,
) -> Checked {
    match settle(cx, guard, record, plans, &found, false).await {
        Settle::Yield(checked) => checked,
        Settle::Repair(_) => {
            let lines: Vec<String> =
                steps(plans).filter(|s| s.write.is_some()).map(|s| s.plan_line()).collect();
            for l in &lines {
                info!("would repair: {l}");
            }
            Checked::WouldRepair(lines)
        }
    }
}

/// Put back what drifted (the caller holds the lock), stopping at a newer transition, and
/// keep the repair's time in the contest memory.
async fn repair_now<C: Ec2 + TransitGateways + Route53>(
    cx: &Ctx<'_, C>,
    guard: &Guard,
    record: &Record,
    plans: &[Planned],
    mut contest: Contest,
    found: &[String],
    window: std::time::Duration,
) {
    for d in found {
        warn!("drift: {d}; repairing");
    }
    // A transition recorded while we repair ends the repair.
    let stop = || match guard.latest() {
        Ok(Some(r)) if r == *record => None,
        Ok(Some(r)) => Some(format!("superseded by a newer {}", r.state)),
        Ok(None) | Err(_) => Some("the transition record is gone".into()),
    };
    let report = apply(cx, plans, &stop, window).await;
    for f in report.failures() {
        warn!("repair: {f}");
    }
    // Written counts, read back or not: "written, but on the peer's ENI" is the peer
    // taking it back, the very evidence the contest needs (not counting it cost a split
    // brain one more change of hands per round under stale reads).
    let written = report.changed().next().is_some()
        || report.entries.iter().any(|e| matches!(e.outcome, super::report::Outcome::Unconfirmed(_)));
    if written {
        contest.repaired_at = Some(boot_seconds());
        contest.yield_until = None;
        if let Err(e) = guard.set_contest(&contest) {
            warn!("{e}");
        }
    }
}
