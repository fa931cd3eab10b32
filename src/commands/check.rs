//! `ec2-vip check [--repair]`: does every resource point at this node? The SIOS "local
//! recovery": put back what drifted (the engine's reconcile, over every scenario).

use super::select;
use crate::aws::Cloud;
use crate::cli::CheckArgs;
use crate::deadline::Deadline;
use crate::engine::reconcile::Checked;
use crate::engine::Engine;
use crate::error::Error;
use crate::ordering::Guard;
use log::{info, warn};
use std::path::Path;

pub async fn run<K: Cloud>(
    engine: &Engine<K>,
    config: &Path,
    args: &CheckArgs,
    deadline: &Deadline,
) -> Result<(), Error> {
    let mut wrong = 0;
    for sel in select(config, &args.resources, args.instance.as_deref())? {
        let label = sel.name.as_deref().map(|n| format!("[{n}] ")).unwrap_or_default();
        Guard::new(&engine.settings.state_dir, &sel.key)?;
        let session = engine.connect(&sel.resources, deadline).await?;
        let me = &session.me;
        let outcome = engine.reconcile(&session, &sel.resources, &sel.key, args.repair, deadline).await?;
        match outcome {
            Checked::Right => {
                info!("{label}every resource points at this node ({})", me.eni_id);
                println!("{label}ok: every resource points at this node ({})", me.eni_id);
            }
            Checked::NotMaster(state) => {
                info!("{label}this node is {state} (last recorded transition): not checked");
                println!("{label}skipped: this node is {state}");
            }
            Checked::Repaired(lines) => {
                for l in &lines {
                    println!("{label}repaired: {l}");
                }
            }
            Checked::Drifted(lines) => {
                wrong += lines.len();
                for l in &lines {
                    warn!("{label}drift: {l}");
                    println!("{label}drift: {l}");
                }
            }
        }
    }
    if wrong > 0 {
        return Err(Error::Incomplete(format!("{wrong} resource(s) do not point at this node")));
    }
    Ok(())
}
