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
use crate::error::Error;
use crate::ordering::Guard;
use log::{info, warn};
use std::path::Path;

/// Errors that mean "EC2 or IMDS could not be asked", not "something drifted".
fn cannot_tell(e: &Error) -> bool {
    matches!(e, Error::Imds(_) | Error::Ec2(_) | Error::Deadline { .. })
}

pub async fn run<K: Cloud>(
    engine: &Engine<K>,
    config: &Path,
    args: &CheckArgs,
    ev: &Events,
    deadline: &Deadline,
) -> Result<(), Error> {
    let (mut wrong, mut unknown) = (0, Vec::new());
    let loaded = Config::load(config).ok();
    let selection = select(config, &args.resources, args.instance.as_deref())?;
    for sel in selection.sound {
        let hook = ev.hook(loaded.as_ref(), &sel.key);
        let label = sel.name.as_deref().map(|n| format!("[{n}] ")).unwrap_or_default();
        let guard = Guard::new(&engine.settings.state_dir, &sel.key)?;
        // A node whose last transition is not MASTER has nothing to check: answer from the
        // record before asking IMDS or EC2 anything (a standby's check must not depend on
        // them, or an IMDS outage would turn every standby FAULT).
        if let Some(r) = guard.latest()?.filter(|r| r.state != "MASTER") {
            skipped(&label, &r.state);
            continue;
        }
        let checked = async {
            let session = engine.connect(&sel.resources, deadline).await?;
            let outcome = engine.reconcile(&session, &sel.resources, &sel.key, args.repair, deadline).await?;
            Ok::<_, Error>((session.me, outcome))
        };
        let (me, outcome) = match checked.await {
            Ok(done) => done,
            Err(e) if cannot_tell(&e) => {
                warn!("{label}cannot tell: {e}");
                println!("{label}unknown: {e}");
                unknown.push(e.to_string());
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
        let detail = format!(
            "EC2 or IMDS could not be asked, nothing is known to have drifted: {}",
            unknown.join("; ")
        );
        if args.unknown_exit == 0 {
            warn!("{detail}");
            return Ok(());
        }
        return Err(Error::CannotTell { detail, exit: args.unknown_exit });
    }
    Ok(())
}

fn skipped(label: &str, state: &str) {
    info!("{label}this node is {state} (last recorded transition): not checked");
    println!("{label}skipped: this node is {state}");
}

fn report_drift(label: &str, lines: &[String]) -> usize {
    for l in lines {
        warn!("{label}drift: {l}");
        println!("{label}drift: {l}");
    }
    lines.len()
}
