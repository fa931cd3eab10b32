//! What each subcommand does, from parsed arguments to a result. `main` only maps the
//! result to an exit code.

use crate::cli::{Cli, Command, GlobalArgs, NotifyArgs};
use crate::config::{Config, Resources};
use crate::deadline::Deadline;
use crate::ec2::SdkEc2;
use crate::error::Error;
use crate::failover;
use crate::imds::Imds;
use crate::model::Identity;
use crate::plan::Role;
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
    }
}

pub async fn run(cli: Cli) -> Result<(), Error> {
    let g = &cli.global;
    let deadline = Deadline::after(Duration::from_secs_f64(g.timeout));
    log::debug!("ec2-vip {} starting, deadline {}s", env!("CARGO_PKG_VERSION"), g.timeout);
    match &cli.command {
        Command::Master(a) => {
            transition(g, Role::Master, &a.resources().map_err(Error::BadInput)?, &deadline).await
        }
        Command::Backup(a) => {
            transition(g, Role::Backup, &a.resources().map_err(Error::BadInput)?, &deadline).await
        }
        Command::Fault(a) => {
            transition(g, Role::Fault, &a.resources().map_err(Error::BadInput)?, &deadline).await
        }
        Command::Stop(a) => {
            transition(g, Role::Stop, &a.resources().map_err(Error::BadInput)?, &deadline).await
        }
        Command::Notify(n) => notify(g, n, &deadline).await,
        Command::Status(s) => crate::status::run(g, s, &deadline).await,
    }
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
    info!(
        "keepalived {kind} {} -> {role}{}",
        n.name,
        n.priority.map(|p| format!(" (priority {p})")).unwrap_or_default()
    );
    transition(g, role, &res, deadline).await
}

/// Who we are (IMDS) and an EC2 client for our region.
pub async fn connect(
    g: &GlobalArgs,
    res: &Resources,
    deadline: &Deadline,
) -> Result<(Identity, SdkEc2), Error> {
    let imds = Imds::new(g.max_attempts, deadline.total());
    let me = imds.identity(deadline, &res.eni).await?;
    log::debug!("identity from IMDS after {} ms", (deadline.total() - deadline.remaining()).as_millis());
    let region = g.region.clone().unwrap_or_else(|| me.region.clone());
    info!("this node: {} {} in {} ({region})", me.instance_id, me.eni_id, me.vpc_id);
    let sdk = crate::aws::sdk_config(region, deadline.remaining(), g.max_attempts).await;
    Ok((me, SdkEc2::new(&sdk)))
}

pub async fn transition(
    g: &GlobalArgs,
    role: Role,
    res: &Resources,
    deadline: &Deadline,
) -> Result<(), Error> {
    if res.is_empty() {
        return Err(Error::BadInput("nothing to move: give --route and/or --eip".into()));
    }
    if role != Role::Master && (res.eips.is_empty() || !res.release) {
        info!("{role}: nothing to do (routes move when the new master takes them; Elastic IPs are released only with --release)");
        if g.dry_run {
            println!("nothing to do");
        }
        return Ok(());
    }
    let (me, ec2) = connect(g, res, deadline).await?;
    let plan = failover::plan(&ec2, &me, res, role, deadline).await?;
    let lines = plan.lines(&me.eni_id);
    for l in &lines {
        info!("plan: {l}");
    }
    if g.dry_run {
        for l in &lines {
            println!("{l}");
        }
        return Ok(());
    }
    let started = tokio::time::Instant::now();
    let report = failover::apply(&ec2, &me, &plan, deadline).await?;
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
            if report.changed.is_empty() { "none".to_string() } else { report.changed.join("; ") },
            report.failed.len(),
            report.failed.join("; ")
        )))
    }
}
