//! `ec2-vip config-test`: the config checked offline, like `keepalived -t` or `haproxy -c`:
//! no IMDS, no credentials, no network. Every error on its own line, located; exit 0 when
//! every section is sound, 2 otherwise. `--keepalived-conf` adds doctor's offline
//! keepalived.conf rules.

use super::doctor::{keepalived, Finding, Level};
use crate::cli::ConfigTestArgs;
use crate::config::Config;
use crate::error::Error;
use std::path::Path;

pub fn run(config: &Path, args: &ConfigTestArgs) -> Result<(), Error> {
    let c = match Config::load(config) {
        Ok(c) => c,
        Err(e) => {
            println!("{e}");
            return Err(Error::BadInput(format!("config-test: {} cannot be used", config.display())));
        }
    };
    for p in c.problems() {
        println!("{p}");
    }
    let mut failed = false;
    if let Some(path) = &args.keepalived_conf {
        // Named on purpose: a file that is not there fails (doctor only warns).
        let findings = match std::fs::metadata(path) {
            Ok(_) => keepalived::check(path, &c.names(), config),
            Err(e) => vec![Finding::fail("keepalived", format!("{}: {e}", path.display()), "")],
        };
        for f in findings {
            println!("{}", f.line());
            failed |= f.level == Level::Fail;
        }
    }
    let sound: Vec<&str> = c.instances.keys().map(String::as_str).collect();
    if !c.broken.is_empty() {
        let broken: Vec<&str> = c.broken.keys().map(String::as_str).collect();
        return Err(Error::BadInput(format!(
            "config-test: {} of {} sections set aside ({}); sound: {}",
            broken.len(),
            c.names().len(),
            broken.join(", "),
            if sound.is_empty() { "none".to_string() } else { sound.join(", ") }
        )));
    }
    if failed {
        return Err(Error::BadInput(format!("config-test: {} fails the keepalived.conf checks", c.path)));
    }
    println!("ok: {} section{} ({})", sound.len(), if sound.len() == 1 { "" } else { "s" }, sound.join(", "));
    Ok(())
}
