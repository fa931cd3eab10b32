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
    out
}

/// The script and every directory above it, with (uid, mode) where it exists.
fn entries(script: &Path) -> Vec<(String, Option<(u32, u32)>)> {
    script
        .ancestors()
        .filter(|p| !p.as_os_str().is_empty())
        .map(|p| (p.display().to_string(), std::fs::metadata(p).ok().map(|m| (m.uid(), m.mode()))))
        .collect()
}
