//! What each subcommand does, from parsed arguments to a result: turn the command line
//! into engine calls and render what comes back. `main` only maps the result to an exit
//! code.

pub mod check;
pub mod config_test;
pub mod doctor;
pub mod events;
pub mod iam_policy;
pub mod metrics;
pub mod ocf;
pub mod serve;
pub mod status;
pub mod transition;
pub mod watch;

use crate::aws::SdkCloud;
use crate::cli::{Cli, Command, ResourceArgs, TransitionArgs};
use crate::config::{Config, Resources};
use crate::deadline::Deadline;
use crate::engine::Engine;
use crate::error::{ConfigError, ConfigProblem, Error};
use crate::keepalived::Role;
use events::Events;
use std::path::Path;

/// The instance name and transition a command acts on, for log context.
pub fn describe(cli: &Cli) -> String {
    match &cli.command {
        Command::Master(a) => by_hand_context("MASTER", a),
        Command::Backup(a) => by_hand_context("BACKUP", a),
        Command::Fault(a) => by_hand_context("FAULT", a),
        Command::Stop(a) => by_hand_context("STOP", a),
        Command::Notify(n) => format!("{} {}", n.name, n.state.to_ascii_uppercase()),
        Command::Status(_) => "status".into(),
        Command::Check(c) if c.repair => "check --repair".into(),
        Command::Check(_) => "check".into(),
        Command::Watch(_) => "watch".into(),
        Command::IamPolicy(_) => "iam-policy".into(),
        Command::Doctor(_) => "doctor".into(),
        Command::Ocf(o) => format!("ocf {} {}", ocf::resource_name(), o.action),
        Command::ConfigTest(_) => "config-test".into(),
    }
}

fn by_hand_context(role: &str, a: &TransitionArgs) -> String {
    a.instance.as_ref().map(|n| format!("{n} {role}")).unwrap_or_else(|| role.into())
}

pub async fn run(cli: Cli) -> Result<(), Error> {
    let g = &cli.global;
    let engine = Engine::new(g.settings(), SdkCloud { max_attempts: g.max_attempts });
    let deadline = Deadline::after(engine.settings.timeout);
    log::debug!("ec2-vip {} starting, deadline {}s", env!("CARGO_PKG_VERSION"), g.timeout());
    let config = g.config.as_path();
    if !matches!(cli.command, Command::IamPolicy(_)) {
        crate::aws::credentials::check_profile().await?;
    }
    let ev = Events::new(g, !matches!(cli.command, Command::Watch(_)));
    match &cli.command {
        Command::Master(a) => transition::by_hand(&engine, config, Role::Master, a, &ev, &deadline).await,
        Command::Backup(a) => transition::by_hand(&engine, config, Role::Backup, a, &ev, &deadline).await,
        Command::Fault(a) => transition::by_hand(&engine, config, Role::Fault, a, &ev, &deadline).await,
        Command::Stop(a) => transition::by_hand(&engine, config, Role::Stop, a, &ev, &deadline).await,
        Command::Notify(n) => transition::notify(&engine, config, n, &ev, &deadline).await,
        Command::Status(s) => status::run(&engine, config, s, &deadline).await,
        Command::Check(c) => check::run(&engine, config, c, &ev, &deadline).await,
        Command::Watch(w) => watch::run(&engine, config, w, &ev).await,
        Command::IamPolicy(p) => iam_policy::run(&engine, config, p).await,
        Command::Doctor(a) => doctor::run(&engine, config, a, &deadline).await,
        Command::Ocf(o) => ocf::run(g, o).await,
        Command::ConfigTest(a) => config_test::run(config, a),
    }
}

/// The config's top-level defaults for this run (`region`, `timeout`, logging), when the
/// command reads `--config` and that file loads; otherwise none: a command that needs the
/// config reports why it cannot use it, as before. The OCF agent reads its own parameters.
pub fn config_defaults(cli: &Cli) -> crate::config::Defaults {
    if matches!(cli.command, Command::Ocf(_) | Command::ConfigTest(_)) {
        return Default::default();
    }
    Config::load(&cli.global.config).map(|c| c.defaults).unwrap_or_default()
}

/// The lock and record key for a command-line run: stable for the same resources.
pub fn cli_key(res: &Resources) -> String {
    let mut parts: Vec<String> = res.routes.iter().map(|r| r.to_string()).collect();
    parts.extend(res.eips.iter().map(|e| e.to_string()));
    parts.extend(res.private_ips.iter().map(|p| format!("ip:{p}")));
    parts.extend(res.ipv6_addresses.iter().map(|p| format!("ip6:{p}")));
    parts.extend(
        res.dns_records
            .iter()
            .map(|d| format!("dns:{}:{}:{}:{:?}", d.zone, d.name, d.kind.as_str(), d.value)),
    );
    parts.sort();
    // FNV-1a: a stable name, not a security boundary.
    let hash = parts
        .join(",")
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ b as u64).wrapping_mul(0x100_0000_01b3));
    format!("cli-{hash:016x}")
}

/// One VIP to look at: its lock/record key, its config name if any, its resources.
pub struct Selected {
    pub key: String,
    pub name: Option<String>,
    pub resources: Resources,
}

/// What status, check and iam-policy look at: the sound sections (or the command line's
/// resources) and the config sections set aside, each with its error.
pub struct Selection {
    pub sound: Vec<Selected>,
    pub broken: Vec<ConfigProblem>,
}

/// Resources for status/check: `--instance NAME` from the config, else --route/--eip, else
/// every section of the config (the broken ones apart).
pub fn select(config: &Path, flags: &ResourceArgs, instance: Option<&str>) -> Result<Selection, Error> {
    let from_flags = flags.resources().map_err(Error::BadInput)?;
    if let Some(name) = instance {
        let c = Config::load(config)?;
        let resources = c.instance(name)?.clone();
        let one = Selected { key: name.to_string(), name: Some(name.to_string()), resources };
        return Ok(Selection { sound: vec![one], broken: Vec::new() });
    }
    if !from_flags.is_empty() {
        let one = Selected { key: cli_key(&from_flags), name: None, resources: from_flags };
        return Ok(Selection { sound: vec![one], broken: Vec::new() });
    }
    let c = Config::load(config).map_err(|e| match e {
        ConfigError::Untrusted(_) | ConfigError::Denied { .. } => e.into(),
        _ => Error::BadInput(format!("give --route/--eip, --instance, or a readable config ({e})")),
    })?;
    let broken = c.problems().into_iter().cloned().collect();
    let sound =
        c.instances.into_iter().map(|(n, resources)| Selected { key: n.clone(), name: Some(n), resources });
    Ok(Selection { sound: sound.collect(), broken })
}

/// Config sections set aside: an error line each in the log (and `[NAME] FAIL: ...` on
/// stdout when `print`); the error (exit 2) a command ends with when there are any.
pub fn set_aside(broken: &[ConfigProblem], print: bool) -> Result<(), Error> {
    for p in broken {
        log::error!("{p}");
        if print {
            println!("[{}] FAIL: {p}", p.section.as_deref().unwrap_or_default());
        }
    }
    let names: Vec<&str> = broken.iter().filter_map(|p| p.section.as_deref()).collect();
    match names.len() {
        0 => Ok(()),
        n => Err(Error::BadInput(format!(
            "{n} config section(s) set aside, errors above: {}",
            names.join(", ")
        ))),
    }
}
