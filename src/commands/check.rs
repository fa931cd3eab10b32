//! `ec2-vip check [--repair]`: does every resource point at this node? The SIOS "local
//! recovery": put back what drifted (the engine's reconcile, over every scenario).

use super::events::Events;
use super::{select, set_aside};
use crate::aws::Cloud;
use crate::cli::CheckArgs;
use crate::config::Config;
use crate::deadline::Deadline;
use crate::engine::event::Kind;
use crate::engine::reconcile::Checked;
use crate::engine::Engine;
use crate::error::{ConfigError, Error};
use crate::ordering::Guard;
use log::{info, warn};
use std::path::Path;

/// Errors that mean "EC2, IMDS or the transition records could not be read", not
/// "something drifted": e.g. a user who may not read the state directory (root's, 0700)
/// cannot know whether this node is MASTER.
pub(crate) fn cannot_tell(e: &Error) -> bool {
    matches!(e, Error::Imds(_) | Error::Ec2(_) | Error::Deadline { .. } | Error::StateDir(_))
}

pub async fn run<K: Cloud>(
    engine: &Engine<K>,
    config: &Path,
    args: &CheckArgs,
    ev: &Events,
    deadline: &Deadline,
) -> Result<(), Error> {
    let (mut wrong, mut unknown) = (0, Vec::new());
    // The config's event hooks run even for --route: a config nobody may trust is refused;
    // a missing or broken one only means no hooks.
    let loaded = match Config::load(config) {
        Ok(c) => Some(c),
        Err(e @ ConfigError::Untrusted(_)) => return Err(e.into()),
        Err(_) => None,
    };
    // `check --route X` (keepalived's track_script) checks the section that owns X: its
    // record is the one keepalived's notify writes (a standby's says BACKUP: exit 0).
    let owner = loaded.as_ref().filter(|_| args.instance.is_none()).and_then(|c| {
        let flags = args.resources.resources().ok()?;
        c.owner(&flags).map(str::to_string)
    });
    if let Some(name) = &owner {
        info!("the config's [instance.{name}] holds every resource given: checking that section");
    }
    let instance = owner.as_deref().or(args.instance.as_deref());
    let selection = match select(config, &args.resources, instance) {
        // A user that may not read the config cannot know what to check: not bad input.
        Err(Error::Config(e @ ConfigError::Denied { .. })) => {
            println!("unknown: {e}");
            return cannot_tell_end(
                format!("the config could not be read as uid {}: {e}", nix::unistd::geteuid()),
                args,
            );
        }
        other => other?,
    };
    for sel in selection.sound {
        let hook = ev.hook(loaded.as_ref(), &sel.key);
        let label = sel.name.as_deref().map(|n| format!("[{n}] ")).unwrap_or_default();
        let guard = Guard::new(&engine.settings.state_dir, &sel.key)?;
        // A node whose last transition is not MASTER has nothing to check: answer from the
        // record before asking IMDS or EC2 anything (a standby's check must not depend on
        // them, or an IMDS outage would turn every standby FAULT).
        match guard.latest() {
            Ok(Some(r)) if r.state != "MASTER" => {
                skipped(&label, &r.state);
                continue;
            }
            Ok(_) => {}
            Err(e) => {
                unknown.push(cannot_tell_line(&label, e));
                continue;
            }
        }
        let checked = async {
            let session = engine.connect(&sel.resources, deadline).await?;
            let outcome = engine.reconcile(&session, &sel.resources, &sel.key, args.repair, deadline).await?;
            Ok::<_, Error>((session.me, outcome))
        };
        let checked = checked.await;
        ev.metrics.checked(&sel.key, checked.as_ref().map(|(_, c)| c));
        let (me, outcome) = match checked {
            Ok(done) => done,
            Err(e) if cannot_tell(&e) => {
                unknown.push(cannot_tell_line(&label, e));
                continue;
            }
            Err(e) => return Err(e),
        };
        let eni = &me.eni_id;
        match outcome {
            Checked::Right => {
                info!("{label}every resource points at this node ({eni})");
                println!("{label}ok: every resource points at this node ({eni})");
            }
            Checked::NotMaster(state) => skipped(&label, &state),
            Checked::Repaired(lines) => {
                for l in &lines {
                    println!("{label}repaired: {l}");
                }
                ev.recovery(hook.as_ref(), Kind::Repaired, &sel.key, &me, &lines, None);
            }
            Checked::WouldRepair(lines) => {
                for l in &lines {
                    println!("{label}would repair: {l}");
                }
                wrong += lines.len();
            }
            Checked::Drifted(lines) | Checked::Unowned(lines) if lines.is_empty() => {}
            Checked::Drifted(lines) => wrong += report_drift(&label, &lines),
            Checked::Yielding { lines, other, secs, fresh } => {
                wrong += report_drift(&label, &lines).max(1);
                println!("{label}yielding: split brain with {other}; not repaired for {secs:.0} s more");
                if fresh {
                    ev.recovery(hook.as_ref(), Kind::SplitBrain, &sel.key, &me, &lines, Some(&other));
                }
            }
            Checked::Unowned(lines) => {
                wrong += report_drift(&label, &lines);
                let why = format!(
                    "{label}not repaired: no transition is recorded for {} in this boot, so this node is not \
                     known to own these resources (keepalived's notify or `ec2-vip master ...` records MASTER)",
                    sel.key
                );
                warn!("{why}");
                if args.repair {
                    println!("{why}");
                }
            }
        }
    }
    if wrong > 0 {
        set_aside(&selection.broken, true).ok();
        return Err(Error::Incomplete(format!("{wrong} resource(s) do not point at this node")));
    }
    set_aside(&selection.broken, true)?;
    if !unknown.is_empty() {
        return cannot_tell_end(
            format!(
                "EC2, IMDS or the transition records could not be read, nothing is known to have drifted: {}",
                unknown.join("; ")
            ),
            args,
        );
    }
    Ok(())
}

/// Say that this selection cannot be told (EC2, IMDS or the records could not be read);
/// returns the reason for the summary.
fn cannot_tell_line(label: &str, e: Error) -> String {
    let e = match e {
        Error::StateDir(why) => format!(
            "transition records unreadable as uid {}: {why} (run check as the user that runs \
             the transitions, usually root)",
            nix::unistd::geteuid()
        ),
        e => e.to_string(),
    };
    warn!("{label}cannot tell: {e}");
    println!("{label}unknown: {e}");
    e
}

fn skipped(label: &str, state: &str) {
    info!("{label}this node is {state} (last recorded transition): not checked");
    println!("{label}skipped: this node is {state}");
}

/// End a check that could not tell: a warning (exit 0), or `--unknown-exit`.
fn cannot_tell_end(detail: String, args: &CheckArgs) -> Result<(), Error> {
    if args.unknown_exit == 0 {
        warn!("{detail}");
        return Ok(());
    }
    Err(Error::CannotTell { detail, exit: args.unknown_exit })
}

fn report_drift(label: &str, lines: &[String]) -> usize {
    for l in lines {
        warn!("{label}drift: {l}");
        println!("{label}drift: {l}");
    }
    lines.len()
}
