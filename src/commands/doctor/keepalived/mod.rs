//! doctor's keepalived side: read keepalived.conf (and its includes), check it against the
//! config's sections (`rules`), and check every ec2-vip script keepalived would run, from
//! the file's and its directories' owners and modes.

mod conf;
#[cfg(test)]
#[path = "hook_tests.rs"]
mod hook_tests;
mod hooks;
mod rules;
#[cfg(test)]
#[path = "tests.rs"]
mod tests;

use super::{Finding, Level};
use crate::cli::{parse_from, Cli, Command};
use crate::config::Config;
use crate::error::ConfigError;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// File names that count as calling ec2-vip.
const BINARY_NAMES: [&str; 1] = ["ec2-vip"];

/// Check keepalived.conf at `path` against `sections` of the config doctor was given
/// (`own_config`); every hook line is read as the binary would read it.
pub fn check(path: &Path, sections: &[&str], own_config: &Path) -> Vec<Finding> {
    let shown = path.display().to_string();
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            let why = format!("{shown}: {e}: keepalived's configuration not checked");
            return vec![Finding::new(Level::Warn, "keepalived", why, "give --keepalived-conf PATH")];
        }
    };
    let base = path.parent().unwrap_or(Path::new("/")).to_path_buf();
    let mut load = |pattern: &str| std::fs::read_to_string(base.join(pattern)).ok();
    let parsed = match conf::parse(&text, &mut load) {
        Ok(p) => p,
        Err(e) => {
            let fix = format!("correct it (keepalived -t -f {shown} shows it too)");
            return vec![Finding::fail("keepalived", format!("{shown}: {e}"), &fix)];
        }
    };
    let readers = fifo_readers();
    let cx = hooks::Context {
        own_config,
        sections: &config_sections,
        config_logs: &config_logs,
        owner: &config_owner,
        fifo_readers: &readers,
    };
    let mut out = rules::check(&parsed, &BINARY_NAMES, sections, &cx);
    for (owner, script) in rules::script_paths(&parsed, &BINARY_NAMES) {
        let mut f = rules::check_script_path(&script, &entries(Path::new(&script)));
        f.message = format!("{owner}: {}", f.message);
        out.push(f);
    }
    out.extend(trust(&parsed));
    out
}

/// What keepalived.conf says a root ec2-vip reads or writes, judged as ec2-vip itself will
/// (see `crate::trust`): every existing notify_fifo, and every `--log-file` of a command
/// calling ec2-vip. Nothing is reported for a path that does not exist yet.
fn trust(parsed: &conf::Parsed) -> Vec<Finding> {
    let mut out = Vec::new();
    for (owner, fifo) in rules::fifo_paths(parsed) {
        if std::fs::symlink_metadata(&fifo).is_err() {
            continue;
        }
        out.push(match crate::trust::untrusted(Path::new(&fifo), "notify FIFO") {
            Some(why) => Finding::fail("trust", format!("{owner}: {why}"), FIX),
            None => Finding::ok("trust", format!("{owner}: notify FIFO {fifo} may only be written by root")),
        });
    }
    let mut logs: Vec<(String, String)> = Vec::new();
    for (owner, cmd) in rules::ec2_vip_commands(parsed, &BINARY_NAMES) {
        let args = conf::argv(cmd);
        let named = args.windows(2).filter(|w| w[0] == "--log-file").map(|w| w[1].clone());
        let joined = args.iter().filter_map(|a| a.strip_prefix("--log-file=").map(String::from));
        for path in named.chain(joined) {
            if !logs.iter().any(|(_, p)| *p == path) {
                logs.push((owner.clone(), path));
            }
        }
    }
    for (owner, path) in logs {
        let why = match std::fs::symlink_metadata(&path) {
            Err(_) => continue,
            Ok(m) if m.file_type().is_symlink() => {
                Some(format!("log file {path}: a symbolic link; ec2-vip refuses it (exit 2)"))
            }
            Ok(m) => crate::trust::foreign_owner(Path::new(&path), &m, "log file"),
        };
        out.push(match why {
            Some(why) => Finding::fail("trust", format!("{owner}: {why}"), FIX),
            None => Finding::ok("trust", format!("{owner}: log file {path} is a file of ours")),
        });
    }
    out
}

const FIX: &str = "chown root, chmod go-w, and keep it in a directory only root can write (or a \
                   sticky one like /tmp, the entry in it root's); no symlink for --log-file";

/// The script and every directory above it, with (uid, mode) where it exists.
fn entries(script: &Path) -> Vec<(String, Option<(u32, u32)>)> {
    script
        .ancestors()
        .filter(|p| !p.as_os_str().is_empty())
        .map(|p| (p.display().to_string(), std::fs::metadata(p).ok().map(|m| (m.uid(), m.mode()))))
        .collect()
}

/// The section names of the config at `path`, or why a hook reading it would fail.
fn config_sections(path: &Path) -> Result<Vec<String>, String> {
    match Config::load(path) {
        Ok(c) => Ok(c.instances.into_keys().collect()),
        Err(
            ConfigError::Read { detail, .. }
            | ConfigError::Denied { detail, .. }
            | ConfigError::Parse { detail, .. },
        ) => Err(detail),
        Err(e) => Err(e.to_string()),
    }
}

/// Whether the config at `path` (one a hook would load) sets `syslog = true` or a `log_file`.
fn config_logs(path: &Path) -> bool {
    Config::load(path).is_ok_and(|c| c.defaults.logs())
}

/// The section of the config at `path` holding every resource of `res` (see `Config::owner`).
fn config_owner(path: &Path, res: &crate::config::Resources) -> Option<String> {
    Config::load(path).ok()?.owner(res).map(str::to_string)
}

/// The FIFO of an ec2-vip command line, if it is `watch --fifo PATH` as the binary parses it.
fn watched_fifo(args: &[String]) -> Option<PathBuf> {
    let is_ours = |a: &String| BINARY_NAMES.contains(&a.rsplit('/').next().unwrap_or(a));
    match parse_from(args).ok().filter(|_| args.first().is_some_and(is_ours))? {
        Cli { command: Command::Watch(w), .. } => Some(w.fifo),
        _ => None,
    }
}

/// Every `ec2-vip watch --fifo PATH` doctor can see offline: running processes (/proc) and
/// units enabled in /etc/systemd/system (their ExecStart lines), as `(who, fifo)`.
fn fifo_readers() -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    let dir = |p: &str| std::fs::read_dir(p).into_iter().flatten().flatten().map(|e| e.path());
    for proc in dir("/proc") {
        let Some(pid) = proc.file_name().and_then(|n| n.to_str()).filter(|n| n.parse::<u32>().is_ok()) else {
            continue;
        };
        let Ok(raw) = std::fs::read(proc.join("cmdline")) else { continue };
        let args: Vec<String> = raw
            .split(|b| *b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into())
            .collect();
        out.extend(watched_fifo(&args).map(|f| (format!("pid {pid} (ec2-vip watch)"), f)));
    }
    let wants = dir("/etc/systemd/system").filter(|p| p.extension().is_some_and(|e| e == "wants"));
    for unit in wants.flat_map(|w| dir(&w.display().to_string()).collect::<Vec<_>>()) {
        let text = std::fs::read_to_string(&unit).unwrap_or_default();
        let name = unit.file_name().unwrap_or_default().to_string_lossy().to_string();
        for line in text.lines().filter_map(|l| l.trim().strip_prefix("ExecStart=")) {
            let args = conf::argv(line.trim_start_matches(['-', '@', ':', '+', '!']));
            out.extend(watched_fifo(&args).map(|f| (format!("enabled unit {name}"), f)));
        }
    }
    out
}
