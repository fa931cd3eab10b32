//! The invariants of issue 28, judged as the schedule runs (`Book`): after every step, at
//! the end of every run, and on the end state. Each violation is one line naming the
//! invariant, the node, the resource and the virtual time.

use super::cloud::{holders, Shared};
use super::run::{KEY, TIMEOUT, WINDOW};
use super::schedule::Schedule;
use super::world::{self, Scenario};
use crate::aws::fake::World;
use crate::engine::transition::Ran;
use crate::engine::Engine;
use crate::error::Error;
use crate::keepalived::Role;
use crate::ordering::Guard;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::Duration;

/// How long a superseded run may go on: one hung attempt (a third of the deadline), one
/// read-back pause and a call's latency.
pub const LET_GO: Duration = Duration::from_millis(TIMEOUT.as_millis() as u64 / 3 + 500 + 500);
/// Invariant 6: changes of hands per resource in 30 s of a split brain.
pub const MAX_CHANGES: usize = 4;

const RELEASES: [&str; 4] = [
    "DisassociateAddress",
    "UnassignPrivateIpAddresses",
    "UnassignIpv6Addresses",
    "ChangeResourceRecordSets",
];

pub struct Book {
    scenario: Scenario,
    winner: Option<usize>,
    /// The section releases (BACKUP/FAULT/STOP give the resources up).
    releases: bool,
    foreign: BTreeMap<String, Option<String>>,
    /// Transitions recorded: (node, when, state).
    records: Vec<(usize, Duration, Role)>,
    writes_seen: usize,
    pub split_from: Option<Duration>,
    pub violations: Vec<String>,
    pub trace: Vec<String>,
}

fn holder(w: &World, key: &str) -> Option<String> {
    holders(w).get(key).cloned()
}

impl Book {
    pub fn new(s: &Schedule, w: &World) -> Book {
        let foreign = world::foreign(s.scenario).into_iter().map(|k| (k.clone(), holder(w, &k))).collect();
        Book {
            scenario: s.scenario,
            winner: final_master(s),
            releases: s.release,
            foreign,
            records: Vec::new(),
            writes_seen: 0,
            split_from: None,
            violations: Vec::new(),
            trace: Vec::new(),
        }
    }

    fn violate(&mut self, line: String) {
        if !self.violations.contains(&line) {
            self.violations.push(line);
        }
    }

    pub fn recorded(&mut self, n: usize, at: Duration, role: Role) {
        self.records.push((n, at, role));
    }

    fn newer_record(&self, n: usize, after: Duration) -> Option<Duration> {
        self.records.iter().filter(|(m, at, _)| *m == n && *at > after).map(|(_, at, _)| *at).next()
    }

    fn state_at(&self, n: usize, at: Duration) -> Option<Role> {
        self.records.iter().filter(|(m, t, _)| *m == n && *t <= at).map(|(_, _, r)| *r).next_back()
    }

    fn last_master(&self, n: usize, before: Duration) -> Duration {
        let m = self.records.iter().filter(|(m, at, r)| *m == n && *r == Role::Master && *at <= before);
        m.map(|(_, at, _)| *at).next_back().unwrap_or_default()
    }

    /// Invariants 1 and 2, over the writes since the last look.
    pub fn after_step(&mut self, cloud: &Shared) {
        let truth = cloud.truth.world.borrow();
        for (k, was) in self.foreign.clone() {
            let now = holder(&truth, &k);
            if now != was {
                self.violate(format!("1: {k} is not the cluster's, yet it changed: {was:?} -> {now:?}"));
            }
        }
        for i in self.writes_seen..cloud.writes.len() {
            let w = &cloud.writes[i];
            let removed = w.changed.iter().find(|(k, _, after)| *k == w.key && after.is_none());
            let releasing = self.state_at(w.node, w.at).is_some_and(|r| r != Role::Master);
            let Some((_, Some(gone), _)) = removed.filter(|_| RELEASES.contains(&w.op) && releasing) else {
                continue;
            };
            // Who put the removed holder there (an UPSERT of the same value changes nothing
            // and still writes it).
            let set = |x: &&super::cloud::Write| {
                x.key == w.key
                    && (x.changed.iter().any(|(k, _, a)| *k == w.key && a.as_ref() == Some(gone))
                        || (x.changed.is_empty() && x.op == "ChangeResourceRecordSets"))
            };
            let mine = self.last_master(w.node, w.at);
            let other = cloud.writes[..i].iter().rev().find(set).filter(|x| x.node != w.node && x.at > mine);
            if let Some(x) = other {
                self.violate(format!(
                    "2: n{} released {} at {} ms ({}), which n{} wrote at {} ms after n{}'s last MASTER",
                    w.node,
                    w.key,
                    w.at.as_millis(),
                    w.op,
                    x.node,
                    x.at.as_millis(),
                    w.node
                ));
            }
        }
        self.writes_seen = cloud.writes.len();
    }

    /// At the end of a transition of node `n` that started at `start`: invariants 4, 5, 7a.
    #[allow(clippy::too_many_arguments)]
    pub fn ran(
        &mut self,
        n: usize,
        role: Role,
        start: Duration,
        end: Duration,
        ran: &Result<Ran, Error>,
        ocf_stop: bool,
        cloud: &Shared,
    ) {
        let line = match ran {
            Ok(Ran::Applied { report, .. }) => format!("{:?}", report.entries.len()),
            Ok(r) => format!("{r:?}").chars().take(40).collect(),
            Err(e) => e.to_string(),
        };
        self.trace.push(format!("{} n{n} {role} ran {line}", end.as_millis()));
        // A run that ends skipped (superseded once it got the lock) held nothing while it
        // waited in line for the lock.
        let skipped = matches!(ran, Ok(Ran::Superseded(_)));
        if let Some(newer) = self.newer_record(n, start).filter(|_| !skipped) {
            if end > newer + LET_GO {
                self.violate(format!(
                    "5: n{n}'s {role} (from {} ms) held on {} ms after a newer transition at {} ms",
                    start.as_millis(),
                    (end - newer).as_millis(),
                    newer.as_millis()
                ));
            }
        }
        let truth = cloud.truth.world.borrow();
        let exit0 = match ran {
            Ok(Ran::Applied { report, .. }) => report.finish(role, 0).is_ok(),
            _ => false,
        };
        if role == Role::Master && exit0 && self.newer_record(n, start).is_none() {
            for (key, want) in world::owned(self.scenario, n) {
                let now = holder(&truth, &key);
                let excused = cloud.writes.iter().any(|w| w.key == key && w.node != n && w.at >= start);
                if now.as_deref() != Some(&want) && !excused {
                    self.violate(format!(
                        "4: n{n}'s MASTER (from {} ms) exited 0 at {} ms, but {key} is {now:?}, not {want}",
                        start.as_millis(),
                        end.as_millis()
                    ));
                }
            }
        }
        let release = role != Role::Master
            && crate::engine::goal(role, &world::resources(self.scenario, true)).is_some();
        if release && self.releases && exit0 && self.newer_record(n, start).is_none() {
            for (key, mine) in
                world::owned(self.scenario, n).into_iter().filter(|(k, _)| !k.starts_with("route"))
            {
                let now = holder(&truth, &key);
                if now.as_deref() == Some(&mine) && self.scenario != Scenario::DnsFixed {
                    self.violate(format!(
                        "4: n{n}'s {role} (from {} ms) released and exited 0 at {} ms, but {key} is still {mine}",
                        start.as_millis(),
                        end.as_millis()
                    ));
                }
            }
        }
        if ocf_stop {
            let rc0 = match ran {
                Ok(Ran::Applied { report, .. }) => match report.finish(role, 0) {
                    Ok(()) | Err(Error::Incomplete(_)) => true,
                    Err(e) => crate::commands::check::cannot_tell(&e),
                },
                Ok(_) => true,
                Err(e) => matches!(e, Error::Incomplete(_)) || crate::commands::check::cannot_tell(e),
            };
            let held =
                world::owned(self.scenario, n).iter().any(|(k, v)| holder(&truth, k).as_deref() == Some(v));
            if !rc0 && !held {
                self.violate(format!(
                    "7: n{n}'s OCF stop failed at {} ms with nothing of n{n}'s held: {line}",
                    end.as_millis()
                ));
            }
        }
    }

    /// Invariant 3: after the quiet period everything points at the winner.
    pub fn converged(&mut self, cloud: &Shared) {
        let Some(w) = self.winner else { return };
        let truth = cloud.truth.world.borrow();
        for (key, want) in world::owned(self.scenario, w) {
            let now = holder(&truth, &key);
            if now.as_deref() != Some(&want) {
                self.violate(format!(
                    "3: after the quiet period {key} is {now:?}, not the winner n{w}'s {want}"
                ));
            }
        }
    }

    /// Invariant 6: a dead winner is replaced within one interval (plus a window and a hung
    /// attempt: a repair confirms drift a window after seeing it).
    pub fn replaced(&mut self, dead: usize, cloud: &Shared) {
        let truth = cloud.truth.world.borrow();
        for (key, theirs) in world::owned(self.scenario, dead) {
            if holder(&truth, &key).as_deref() == Some(&theirs) && self.scenario != Scenario::DnsFixed {
                self.violate(format!("6: {key} still on the dead n{dead} an interval after it died"));
            }
        }
    }

    /// Invariant 6 and 3 under a split brain that never heals.
    pub fn split_settled(&mut self, cloud: &Shared) {
        let from = self.split_from.unwrap_or_default() + Duration::from_secs(5);
        let end = cloud.start.elapsed();
        let mut by_key: BTreeMap<&str, Vec<Duration>> = BTreeMap::new();
        for w in cloud.writes.iter().filter(|w| w.at >= from) {
            // into another node's hands (an IPv6 move is an unassign, then an assign)
            if w.changed.iter().any(|(k, b, a)| *k == w.key && a.is_some() && b != a) {
                by_key.entry(&w.key).or_default().push(w.at);
            }
        }
        for (key, times) in &by_key {
            for (i, t) in times.iter().enumerate() {
                let within = times[i..].iter().take_while(|x| **x < *t + Duration::from_secs(30)).count();
                if within > MAX_CHANGES {
                    self.violate(format!(
                        "6: {key} changed hands {within} times in 30 s of split brain from {} ms",
                        t.as_millis()
                    ));
                    break;
                }
            }
            let last = *times.last().unwrap();
            if last + WINDOW * 4 > end {
                self.violate(format!("3: under split brain {key} still moves at {} ms", last.as_millis()));
            }
        }
    }
}

/// The one node keepalived leaves MASTER (and up) at the end of `s`, if there is one;
/// None for Pacemaker's schedules too (Pacemaker, not a reconcile, recovers a failed start).
fn final_master(s: &Schedule) -> Option<usize> {
    use super::schedule::Act;
    if s.winner.is_none() || s.steps.iter().any(|x| x.act == Act::OcfStart) {
        return None;
    }
    let mut last = vec![None; s.nodes];
    for x in &s.steps {
        if !matches!(x.act, Act::Reconcile | Act::Probe | Act::Partition | Act::Heal | Act::OcfStop) {
            last[x.node] = Some(x.act);
        }
    }
    let masters: Vec<usize> = (0..s.nodes).filter(|n| last[*n] == Some(Act::Master)).collect();
    (masters.len() == 1).then(|| masters[0])
}

/// Pacemaker's probe on every live node at once (record, then where the resources point);
/// invariant 7: no two answer "running", and none that does is wrong about the cloud.
pub async fn probes(
    engines: Vec<(usize, Rc<Engine<super::client::SimCloud>>)>,
    scenario: Scenario,
    release: bool,
    book: Rc<RefCell<Book>>,
) {
    let res = world::resources(scenario, release);
    let one = |(n, e): (usize, Rc<Engine<super::client::SimCloud>>)| {
        let res = &res;
        async move {
            let deadline = crate::deadline::Deadline::after(TIMEOUT);
            let recorded = Guard::new(&e.settings.state_dir, KEY).and_then(|g| g.latest());
            if !matches!(recorded, Ok(None)) && !matches!(&recorded, Ok(Some(r)) if r.state == "MASTER") {
                return (n, false);
            }
            let started = matches!(&recorded, Ok(Some(_)));
            let survey = match e.connect(res, &deadline).await {
                Ok(session) => e.survey(&session, res, &deadline).await,
                Err(err) => Err(err),
            };
            // The agent's own rule (no local address in the simulation).
            let said = survey.map(|s| crate::commands::ocf::verdict::of(&s, started, false));
            (n, matches!(said, Ok(crate::commands::ocf::verdict::Verdict::Running)))
        }
    };
    let answers = futures_util::future::join_all(engines.into_iter().map(one)).await;
    let running: Vec<usize> = answers.iter().filter(|(_, r)| *r).map(|(n, _)| *n).collect();
    let mut b = book.borrow_mut();
    b.trace.push(format!("probes: running on {running:?}"));
    if running.len() > 1 {
        b.violate(format!("7: probes answer running on {running:?} at once"));
    }
}
