//! keepalived.conf checks for `ec2-vip doctor`: pure functions, text in, findings out.
//!
//! keepalived calls ec2-vip from a `notify*` command, a `notify_fifo` read by `ec2-vip watch`,
//! or a `vrrp_script` running `ec2-vip check`. On EC2 three mistakes make that silently useless:
//! - **Script security.** Without `enable_script_security` and `script_user root` in `global_defs`,
//!   keepalived runs root scripts without checking who can replace them; with it, a script whose
//!   file or any directory above it is not root-owned or is group/world-writable is never run.
//!   [`check_script_path`] checks that from metadata the caller collects.
//! - **Names.** ec2-vip acts on the `[instance.NAME]` section named after the vrrp_instance (own
//!   `notify`) or the vrrp_sync_group (the group's `notify`); a name with no section, or a section
//!   no instance or group uses, means a failover that moves nothing.
//! - **Unicast.** VPCs carry no multicast: an instance without `unicast_peer` never hears its peer,
//!   so both nodes become MASTER.
//!
//! The parser follows keepalived's syntax: whitespace-separated words, `{ }` blocks, comments from
//! `#` or `!` to the end of the line, `"..."`/`'...'` quotes (removed, escapes resolved), and
//! `include` lines whose file the caller loads (patterns taken literally, no glob expansion).

use super::conf::*;
use super::hooks::{self, Acts, Context};
use std::collections::BTreeSet;

const INST: &str = "vrrp_instance";
const GROUP: &str = "vrrp_sync_group";

/// Every notify command with its owner: (`vrrp_instance` or `vrrp_sync_group`, name, notify).
fn notifies(p: &Parsed) -> impl Iterator<Item = (&'static str, &str, &Notify)> {
    let inst = p.instances.iter().flat_map(|i| i.notifies.iter().map(|n| (INST, i.name.as_str(), n)));
    inst.chain(p.groups.iter().flat_map(|g| g.notifies.iter().map(|n| (GROUP, g.name.as_str(), n))))
}

/// `(owner, command)` of every notify command and vrrp_script that calls ec2-vip.
pub fn ec2_vip_commands<'a>(p: &'a Parsed, binary_names: &[&str]) -> Vec<(String, &'a str)> {
    let scripts =
        p.scripts.iter().filter_map(|s| Some((format!("vrrp_script {}", s.name), s.script.as_deref()?)));
    let all =
        notifies(p).map(|(what, owner, n)| (format!("{what} {owner}"), n.command.as_str())).chain(scripts);
    all.filter(|(_, c)| calls_binary(c, binary_names)).collect()
}

/// `(owner, executable)` of every command that calls ec2-vip, for the caller's file checks.
pub fn script_paths(p: &Parsed, binary_names: &[&str]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (owner, cmd) in ec2_vip_commands(p, binary_names) {
        let entry = (owner, argv(cmd).swap_remove(0));
        if !out.contains(&entry) {
            out.push(entry);
        }
    }
    out
}

/// `(owner, path)` of every notify_fifo: owner `global_defs`, `vrrp_instance X` or `vrrp_sync_group X`.
pub fn fifo_paths(p: &Parsed) -> Vec<(String, String)> {
    let owned =
        |what: &str, name: &str, fifo: Option<&str>| Some((format!("{what} {name}"), fifo?.to_string()));
    let mut out: Vec<_> = p.global_fifos.iter().map(|f| ("global_defs".to_string(), f.clone())).collect();
    out.extend(p.instances.iter().filter_map(|i| owned(INST, &i.name, i.notify_fifo.as_deref())));
    out.extend(p.groups.iter().filter_map(|g| owned(GROUP, &g.name, g.notify_fifo.as_deref())));
    out
}

fn script_security(p: &Parsed) -> Finding {
    let (check, fix) =
        ("script-security", "add `enable_script_security` and `script_user root` to global_defs");
    match (p.script_security, p.script_user.as_deref()) {
        (false, _) => fail(check, "no enable_script_security: root scripts run unchecked", fix),
        (true, None) => {
            warn(check, "no script_user: scripts run as keepalived_script if that user exists", fix)
        }
        (true, Some("root")) => ok(check, "enable_script_security and script_user root are set"),
        (true, Some(u)) => warn(check, format!("scripts run as {u}, not root as ec2-vip expects"), fix),
    }
}

/// Check a parsed config against ec2-vip's binary names and its `[instance.NAME]` section
/// names (of the config doctor was given); `cx` says what else doctor found on this node.
pub fn check(p: &Parsed, binary_names: &[&str], sections: &[&str], cx: &Context) -> Vec<Finding> {
    let include =
        |i: &String| warn("include", format!("include {i} was not read"), format!("make {i} readable"));
    let mut out: Vec<Finding> = p.unresolved_includes.iter().map(include).collect();
    out.push(script_security(p));
    let is_section = |n: &str| sections.contains(&n);
    let group_of = |i: &str| p.groups.iter().find(|g| g.members.iter().any(|m| m == i));
    let (mut used, mut calling, mut groups) = (BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
    // Owners whose hooks act on their own flags / cannot work; instances whose transitions
    // are recorded under a section's name (what `check` must look up).
    let (mut by_flags, mut broken, mut records, mut working) =
        (BTreeSet::new(), BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
    for (what, owner, n) in notifies(p).filter(|(_, _, n)| calls_binary(&n.command, binary_names)) {
        (if what == INST { &mut calling } else { &mut groups }).insert(owner);
        match hooks::notify(what, owner, n, cx, &mut out) {
            Acts::Section(name) => {
                used.insert(name);
                let group = p.groups.iter().filter(|g| what == GROUP && g.name == owner);
                records.extend(group.flat_map(|g| g.members.iter().map(String::as_str)));
                if what == INST {
                    records.insert(owner);
                }
                working.insert(owner);
            }
            Acts::Flags => _ = (by_flags.insert(owner), working.insert(owner)),
            Acts::Nothing => _ = broken.insert(owner),
        }
    }
    for (i, g) in calling.iter().filter_map(|i| Some((i, &group_of(i)?.name))) {
        let m = format!("vrrp_instance {i} is in vrrp_sync_group {g} and calls ec2-vip itself: double calls");
        out.push(warn(
            "sync-group",
            m,
            format!("call ec2-vip from vrrp_sync_group {g} only ([instance.{g}])"),
        ));
    }
    for g in p.groups.iter().filter(|g| groups.contains(g.name.as_str())) {
        calling.extend(g.members.iter().map(String::as_str));
    }
    for s in p.scripts.iter().filter(|s| s.script.as_deref().is_some_and(|c| calls_binary(c, binary_names))) {
        let trackers = p.instances.iter().filter(|i| i.track_scripts.contains(&s.name)).map(|i| &*i.name);
        calling.extend(trackers.clone());
        working.extend(trackers);
    }
    let fifos = fifo_paths(p);
    let notifying: Vec<&str> = working.iter().copied().collect();
    if !fifos.is_empty() {
        // A FIFO carries every instance's and group's lines; ec2-vip watch acts on those with a section.
        let named = p.instances.iter().map(|i| &*i.name).chain(p.groups.iter().map(|g| &*g.name));
        used.extend(named.filter(|n| is_section(n)).map(String::from));
        let reached =
            |i: &&Instance| is_section(&i.name) || group_of(&i.name).is_some_and(|g| is_section(&g.name));
        calling.extend(p.instances.iter().filter(reached).map(|i| &*i.name));
        records.extend(p.instances.iter().filter(reached).map(|i| &*i.name));
        working.extend(p.instances.iter().filter(reached).map(|i| &*i.name));
    }
    hooks::fifos(&fifos, &notifying, cx, &mut out);
    hooks::scripts(p, binary_names, &records.iter().copied().collect::<Vec<_>>(), cx, &mut out);
    for s in sections.iter().filter(|s| !used.contains(**s) && !broken.contains(*s)) {
        out.push(if by_flags.contains(s) {
            let m = format!(
                "section [instance.{s}]: keepalived's {s} calls ec2-vip with its own --route/--eip... flags, \
                 never with this section (check --instance {s} and watch do not see its records)"
            );
            warn(
                "sections",
                m,
                format!("add --instance {s} to its notify_* commands, or use notify \"... notify\""),
            )
        } else if p.instances.iter().any(|i| i.name == *s) || p.groups.iter().any(|g| g.name == *s) {
            let fix = format!("add notify \"{PACKAGE_BINARY} --syslog notify\" to {s} in keepalived.conf");
            fail("sections", format!("section [instance.{s}]: keepalived's {s} never calls ec2-vip"), fix)
        } else {
            let m =
                format!("section [instance.{s}] is not a vrrp_instance or vrrp_sync_group keepalived runs");
            fail("sections", m, format!("rename [instance.{s}] after one, or remove it"))
        });
    }
    if !used.is_empty() && sections.iter().all(|s| used.contains(*s)) {
        out.push(ok("sections", format!("keepalived runs every section: {}", sections.join(", "))));
    }
    for i in p.instances.iter().filter(|i| calling.contains(&*i.name)) {
        out.push(if i.has_unicast_peer {
            ok("unicast", format!("vrrp_instance {} sends adverts by unicast", i.name))
        } else {
            let m = format!("vrrp_instance {} calls ec2-vip but has no unicast_peer: {NO_MULTICAST}", i.name);
            fail(
                "unicast",
                m,
                "set unicast_src_ip to this node's private IP and unicast_peer { } to the peer's",
            )
        });
    }
    // Only commands that would work count as calling ec2-vip; broken ones have their FAIL.
    if !working.is_empty() {
        let names: Vec<&str> = working.iter().copied().collect();
        out.push(ok("ec2-vip-called", format!("keepalived calls ec2-vip for {}", names.join(", "))));
    } else if broken.is_empty() {
        out.push(fail(
            "ec2-vip-called",
            "nothing in keepalived.conf calls ec2-vip: a failover moves no VIP",
            format!(
                "add notify \"{PACKAGE_BINARY} --syslog notify\" to each vrrp_instance or vrrp_sync_group, \
                 or a global_defs notify_fifo read by ec2-vip watch"
            ),
        ));
    }
    out
}

const NO_MULTICAST: &str =
    "VPCs carry no multicast, so adverts never reach the peer and both nodes become MASTER";
/// Where the Debian package installs the binary: the path fixes name (a binary copied
/// elsewhere by hand works as well when keepalived.conf names that path).
const PACKAGE_BINARY: &str = "/usr/sbin/ec2-vip";

/// What keepalived's script security rejects in one file or directory on a script's path.
fn unsafe_entry(entry: &str, script: &str, meta: Option<(u32, u32)>) -> Option<Finding> {
    let (problem, fix) = match meta {
        None => (
            "does not exist".into(),
            format!("install ec2-vip at {script} or fix the path in keepalived.conf"),
        ),
        Some((uid, _)) if uid != 0 => {
            (format!("is owned by uid {uid}, not root"), format!("chown root:root {entry}"))
        }
        Some((_, mode)) if mode & 0o022 != 0 => {
            ("is group- or world-writable".into(), format!("chmod go-w {entry}"))
        }
        Some(_) => return None,
    };
    let (what, victim) = if entry == script { ("", "it") } else { ("directory ", script) };
    Some(fail("script-file", format!("{what}{entry} {problem}: keepalived will not run {victim}"), fix))
}

/// Check a script file from `(uid, st_mode)`; `None` means it does not exist.
pub fn check_script_file(path: &str, meta: Option<(u32, u32)>) -> Finding {
    match unsafe_entry(path, path, meta) {
        Some(f) => f,
        None if meta.is_some_and(|(_, mode)| mode & 0o111 == 0) => {
            fail("script-file", format!("{path} is not executable"), format!("chmod 755 {path}"))
        }
        None => ok("script-file", format!("{path} is root-owned, executable and not group/world-writable")),
    }
}

/// Check a script and the directories above it: `entries` holds `(path, metadata)` of the file
/// (named `path`) and of each directory; keepalived wants all root-owned and not group/world-writable.
/// Returns the first problem, else one ok finding.
pub fn check_script_path(path: &str, entries: &[(String, Option<(u32, u32)>)]) -> Finding {
    let problem = |(entry, meta): &(String, Option<(u32, u32)>)| {
        if entry == path {
            Some(check_script_file(path, *meta)).filter(|f| f.level != Level::Ok)
        } else {
            unsafe_entry(entry, path, *meta)
        }
    };
    let safe = || ok("script-file", format!("{path} and every directory above it are root-owned and safe"));
    entries.iter().find_map(problem).unwrap_or_else(safe)
}
