//! `ec2-vip watch --fifo PATH`: a long-running consumer of keepalived's `notify_fifo`.
//!
//! Only the FIFO guarantees the order of transitions. Lines are applied strictly in order;
//! a burst is coalesced to the latest state per instance; while an instance is MASTER its
//! resources are reconciled every `--interval` seconds (describe calls only, unless
//! something drifted). The FIFO is opened read-write, so opening never blocks and the
//! reader survives keepalived restarts (there is always a writer: us).

use crate::app::{connect, transition};
use crate::check::{check_one, Checked};
use crate::cli::{GlobalArgs, WatchArgs};
use crate::config::Config;
use crate::deadline::Deadline;
use crate::ec2::SdkEc2;
use crate::error::Error;
use crate::guard::{Guard, Stamp};
use crate::logging::set_context;
use crate::model::Identity;
use crate::plan::Role;
use futures_util::FutureExt;
use log::{debug, error, info, warn};
use std::collections::HashMap;
use std::os::unix::fs::FileTypeExt;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::signal::unix::{signal, SignalKind};

/// What a notify_fifo line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FifoState {
    Transition(Role),
    /// MASTER_RX_LOWER_PRI: a master saw a lower-priority advert; reassert if MASTER.
    Reassert,
    /// MASTER_PRIORITY and the like: nothing to do.
    Ignore(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FifoEvent {
    pub kind: String,
    pub name: String,
    pub state: FifoState,
}

/// Parse `INSTANCE "VI_1" MASTER 150` (also GROUP). keepalived's LVS virtual and real
/// server lines (VS, RS) are `Ok(None)`.
pub fn parse_fifo_line(line: &str) -> Result<Option<FifoEvent>, String> {
    let line = line.trim();
    let (kind, rest) = line.split_once(' ').ok_or_else(|| format!("malformed notify_fifo line {line:?}"))?;
    match kind {
        "INSTANCE" | "GROUP" => {}
        // keepalived's checker writes virtual/real server lines to the same FIFO.
        "VS" | "RS" => return Ok(None),
        _ => return Err(format!("malformed notify_fifo line {line:?}")),
    }
    let rest = rest.trim_start();
    let (name, rest) = rest
        .strip_prefix('"')
        .and_then(|r| r.split_once('"'))
        .ok_or_else(|| format!("malformed notify_fifo line {line:?}: name not quoted"))?;
    let mut words = rest.split_whitespace();
    let state = words.next().ok_or_else(|| format!("malformed notify_fifo line {line:?}: no state"))?;
    if let Some(p) = words.next() {
        p.parse::<u32>().map_err(|_| format!("malformed notify_fifo line {line:?}: bad priority"))?;
    }
    if name.is_empty() || words.next().is_some() {
        return Err(format!("malformed notify_fifo line {line:?}"));
    }
    let state = match Role::parse_keepalived(state) {
        Some(r) => FifoState::Transition(r),
        None if state == "MASTER_RX_LOWER_PRI" => FifoState::Reassert,
        None if state.chars().all(|c| c.is_ascii_uppercase() || c == '_') => FifoState::Ignore(state.into()),
        None => return Err(format!("malformed notify_fifo line {line:?}: bad state")),
    };
    Ok(Some(FifoEvent { kind: kind.into(), name: name.into(), state }))
}

/// Add a line to the pending transitions, keeping only the latest per instance, in order.
fn absorb(line: &str, config: &Config, pending: &mut Vec<(String, Role)>, states: &HashMap<String, Role>) {
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
                    return;
                }
            };
            pending.retain(|(n, _)| *n != ev.name);
            pending.push((ev.name, role));
        }
    }
}

pub async fn run(g: &GlobalArgs, args: &WatchArgs) -> Result<(), Error> {
    let config = Config::load(&g.config)?;
    let path = &args.fifo;
    let meta =
        std::fs::metadata(path).map_err(|e| Error::BadInput(format!("--fifo {}: {e}", path.display())))?;
    if !meta.file_type().is_fifo() {
        return Err(Error::BadInput(format!("--fifo {}: not a FIFO", path.display())));
    }
    let rx = tokio::net::unix::pipe::OpenOptions::new()
        .read_write(true)
        .open_receiver(path)
        .map_err(|e| Error::BadInput(format!("--fifo {}: {e}", path.display())))?;
    let mut lines = BufReader::new(rx).lines();
    let sig = |k| signal(k).map_err(|e| Error::Other(format!("signal handler: {e}")));
    let (mut term, mut int) = (sig(SignalKind::terminate())?, sig(SignalKind::interrupt())?);
    let timeout = Duration::from_secs_f64(g.timeout);

    // A watcher restarted while keepalived stays MASTER picks up the recorded state.
    let mut states: HashMap<String, Role> = HashMap::new();
    for name in config.instances.keys() {
        if let Some(r) = Guard::new(&g.state_dir, name)?.latest()? {
            if let Some(role) = Role::parse_keepalived(&r.state) {
                states.insert(name.clone(), role);
            }
        }
    }
    let mut tick = tokio::time::interval(Duration::from_secs_f64(args.interval.max(0.1)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut conns: HashMap<String, (Identity, SdkEc2)> = HashMap::new();
    let mut seq = 0u64;
    info!(
        "watching {} for {} instance(s); reconcile every {}s while MASTER",
        path.display(),
        config.instances.len(),
        args.interval
    );
    loop {
        let mut pending: Vec<(String, Role)> = Vec::new();
        tokio::select! {
            _ = term.recv() => break,
            _ = int.recv() => break,
            line = lines.next_line() => {
                let first = line
                    .map_err(|e| Error::Other(format!("reading {}: {e}", path.display())))?
                    .ok_or_else(|| Error::Other(format!("{}: end of file", path.display())))?;
                absorb(&first, &config, &mut pending, &states);
                // Coalesce what has already arrived behind it (next_line is cancel safe).
                while let Some(Ok(Some(l))) = lines.next_line().now_or_never() {
                    absorb(&l, &config, &mut pending, &states);
                }
            }
            _ = tick.tick(), if args.interval > 0.0 => {
                for (name, role) in &states {
                    if *role == Role::Master {
                        reconcile(g, &config, name, &mut conns, timeout).await;
                    }
                }
            }
        }
        for (name, role) in pending {
            seq += 1;
            set_context(format!("{name} {role} (watch)"));
            let stamp = Stamp::now(seq).map_err(Error::Other)?;
            let deadline = Deadline::after(timeout);
            let res = &config.instances[&name];
            info!("keepalived {name} -> {role}");
            if let Err(e) = transition(g, role, res, &name, stamp, &deadline).await {
                error!("{e}");
            }
            states.insert(name, role);
            set_context("watch".into());
        }
    }
    info!("signal received; watcher stopped");
    Ok(())
}

/// Local recovery for one MASTER instance: describe, and repair only what drifted.
async fn reconcile(
    g: &GlobalArgs,
    config: &Config,
    name: &str,
    conns: &mut HashMap<String, (Identity, SdkEc2)>,
    timeout: Duration,
) {
    let deadline = Deadline::after(timeout);
    let res = &config.instances[name];
    set_context(format!("{name} reconcile (watch)"));
    let outcome = async {
        if !conns.contains_key(name) {
            conns.insert(name.to_string(), connect(g, res, &deadline).await?);
        }
        let (me, ec2) = &conns[name];
        let guard = Guard::new(&g.state_dir, name)?;
        check_one(ec2, me, res, &guard, true, &deadline).await
    }
    .await;
    match outcome {
        Ok(Checked::Right) | Ok(Checked::NotMaster(_)) => debug!("no drift"),
        Ok(Checked::Repaired(lines)) => info!("repaired {} drifted resource(s)", lines.len()),
        Ok(Checked::Drifted(lines)) => error!("still drifted after repair: {}", lines.join("; ")),
        Err(e) => {
            error!("reconcile failed: {e}");
            conns.remove(name);
        }
    }
    set_context("watch".into());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(kind: &str, name: &str, state: FifoState) -> Option<FifoEvent> {
        Some(FifoEvent { kind: kind.into(), name: name.into(), state })
    }

    #[test]
    fn fifo_lines_parse() {
        assert_eq!(
            parse_fifo_line("INSTANCE \"VI_1\" MASTER 150\n").unwrap(),
            ev("INSTANCE", "VI_1", FifoState::Transition(Role::Master))
        );
        assert_eq!(
            parse_fifo_line("GROUP \"VG 1\" BACKUP").unwrap(),
            ev("GROUP", "VG 1", FifoState::Transition(Role::Backup))
        );
        assert_eq!(
            parse_fifo_line("INSTANCE \"VI_1\" MASTER_RX_LOWER_PRI 150").unwrap(),
            ev("INSTANCE", "VI_1", FifoState::Reassert)
        );
        assert_eq!(
            parse_fifo_line("INSTANCE \"VI_1\" MASTER_PRIORITY 90").unwrap(),
            ev("INSTANCE", "VI_1", FifoState::Ignore("MASTER_PRIORITY".into()))
        );
        assert_eq!(parse_fifo_line("RS 10.0.0.1:80 UP").unwrap(), None);
        for bad in [
            "",
            "this is not a notify line",
            "INSTANCE",
            "INSTANCE VI_1 MASTER",
            "INSTANCE \"VI_1\"",
            "INSTANCE \"VI_1\" MASTER x",
            "INSTANCE \"\" MASTER",
            "INSTANCE \"VI_1\" master?",
        ] {
            assert!(parse_fifo_line(bad).is_err(), "{bad:?}");
        }
    }

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
