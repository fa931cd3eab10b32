//! master / backup / fault / stop by hand, and keepalived's generic `notify`.

use super::cli_key;
use super::events::Events;
use crate::aws::Cloud;
use crate::cli::{NotifyArgs, TransitionArgs};
use crate::config::{Config, Resources};
use crate::deadline::Deadline;
use crate::engine::progress;
use crate::engine::transition::{Job, Ran};
use crate::engine::Engine;
use crate::error::Error;
use crate::hook::Hook;
use crate::keepalived::Role;
use crate::ordering::Stamp;
use log::info;
use std::path::Path;

/// master/backup/fault/stop from the command line: the resources by flag (recorded under a
/// key of their own), or `--instance NAME`'s section (recorded under NAME, as keepalived's
/// notify for NAME records).
pub async fn by_hand<K: Cloud>(
    engine: &Engine<K>,
    config: &Path,
    role: Role,
    a: &TransitionArgs,
    ev: &Events,
    deadline: &Deadline,
) -> Result<(), Error> {
    if let Some(name) = &a.instance {
        let config = Config::load(config)?;
        let res = config.instance(name)?;
        return run(engine, role, res, name, (ev, ev.hook(Some(&config), name)), deadline).await;
    }
    let res = a.resources.resources().map_err(Error::BadInput)?;
    let key = cli_key(&res);
    run(engine, role, &res, &key, (ev, ev.hook(None, &key)), deadline).await
}

pub async fn notify<K: Cloud>(
    engine: &Engine<K>,
    config: &Path,
    n: &NotifyArgs,
    ev: &Events,
    deadline: &Deadline,
) -> Result<(), Error> {
    let kind = n.kind.to_ascii_uppercase();
    if kind != "INSTANCE" && kind != "GROUP" {
        return Err(Error::BadInput(format!("notify: TYPE must be INSTANCE or GROUP, not {:?}", n.kind)));
    }
    let role = Role::parse_keepalived(&n.state).ok_or_else(|| {
        Error::BadInput(format!("notify: STATE must be MASTER, BACKUP, FAULT or STOP, not {:?}", n.state))
    })?;
    let config = Config::load(config)?;
    let res = config.instance(&n.name)?;
    info!(
        "keepalived {kind} {} -> {role}{}",
        n.name,
        n.priority.map(|p| format!(" (priority {p})")).unwrap_or_default()
    );
    let hook = ev.hook(Some(&config), &n.name);
    run(engine, role, res, &n.name, (ev, hook), deadline).await
}

async fn run<K: Cloud>(
    engine: &Engine<K>,
    role: Role,
    res: &Resources,
    key: &str,
    (ev, hook): (&Events, Option<Hook>),
    deadline: &Deadline,
) -> Result<(), Error> {
    let job = Job { role, res, key, stamp: Stamp::current().map_err(Error::Other)?, prior: None };
    let ran = match until_terminated(engine.transition(&job, None, deadline)).await {
        Ok(ran) => ran,
        Err(signal) => return Err(Error::Incomplete(terminated(role, signal))),
    };
    // The writes are done and the lock is released: the hook delays nothing but our exit.
    ev.transition(hook.as_ref(), key, role, &ran, deadline);
    outcome(role, ran?, engine.settings.dry_run)
}

/// Run `work` unless SIGTERM or SIGINT comes first (then the signal's name). Without a
/// signal handler (none could be set up) the work simply runs.
async fn until_terminated<F: std::future::Future>(work: F) -> Result<F::Output, &'static str> {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt()))
    else {
        return Ok(work.await);
    };
    tokio::select! {
        out = work => Ok(out),
        _ = term.recv() => Err("SIGTERM"),
        _ = int.recv() => Err("SIGINT"),
    }
}

/// What a transition cut short by `signal` had done and had not: one line for the log.
fn terminated(role: Role, signal: &str) -> String {
    match progress::summary() {
        None => format!("{signal} during {role}: stopped before any write; nothing was changed"),
        Some((done, todo)) => {
            let list = |v: &[String]| if v.is_empty() { "nothing".to_string() } else { v.join("; ") };
            format!(
                "{signal} during {role}: stopped; written: {}; not written (or not confirmed): {}",
                list(&done),
                list(&todo)
            )
        }
    }
}

/// Render how a transition ended: the plan on stdout for --dry-run, else the report.
pub fn outcome(role: Role, ran: Ran, dry_run: bool) -> Result<(), Error> {
    match ran {
        Ran::NothingToDo if dry_run => {
            println!("nothing to do");
            Ok(())
        }
        Ran::NothingToDo | Ran::Superseded(_) => Ok(()),
        Ran::DryRun { lines, failing } => {
            for l in &lines {
                println!("{l}");
            }
            // The exit code the real run would have: a step no write can fix fails it.
            match failing {
                0 => Ok(()),
                n => Err(Error::Incomplete(format!(
                    "dry run: {role} would be incomplete: {n} resource(s) cannot be moved here (see the plan)"
                ))),
            }
        }
        Ran::Applied { report, ms, .. } => report.finish(role, ms),
    }
}
