//! What each subcommand does, from parsed arguments to a result. `main` only maps the
//! result to an exit code.

use crate::cli::{Cli, Command, GlobalArgs, NotifyArgs, ResourceArgs};
use crate::config::{Config, Resources};
use crate::deadline::Deadline;
use crate::ec2::{Ec2, SdkEc2};
use crate::error::Error;
use crate::failover;
use crate::guard::{Guard, Stamp};
use crate::imds::Imds;
use crate::model::Identity;
use crate::plan::Role;
use aws_config::SdkConfig;
use log::info;
use std::time::Duration;

/// The instance name and transition a command acts on, for log context.
pub fn describe(cli: &Cli) -> String {
    match &cli.command {
        Command::Master(_) => "MASTER".into(),
        Command::Backup(_) => "BACKUP".into(),
        Command::Fault(_) => "FAULT".into(),
        Command::Stop(_) => "STOP".into(),
        Command::Notify(n) => format!("{} {}", n.name, n.state.to_ascii_uppercase()),
        Command::Status(_) => "status".into(),
        Command::Check(c) => {
            if c.repair {
                "check --repair".into()
            } else {
                "check".into()
            }
        }
        Command::Watch(_) => "watch".into(),
    }
}

pub async fn run(cli: Cli) -> Result<(), Error> {
    let g = &cli.global;
    let deadline = Deadline::after(Duration::from_secs_f64(g.timeout));
    log::debug!("ec2-vip {} starting, deadline {}s", env!("CARGO_PKG_VERSION"), g.timeout);
    match &cli.command {
        Command::Master(a) => by_hand(g, Role::Master, a, &deadline).await,
        Command::Backup(a) => by_hand(g, Role::Backup, a, &deadline).await,
        Command::Fault(a) => by_hand(g, Role::Fault, a, &deadline).await,
        Command::Stop(a) => by_hand(g, Role::Stop, a, &deadline).await,
        Command::Notify(n) => notify(g, n, &deadline).await,
        Command::Status(s) => crate::status::run(g, s, &deadline).await,
        Command::Check(c) => crate::check::run(g, c, &deadline).await,
        Command::Watch(w) => crate::watch::run(g, w).await,
    }
}

/// master/backup/fault/stop from the command line.
async fn by_hand(g: &GlobalArgs, role: Role, a: &ResourceArgs, deadline: &Deadline) -> Result<(), Error> {
    let res = a.resources().map_err(Error::BadInput)?;
    transition(g, role, &res, &cli_key(&res), Stamp::current().map_err(Error::Other)?, deadline).await
}

async fn notify(g: &GlobalArgs, n: &NotifyArgs, deadline: &Deadline) -> Result<(), Error> {
    let kind = n.kind.to_ascii_uppercase();
    if kind != "INSTANCE" && kind != "GROUP" {
        return Err(Error::BadInput(format!("notify: TYPE must be INSTANCE or GROUP, not {:?}", n.kind)));
    }
    let role = Role::parse_keepalived(&n.state).ok_or_else(|| {
        Error::BadInput(format!("notify: STATE must be MASTER, BACKUP, FAULT or STOP, not {:?}", n.state))
    })?;
    let config = Config::load(&g.config)?;
    let res = config.instance(&n.name)?.clone();
    let key = n.name.clone();
    info!(
        "keepalived {kind} {} -> {role}{}",
        n.name,
        n.priority.map(|p| format!(" (priority {p})")).unwrap_or_default()
    );
    transition(g, role, &res, &key, Stamp::current().map_err(Error::Other)?, deadline).await
}

/// Who we are (IMDS) and an EC2 client for our region.
pub async fn connect(
    g: &GlobalArgs,
    res: &Resources,
    deadline: &Deadline,
) -> Result<(Identity, SdkEc2), Error> {
    let (me, sdk) = connect_sdk(g, res, deadline).await?;
    Ok((me, SdkEc2::new(&sdk)))
}

/// Like `connect`, with the SDK configuration itself (for per-site clients).
pub async fn connect_sdk(
    g: &GlobalArgs,
    res: &Resources,
    deadline: &Deadline,
) -> Result<(Identity, SdkConfig), Error> {
    let imds = Imds::new(g.max_attempts, deadline.total());
    let me = imds.identity(deadline, &res.eni).await?;
    log::debug!("identity from IMDS after {} ms", (deadline.total() - deadline.remaining()).as_millis());
    let region = g.region.clone().unwrap_or_else(|| me.region.clone());
    info!("this node: {} {} in {} ({region})", me.instance_id, me.eni_id, me.vpc_id);
    Ok((me, crate::aws::sdk_config(region, deadline.remaining(), g.max_attempts).await))
}

/// The lock and record key for a command-line run: stable for the same resources.
pub fn cli_key(res: &Resources) -> String {
    let mut parts: Vec<String> = res.routes.iter().map(|r| r.to_string()).collect();
    parts.extend(res.eips.iter().map(|e| e.to_string()));
    parts.sort();
    // FNV-1a: a stable name, not a security boundary.
    let hash = parts
        .join(",")
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ b as u64).wrapping_mul(0x100_0000_01b3));
    format!("cli-{hash:016x}")
}

/// A transition for instance `key`: recorded before waiting for the instance's lock, and
/// skipped if a newer transition was recorded by the time the lock is ours.
pub async fn transition(
    g: &GlobalArgs,
    role: Role,
    res: &Resources,
    key: &str,
    mine: Stamp,
    deadline: &Deadline,
) -> Result<(), Error> {
    if res.is_empty() {
        return Err(Error::BadInput("nothing to move: give --route and/or --eip".into()));
    }
    let guard = Guard::new(&g.state_dir, key)?;
    if !g.dry_run {
        guard.record(mine, &role.to_string())?;
    }
    if role != Role::Master && (res.eips.is_empty() || !res.release) {
        info!("{role}: nothing to do (routes move when the new master takes them; Elastic IPs are released only with --release)");
        if g.dry_run {
            println!("nothing to do");
        }
        return Ok(());
    }
    let _held = if g.dry_run { None } else { Some(guard.lock(deadline).await?) };
    let superseded = || -> Result<bool, Error> {
        if g.dry_run {
            return Ok(false);
        }
        Ok(match guard.superseded(mine)? {
            Some(r) => {
                info!("{role} superseded by a newer {} (pid {}); skipping", r.state, r.stamp.pid);
                true
            }
            None => false,
        })
    };
    if superseded()? {
        return Ok(());
    }
    let (me, sdk) = connect_sdk(g, res, deadline).await?;
    let ec2 = SdkEc2::new(&sdk);
    // Transit Gateway scenario: the routes of every site are planned by `tgw`; the
    // single-VPC plan then only covers the Elastic IPs.
    let tgw_sites = role == Role::Master && !res.sites.is_empty();
    let single = if tgw_sites { Resources { routes: Vec::new(), ..res.clone() } } else { res.clone() };
    if let Some((dest, cidr)) = crate::plan::inside_vpc(&res.routes, &me.vpc_cidrs) {
        return Err(Error::BadInput(format!(
            "route {dest} overlaps {cidr} of {}: a VIP must lie outside it",
            me.vpc_id
        )));
    }
    let plan = failover::plan(&ec2, &me, &single, role, deadline).await?;
    let mut lines = plan.lines(&me.eni_id);
    let mut tgw = None;
    if tgw_sites {
        let clients = crate::tgw::site_clients(&sdk, &res.sites).await;
        let p = crate::tgw::plan(&res.sites, &clients, &res.routes, &me.vpc_id, &me.eni_id, deadline).await?;
        lines.extend(crate::tgw::plan_lines(&p, &res.sites));
        tgw = Some((clients, p));
    }
    for l in &lines {
        info!("plan: {l}");
    }
    if g.dry_run {
        for l in &lines {
            println!("{l}");
        }
        return Ok(());
    }
    // Planning took time: a newer transition may have arrived meanwhile.
    if superseded()? {
        return Ok(());
    }
    let started = tokio::time::Instant::now();
    let mut report = failover::apply(&ec2, &me, &plan, deadline).await?;
    if let Some((clients, p)) = &tgw {
        let r =
            crate::tgw::apply(p, &res.sites, clients, &res.routes, &me.vpc_id, &me.eni_id, deadline).await?;
        report.merge(r);
    }
    finish(report, role, started)
}

/// Apply a plan and turn its report into the run's result.
pub async fn apply_and_report<E: Ec2>(
    ec2: &E,
    me: &Identity,
    plan: &failover::Plan,
    role: Role,
    deadline: &Deadline,
) -> Result<(), Error> {
    let started = tokio::time::Instant::now();
    finish(failover::apply(ec2, me, plan, deadline).await?, role, started)
}

/// At most ten items, then how many more: the summary is one log line (syslog truncates
/// long ones); every item also has a line of its own above it.
fn first_few(items: &[String]) -> String {
    const SHOWN: usize = 10;
    let mut s = items.iter().take(SHOWN).cloned().collect::<Vec<_>>().join("; ");
    if items.len() > SHOWN {
        s.push_str(&format!("; ... and {} more", items.len() - SHOWN));
    }
    s
}

/// Log a report and turn it into the run's result.
pub fn finish(report: failover::Report, role: Role, started: tokio::time::Instant) -> Result<(), Error> {
    let ms = started.elapsed().as_millis();
    for f in &report.failed {
        log::error!("{f}");
    }
    if report.failed.is_empty() {
        info!(
            "{role} done in {ms} ms: {} changed, {} already right",
            report.changed.len(),
            report.unchanged.len()
        );
        Ok(())
    } else {
        Err(Error::Incomplete(format!(
            "{role} incomplete after {ms} ms: {} changed ({}), {} failed: {}",
            report.changed.len(),
            if report.changed.is_empty() { "none".to_string() } else { first_few(&report.changed) },
            report.failed.len(),
            first_few(&report.failed)
        )))
    }
}

/// One VIP to look at: its lock/record key, its config name if any, its resources.
pub struct Selected {
    pub key: String,
    pub name: Option<String>,
    pub resources: Resources,
}

/// Resources for status/check: `--instance NAME` from the config, else --route/--eip, else
/// every section of the config.
pub fn select(g: &GlobalArgs, flags: &ResourceArgs, instance: Option<&str>) -> Result<Vec<Selected>, Error> {
    let from_flags = flags.resources().map_err(Error::BadInput)?;
    if let Some(name) = instance {
        let c = Config::load(&g.config)?;
        let resources = c.instance(name)?.clone();
        return Ok(vec![Selected { key: name.to_string(), name: Some(name.to_string()), resources }]);
    }
    if !from_flags.is_empty() {
        return Ok(vec![Selected { key: cli_key(&from_flags), name: None, resources: from_flags }]);
    }
    let c = Config::load(&g.config).map_err(|e| {
        Error::BadInput(format!("give --route/--eip, --instance, or a readable config ({e})"))
    })?;
    Ok(c.instances
        .into_iter()
        .map(|(n, resources)| Selected { key: n.clone(), name: Some(n), resources })
        .collect())
}
