//! The command line as the binary really parses it: the derive definitions plus, per
//! subcommand, which global options it ignores. clap shows every `global = true` option
//! under every subcommand; a subcommand that ignores some gets hidden copies of them
//! (still accepted, so `--dry-run iam-policy` stays harmless, but not listed by `--help`,
//! the man page or completions). `main` and `doctor` (reading keepalived's hook lines)
//! both parse through [`parse_from`], so doctor's verdict is the binary's.

use super::Cli;
use clap::{Arg, CommandFactory, FromArgMatches};
use std::ffi::OsString;

/// Global options (clap ids) a subcommand never reads.
const IGNORED: [(&str, &[&str]); 1] = [(
    "iam-policy",
    &["state_dir", "max_attempts", "dry_run", "consistency_window", "on_event", "event_timeout"],
)];

/// The full command definition: what `main` parses and the docs are generated from.
pub fn command() -> clap::Command {
    let mut cmd = Cli::command();
    for (sub, ids) in IGNORED {
        let hidden: Vec<Arg> = cmd
            .get_arguments()
            .filter(|a| ids.contains(&a.get_id().as_str()))
            .map(|a| a.clone().global(false).hide(true))
            .collect();
        cmd = cmd.mut_subcommand(sub, |sc| sc.args(hidden));
    }
    cmd
}

/// Parse a command line exactly as the binary does (exit code 2 on error: `e.exit()`).
pub fn parse_from<I, T>(args: I) -> Result<Cli, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let matches = command().try_get_matches_from(args)?;
    Cli::from_arg_matches(&matches)
}

/// clap's error as one line, e.g. `unexpected argument '--sylog' found (tip: a similar
/// argument exists: '--syslog')`; for --help/--version, what the command would print.
pub fn one_line(e: &clap::Error) -> String {
    use clap::error::ErrorKind;
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            return "prints the help and does nothing".into();
        }
        ErrorKind::DisplayVersion => return "prints the version and does nothing".into(),
        _ => {}
    }
    let text = e.render().to_string();
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let first = lines.next().unwrap_or_default();
    let first = first.strip_prefix("error: ").unwrap_or(first);
    match lines.find_map(|l| l.strip_prefix("tip: ")) {
        Some(tip) => format!("{first} (tip: {tip})"),
        None => first.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn help(sub: &str) -> String {
        let mut cmd = command();
        cmd.build();
        cmd.find_subcommand_mut(sub).unwrap().render_long_help().to_string()
    }

    #[test]
    fn iam_policy_help_lists_only_the_options_it_reads() {
        let text = help("iam-policy");
        for gone in
            ["--dry-run", "--on-event", "--event-timeout", "--state-dir", "--max-attempts", "--consistency"]
        {
            assert!(!text.contains(gone), "{gone} listed:\n{text}");
        }
        // --timeout bounds the IMDS question for the VPC: read, so listed.
        for kept in ["--config", "--region", "--syslog", "--vpc", "--timeout"] {
            assert!(text.contains(kept), "{kept} missing:\n{text}");
        }
        assert!(help("master").contains("--dry-run") && help("status").contains("--on-event"));
        // still accepted, before or after the subcommand
        for args in [["ec2-vip", "--dry-run", "iam-policy"], ["ec2-vip", "iam-policy", "--dry-run"]] {
            parse_from(args).unwrap();
        }
    }

    #[test]
    fn errors_fit_on_one_line() {
        let e = parse_from(["ec2-vip", "--sylog", "notify", "INSTANCE", "VI_1", "MASTER"]).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        let line = one_line(&e);
        assert!(line.contains("unexpected argument '--sylog'") && line.contains("--syslog"), "{line}");
        assert!(!line.contains('\n'), "{line}");
        assert_eq!(
            one_line(&parse_from(["ec2-vip", "--help"]).unwrap_err()),
            "prints the help and does nothing"
        );
    }
}
