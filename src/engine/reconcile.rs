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
use crate::ordering::Guard;
use crate::scenario::{Goal, Scenario};
use log::warn;

/// The outcome of checking one instance.
#[derive(Debug, PartialEq, Eq)]
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
}

fn drift(plans: &[Planned]) -> Vec<String> {
    steps(plans).filter_map(|s| s.drift_line()).collect()
}

impl<K: Cloud> Engine<K> {
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
        for d in &found {
            warn!("drift: {d}; repairing");
        }
        let plans = plan_all(&cx, &scenarios, Goal::Take).await?;
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
        let after = drift(&plan_all(&cx, &scenarios, Goal::Take).await?);
        Ok(if after.is_empty() { Checked::Repaired(found) } else { Checked::Drifted(after) })
    }
}
