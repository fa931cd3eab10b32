//! doctor's keepalived side: read keepalived.conf (and its includes), check it against the
//! config's sections (`rules`), and check every ec2-vip script keepalived would run, from
//! the file's and its directories' owners and modes.

mod conf;
mod rules;
#[cfg(test)]
#[path = "tests.rs"]
mod tests;

use super::{Finding, Level};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// File names that count as calling ec2-vip.
const BINARY_NAMES: [&str; 1] = ["ec2-vip"];

pub fn check(path: &Path, sections: &[&str]) -> Vec<Finding> {
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
    let mut out = rules::check(&parsed, &BINARY_NAMES, sections);
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
