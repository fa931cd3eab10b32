//! `ec2-vip watch --fifo PATH`: a long-running consumer of keepalived's `notify_fifo`.
//!
//! Only the FIFO guarantees the order of transitions. Lines are applied strictly in order;
//! a burst is coalesced to the latest state per instance; while an instance is MASTER its
//! resources are reconciled every `--interval` seconds (describe calls only, unless
//! something drifted). The FIFO is opened read-write, so opening never blocks and the
//! reader survives keepalived restarts (there is always a writer: us).

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
use crate::keepalived::Role;
use crate::logging::set_context;
use crate::ordering::{Guard, Stamp};
use futures_util::FutureExt;
use log::{debug, error, info, warn};
use std::collections::HashMap;
use std::future::Future;
use std::os::unix::fs::FileTypeExt;
use std::path::Path;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::signal::unix::{signal, SignalKind};
use tokio::time::Instant;

/// Add a line to the pending transitions, keeping only the latest per instance, in order.
/// Returns the transition it queued, if any.
fn absorb(
    line: &str,
    config: &Config,
    pending: &mut Vec<(String, Role)>,
    states: &HashMap<String, Role>,
) -> Option<(String, Role)> {
    match parse_fifo_line(line) {
        Err(e) => warn!("{e}; skipped"),
        Ok(None) => debug!("not a VRRP line, ignored: {line:?}"),
        Ok(Some(ev)) if !config.instances.contains_key(&ev.name) => {
            warn!("{} {:?}: no [instance.{}] in {}; ignored", ev.kind, ev.name, ev.name, config.path)
        }
        Ok(Some(ev)) => {
            let role = match ev.state {
                FifoState::Transition(r) => r,
                FifoState::Reassert if states.get(&ev.name) == Some(&Role::Master) => Role::Master,
                FifoState::Reassert | FifoState::Ignore(_) => {
                    debug!("{} {}: {:?}, nothing to do", ev.kind, ev.name, ev.state);
                    return None;
                }
            };
            pending.retain(|(n, _)| *n != ev.name);
            pending.push((ev.name.clone(), role));
            return Some((ev.name, role));
        }
    }
    None
}

type FifoLines = Lines<BufReader<tokio::net::unix::pipe::Receiver>>;

/// What the watcher has read and not yet applied, and how it stamps transitions.
struct Inbox<'a> {
    config: &'a Config,
    state_dir: &'a Path,
    pending: Vec<(String, Role)>,
    seq: u64,
}

impl Inbox<'_> {
    fn stamp(&mut self) -> Result<Stamp, Error> {
        self.seq += 1;
        Stamp::now(self.seq).map_err(Error::Other)
    }

    /// Take every line already waiting in the pipe, without blocking (next_line is cancel safe).
    fn drain(&mut self, lines: &mut FifoLines, states: &HashMap<String, Role>) {
        while let Some(Ok(Some(l))) = lines.next_line().now_or_never() {
            absorb(&l, self.config, &mut self.pending, states);
        }
    }

    /// Run `work` while reading the FIFO. A transition that arrives meanwhile is queued and
    /// recorded at once, so running work of that instance (which reads the record again
    /// before every write) stops writing.
    async fn while_reading<F: Future>(
        &mut self,
        work: F,
        lines: &mut FifoLines,
        states: &HashMap<String, Role>,
    ) -> F::Output {
        tokio::pin!(work);
        let mut open = true;
        loop {
            tokio::select! {
                biased;
                out = &mut work => return out,
                line = lines.next_line(), if open => match line {
                    Ok(Some(l)) => {
                        if let Some((name, role)) = absorb(&l, self.config, &mut self.pending, states) {
                            let recorded = self.stamp().and_then(|st| Guard::new(self.state_dir, &name)?.record(st, &role.to_string()));
                            if let Err(e) = recorded {
                                warn!("{name} {role}: {e}");
                            }
                        }
                    }
                    // The main loop reports a closed or broken FIFO.
                    _ => open = false,
                },
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
    let path = &args.fifo;
    let meta =
        std::fs::metadata(path).map_err(|e| Error::BadInput(format!("--fifo {}: {e}", path.display())))?;
    if !meta.file_type().is_fifo() {
        return Err(Error::BadInput(format!("--fifo {}: not a FIFO", path.display())));
    }
    crate::trust::check_trusted(path, "notify FIFO")?;
    let rx = tokio::net::unix::pipe::OpenOptions::new()
        .read_write(true)
        .open_receiver(path)
        .map_err(|e| Error::BadInput(format!("--fifo {}: {e}", path.display())))?;
    let mut lines = BufReader::new(rx).lines();
    let sig = |k| signal(k).map_err(|e| Error::Other(format!("signal handler: {e}")));
    let (mut term, mut int) = (sig(SignalKind::terminate())?, sig(SignalKind::interrupt())?);
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
    let mut inbox = Inbox { config: &config, state_dir, pending: Vec::new(), seq: 0 };
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
                line = lines.next_line() => {
                    let first = line
                        .map_err(|e| Error::Other(format!("reading {}: {e}", path.display())))?
                        .ok_or_else(|| Error::Other(format!("{}: end of file", path.display())))?;
                    absorb(&first, &config, &mut inbox.pending, &states);
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
        let job = Job { role, res, key: &name, stamp };
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
                set_context("watch".into());
                return throttled(&e);
            }
        }
    }
    let mut was_throttled = false;
    let session = &sessions[name];
    match engine.reconcile(session, res, name, true, &deadline).await {
        Ok(Checked::Right) | Ok(Checked::NotMaster(_)) => debug!("no drift"),
        Ok(Checked::Unowned(lines)) => warn!("no transition recorded; not repaired: {}", lines.join("; ")),
        Ok(Checked::Repaired(lines)) => {
            info!("repaired {} drifted resource(s)", lines.len());
            ev.recovery(hook.as_ref(), Kind::Repaired, name, &session.me, &lines, None);
        }
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
mod tests {
    use super::*;

    #[test]
    fn bursts_coalesce_to_the_latest_state_in_order() {
        let config = Config::parse(
            "t.toml",
            "[instance.VI_1]\nroutes = [\"10.1.0.10/32\"]\n[instance.VI_2]\nroutes = [\"10.1.0.11/32\"]\n",
        )
        .unwrap();
        let mut pending = Vec::new();
        let mut states = HashMap::new();
        for l in [
            "INSTANCE \"VI_1\" MASTER 150",
            "INSTANCE \"VI_2\" BACKUP 100",
            "garbage",
            "INSTANCE \"VI_9\" MASTER 150",
            "INSTANCE \"VI_1\" BACKUP 150",
            "INSTANCE \"VI_1\" MASTER_RX_LOWER_PRI 150",
        ] {
            absorb(l, &config, &mut pending, &states);
        }
        assert_eq!(pending, vec![("VI_2".into(), Role::Backup), ("VI_1".into(), Role::Backup)]);
        states.insert("VI_1".to_string(), Role::Master);
        absorb("INSTANCE \"VI_1\" MASTER_RX_LOWER_PRI 150", &config, &mut pending, &states);
        assert_eq!(pending.last(), Some(&("VI_1".to_string(), Role::Master)));
    }
}
