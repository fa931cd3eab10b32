//! `ec2-vip ocf ACTION`: the OCF 1.1 resource agent Pacemaker runs (through the shim
//! `ocf/ec2-vip`). Parameters come from `OCF_RESKEY_*` ([`params`]); the key of the
//! resource's record and lock is `OCF_RESOURCE_INSTANCE`.
//!
//! - `start`: a MASTER transition through the engine (recorded, ordered, read back); then
//!   the VIP's local address, as aws-vpc-move-ip keeps it ([`local`], with `ip`).
//! - `stop`: a STOP transition; with `release` (default) what is still on this node is let
//!   go; routes stay for the next start; the local address is removed first. EC2 trouble never fails a stop (a failed stop gets
//!   a node fenced; the next start takes everything over anyway).
//! - `monitor`: 7 when the last transition recorded here is a stop; otherwise 0 when every
//!   resource points at this node, 7 when none does, 1 (OCF_ERR_GENERIC) for partial drift
//!   of a started resource. When EC2 or IMDS cannot be asked: the `unknown` parameter.
//! - `validate-all`, `meta-data`; anything else exits 3 (OCF_ERR_UNIMPLEMENTED).

pub mod local;
mod metadata;
pub mod params;
mod route53;
pub mod verdict;

use super::check::cannot_tell;
use super::events::Events;
use super::transition::outcome;
use crate::aws::SdkCloud;
use crate::cli::{GlobalArgs, OcfArgs};
use crate::config::{Config, Resources};
use crate::deadline::Deadline;
use crate::engine::transition::Job;
use crate::engine::Engine;
use crate::error::{ConfigError, Error};
use crate::keepalived::Role;
use crate::ordering::{Guard, Stamp};
use local::Local;
use log::{info, warn};
use params::{Params, Source, Unknown};
use std::time::Duration;
use verdict::Verdict;

pub const OCF_SUCCESS: u8 = 0;
pub const OCF_ERR_GENERIC: u8 = 1;
pub const OCF_ERR_ARGS: u8 = 2;
pub const OCF_ERR_UNIMPLEMENTED: u8 = 3;
pub const OCF_ERR_PERM: u8 = 4;
pub const OCF_ERR_INSTALLED: u8 = 5;
pub const OCF_ERR_CONFIGURED: u8 = 6;
pub const OCF_NOT_RUNNING: u8 = 7;

/// The deadline when the `timeout` parameter names none.
const DEFAULT_TIMEOUT: f64 = 20.0;

fn ocf(code: u8, detail: impl Into<String>) -> Error {
    Error::Ocf { detail: detail.into(), code }
}

/// The resource's name (`OCF_RESOURCE_INSTANCE`), for log lines.
pub fn resource_name() -> String {
    std::env::var("OCF_RESOURCE_INSTANCE").unwrap_or_else(|_| "-".into())
}

/// The OCF exit code for an error of the engine.
fn code_of(e: &Error) -> u8 {
    match e {
        Error::BadInput(_)
        | Error::Config(
            ConfigError::Parse { .. }
            | ConfigError::At(_)
            | ConfigError::Untrusted(_)
            | ConfigError::UnknownInstance { .. },
        ) => OCF_ERR_CONFIGURED,
        Error::Config(ConfigError::Read { .. }) => OCF_ERR_INSTALLED,
        Error::Config(ConfigError::Denied { .. }) => OCF_ERR_PERM,
        Error::Interface(_) => OCF_ERR_ARGS,
        Error::StateDir(_) => OCF_ERR_PERM,
        Error::Ocf { code, .. } => *code,
        _ => OCF_ERR_GENERIC,
    }
}

fn as_ocf(e: Error) -> Error {
    match e {
        Error::Ocf { .. } => e,
        e => ocf(code_of(&e), e.to_string()),
    }
}

pub async fn run(g: &GlobalArgs, args: &OcfArgs) -> Result<(), Error> {
    let action = args.action.as_str();
    match action {
        "meta-data" => {
            print!("{}", metadata::xml());
            return Ok(());
        }
        "usage" | "help" => {
            println!("usage: ec2-vip ocf {{start|stop|monitor|validate-all|meta-data}}");
            return Ok(());
        }
        "start" | "stop" | "monitor" | "validate-all" => {}
        other => return Err(ocf(OCF_ERR_UNIMPLEMENTED, format!("action {other:?} is not implemented"))),
    }
    // A stop is 0 whenever nothing of this node's can be held (Pacemaker fences a node whose
    // stop fails): what EC2 points here, the next start elsewhere takes over; only a local
    // address this node still carries is let go here, and that is all a stop can fail on.
    let p = match params::parse(&params::from_env()) {
        Ok(p) => p,
        Err(e) if action == "stop" => {
            warn!("stop: {e}; nothing this agent can act on (the next start elsewhere takes over)");
            return Ok(());
        }
        Err(e) => return Err(ocf(OCF_ERR_CONFIGURED, e)),
    };
    for line in &p.ignored {
        // Said where an operator looks (validate-all, start), not on every monitor.
        if action == "monitor" {
            log::debug!("{line}");
        } else {
            info!("{line}");
        }
    }
    let loaded = resources(&p);
    let (res, config) = match loaded {
        Ok(found) => found,
        // Not installed on this node, or a config nobody can act on: stopped as far as this
        // agent can tell (a local address it knows of is let go).
        Err(e) if action == "stop" => {
            warn!("stop: {e}; the next start elsewhere takes over what still points here");
            return p.local.as_ref().map_or(Ok(()), |l| l.remove()).map_err(as_ocf);
        }
        Err(e) if code_of(&e) == OCF_ERR_INSTALLED && action == "monitor" => {
            return Err(ocf(OCF_NOT_RUNNING, e.to_string()))
        }
        Err(e) => return Err(as_ocf(e)),
    };
    let key = std::env::var("OCF_RESOURCE_INSTANCE")
        .map_err(|_| ocf(OCF_ERR_ARGS, "OCF_RESOURCE_INSTANCE is not set (Pacemaker sets it)"))?;
    Guard::new(p.state_dir.as_deref().unwrap_or(&g.state_dir), &key).map_err(as_ocf)?;
    if action == "validate-all" {
        return Ok(());
    }
    if let Some(profile) = &p.profile {
        // Before any client exists and while this process has one thread.
        std::env::set_var("AWS_PROFILE", profile);
    }
    let mut settings = g.settings();
    settings.timeout = budget(p.timeout, std::env::var("OCF_RESKEY_CRM_meta_timeout").ok().as_deref());
    settings.dry_run = false;
    if let Some(dir) = &p.state_dir {
        settings.state_dir = dir.clone();
    }
    if p.region.is_some() {
        settings.region = p.region.clone();
    }
    let engine = Engine::new(settings, SdkCloud { max_attempts: g.max_attempts });
    let deadline = Deadline::after(engine.settings.timeout);
    let ev = Events::new(g, true);
    let hook = ev.hook(config.as_ref(), &key);
    let local = p.local.as_ref();
    match action {
        "start" | "stop" => {
            let role = if action == "start" { Role::Master } else { Role::Stop };
            if let (Role::Stop, Some(l)) = (role, local) {
                l.remove().map_err(as_ocf)?;
            }
            // The parameter, where set, wins over a config section's release.
            let res = Resources { release: p.release.unwrap_or(res.release) && role == Role::Stop, ..res };
            let job = Job {
                role,
                res: &res,
                key: &key,
                stamp: Stamp::current().map_err(Error::Other)?,
                prior: None,
            };
            let ran = engine.transition(&job, None, &deadline).await;
            ev.transition(hook.as_ref(), &key, role, &ran, &deadline);
            match ran.and_then(|ran| outcome(role, ran, false)) {
                Ok(()) if role == Role::Master => local.map_or(Ok(()), |l| l.add()).map_err(as_ocf),
                Ok(()) => Ok(()),
                Err(e) if role == Role::Stop => {
                    warn!("stop: {e}; the next start takes over what is still here");
                    Ok(())
                }
                Err(e) => Err(as_ocf(e)),
            }
        }
        _ => monitor(&engine, &res, local, &key, p.unknown, &deadline).await,
    }
}

/// The resources the parameters name, and the config file they come from, if any.
fn resources(p: &Params) -> Result<(Resources, Option<Config>), Error> {
    match &p.source {
        Source::Params(r) => Ok(((**r).clone(), None)),
        Source::Section { config, instance } => {
            let c = Config::load(config)?;
            let r = c.instance(instance)?.clone();
            Ok((r, Some(c)))
        }
    }
}

/// The run's deadline: the `timeout` parameter, shortened to end before Pacemaker's
/// operation timeout (`OCF_RESKEY_CRM_meta_timeout`, ms) with a margin to report.
pub fn budget(param: Option<f64>, op_timeout_ms: Option<&str>) -> Duration {
    let mut secs = param.unwrap_or(DEFAULT_TIMEOUT);
    if let Some(op) = op_timeout_ms.and_then(|ms| ms.trim().parse::<f64>().ok()).map(|ms| ms / 1000.0) {
        secs = secs.min((op - (op / 10.0).max(1.0)).max(op / 2.0));
    }
    Duration::from_secs_f64(secs.max(0.1))
}

async fn monitor(
    engine: &Engine<SdkCloud>,
    res: &Resources,
    local: Option<&Local>,
    key: &str,
    unknown: Unknown,
    deadline: &Deadline,
) -> Result<(), Error> {
    let probe = std::env::var("OCF_RESKEY_CRM_meta_interval").map(|v| v.trim() == "0").unwrap_or(false);
    let what = if probe { "probe" } else { "monitor" };
    let recorded = Guard::new(&engine.settings.state_dir, key).and_then(|g| g.latest()).map_err(as_ocf)?;
    let started = match recorded {
        Some(r) if r.state != "MASTER" => {
            info!("{what}: not running (the last action here was {})", r.state);
            return Err(ocf(OCF_NOT_RUNNING, ""));
        }
        Some(_) => true,
        None => false,
    };
    let surveyed = async {
        let session = engine.connect(res, deadline).await?;
        engine.survey(&session, res, deadline).await
    };
    let mut survey = match surveyed.await {
        Ok(s) => s,
        Err(e) if cannot_tell(&e) => {
            return match unknown {
                Unknown::Last if started => {
                    warn!("{what}: cannot tell ({e}); running as last recorded (parameter unknown=last)");
                    Ok(())
                }
                Unknown::Last | Unknown::Stopped => {
                    warn!("{what}: cannot tell ({e}); reported not running");
                    Err(ocf(OCF_NOT_RUNNING, ""))
                }
                Unknown::Failed => {
                    Err(ocf(OCF_ERR_GENERIC, format!("{what}: cannot tell: {e} (unknown=failed)")))
                }
            };
        }
        // An interface this node does not have, or a resource EC2 does not know (deleted):
        // nothing of it can be held here. Said as not running, as a stop would be 0.
        Err(e @ (Error::Interface(_) | Error::BadInput(_))) => {
            warn!("{what}: not running here: {e}");
            return Err(ocf(OCF_NOT_RUNNING, ""));
        }
        Err(e) => return Err(as_ocf(e)),
    };
    if let Some(l) = local {
        let present = l.present().map_err(as_ocf)?;
        survey.here += present.len();
        let missing = l.addrs.iter().filter(|a| !present.contains(a));
        survey.drift.extend(missing.map(|a| format!("local address {a} is not on {}", l.dev)));
    }
    let carries = local.is_some_and(|l| !l.addrs.is_empty());
    match verdict::of(&survey, started, carries) {
        Verdict::Running => {
            info!("{what}: running, all {} resource(s) point at this node", survey.here);
            Ok(())
        }
        Verdict::NotRunning(why) => {
            info!("{what}: not running here: {why}");
            Err(ocf(OCF_NOT_RUNNING, ""))
        }
        Verdict::Partial => {
            for d in &survey.drift {
                warn!("{what}: drift: {d}");
            }
            Err(ocf(
                OCF_ERR_GENERIC,
                format!(
                    "{what}: partial drift: {} resource(s) point here, {} do not",
                    survey.here,
                    survey.drift.len()
                ),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deadline_fits_the_operation_timeout() {
        assert_eq!(budget(None, None), Duration::from_secs(20));
        assert_eq!(budget(Some(5.0), Some("30000")), Duration::from_secs(5));
        assert_eq!(budget(None, Some("20000")), Duration::from_secs(18));
        assert_eq!(budget(None, Some("2000")), Duration::from_secs(1));
        assert_eq!(budget(None, Some("nonsense")), Duration::from_secs(20));
    }

    #[test]
    fn engine_errors_map_to_ocf_codes() {
        assert_eq!(code_of(&Error::BadInput("x".into())), OCF_ERR_CONFIGURED);
        let read = ConfigError::Read { path: "/etc/x".into(), detail: "gone".into() };
        assert_eq!(code_of(&Error::Config(read)), OCF_ERR_INSTALLED);
        assert_eq!(code_of(&Error::Interface("eth9".into())), OCF_ERR_ARGS);
        assert_eq!(code_of(&Error::Incomplete("x".into())), OCF_ERR_GENERIC);
        assert_eq!(ocf(OCF_NOT_RUNNING, "").exit_code(), OCF_NOT_RUNNING);
    }
}
