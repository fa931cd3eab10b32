//! One transition of one instance: record → lock → superseded? → plan every scenario →
//! apply → read back → report.

use super::apply::{apply, plan_all, steps};
use super::report::{Outcome, Report};
use super::stale::{self, Distrust};
use super::{goal, Engine, Session};
use crate::aws::Cloud;
use crate::config::Resources;
use crate::deadline::Deadline;
use crate::error::Error;
use crate::keepalived::Role;
use crate::model::Identity;
use crate::ordering::{Guard, Record, Stamp};
use crate::scenario::Scenario;
use log::{info, warn};

/// A transition to run: keepalived's state for `key`'s resources, stamped for ordering.
pub struct Job<'a> {
    pub role: Role,
    pub res: &'a Resources,
    /// The lock and record key: the keepalived instance name, or a name for a by-hand run.
    pub key: &'a str,
    pub stamp: Stamp,
    /// The transition recorded before this one, when the caller knows it (the watcher
    /// records lines as they arrive, before their job runs); None: read it here.
    pub prior: Option<Option<Record>>,
}

/// How a transition ended (errors aside).
#[derive(Debug)]
pub enum Ran {
    /// The state asks nothing of the resources (e.g. BACKUP without release).
    NothingToDo,
    /// A newer transition was recorded before anything was written.
    Superseded(Record),
    /// --dry-run: the plan's lines, and how many of its steps the real run would report
    /// as failed (not ours, missing, blocked: exit 1).
    DryRun { lines: Vec<String>, failing: usize },
    Applied {
        report: Report,
        ms: u128,
        /// Who ran it (for the event hook).
        node: Box<Identity>,
    },
}

impl<K: Cloud> Engine<K> {
    /// Run `job`. `warm`: a session to reuse (the watcher keeps one per instance).
    pub async fn transition(
        &self,
        job: &Job<'_>,
        warm: Option<&Session<K::Client>>,
        deadline: &Deadline,
    ) -> Result<Ran, Error> {
        let (role, res) = (job.role, job.res);
        if res.is_empty() {
            return Err(Error::BadInput(
                "nothing to move: give --route, --eip, --private-ip, --ipv6-address and/or --dns-record"
                    .into(),
            ));
        }
        let dry = self.settings.dry_run;
        let guard = Guard::new(&self.settings.state_dir, job.key)?;
        // Nothing auxiliary stops a failover: without a usable state directory (unwritable,
        // full, not ours) the run goes on, unordered, and says so.
        let mut ordered = !dry;
        // The transition before this one (read before ours replaces it): after a recent
        // BACKUP, a MASTER's reads may be stale (see `stale`).
        let prior = match &job.prior {
            Some(known) => known.clone(),
            None => guard.latest().ok().flatten(),
        };
        if ordered {
            if let Err(e) = guard.record(job.stamp, &role.to_string()) {
                let Error::StateDir(why) = e else { return Err(e) };
                warn!("{why}: this transition is not recorded and runs without ordering against other runs");
                ordered = false;
            }
        }
        let Some(goal) = goal(role, res) else {
            info!("{role}: nothing to do (routes move when the new master takes them; Elastic IPs are released only with --release)");
            return Ok(Ran::NothingToDo);
        };
        let _held = match ordered {
            false => None,
            true => match guard.lock(deadline).await {
                Ok(held) => Some(held),
                Err(Error::StateDir(why)) => {
                    warn!("{why}: running without the instance's lock");
                    None
                }
                Err(e) => return Err(e),
            },
        };
        let newer = || if ordered { guard.superseded(job.stamp).ok().flatten() } else { None };
        if let Some(r) = newer() {
            info!("{role} superseded by a newer {} (pid {}); skipping", r.state, r.stamp.pid);
            return Ok(Ran::Superseded(r));
        }
        let connected;
        let session = match warm {
            Some(s) => s,
            None => {
                connected = self.connect(res, deadline).await?;
                &connected
            }
        };
        let cx = session.ctx(deadline);
        let scenarios = Scenario::for_resources(res);
        let mut plans = plan_all(&cx, &scenarios, goal).await?;
        let window = self.settings.consistency_window;
        let why = stale::suspect(prior.as_ref(), &job.stamp, window, goal);
        // Written anyway although they read as this node's: reported as already right
        // unless the reads were suspect (then they most likely moved something back).
        let mut routine = Vec::new();
        let repeat = stale::repeat(prior.as_ref(), goal);
        match stale::distrust(&plans, goal, why.is_some(), repeat, window) {
            Distrust::Trusted => {}
            Distrust::Reassert(sure, written) => {
                let n = written.len();
                match &why {
                    Some(why) => info!("{why}: EC2's answers may still be stale, so {n} resource(s) that read as already this node's are written anyway (free, idempotent)"),
                    None => {
                        info!("{n} resource(s) read as already this node's: written anyway (EC2's answers may be a window old; free, idempotent)");
                        routine = written;
                    }
                }
                plans = sure;
            }
            Distrust::ReadAgain => {
                let why = why.as_deref().unwrap_or(
                    "this MASTER repeats the last one recorded and an address reads as already this node's",
                );
                info!(
                    "{why}: EC2's answers may still be stale; reading again in {:.1} s",
                    window.as_secs_f64()
                );
                deadline.sleep(window).await;
                // A newer transition recorded during the wait owns the resources now.
                if let Some(r) = newer() {
                    info!("{role} superseded by a newer {} (pid {}); skipping", r.state, r.stamp.pid);
                    return Ok(Ran::Superseded(r));
                }
                plans = plan_all(&cx, &scenarios, goal).await?;
            }
        }
        let lines: Vec<String> = steps(&plans).map(|s| s.plan_line()).collect();
        for l in &lines {
            info!("plan: {l}");
        }
        if dry {
            let failing = steps(&plans).filter(|s| s.fails_as_is()).count();
            return Ok(Ran::DryRun { lines, failing });
        }
        // Planning took time: a newer transition may have arrived meanwhile.
        if let Some(r) = newer() {
            info!("{role} superseded by a newer {} (pid {}); skipping", r.state, r.stamp.pid);
            return Ok(Ran::Superseded(r));
        }
        let started = tokio::time::Instant::now();
        // Said once: every write still to start asks again.
        let said = std::cell::Cell::new(false);
        let stop = || {
            newer().map(|r| {
                let why = format!("superseded by a newer {} (pid {})", r.state, r.stamp.pid);
                if !said.replace(true) {
                    warn!("{role} {why}: no more writes");
                }
                why
            })
        };
        let mut report = apply(&cx, &plans, &stop, window).await;
        for e in report.entries.iter_mut().filter(|e| e.outcome == Outcome::Changed) {
            if routine.contains(&e.resource) {
                e.outcome = Outcome::Unchanged;
            }
        }
        Ok(Ran::Applied { report, ms: started.elapsed().as_millis(), node: Box::new(session.me.clone()) })
    }
}
