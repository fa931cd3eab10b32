//! `ec2-vip doctor`: find the set-up mistakes that make a failover fail at the worst
//! moment — IMDSv2, credentials, the config, per section the ENI, its source/destination
//! check, the VIP routes and addresses, every write it needs (DryRun), its Route 53 records
//! (zone, name, TTL, what can be proven without a write), and keepalived's
//! configuration. One line per check; exit 0 when nothing fails, 1 otherwise. Read-only.

mod cloud;
mod dns;
pub mod keepalived;

use crate::aws::SdkCloud;
use crate::cli::DoctorArgs;
use crate::config::Config;
use crate::deadline::Deadline;
use crate::engine::Engine;
use crate::error::Error;
use serde::Serialize;
use std::io::Write;
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Ok,
    Warn,
    Fail,
}

/// One check's result; `fix` is the fix in one sentence (none when ok).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub level: Level,
    pub check: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Finding {
    pub fn new(level: Level, check: &str, message: String, fix: &str) -> Finding {
        let fix = (level != Level::Ok && !fix.is_empty()).then(|| fix.to_string());
        Finding { level, check: check.to_string(), instance: None, message, fix }
    }

    pub fn ok(check: &str, message: String) -> Finding {
        Finding::new(Level::Ok, check, message, "")
    }

    pub fn fail(check: &str, message: String, fix: &str) -> Finding {
        Finding::new(Level::Fail, check, message, fix)
    }

    /// About this config section.
    pub fn of(mut self, section: &str) -> Finding {
        self.instance = Some(section.to_string());
        self
    }

    pub fn line(&self) -> String {
        let level = match self.level {
            Level::Ok => "ok  ",
            Level::Warn => "warn",
            Level::Fail => "FAIL",
        };
        let section = self.instance.as_deref().map(|i| format!("[{i}] ")).unwrap_or_default();
        let fix = self.fix.as_deref().map(|f| format!(" -- fix: {f}")).unwrap_or_default();
        format!("{level} {section}{}: {}{fix}", self.check, self.message)
    }
}

const TRUST_FIX: &str = "chown root and chmod go-w the file, and keep it in a directory only root can \
                         write: every command but doctor refuses it (exit 2)";

pub async fn run(
    engine: &Engine<SdkCloud>,
    config: &Path,
    args: &DoctorArgs,
    d: &Deadline,
) -> Result<(), Error> {
    let started = std::time::Instant::now();
    let mut out = Vec::new();
    let loaded = match Config::read(config, false) {
        Ok(c) => {
            out.push(Finding::ok("config", format!("{} parses: {} section(s)", c.path, c.names().len())));
            out.extend(set_aside(&c, args.instance.as_deref()));
            Some(c)
        }
        Err(e) => {
            out.push(Finding::fail(
                "config",
                e.to_string(),
                "correct the file: the message names the section and field",
            ));
            None
        }
    };
    if config.exists() {
        out.push(match crate::trust::untrusted(config, "config file") {
            Some(why) => Finding::fail("trust", why, TRUST_FIX),
            None => Finding::ok("trust", format!("{} may only be written by root", config.display())),
        });
    }
    let sections: Vec<(String, crate::config::Resources)> = match (&loaded, &args.instance) {
        (Some(c), Some(name)) if c.broken.contains_key(name) => Vec::new(),
        (Some(c), Some(name)) => match c.instance(name) {
            Ok(r) => vec![(name.clone(), r.clone())],
            Err(e) => return Err(e.into()),
        },
        (Some(c), None) => c.instances.iter().map(|(n, r)| (n.clone(), r.clone())).collect(),
        (None, _) => Vec::new(),
    };
    if let Some((_, ec2)) = cloud::node(engine, &mut out, d).await {
        for (name, res) in &sections {
            out.extend(cloud::section(engine, &ec2, name, res, d).await);
        }
    }
    let names: Vec<&str> = loaded.iter().flat_map(|c| c.names()).collect();
    out.extend(keepalived::check(&args.keepalived_conf, &names, config));
    log::debug!("doctor: {} checks in {} ms", out.len(), started.elapsed().as_millis());
    let mut stdout = std::io::stdout();
    if args.json {
        let _ = writeln!(stdout, "{}", serde_json::to_string_pretty(&out).unwrap_or_default());
    } else {
        for f in &out {
            let _ = writeln!(stdout, "{}", f.line());
        }
    }
    let failed = out.iter().filter(|f| f.level == Level::Fail).count();
    let warned = out.iter().filter(|f| f.level == Level::Warn).count();
    if failed > 0 {
        return Err(Error::Incomplete(format!("doctor: {failed} check(s) failed, {warned} warning(s)")));
    }
    log::info!("doctor: {} checks, none failed, {warned} warning(s)", out.len());
    Ok(())
}

/// A FAIL per config section set aside (only `only`'s, when given): its located error.
fn set_aside(c: &Config, only: Option<&str>) -> Vec<Finding> {
    let wanted = |p: &&crate::error::ConfigProblem| only.is_none() || p.section.as_deref() == only;
    let fix = "correct the section (ec2-vip config-test shows every error); until then keepalived's \
               transitions of it fail (exit 2) while the other sections work";
    c.problems()
        .into_iter()
        .filter(wanted)
        .map(|p| Finding::fail("config", p.to_string(), fix).of(p.section.as_deref().unwrap_or_default()))
        .collect()
}
