use super::*;
use clap::CommandFactory;

#[test]
fn cli_is_consistent() {
    Cli::command().debug_assert();
}

#[test]
fn man_page_and_completions_come_from_the_definitions() {
    let mut man = Vec::new();
    clap_mangen::Man::new(Cli::command()).render(&mut man).unwrap();
    let man = String::from_utf8(man).unwrap();
    assert!(man.contains("doctor") && man.contains("iam\\-policy") && man.contains("Exit codes"), "{man}");
    for shell in [clap_complete::Shell::Bash, clap_complete::Shell::Zsh, clap_complete::Shell::Fish] {
        let mut out = Vec::new();
        clap_complete::generate(shell, &mut Cli::command(), "ec2-vip", &mut out);
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("doctor") && text.contains("keepalived-conf"), "{shell}");
    }
}

#[test]
fn global_options_go_before_or_after_the_subcommand() {
    let a =
        Cli::try_parse_from(["ec2-vip", "--dry-run", "--timeout", "5", "master", "--route", "10.1.0.10/32"])
            .unwrap();
    let b =
        Cli::try_parse_from(["ec2-vip", "master", "--route", "10.1.0.10/32", "--dry-run", "--timeout", "5"])
            .unwrap();
    assert!(a.global.dry_run && b.global.dry_run);
    assert_eq!(a.global.timeout, Some(5.0));
    assert_eq!(b.global.timeout, Some(5.0));
}

#[test]
fn bad_values_are_usage_errors() {
    for args in [
        vec!["ec2-vip", "master", "--route", "10.1.0.10/24"],
        vec!["ec2-vip", "master", "--eip", "eni-123"],
        vec!["ec2-vip", "master", "--interface", "eth1", "--eni", "eni-1"],
        vec!["ec2-vip", "--timeout", "0", "master"],
        vec!["ec2-vip", "notify", "INSTANCE"],
    ] {
        let err = Cli::try_parse_from(&args).unwrap_err();
        assert_eq!(err.exit_code(), 2, "{args:?}");
    }
}

#[test]
fn a_later_option_wins_as_the_units_extra_args_need() {
    // The unit's line, then EC2VIP_ARGS (before `watch`) and EC2VIP_WATCH_ARGS (after it).
    let c = Cli::try_parse_from([
        "ec2-vip",
        "--syslog",
        "--timeout",
        "30",
        "--timeout",
        "10",
        "watch",
        "--fifo",
        "/run/f",
        "--interval",
        "10",
        "--interval",
        "1",
        "--keepalived-pid",
        "/run/k.pid",
    ])
    .unwrap();
    assert_eq!(c.global.timeout, Some(10.0));
    match c.command {
        Command::Watch(w) => {
            assert_eq!((w.interval, w.keepalived_pid.as_deref()), (1.0, Some("/run/k.pid".as_ref())))
        }
        other => panic!("{other:?}"),
    }
}
