//! `ec2-vip watch --fifo PATH`: a long-running consumer of keepalived's `notify_fifo`.
//!
//! Only the FIFO guarantees the order of transitions. Lines are applied strictly in order;
//! a burst is coalesced to the latest state per instance; while an instance is MASTER its
//! resources are reconciled every `--interval` seconds (describe calls only, unless
//! something drifted). The FIFO is read through [`FifoReader`]: opened read-write (never
//! blocks, always a writer: us), reopened when keepalived re-creates it, invalid lines
//! skipped. SIGHUP reopens `--log-file` (logrotate's postrotate); SIGTERM and SIGINT stop.

use super::events::Events;
use crate::aws::Cloud;
use crate::cli::WatchArgs;
use crate::config::Config;
use crate::deadline::{jitter, Deadline};
use crate::engine::event::Kind;
use crate::engine::reconcile::Checked;
use crate::engine::transition::Job;
use crate::engine::{Engine, Session};
use crate::error::Error;
use crate::keepalived::fifo::{parse_fifo_line, FifoState};
use crate::keepalived::liveness::{self, Alive};
use crate::keepalived::reader::FifoReader;
use crate::keepalived::Role;
use crate::logging::{reopen_log_file, set_context};
use crate::ordering::{Guard, Record, Stamp};
use futures_util::FutureExt;
use log::{debug, error, info, warn};
use std::collections::HashMap;
use std::future::Future;
use std::path::Path;
use std::time::Duration;
use tokio::signal::unix::{signal, SignalKind};
use tokio::time::Instant;

/// Add a line to the inbox: a transition to the pending ones, keeping only the latest per
/// instance, in order; a MASTER_RX_LOWER_PRI of a MASTER instance to the reasserts.
/// Returns the transition it queued, if any.
fn absorb(line: &str, inbox: &mut Inbox<'_>, states: &HashMap<String, Role>) -> Option<(String, Role)> {
    let config = inbox.config;
    match parse_fifo_line(line) {
        Err(e) => warn!("{e}; skipped"),
        Ok(None) => debug!("not a VRRP line, ignored: {line:?}"),
        Ok(Some(ev)) if config.broken.contains_key(&ev.name) => {
            error!("{} {}: not acted on: {}", ev.kind, ev.name, config.broken[&ev.name])
        }
        Ok(Some(ev)) if !config.instances.contains_key(&ev.name) => {
            warn!("{} {:?}: no [instance.{}] in {}; ignored", ev.kind, ev.name, ev.name, config.path)
        }
        Ok(Some(ev)) => {
            let role = match ev.state {
                FifoState::Transition(r) => r,
                // Not a transition: recording a new MASTER would void the contest memory,
                // which belongs to the MASTER record of this mastership.
                FifoState::Reassert if states.get(&ev.name) == Some(&Role::Master) => {
                    if !inbox.reassert.contains(&ev.name) {
                        inbox.reassert.push(ev.name);
                    }
                    return None;
                }
                FifoState::Reassert | FifoState::Ignore(_) => {
                    debug!("{} {}: {:?}, nothing to do", ev.kind, ev.name, ev.state);
                    return None;
                }
            };
            inbox.reassert.retain(|n| *n != ev.name);
            inbox.pending.retain(|(n, _)| *n != ev.name);
            inbox.pending.push((ev.name.clone(), role));
            return Some((ev.name, role));
        }
    }
    None
}

/// What the watcher has read and not yet applied, and how it stamps transitions.
struct Inbox<'a> {
    config: &'a Config,
    state_dir: &'a Path,
    pending: Vec<(String, Role)>,
    /// MASTER instances keepalived saw a lower-priority master of (MASTER_RX_LOWER_PRI):
    /// reconciled at once, as local recovery, under the same MASTER record.
    reassert: Vec<String>,
    seq: u64,
    /// Per instance, what was recorded before the first line queued for it was recorded:
    /// its job's prior transition (EC2 reads after a recent flap are suspect).
    earlier: HashMap<String, Option<Record>>,
    /// --dry-run: nothing is recorded.
    dry: bool,
}

impl<'a> Inbox<'a> {
    fn new(config: &'a Config, state_dir: &'a Path, dry: bool) -> Inbox<'a> {
        Inbox {
            config,
            state_dir,
            pending: Vec::new(),
            reassert: Vec::new(),
            seq: 0,
            earlier: HashMap::new(),
            dry,
        }
    }

    fn stamp(&mut self) -> Result<Stamp, Error> {
        self.seq += 1;
        Stamp::now(self.seq).map_err(Error::Other)
    }

    /// Take every line already waiting in the pipe, without blocking (next_line is cancel safe).
    fn drain(&mut self, lines: &mut FifoReader, states: &HashMap<String, Role>) {
        while let Some(l) = lines.next_line().now_or_never() {
            absorb(&l, self, states);
        }
    }

    /// The reasserts to run now: instances still MASTER with no transition waiting.
    fn take_reasserts(&mut self, states: &HashMap<String, Role>) -> Vec<String> {
        let ready = masters(states, &self.pending);
        std::mem::take(&mut self.reassert).into_iter().filter(|n| ready.contains(n)).collect()
    }

    /// Run `work` while reading the FIFO. A transition that arrives meanwhile is queued and
    /// recorded at once, so running work of that instance (which reads the record again
    /// before every write) stops writing.
    async fn while_reading<F: Future>(
        &mut self,
        work: F,
        lines: &mut FifoReader,
        states: &HashMap<String, Role>,
    ) -> F::Output {
        tokio::pin!(work);
        loop {
            tokio::select! {
                biased;
                out = &mut work => return out,
                l = lines.next_line() => {
                    let queued = absorb(&l, self, states).filter(|_| !self.dry);
                    if let Some((name, role)) = queued {
                        let recorded = self.stamp().and_then(|st| {
                            let guard = Guard::new(self.state_dir, &name)?;
                            self.earlier.entry(name.clone()).or_insert_with(|| guard.latest().ok().flatten());
                            guard.record(st, &role.to_string())
                        });
                        if let Err(e) = recorded {
                            warn!("{name} {role}: {e}");
                        }
                    }
                }
            }
        }
    }
}

/// Sessions (identity and clients) kept warm per instance between transitions; dropped
/// after an error so the next run asks IMDS again.
type Sessions<C> = HashMap<String, Session<C>>;

pub async fn run<K: Cloud>(
    engine: &Engine<K>,
    config: &Path,
    args: &WatchArgs,
    ev: &Events,
) -> Result<(), Error> {
    let config = Config::load(config)?;
    // A broken section breaks only itself: the others are watched.
    for p in config.problems() {
        error!("{p}; its transitions are not acted on until the config is fixed and watch restarted");
    }
    if let Some(addr) = args.metrics_listen {
        super::serve::metrics(addr, ev.metrics.reg.clone()).await?;
    }
    let path = &args.fifo;
    let mut lines =
        FifoReader::open(path).map_err(|e| Error::BadInput(format!("--fifo {}: {e}", path.display())))?;
    let sig = |k| signal(k).map_err(|e| Error::Other(format!("signal handler: {e}")));
    let (mut term, mut int) = (sig(SignalKind::terminate())?, sig(SignalKind::interrupt())?);
    let mut hup = sig(SignalKind::hangup())?;
    let timeout = engine.settings.timeout;
    let state_dir = &engine.settings.state_dir;

    // A watcher restarted while keepalived stays MASTER picks up the recorded state.
    let mut states: HashMap<String, Role> = HashMap::new();
    for name in config.instances.keys() {
        if let Some(r) = Guard::new(state_dir, name)?.latest()? {
            if let Some(role) = Role::parse_keepalived(&r.state) {
                states.insert(name.clone(), role);
            }
        }
    }
    let interval = Duration::from_secs_f64(args.interval.max(0.1));
    let pid_files: Vec<std::path::PathBuf> = match &args.keepalived_pid {
        Some(p) => vec![p.clone()],
        None => liveness::DEFAULT_PID_FILES.iter().map(Into::into).collect(),
    };
    // Set once its pid file named a running keepalived: a pid file gone after that means
    // keepalived is gone too (a clean stop writes STOP to the FIFO first).
    let mut keepalived_seen = false;
    let mut backoff = 1u32;
    let mut next = Instant::now() + spread(interval);
    let mut sessions: Sessions<K::Client> = HashMap::new();
    let mut inbox = Inbox::new(&config, state_dir, engine.settings.dry_run);
    warm(engine, &config, &mut sessions, timeout).await;
    info!(
        "watching {} for {} instance(s); reconcile every {}s while MASTER",
        path.display(),
        config.instances.len(),
        args.interval
    );
    loop {
        if inbox.pending.is_empty() {
            tokio::select! {
                biased;
                _ = term.recv() => break,
                _ = int.recv() => break,
                _ = hup.recv() => match reopen_log_file() {
                    Some(Ok(())) => info!("SIGHUP: --log-file reopened"),
                    Some(Err(e)) => warn!("SIGHUP: {e}"),
                    None => info!("SIGHUP: no --log-file to reopen"),
                },
                first = lines.next_line() => {
                    absorb(&first, &mut inbox, &states);
                    inbox.drain(&mut lines, &states);
                }
                _ = tokio::time::sleep_until(next), if args.interval > 0.0 => {
                    // Lines waiting in the pipe come first: a BACKUP not yet read must not be
                    // "repaired" away, and an instance with a pending transition waits for it.
                    inbox.drain(&mut lines, &states);
                    // A killed keepalived writes no STOP: without VRRP this node claims nothing.
                    if let Some(why) = keepalived_gone(&pid_files, &mut keepalived_seen) {
                        next = Instant::now() + spread(interval);
                        for name in masters(&states, &inbox.pending) {
                            error!("keepalived is gone ({why}): {name} is treated as STOP; nothing is repaired until keepalived reports again");
                            inbox.pending.push((name, Role::Stop));
                        }
                        if !inbox.pending.is_empty() {
                            continue;
                        }
                    }
                    let mut throttled = false;
                    for name in masters(&states, &inbox.pending) {
                        let work = reconcile(engine, &config, &name, &mut sessions, (ev, timeout));
                        throttled |= inbox.while_reading(work, &mut lines, &states).await;
                    }
                    // Many watchers share an account's Describe bucket: never in lockstep,
                    // and slower while EC2 throttles.
                    backoff = if throttled { (backoff * 2).min(8) } else { 1 };
                    next = Instant::now() + spread(interval * backoff);
                }
            }
        }
        if inbox.pending.is_empty() {
            for name in inbox.take_reasserts(&states) {
                info!("keepalived {name}: a lower-priority node also claims MASTER; reconciling now");
                let work = reconcile(engine, &config, &name, &mut sessions, (ev, timeout));
                inbox.while_reading(work, &mut lines, &states).await;
            }
            continue;
        }
        let (name, role) = inbox.pending.remove(0);
        // keepalived just wrote to the FIFO: learn whether its pid file names it.
        if liveness::vrrp(&pid_files) == Alive::Yes {
            keepalived_seen = true;
        }
        set_context(format!("{name} {role} (watch)"));
        let stamp = inbox.stamp()?;
        let deadline = Deadline::after(timeout);
        let res = &config.instances[&name];
        info!("keepalived {name} -> {role}");
        let job = Job { role, res, key: &name, stamp, prior: inbox.earlier.remove(&name) };
        let work = engine.transition(&job, sessions.get(&name), &deadline);
        let ran = inbox.while_reading(work, &mut lines, &states).await;
        ev.transition(ev.hook(Some(&config), &name).as_ref(), &name, role, &ran, &deadline);
        if let Err(e) = ran.and_then(|ran| super::transition::outcome(role, ran, engine.settings.dry_run)) {
            error!("{e}");
            sessions.remove(&name);
        }
        states.insert(name, role);
        set_context("watch".into());
        if inbox.pending.is_empty() {
            warm(engine, &config, &mut sessions, timeout).await;
        }
    }
    info!("signal received; watcher stopped");
    Ok(())
}

/// Learn identity and build clients for every instance that has none, while nothing is
/// waiting: the next failover then makes no IMDS round and builds no client. A failure
/// only means that failover connects itself.
async fn warm<K: Cloud>(
    engine: &Engine<K>,
    config: &Config,
    sessions: &mut Sessions<K::Client>,
    timeout: Duration,
) {
    for (name, res) in &config.instances {
        if sessions.contains_key(name) {
            continue;
        }
        match engine.connect(res, &Deadline::after(timeout)).await {
            Ok(s) => {
                sessions.insert(name.clone(), s);
            }
            Err(e) => debug!("{name}: not connected ahead of time: {e}"),
        }
    }
}

/// Why keepalived is known to be gone, if it is. `seen`: its pid file has named a running
/// keepalived since the last time it was found gone.
fn keepalived_gone(pid_files: &[std::path::PathBuf], seen: &mut bool) -> Option<String> {
    let why = match liveness::vrrp(pid_files) {
        Alive::Yes => {
            *seen = true;
            return None;
        }
        Alive::No(why) => why,
        // Removed after a crash (by systemd, or a restart script).
        Alive::Unknown if *seen => "its VRRP pid file is gone".to_string(),
        Alive::Unknown => return None,
    };
    *seen = false;
    Some(why)
}

/// Instances recorded MASTER with no transition waiting.
fn masters(states: &HashMap<String, Role>, pending: &[(String, Role)]) -> Vec<String> {
    let waiting = |n: &String| pending.iter().any(|(p, _)| p == n);
    states.iter().filter(|(n, r)| **r == Role::Master && !waiting(n)).map(|(n, _)| n.clone()).collect()
}

/// At least `d`, up to a quarter more.
fn spread(d: Duration) -> Duration {
    d * 3 / 4 + jitter(d / 2)
}

/// Local recovery for one MASTER instance: describe, and repair only what drifted.
/// Returns whether EC2 throttled us (the next round then comes later).
async fn reconcile<K: Cloud>(
    engine: &Engine<K>,
    config: &Config,
    name: &str,
    sessions: &mut Sessions<K::Client>,
    (ev, timeout): (&Events, Duration),
) -> bool {
    let deadline = Deadline::after(timeout);
    let hook = ev.hook(Some(config), name);
    let res = &config.instances[name];
    set_context(format!("{name} reconcile (watch)"));
    if !sessions.contains_key(name) {
        match engine.connect(res, &deadline).await {
            Ok(s) => {
                sessions.insert(name.to_string(), s);
            }
            Err(e) => {
                error!("reconcile failed: {e}");
                ev.metrics.checked(name, Err(&e));
                set_context("watch".into());
                return throttled(&e);
            }
        }
    }
    let mut was_throttled = false;
    let session = &sessions[name];
    let checked = engine.reconcile(session, res, name, true, &deadline).await;
    ev.metrics.checked(name, checked.as_ref());
    match checked {
        Ok(Checked::Right) | Ok(Checked::NotMaster(_)) => debug!("no drift"),
        Ok(Checked::Unowned(lines)) => warn!("no transition recorded; not repaired: {}", lines.join("; ")),
        Ok(Checked::Repaired(lines)) => {
            info!("repaired {} drifted resource(s)", lines.len());
            ev.recovery(hook.as_ref(), Kind::Repaired, name, &session.me, &lines, None);
        }
        // --dry-run: the engine logged each write it would make.
        Ok(Checked::WouldRepair(lines)) => info!("would repair {} drifted resource(s)", lines.len()),
        Ok(Checked::Yielding { lines, other, fresh: true, .. }) => {
            ev.recovery(hook.as_ref(), Kind::SplitBrain, name, &session.me, &lines, Some(&other));
        }
        Ok(Checked::Yielding { other, secs, .. }) => debug!("yielding to {other} for {secs:.0} s more"),
        // Identity and clients are asked anew after a failed repair or a failed describe
        // (nothing is changed on a failed describe).
        Ok(Checked::Drifted(lines)) => {
            error!("still drifted after repair: {}", lines.join("; "));
            sessions.remove(name);
        }
        Err(e) => {
            error!("reconcile failed: {e}");
            was_throttled = throttled(&e);
            sessions.remove(name);
        }
    }
    set_context("watch".into());
    was_throttled
}

fn throttled(e: &Error) -> bool {
    matches!(e, Error::Ec2(x) if x.is_throttling()) || matches!(e, Error::Deadline { .. })
}

#[cfg(test)]
#[path = "watch_tests.rs"]
mod tests;
