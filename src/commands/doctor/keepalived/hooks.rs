//! Every ec2-vip command keepalived runs, read as the binary reads it.
//!
//! A hook line goes through the binary's own parser ([`crate::cli::parse_from`]): a line
//! it rejects exits 2 before logging starts, keepalived discards its stderr, and the VIP
//! never moves, so that is a FAIL with clap's reason. A line that parses is checked for
//! what it will do: the config file *it* reads (its `--config`, else the default), the
//! section it acts on, and whether it logs anywhere (`--syslog` / `--log-file`, or that
//! config's top-level `syslog` / `log_file`).

use super::conf::*;
use crate::cli::{one_line, parse_from, Cli, Command};
use crate::config::Resources;
use std::path::{Path, PathBuf};

/// What doctor knows beyond keepalived.conf; the caller gathers it (files, /proc).
pub struct Context<'a> {
    /// The config doctor itself was given (its cloud checks are of this one).
    pub own_config: &'a Path,
    /// The section names of a config file, or why it cannot be used.
    pub sections: &'a dyn Fn(&Path) -> Result<Vec<String>, String>,
    /// Whether the config file at a path sets a log destination (`syslog`, `log_file`).
    pub config_logs: &'a dyn Fn(&Path) -> bool,
    /// The section of the config at a path that holds every given resource (what
    /// `check --route ...` then checks), if any.
    pub owner: &'a dyn Fn(&Path, &Resources) -> Option<String>,
    /// `(who, fifo)` of every `ec2-vip watch` found: a running process or an enabled unit.
    pub fifo_readers: &'a [(String, PathBuf)],
}

/// What one hook acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acts {
    /// A config section by name (`notify`, or `--instance NAME`), recorded under that name.
    Section(String),
    /// Its own `--route`/`--eip`... flags, recorded under a key of their own.
    Flags,
    /// Nothing that can be checked further (does not parse, moves nothing, no config).
    Nothing,
}

/// The words keepalived appends to a generic `notify` command.
fn appended(what: &str, owner: &str) -> [String; 4] {
    let kind = if what == "vrrp_sync_group" { "GROUP" } else { "INSTANCE" };
    [kind.into(), owner.into(), "MASTER".into(), "100".into()]
}

/// Parse an ec2-vip command line as the binary would; `Err` is clap's one-line reason.
pub fn parse(args: &[String]) -> Result<Cli, String> {
    parse_from(args).map_err(|e| one_line(&e))
}

/// Check one ec2-vip notify command of `what owner`; returns what it acts on.
pub fn notify(what: &str, owner: &str, n: &Notify, cx: &Context, out: &mut Vec<Finding>) -> Acts {
    let (cmd, kind, extra) = (&n.command, n.kind, n.extra.join(" "));
    let at = format!("{what} {owner}: {kind} \"{cmd}\"");
    let mut args = argv(cmd);
    let fix = format!("use notify \"{} --syslog notify\"", args[0]);
    if !cmd.starts_with('/') {
        out.push(warn("notify-command", format!("{at} is not an absolute path"), "give its absolute path"));
    }
    if kind == "notify" {
        args.extend(appended(what, owner));
    }
    let cli = match parse(&args) {
        Ok(cli) => cli,
        Err(why) if !extra.is_empty() => {
            let m =
                format!("{at} {extra}: ec2-vip would exit 2 ({why}): `{extra}` is read as user and group");
            out.push(fail("notify-command", m, format!("quote the whole command: {kind} \"{cmd} {extra}\"")));
            return Acts::Nothing;
        }
        Err(why) => {
            let shown = if kind == "notify" { format!("{at} + TYPE NAME STATE PRIORITY") } else { at };
            let m = format!(
                "{shown}: ec2-vip would exit 2 before logging anything ({why}); keepalived discards that"
            );
            out.push(fail("notify-command", m, fix));
            return Acts::Nothing;
        }
    };
    let acts = match &cli.command {
        Command::Notify(a) => Acts::Section(a.name.clone()),
        Command::Master(t) | Command::Backup(t) | Command::Fault(t) | Command::Stop(t) => {
            t.instance.clone().map(Acts::Section).unwrap_or(Acts::Flags)
        }
        _ => {
            let m = format!("{at} runs a command that moves nothing on a transition");
            out.push(fail("notify-command", m, fix));
            return Acts::Nothing;
        }
    };
    let g = &cli.global;
    if g.dry_run {
        let m = format!("{at} has --dry-run: every transition only prints its plan, nothing moves");
        out.push(fail("notify-command", m, "remove --dry-run from the hook"));
    }
    if !g.syslog && g.log_file.is_none() && !(cx.config_logs)(&g.config) {
        let m = format!("{at} logs nowhere: keepalived discards a script's stdout and stderr");
        let fix = format!(
            "add --syslog (or --log-file PATH) before the subcommand, or syslog = true (or log_file) to {}",
            g.config.display()
        );
        out.push(warn("notify-log", m, fix));
    }
    // A by-flags run (master --route ...) reads no config; the others act on a section of it.
    let Acts::Section(name) = &acts else { return acts };
    match config(&at, &g.config, cx, out) {
        Some(names) if !names.contains(name) => {
            let shown = g.config.display();
            let m = format!(
                "{what} {owner} calls ec2-vip but {shown} has no usable [instance.{name}] (none, or one \
                 set aside as broken: ec2-vip config-test says why)"
            );
            out.push(fail(
                "sections",
                m,
                format!("add [instance.{name}] to {shown} or rename {what} {owner}"),
            ));
            Acts::Nothing
        }
        Some(_) => acts,
        None => Acts::Nothing,
    }
}

/// The sections of the config a hook reads, with a FAIL when it cannot be read, and a
/// warning when it is not the config doctor checked.
fn config(at: &str, path: &Path, cx: &Context, out: &mut Vec<Finding>) -> Option<Vec<String>> {
    let shown = path.display();
    if path != cx.own_config {
        let m = format!("{at} reads {shown}, not {} that doctor checked", cx.own_config.display());
        out.push(warn("notify-config", m, format!("run ec2-vip --config {shown} doctor too")));
    }
    match (cx.sections)(path) {
        Ok(names) => Some(names),
        Err(why) => {
            let m = format!("{at} reads {shown}: {why}");
            let fix = "create that config, or give the hook --config PATH of the right one";
            out.push(fail("notify-config", m, fix));
            None
        }
    }
}

/// The `weight` keepalived applies for `script` in `instance` (track_script's own, else the
/// vrrp_script's, else 0: a failing script puts the instance in FAULT).
fn weight(instance: &Instance, script: &VrrpScript) -> i64 {
    let own = instance.track_weights.iter().find(|(n, _)| *n == script.name).map(|(_, w)| w);
    own.or(script.weight.as_ref()).and_then(|w| w.parse().ok()).unwrap_or(0)
}

/// Check every vrrp_script that runs ec2-vip. `records`: the instances whose ec2-vip notify
/// records under a section name (the key a `check` must use to find it).
pub fn scripts(p: &Parsed, binary_names: &[&str], records: &[&str], cx: &Context, out: &mut Vec<Finding>) {
    for s in &p.scripts {
        let Some(cmd) = s.script.as_deref().filter(|c| calls_binary(c, binary_names)) else { continue };
        let at = format!("vrrp_script {}: script \"{cmd}\"", s.name);
        let trackers: Vec<&Instance> =
            p.instances.iter().filter(|i| i.track_scripts.contains(&s.name)).collect();
        let (check, config) = match parse(&argv(cmd)) {
            Err(why) => {
                let m = format!("{at}: ec2-vip would exit 2 ({why}): every instance tracking it goes FAULT");
                out.push(fail("track-script", m, "correct the command line (ec2-vip check --help)"));
                continue;
            }
            Ok(Cli { command: Command::Check(c), global }) => (c, global.config),
            Ok(_) => continue,
        };
        let flags = check.resources.resources().ok().filter(|r| !r.is_empty());
        // check --route X checks the section of its config that holds X, when one does.
        let owner = flags.as_ref().filter(|_| check.instance.is_none()).and_then(|r| (cx.owner)(&config, r));
        let trapped = |i: &&&Instance| {
            flags.is_some()
                && check.instance.is_none()
                && owner.as_deref() != Some(i.name.as_str())
                && weight(i, s) == 0
                && records.contains(&i.name.as_str())
        };
        for i in trackers.iter().filter(trapped) {
            let m = format!(
                "{at}: `check` with --route/--eip... looks for the record of its own flags, not of \
                 {name}'s notify: on the standby it finds none, exits 1, and with no weight \
                 vrrp_instance {name} goes FAULT and can never take over",
                name = i.name
            );
            let fix = format!("use `check --instance {}` (or give the vrrp_script a weight)", i.name);
            out.push(fail("track-script", m, fix));
        }
    }
}

/// FIFO checks: who reads each notify_fifo, and FIFOs beside ec2-vip notify commands.
pub fn fifos(fifos: &[(String, String)], notifying: &[&str], cx: &Context, out: &mut Vec<Finding>) {
    for (owner, path) in fifos {
        let reader = cx.fifo_readers.iter().find(|(_, f)| f == Path::new(path));
        out.push(match reader {
            Some((who, _)) => ok("fifo", format!("notify_fifo {path} ({owner}) is read by {who}")),
            None => warn(
                "fifo",
                format!(
                    "notify_fifo {path} ({owner}): no running `ec2-vip watch --fifo {path}` and no enabled \
                     unit runs one: keepalived's lines there are read by nobody"
                ),
                format!("systemctl enable --now ec2-vip-watch (ExecStart=... watch --fifo {path})"),
            ),
        });
    }
    if let (Some((owner, path)), false) = (fifos.first(), notifying.is_empty()) {
        let m = format!(
            "{} call ec2-vip from notify and notify_fifo {path} ({owner}) is set: if ec2-vip watch reads \
             it too, every transition runs twice",
            notifying.join(", ")
        );
        out.push(warn("fifo", m, "use one: the notify commands, or notify_fifo read by ec2-vip watch"));
    }
}
