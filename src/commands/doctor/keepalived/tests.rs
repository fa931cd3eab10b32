use super::conf::*;
use super::hooks::Context;
use super::rules::*;
use std::path::{Path, PathBuf};

pub(super) const BIN: &[&str] = &["ec2-vip"];

fn no_includes(_: &str) -> Option<String> {
    None
}

pub(super) fn parsed(text: &str) -> Parsed {
    parse(text, &mut no_includes).unwrap_or_else(|e| panic!("{e}"))
}

/// The config every hook reads when it gives no --config.
pub(super) const DEFAULT_CONFIG: &str = "/etc/ec2-vip.toml";

/// `rules::check` on a node where every config a hook reads has `sections`, and `readers`
/// read FIFOs.
pub(super) fn check_with(p: &Parsed, sections: &[&str], readers: &[(String, PathBuf)]) -> Vec<Finding> {
    let names = |_: &Path| Ok(sections.iter().map(|s| s.to_string()).collect());
    let cx = Context {
        own_config: Path::new(DEFAULT_CONFIG),
        sections: &names,
        config_logs: &|_| false,
        owner: &|_, _| None,
        fifo_readers: readers,
    };
    super::rules::check(p, BIN, sections, &cx)
}

pub(super) fn check(p: &Parsed, _bin: &[&str], sections: &[&str]) -> Vec<Finding> {
    check_with(p, sections, &[])
}

pub(super) fn run(text: &str, sections: &[&str]) -> Vec<Finding> {
    check(&parsed(text), BIN, sections)
}

pub(super) fn has(findings: &[Finding], level: Level, check: &str, needle: &str) -> bool {
    findings.iter().any(|f| f.level == level && f.check == check && f.message.contains(needle))
}

pub(super) fn not_ok(findings: &[Finding]) -> Vec<&Finding> {
    findings.iter().filter(|f| f.level != Level::Ok).collect()
}

pub(super) const SECURITY: &str = "global_defs {\n  enable_script_security\n  script_user root\n}\n";

pub(super) fn instance(name: &str, body: &str) -> String {
    format!(
        "vrrp_instance {name} {{\n  state BACKUP\n  interface eth0\n  virtual_router_id 51\n  \
         priority 150\n  \
         advert_int 1\n  unicast_src_ip 10.0.1.10\n  unicast_peer {{\n    10.0.2.10\n  }}\n{body}}}\n"
    )
}

fn good() -> String {
    let notify = "  notify \"/usr/local/sbin/ec2-vip --syslog notify\"\n";
    format!("{SECURITY}{}{}", instance("VI_1", notify), instance("VI_2", notify))
}

#[test]
fn correct_two_instance_config_is_all_ok() {
    let p = parsed(&good());
    let i = &p.instances[0];
    assert_eq!(
        (i.name.as_str(), i.state.as_deref(), i.interface.as_deref()),
        ("VI_1", Some("BACKUP"), Some("eth0"))
    );
    assert_eq!(
        (i.virtual_router_id.as_deref(), i.priority.as_deref(), i.advert_int.as_deref()),
        (Some("51"), Some("150"), Some("1"))
    );
    assert_eq!((i.unicast_src_ip.as_deref(), i.has_unicast_peer), (Some("10.0.1.10"), true));
    assert_eq!(
        i.notifies,
        vec![Notify {
            kind: "notify",
            command: "/usr/local/sbin/ec2-vip --syslog notify".into(),
            extra: vec![]
        }]
    );
    assert!(p.script_security && p.script_user.as_deref() == Some("root"));
    let f = check(&p, BIN, &["VI_1", "VI_2"]);
    assert!(not_ok(&f).is_empty(), "{f:#?}");
    assert!(has(&f, Level::Ok, "unicast", "VI_2") && has(&f, Level::Ok, "ec2-vip-called", "VI_1, VI_2"));
}

#[test]
fn sync_group_notify_uses_the_group_name() {
    let text = format!(
        "{SECURITY}{}{}vrrp_sync_group VG_1 {{\n  group {{\n    VI_1\n    VI_2\n  }}\n  \
         notify \"/usr/bin/ec2-vip --syslog notify\" root\n}}\n",
        instance("VI_1", ""),
        instance("VI_2", "")
    );
    let p = parsed(&text);
    assert_eq!(p.groups[0].members, ["VI_1", "VI_2"]);
    assert_eq!(p.groups[0].notifies[0].extra, ["root"]);
    let f = check(&p, BIN, &["VG_1"]);
    assert!(not_ok(&f).is_empty(), "{f:#?}");
    assert!(has(&f, Level::Ok, "unicast", "VI_1") && has(&f, Level::Ok, "unicast", "VI_2"));
    assert!(has(&run(&text, &["VI_1"]), Level::Fail, "sections", "[instance.VG_1]"));
}

#[test]
fn instance_in_a_group_with_its_own_notify_warns_of_double_calls() {
    let text = format!(
        "{}vrrp_sync_group VG_1 {{\n  group {{ VI_1 VI_2 }}\n  notify \"/usr/bin/ec2-vip --syslog notify\"\n}}\n",
        good()
    );
    assert_eq!(parsed(&text).groups[0].members, ["VI_1", "VI_2"]);
    let f = run(&text, &["VG_1", "VI_1", "VI_2"]);
    assert!(has(&f, Level::Warn, "sync-group", "vrrp_instance VI_1 is in vrrp_sync_group VG_1"), "{f:#?}");
}

#[test]
fn notify_master_and_backup_name_the_instance_in_their_args() {
    let body = "  notify_master \"/usr/local/sbin/ec2-vip --syslog master --instance VI_1\"\n  \
                notify_backup \"/usr/local/sbin/ec2-vip --syslog backup --instance=VI_1\"\n";
    let f = run(&format!("{SECURITY}{}", instance("VI_1", body)), &["VI_1"]);
    assert!(not_ok(&f).is_empty(), "{f:#?}");
    // Legacy: the hook moves the VIP by its own flags. One verdict: a warning on the section,
    // no FAIL saying VI_1 never calls ec2-vip next to an ok saying it does.
    let body = "  notify_master \"/usr/local/sbin/ec2-vip --syslog master --route 10.1.0.10/32\"\n";
    let f = run(&format!("{SECURITY}{}", instance("VI_1", body)), &["VI_1"]);
    assert!(has(&f, Level::Warn, "sections", "with its own --route/--eip... flags"), "{f:#?}");
    assert!(f.iter().all(|f| f.level != Level::Fail), "{f:#?}");
    assert!(has(&f, Level::Ok, "unicast", "VI_1") && has(&f, Level::Ok, "ec2-vip-called", "VI_1"));
    // A positional name is not what the binary takes: it would exit 2.
    let body = "  notify_master \"/usr/local/sbin/ec2-vip --syslog master VI_1\"\n";
    let f = run(&format!("{SECURITY}{}", instance("VI_1", body)), &["VI_1"]);
    assert!(has(&f, Level::Fail, "notify-command", "unexpected argument 'VI_1'"), "{f:#?}");
    assert!(!f.iter().any(|f| f.check == "ec2-vip-called" || f.check == "sections"), "{f:#?}");
}

#[test]
fn notify_fifo_users_cover_every_instance_and_group() {
    let text = format!(
        "global_defs {{\n  enable_script_security\n  script_user root\n  \
         notify_fifo /run/keepalived.fifo\n}}\n{}{}",
        instance("VI_1", ""),
        instance("VI_2", "  notify_fifo /run/vi2.fifo\n")
    );
    let p = parsed(&text);
    assert_eq!(p.global_fifos, ["/run/keepalived.fifo"]);
    assert_eq!(
        fifo_paths(&p),
        [
            ("global_defs".into(), "/run/keepalived.fifo".into()),
            ("vrrp_instance VI_2".into(), "/run/vi2.fifo".into())
        ]
    );
    let readers =
        [("pid 7".to_string(), "/run/keepalived.fifo".into()), ("pid 8".to_string(), "/run/vi2.fifo".into())];
    let f = check_with(&p, &["VI_1"], &readers);
    assert!(not_ok(&f).is_empty(), "{f:#?}");
    assert!(has(&f, Level::Ok, "fifo", "/run/keepalived.fifo (global_defs) is read by pid 7"));
    let f = check_with(&p, &["VI_1"], &readers[1..]);
    assert!(has(&f, Level::Warn, "fifo", "no running `ec2-vip watch --fifo /run/keepalived.fifo`"), "{f:#?}");
    assert_eq!(not_ok(&f).len(), 1, "{f:#?}");
    let f = check_with(&p, &["VI_1"], &readers);
    assert!(has(&f, Level::Ok, "unicast", "VI_1") && !has(&f, Level::Ok, "unicast", "VI_2"));
    let f = check(&p, BIN, &["VI_9"]);
    assert!(has(&f, Level::Fail, "ec2-vip-called", "nothing") && has(&f, Level::Fail, "sections", "VI_9"));
}

#[test]
fn a_calling_instance_without_a_section_fails() {
    let text =
        format!("{SECURITY}{}", instance("VI_9", "  notify \"/usr/local/sbin/ec2-vip --syslog notify\"\n"));
    let f = run(&text, &["VI_1"]);
    assert!(has(
        &f,
        Level::Fail,
        "sections",
        "vrrp_instance VI_9 calls ec2-vip but /etc/ec2-vip.toml has no usable [instance.VI_9]"
    ));
    assert!(has(
        &f,
        Level::Fail,
        "sections",
        "section [instance.VI_1] is not a vrrp_instance or vrrp_sync_group keepalived runs"
    ));
    assert!(f.iter().filter(|f| f.level == Level::Fail).all(|f| f.fix.is_some()));
}

#[test]
fn unused_sections_fail() {
    let f = run(&good(), &["VI_1", "VI_2", "VI_3"]);
    assert_eq!(not_ok(&f).len(), 1, "{f:#?}");
    assert!(has(&f, Level::Fail, "sections", "[instance.VI_3] is not a vrrp_instance"));
    let text = format!("{}{}", good(), instance("VI_3", ""));
    assert!(has(&run(&text, &["VI_1", "VI_2", "VI_3"]), Level::Fail, "sections", "VI_3 never calls ec2-vip"));
}

#[test]
fn missing_unicast_peer_fails() {
    let text = format!(
        "{SECURITY}vrrp_instance VI_1 {{\n  interface eth0\n  notify /usr/local/sbin/ec2-vip\n  \
         notify \"/usr/local/sbin/ec2-vip --syslog notify\"\n}}\n\
         vrrp_instance VI_2 {{\n  unicast_peer {{\n  }}\n  notify \"/usr/local/sbin/ec2-vip --syslog notify\"\n}}\n"
    );
    let f = run(&text, &["VI_1", "VI_2"]);
    assert!(has(
        &f,
        Level::Fail,
        "unicast",
        "vrrp_instance VI_1 calls ec2-vip but has no unicast_peer: VPCs carry no multicast"
    ));
    assert!(has(&f, Level::Fail, "unicast", "vrrp_instance VI_2"));
    assert!(
        has(
            &f,
            Level::Fail,
            "notify-command",
            "would exit 2 before logging anything (unrecognized subcommand 'INSTANCE')"
        ),
        "{f:#?}"
    );
}

#[test]
fn missing_script_security_fails_and_missing_script_user_warns() {
    let body = "  notify \"/usr/local/sbin/ec2-vip --syslog notify\"\n";
    let f = run(&instance("VI_1", body), &["VI_1"]);
    assert!(has(&f, Level::Fail, "script-security", "no enable_script_security"));
    let f =
        run(&format!("global_defs {{\n enable_script_security\n}}\n{}", instance("VI_1", body)), &["VI_1"]);
    assert!(has(&f, Level::Warn, "script-security", "no script_user"));
    assert_eq!(not_ok(&f).len(), 1, "{f:#?}");
}

#[test]
fn comments_with_hash_and_bang_are_ignored() {
    let text = "! Configuration File for keepalived\n# another comment\nglobal_defs { # trailing\n  \
                enable_script_security ! also trailing\n  script_user root#glued\n}\n\
                vrrp_script chk { script \"/bin/sh -c 'exit 0 # not a comment'\" }\n\
                vrrp_instance VI_1 { # }\n  state MASTER ! }\n}\n";
    let p = parsed(text);
    assert!(p.script_security);
    assert_eq!(p.script_user.as_deref(), Some("root"));
    assert_eq!(p.scripts[0].script.as_deref(), Some("/bin/sh -c 'exit 0 # not a comment'"));
    assert_eq!(p.instances[0].state.as_deref(), Some("MASTER"));
}

#[test]
fn quoted_commands_keep_their_words() {
    let text = "vrrp_instance VI_1\n{\n  notify '/usr/local/sbin/ec2-vip notify'\n  \
                notify_master \"/usr/local/sbin/ec2-vip master \\\"VI_1\\\"\"\n  \
                notify_backup /usr/local/sbin/ec2-vip backup VI_1\n  \
                 notify_fault \"ec2-vip fault 'VI 1'\"\n}\n";
    let p = parsed(text);
    let cmds: Vec<&str> = p.instances[0].notifies.iter().map(|n| n.command.as_str()).collect();
    assert_eq!(
        cmds,
        [
            "/usr/local/sbin/ec2-vip notify",
            "/usr/local/sbin/ec2-vip master \"VI_1\"",
            "/usr/local/sbin/ec2-vip",
            "ec2-vip fault 'VI 1'"
        ]
    );
    assert_eq!(argv(cmds[1]), ["/usr/local/sbin/ec2-vip", "master", "VI_1"]);
    assert_eq!(argv(cmds[3]), ["ec2-vip", "fault", "VI 1"]);
    let f = check(&p, BIN, &["VI_1"]);
    assert!(has(&f, Level::Fail, "notify-command", "`backup VI_1` is read as user and group"), "{f:#?}");
    assert!(f.iter().any(|f| f.fix.as_deref().is_some_and(|x| x.starts_with("quote the whole command"))));
    assert!(has(&f, Level::Warn, "notify-command", "\"ec2-vip fault 'VI 1'\" is not an absolute path"));
}

#[test]
fn wrong_subcommand_for_the_notify_kind_fails() {
    let body =
        "  notify \"/usr/local/sbin/ec2-vip master\"\n  notify_master \"/usr/local/sbin/ec2-vip --syslog notify\"\n";
    let f = run(&format!("{SECURITY}{}", instance("VI_1", body)), &["VI_1"]);
    assert!(
        has(
            &f,
            Level::Fail,
            "notify-command",
            "\"/usr/local/sbin/ec2-vip master\" + TYPE NAME STATE PRIORITY: ec2-vip would exit 2"
        ),
        "{f:#?}"
    );
    assert!(has(&f, Level::Fail, "notify-command", "required arguments were not provided"), "{f:#?}");
}

#[test]
fn parse_errors_name_the_line() {
    let e = parse("global_defs {\n  enable_script_security\n\nvrrp_instance VI_1 {\n}\n", &mut no_includes)
        .unwrap_err();
    assert_eq!(
        (e.line, e.to_string()),
        (1, "line 1: global_defs { is never closed (unbalanced braces)".to_string())
    );
    assert_eq!(parse("a {\n}\n}\n", &mut no_includes).unwrap_err().line, 3);
    assert_eq!(parse("a\n b \"open\n", &mut no_includes).unwrap_err().line, 2);
    assert_eq!(parse("x\n{ y }\n{\n}\n", &mut no_includes).unwrap_err().line, 3);
    assert_eq!(
        parse("vrrp_instance {\n}\n", &mut no_includes).unwrap_err().message,
        "vrrp_instance without a name"
    );
    let e = parse("vrrp_instance VI_1 {\n", &mut no_includes).unwrap_err();
    assert!(e.to_string().contains("line 1"), "{e}");
}

#[test]
fn includes_are_loaded_through_the_caller() {
    let main = format!(
        "{SECURITY}include /etc/keepalived/conf.d/vi1.conf\nincluder /etc/keepalived/missing/*.conf\n"
    );
    let mut asked = Vec::new();
    let mut load = |path: &str| {
        asked.push(path.to_string());
        (path == "/etc/keepalived/conf.d/vi1.conf")
            .then(|| instance("VI_1", "  notify \"/usr/local/sbin/ec2-vip --syslog notify\"\n"))
    };
    let p = parse(&main, &mut load).unwrap();
    assert_eq!(asked, ["/etc/keepalived/conf.d/vi1.conf", "/etc/keepalived/missing/*.conf"]);
    assert_eq!(p.instances[0].name, "VI_1");
    assert_eq!(p.unresolved_includes, ["/etc/keepalived/missing/*.conf"]);
    let f = check(&p, BIN, &["VI_1"]);
    assert_eq!(not_ok(&f).len(), 1, "{f:#?}");
    assert!(has(&f, Level::Warn, "include", "/etc/keepalived/missing/*.conf"));
    let e = parse("include /a.conf\n", &mut |_: &str| Some("x {\n\n}\n}\n".into())).unwrap_err();
    assert_eq!(e.to_string(), "/a.conf: line 4: '}' without a matching '{'");
    let e = parse("include /loop.conf\n", &mut |_: &str| Some("include /loop.conf\n".into())).unwrap_err();
    assert!(e.message.contains("nested too deep"), "{e}");
}

#[test]
fn tracked_ec2_vip_check_script_counts_as_a_call() {
    let text = format!(
        "{SECURITY}vrrp_script chk_vip {{\n  \
         script \"/usr/local/sbin/ec2-vip check --instance VI_1\"\n  interval 10\n}}\n\
         vrrp_instance VI_1 {{\n  track_script {{\n    chk_vip weight -60\n  }}\n}}\n"
    );
    let p = parsed(&text);
    assert_eq!(p.instances[0].track_scripts, ["chk_vip"]);
    let f = check(&p, BIN, &["VI_1"]);
    assert!(has(&f, Level::Fail, "unicast", "VI_1") && has(&f, Level::Ok, "ec2-vip-called", "VI_1"));
    assert_eq!(script_paths(&p, BIN), [("vrrp_script chk_vip".into(), "/usr/local/sbin/ec2-vip".into())]);
}

#[test]
fn nothing_calling_ec2_vip_fails() {
    let text = format!("{SECURITY}{}", instance("VI_1", "  notify \"/usr/local/bin/other.sh\"\n"));
    let f = run(&text, &["VI_1"]);
    assert!(has(&f, Level::Fail, "ec2-vip-called", "nothing in keepalived.conf calls ec2-vip"));
    assert!(script_paths(&parsed(&text), BIN).is_empty());
}

#[test]
fn script_paths_are_listed_once_per_owner() {
    let body = "  notify \"/usr/local/sbin/ec2-vip --syslog notify\"\n  \
     notify_master \"/usr/local/sbin/ec2-vip master VI_1\"\n";
    let p = parsed(&format!("{SECURITY}{}", instance("VI_1", body)));
    assert_eq!(script_paths(&p, BIN), [("vrrp_instance VI_1".into(), "/usr/local/sbin/ec2-vip".into())]);
}

#[test]
fn script_file_and_path_checks() {
    let p = "/usr/local/sbin/ec2-vip";
    let good = |f: Option<(u32, u32)>| {
        vec![
            ("/".into(), Some((0, 0o40755))),
            ("/usr/local/sbin".into(), Some((0, 0o40755))),
            (p.to_string(), f),
        ]
    };
    assert_eq!(check_script_path(p, &good(Some((0, 0o100755)))).level, Level::Ok);
    let fail = |entries: &[(String, Option<(u32, u32)>)], needle: &str| {
        let f = check_script_path(p, entries);
        assert!(f.level == Level::Fail && f.message.contains(needle) && f.fix.is_some(), "{f:?}");
    };
    fail(&good(Some((1000, 0o100755))), "owned by uid 1000, not root");
    fail(&good(Some((0, 0o100775))), "group- or world-writable");
    fail(&good(Some((0, 0o100644))), "not executable");
    fail(&good(None), "does not exist");
    let mut world = good(Some((0, 0o100755)));
    world[1].1 = Some((0, 0o40777));
    fail(&world, "directory /usr/local/sbin is group- or world-writable");
    let mut owned = good(Some((0, 0o100755)));
    owned[1].1 = Some((1000, 0o40755));
    fail(&owned, "directory /usr/local/sbin is owned by uid 1000");
    assert_eq!(
        check_script_file(p, None).fix.as_deref(),
        Some("install ec2-vip at /usr/local/sbin/ec2-vip or fix the path in keepalived.conf")
    );
}

#[test]
fn global_options_before_the_subcommand_are_fine() {
    for cmd in
        ["/usr/local/sbin/ec2-vip --syslog notify", "/usr/local/sbin/ec2-vip --config /etc/x.toml -v notify"]
    {
        let text = format!(
            "{SECURITY}vrrp_instance VI_1 {{\n unicast_peer {{\n 10.0.0.2\n }}\n notify \"{cmd}\"\n}}\n"
        );
        let f = run(&text, &["VI_1"]);
        let other = |f: &Finding| {
            f.level == Level::Warn && f.message.contains("reads /etc/x.toml, not /etc/ec2-vip.toml")
        };
        let logs = |f: &Finding| f.level == Level::Warn && f.check == "notify-log";
        assert!(f.iter().all(|f| f.level == Level::Ok || other(f) || logs(f)), "{cmd}: {f:?}");
    }
    let f = run(
        &format!("{SECURITY}vrrp_instance VI_1 {{\n notify \"/usr/sbin/ec2-vip --config notify\"\n}}\n"),
        &["VI_1"],
    );
    assert!(f.iter().any(|f| f.check == "notify-command" && f.level == Level::Fail), "{f:?}");
}
