//! Plan every scenario of a VIP at once, and apply their steps: every write through the
//! throttle-aware helper with bounded concurrency, then one read back per scenario of
//! only what was written.

use super::progress;
use super::report::{Entry, Outcome, Report};
use super::retry::{read_back, until_not_throttled, WriteError};
use crate::aws::{Ec2, Route53, TransitGateways};
use crate::error::Error;
use crate::scenario::{self, Action, Ctx, Goal, Scenario, Step};
use futures_util::future::{join_all, try_join_all};
use futures_util::stream::{self, StreamExt};
use log::info;

/// Writes in flight at once. EC2's mutating-call bucket refills at 5/s with a burst of 50.
pub const MAX_PARALLEL_WRITES: usize = 8;

/// How long past the consistency window a write is still read back: two reads at the
/// longest pause between them.
pub const READ_BACK_PAST_WINDOW: std::time::Duration = std::time::Duration::from_secs(1);

/// A scenario and the steps it planned.
pub type Planned = (Scenario, Vec<Step>);

/// Describe and plan every scenario concurrently. Bad input surfaces here, before any write.
pub async fn plan_all<C: Ec2 + TransitGateways + Route53>(
    cx: &Ctx<'_, C>,
    scenarios: &[Scenario],
    goal: Goal,
) -> Result<Vec<Planned>, Error> {
    let steps = try_join_all(scenarios.iter().map(|s| s.plan(cx, goal))).await?;
    Ok(scenarios.iter().cloned().zip(steps).collect())
}

pub fn steps(plans: &[Planned]) -> impl Iterator<Item = &Step> {
    plans.iter().flat_map(|(_, s)| s)
}

fn entry(s: &Step, outcome: Outcome) -> Entry {
    Entry { resource: s.resource.clone(), from: s.current.clone(), to: s.desired.clone(), outcome }
}

/// Apply the plans. `stop` is asked before every write attempt: once it names a newer
/// transition, nothing more is written and the report says so. What was written is read
/// back for at most `window` (how long EC2 may lag a write) and one more read.
pub async fn apply<C: Ec2 + TransitGateways + Route53>(
    cx: &Ctx<'_, C>,
    plans: &[Planned],
    stop: &dyn Fn() -> Option<String>,
    window: std::time::Duration,
) -> Report {
    let mut report = Report::default();
    for s in steps(plans) {
        let outcome = match &s.action {
            Action::Keep(_) => Outcome::Unchanged,
            Action::NotOwned(why) => Outcome::NotOwned(why.clone()),
            Action::Missing(why) => Outcome::Missing(why.clone()),
            Action::Blocked(why) => Outcome::Blocked(why.clone()),
            Action::Write { .. } => continue,
        };
        report.entries.push(entry(s, outcome));
    }
    let writes: Vec<(usize, &Step)> = plans
        .iter()
        .enumerate()
        .flat_map(|(i, (_, steps))| steps.iter().filter(|s| s.write.is_some()).map(move |s| (i, s)))
        .collect();
    // Waves one after the other (an Elastic IP bound to a private IP waits for the address);
    // within a wave, every write at once.
    let wave = |s: &Step| s.write.as_ref().map(|w| w.wave()).unwrap_or(0);
    let last = writes.iter().map(|(_, s)| wave(s)).max().unwrap_or(0);
    let mut results = Vec::with_capacity(writes.len());
    let first = progress::planned(
        writes
            .iter()
            .map(|(_, s)| format!("{}: {} -> {}", s.resource, s.current_or("none"), s.desired))
            .collect(),
    );
    for n in 0..=last {
        let done = stream::iter(writes.iter().enumerate().filter(|(_, (_, s))| wave(s) == n))
            .map(|(k, &(i, s))| async move {
                let name = format!("{} {}", call(s), s.resource);
                let r = until_not_throttled(cx.deadline, &name, stop, || scenario::write(cx, s)).await;
                if r.is_ok() {
                    progress::written(first + k);
                }
                (i, s, r)
            })
            .buffer_unordered(MAX_PARALLEL_WRITES)
            .collect::<Vec<_>>()
            .await;
        results.extend(done);
    }
    let mut written: Vec<Vec<&Step>> = vec![Vec::new(); plans.len()];
    // Written, Route 53 not yet INSYNC: reported as such once read back.
    let mut propagating: Vec<(&Step, String)> = Vec::new();
    for (i, s, r) in results {
        match r {
            Ok(pending) => {
                info!("{}: {} -> {} ({})", s.resource, s.current_or("none"), s.desired, past(s));
                if let Some(why) = pending {
                    propagating.push((s, why));
                }
                written[i].push(s);
            }
            Err(WriteError::Stopped(why)) => {
                report.entries.push(entry(s, Outcome::Skipped(why.clone())));
                report.superseded = Some(why);
            }
            Err(WriteError::Failed(e)) => report.entries.push(entry(s, Outcome::Failed(e.to_string()))),
        }
    }
    let done = |s: &Step| match propagating.iter().find(|(p, _)| std::ptr::eq(*p, s)) {
        Some((_, why)) => Outcome::Propagating(why.clone()),
        None => Outcome::Changed,
    };
    if report.superseded.is_some() {
        // The newer transition owns these resources now: do not wait for them to show.
        report.entries.extend(written.iter().flatten().map(|s| entry(s, done(s))));
        return report;
    }
    let checks = plans.iter().zip(&written).filter(|(_, w)| !w.is_empty()).map(|((sc, _), w)| async move {
        let never = || None; // test-only: the read back that ignored a newer transition
        let stop = if super::knobs::reverted(super::knobs::Knob::SupersededReadBack) { &never } else { stop };
        let patience = window + READ_BACK_PAST_WINDOW;
        let wrong = read_back(cx.deadline, patience, "read back", w.len(), stop, || sc.confirm(cx, w)).await;
        (w, wrong)
    });
    for (w, wrong) in join_all(checks).await {
        let wrong = match wrong {
            Ok(wrong) => wrong,
            Err(why) => {
                // Written, and then a newer transition came: stop waiting for it to show.
                report.entries.extend(w.iter().map(|s| entry(s, done(s))));
                report.superseded = Some(why);
                continue;
            }
        };
        for (i, s) in w.iter().enumerate() {
            report.entries.push(match wrong.get(i).cloned().flatten() {
                None => entry(s, done(s)),
                Some(shows) => entry(s, Outcome::Unconfirmed(format!("{shows} after {}", call(s)))),
            });
        }
    }
    report
}

fn call(s: &Step) -> &'static str {
    match s.action {
        Action::Write { call, .. } => call,
        _ => "",
    }
}

/// "replace" → "replaced", for the line logged after each write.
fn past(s: &Step) -> String {
    match s.action {
        Action::Write { verb, .. } if verb.ends_with('e') => format!("{verb}d"),
        Action::Write { verb, .. } => format!("{verb}ed"),
        _ => String::new(),
    }
}
