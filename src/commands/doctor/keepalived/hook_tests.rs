//! doctor's reading of the hook lines: through the binary's own parser, the config each
//! reads, where it logs, FIFO readers, and the track_script trap.

use super::conf::*;
use super::hooks::Context;
use super::tests::*;
use crate::config::Resources;
use std::path::Path;

fn one_instance(body: &str) -> String {
    format!("{SECURITY}{}", instance("VI_1", body))
}

#[test]
fn a_hook_the_binary_rejects_fails_with_clap_reason() {
    let f =
        run(&one_instance("  notify \"/usr/local/sbin/ec2-vip --sylog --timeout 5m notify\"\n"), &["VI_1"]);
    let fails: Vec<&Finding> = f.iter().filter(|f| f.level == Level::Fail).collect();
    assert_eq!(fails.len(), 1, "{f:#?}");
    assert!(fails[0].message.contains("would exit 2") && fails[0].message.contains("'--sylog'"), "{f:#?}");
    assert!(fails[0].message.contains("--syslog"), "clap's tip: {f:#?}");
    assert!(!has(&f, Level::Ok, "ec2-vip-called", "VI_1"), "{f:#?}");
    let f =
        run(&one_instance("  notify \"/usr/local/sbin/ec2-vip --syslog --timeout 5m notify\"\n"), &["VI_1"]);
    assert!(has(&f, Level::Fail, "notify-command", "invalid value '5m' for '--timeout <SECS>'"), "{f:#?}");
    let f = run(&one_instance("  notify \"/usr/local/sbin/ec2-vip --syslog notify --dry-run\"\n"), &["VI_1"]);
    assert!(has(&f, Level::Fail, "notify-command", "has --dry-run"), "{f:#?}");
}

#[test]
fn a_hook_without_a_log_destination_warns() {
    let f = run(&one_instance("  notify \"/usr/local/sbin/ec2-vip notify\"\n"), &["VI_1"]);
    assert_eq!(not_ok(&f).len(), 1, "{f:#?}");
    assert!(has(&f, Level::Warn, "notify-log", "logs nowhere"), "{f:#?}");
    let f =
        run(&one_instance("  notify \"/usr/local/sbin/ec2-vip --log-file /var/log/x notify\"\n"), &["VI_1"]);
    assert!(not_ok(&f).is_empty(), "{f:#?}");
}

#[test]
fn logging_set_in_the_config_the_hook_reads_counts() {
    let p = parsed(&one_instance("  notify \"/usr/local/sbin/ec2-vip --config /etc/logs.toml notify\"\n"));
    let names = |_: &Path| Ok(vec!["VI_1".to_string()]);
    let f = |logs: &dyn Fn(&Path) -> bool| {
        let cx = Context {
            own_config: Path::new("/etc/logs.toml"),
            sections: &names,
            config_logs: logs,
            owner: &|_, _| None,
            fifo_readers: &[],
        };
        super::rules::check(&p, BIN, &["VI_1"], &cx)
    };
    let with = f(&|c: &Path| c == Path::new("/etc/logs.toml"));
    assert!(not_ok(&with).is_empty(), "{with:#?}");
    let without = f(&|c: &Path| c == Path::new(DEFAULT_CONFIG));
    assert!(
        has(&without, Level::Warn, "notify-log", "logs nowhere"),
        "another config's logging: {without:#?}"
    );
}

#[test]
fn the_config_the_hook_reads_is_checked() {
    let p = parsed(&one_instance(
        "  notify \"/usr/local/sbin/ec2-vip --syslog --config /etc/nonexistent.toml notify\"\n",
    ));
    let names = |p: &Path| match p == Path::new(DEFAULT_CONFIG) {
        true => Ok(vec!["VI_1".to_string()]),
        false => Err("No such file or directory (os error 2)".to_string()),
    };
    let cx = Context {
        own_config: Path::new(DEFAULT_CONFIG),
        sections: &names,
        config_logs: &|_| false,
        owner: &|_, _| None,
        fifo_readers: &[],
    };
    let f = super::rules::check(&p, BIN, &["VI_1"], &cx);
    assert!(has(&f, Level::Fail, "notify-config", "reads /etc/nonexistent.toml: No such file"), "{f:#?}");
    assert!(has(&f, Level::Warn, "notify-config", "not /etc/ec2-vip.toml that doctor checked"), "{f:#?}");
}

#[test]
fn notify_beside_a_fifo_warns_of_double_calls() {
    let text = format!(
        "global_defs {{\n  enable_script_security\n  script_user root\n  notify_fifo /run/k.fifo\n}}\n{}",
        instance("VI_1", "  notify \"/usr/local/sbin/ec2-vip --syslog notify\"\n")
    );
    let f = check_with(&parsed(&text), &["VI_1"], &[("pid 9".into(), "/run/k.fifo".into())]);
    assert_eq!(not_ok(&f).len(), 1, "{f:#?}");
    assert!(
        has(&f, Level::Warn, "fifo", "VI_1 call ec2-vip from notify and notify_fifo /run/k.fifo"),
        "{f:#?}"
    );
}

fn tracked(script: &str, weight: &str, track: &str) -> String {
    format!(
        "vrrp_script chk {{\n  script \"{script}\"\n{weight}}}\n{}",
        one_instance(&format!(
            "  notify \"/usr/local/sbin/ec2-vip --syslog notify\"\n  track_script {{\n    chk{track}\n  }}\n"
        ))
    )
}

#[test]
fn the_track_script_trap_fails() {
    let trap = "/usr/local/sbin/ec2-vip check --route 10.1.0.10/32";
    let p = parsed(&tracked(trap, "", ""));
    assert_eq!(p.instances[0].track_scripts, ["chk"]);
    let f = check(&p, BIN, &["VI_1"]);
    let fail = f.iter().find(|f| f.level == Level::Fail && f.check == "track-script").expect("trap FAILs");
    assert!(
        fail.message.contains("exits 1") && fail.fix.as_deref().unwrap().contains("check --instance VI_1"),
        "{f:#?}"
    );
    // The fixes: check --instance VI_1, or a weight (on the script or on track_script).
    for text in [
        tracked("/usr/local/sbin/ec2-vip check --instance VI_1", "", ""),
        tracked(trap, "  weight -20\n", ""),
        tracked(trap, "", " weight -20"),
    ] {
        let f = run(&text, &["VI_1"]);
        assert!(not_ok(&f).is_empty(), "{text}: {f:#?}");
    }
    let f = run(&tracked("/usr/local/sbin/ec2-vip chek --instance VI_1", "", ""), &["VI_1"]);
    assert!(has(&f, Level::Fail, "track-script", "would exit 2"), "{f:#?}");
}

#[test]
fn check_by_flags_is_no_trap_when_its_config_holds_them_in_that_section() {
    let p = parsed(&tracked("/usr/local/sbin/ec2-vip check --route 10.1.0.10/32", "", ""));
    let names = |_: &Path| Ok(vec!["VI_1".to_string()]);
    let verdict = |owner: &dyn Fn(&Path, &Resources) -> Option<String>| {
        let cx = Context {
            own_config: Path::new(DEFAULT_CONFIG),
            sections: &names,
            config_logs: &|_| true,
            owner,
            fifo_readers: &[],
        };
        super::rules::check(&p, BIN, &["VI_1"], &cx)
    };
    let held = |c: &Path, r: &Resources| {
        (c == Path::new(DEFAULT_CONFIG) && r.routes[0].to_string() == "10.1.0.10/32").then(|| "VI_1".into())
    };
    let f = verdict(&held);
    assert!(not_ok(&f).is_empty(), "check finds [instance.VI_1]'s record: {f:#?}");
    let f = verdict(&|_, _| Some("VI_2".to_string()));
    assert!(has(&f, Level::Fail, "track-script", "exits 1"), "another section's record: {f:#?}");
}

#[test]
fn every_shipped_keepalived_example_passes_the_hook_checks() {
    for (name, text) in [
        ("keepalived-check.conf", include_str!("../../../../examples/keepalived/keepalived-check.conf")),
        (
            "keepalived-elastic-ip.conf",
            include_str!("../../../../examples/keepalived/keepalived-elastic-ip.conf"),
        ),
        (
            "keepalived-notify-fifo.conf",
            include_str!("../../../../examples/keepalived/keepalived-notify-fifo.conf"),
        ),
        (
            "keepalived-route-table.conf",
            include_str!("../../../../examples/keepalived/keepalived-route-table.conf"),
        ),
        (
            "keepalived-secondary-ip.conf",
            include_str!("../../../../examples/keepalived/keepalived-secondary-ip.conf"),
        ),
        (
            "haproxy-pair/keepalived.conf",
            include_str!("../../../../examples/keepalived/haproxy-pair/keepalived.conf"),
        ),
    ] {
        let p = parsed(text);
        let names: Vec<&str> =
            p.instances.iter().map(|i| &*i.name).chain(p.groups.iter().map(|g| &*g.name)).collect();
        let f = check(&p, BIN, &names);
        let hooks = ["notify-command", "notify-config", "notify-log", "track-script"];
        let bad: Vec<&Finding> =
            f.iter().filter(|f| f.level != Level::Ok && hooks.contains(&&*f.check)).collect();
        assert!(bad.is_empty(), "{name}: {bad:#?}");
    }
}
