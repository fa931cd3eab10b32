//! Logging to stderr (env_logger), and optionally to a file and to syslog: keepalived
//! throws a notify script's stdout/stderr away. Every line carries the run's context
//! (instance, transition, run id). Credentials are never logged: the SDK's own logs are
//! off unless -vv, and no code here formats a credential. `--log-file` can be reopened at
//! its path ([`reopen_log_file`], on SIGHUP in `watch`: logrotate's postrotate).
//!
//! Under systemd, when stderr is the journal (`JOURNAL_STREAM` names stderr's device and
//! inode: a notify script keepalived started inherits the variable but not the stream),
//! every stderr line starts with its sd-daemon priority (`<3>` error, `<4>` warning, `<6>`
//! info, `<7>` debug), so `journalctl -p err` finds them, and `--syslog` is not used: the
//! journal would get every line twice.
//!
//! The SDK's errors reach people as one line built from their Display chain (see
//! `aws::ec2::ec2_error`); their Debug dump is logged only at -vv ([`sdk_debug`]).

use crate::error::Error;
use log::{LevelFilter, Log, Metadata, Record};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, RwLock};

static CONTEXT: RwLock<String> = RwLock::new(String::new());
static RUN: RwLock<String> = RwLock::new(String::new());
/// `--log-file`: its path and the file open now (in a static so that it can be reopened).
static LOG_FILE: Mutex<Option<(PathBuf, File)>> = Mutex::new(None);

/// The prefix every line carries, e.g. `VI_1 MASTER run=3f2a9c01`.
pub fn context() -> String {
    format!("{} run={}", current_context(), current_run())
}

/// Change what the lines say they are about (the watcher handles many transitions).
pub fn set_context(ctx: String) {
    if let Ok(mut c) = CONTEXT.write() {
        *c = ctx;
    }
}

/// A short id for this run, to tie its lines together in a shared log.
pub fn run_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{:08x}", nanos ^ std::process::id().rotate_left(16))
}

/// What a log line looks like: text, or one JSON object per line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

/// One JSON object: time, level, pid, run id, the context split into instance and
/// transition where it names them, and the message.
pub fn json_line(level: log::Level, ctx: &str, run: &str, message: &str) -> String {
    let words: Vec<&str> = ctx.split_whitespace().collect();
    let is_state = |w: &str| matches!(w, "MASTER" | "BACKUP" | "FAULT" | "STOP" | "reconcile");
    let (instance, transition) = match words.as_slice() {
        [i, t, ..] if is_state(t) => (Some(*i), Some(*t)),
        [t, ..] if is_state(t) => (None, Some(*t)),
        _ => (None, None),
    };
    let mut o = serde_json::json!({
        "time": humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string(),
        "level": level.as_str(),
        "pid": std::process::id(),
        "run": run,
        "context": ctx,
        "message": message,
    });
    if let Some(i) = instance {
        o["instance"] = i.into();
    }
    if let Some(t) = transition {
        o["transition"] = t.into();
    }
    o.to_string()
}

/// This run's id (set by `init`).
pub fn current_run() -> String {
    RUN.read().map(|c| c.clone()).unwrap_or_default()
}

fn current_context() -> String {
    CONTEXT.read().map(|c| c.clone()).unwrap_or_default()
}

/// The log target of the SDK's error Debug dumps: like the SDK's own logs, shown at -vv only.
const SDK_DUMP: &str = "aws_sdk_error_dump";

/// Log an SDK error's Debug form (every field, the whole source chain) for -vv.
pub fn sdk_debug(operation: &str, err: &dyn std::fmt::Debug) {
    log::debug!(target: SDK_DUMP, "{operation}: {err:?}");
}

/// syslog and sd-daemon severity of a level.
fn severity(level: log::Level) -> u8 {
    match level {
        log::Level::Error => 3,
        log::Level::Warn => 4,
        log::Level::Info => 6,
        log::Level::Debug | log::Level::Trace => 7,
    }
}

/// Whether stderr is connected to the journal: `JOURNAL_STREAM` is `DEVICE:INODE` of the
/// stream systemd gave the service, and stderr must still be that stream.
fn stderr_is_journal() -> bool {
    let Ok(v) = std::env::var("JOURNAL_STREAM") else { return false };
    let Ok(st) = nix::sys::stat::fstat(2) else { return false };
    journal_stream_matches(&v, st.st_dev, st.st_ino)
}

fn journal_stream_matches(var: &str, dev: u64, ino: u64) -> bool {
    match var.split_once(':') {
        Some((d, i)) => d.parse() == Ok(dev) && i.parse() == Ok(ino),
        None => false,
    }
}

/// Write `text` to stderr's buffer: each line with its sd-daemon priority for the journal.
fn write_stderr(buf: &mut dyn Write, journal: bool, level: log::Level, text: &str) -> std::io::Result<()> {
    if !journal {
        return writeln!(buf, "{text}");
    }
    for line in text.lines() {
        writeln!(buf, "<{}>{line}", severity(level))?;
    }
    Ok(())
}

/// A warning before the logger is installed.
fn early_warn(journal: bool, text: &str) {
    let _ = write_stderr(&mut std::io::stderr(), journal, log::Level::Warn, &format!("ec2-vip WARN  {text}"));
}

struct Tee {
    format: Format,
    stderr: env_logger::Logger,
    syslog: Option<UnixDatagram>,
}

impl Log for Tee {
    fn enabled(&self, m: &Metadata) -> bool {
        self.stderr.enabled(m)
    }

    fn log(&self, r: &Record) {
        if !self.stderr.matches(r) {
            return;
        }
        self.stderr.log(r);
        let line = format!("{}: {}", context(), r.args());
        if let Some((_, f)) = LOG_FILE.lock().ok().as_mut().and_then(|g| g.as_mut()) {
            let text = match self.format {
                Format::Json => {
                    json_line(r.level(), &current_context(), &current_run(), &r.args().to_string())
                }
                Format::Text => {
                    let ts = humantime::format_rfc3339_millis(std::time::SystemTime::now());
                    format!("{ts} {:<5} [{}] {line}", r.level(), std::process::id())
                }
            };
            let _ = writeln!(f, "{text}");
        }
        if let Some(s) = &self.syslog {
            // facility daemon (3); severity from the level.
            let msg = format!("<{}>ec2-vip[{}]: {line}", 3 * 8 + severity(r.level()), std::process::id());
            let _ = s.send(msg.as_bytes());
        }
    }

    fn flush(&self) {
        self.stderr.flush();
        if let Some((_, f)) = LOG_FILE.lock().ok().as_mut().and_then(|g| g.as_mut()) {
            let _ = f.flush();
        }
    }
}

/// Open (create) `--log-file` for appending, without following a symlink: root must not
/// append to, or create, whatever a link another user planted points at. A symlink, or a
/// file owned by anyone but root (or the running user), is refused (`Error::BadInput`);
/// any other failure is `Error::Other`.
pub fn open_log_file(path: &Path) -> Result<File, Error> {
    let shown = path.display();
    let file =
        OpenOptions::new().create(true).append(true).custom_flags(nix::libc::O_NOFOLLOW).open(path).map_err(
            |e| match e.raw_os_error() {
                Some(nix::libc::ELOOP) => Error::BadInput(format!(
                    "log file {shown}: a symbolic link; refused (it is opened without following links: \
                 give the real path)"
                )),
                _ => Error::Other(format!("--log-file {shown}: {e}")),
            },
        )?;
    let meta = file.metadata().map_err(|e| Error::Other(format!("--log-file {shown}: {e}")))?;
    match crate::trust::foreign_owner(path, &meta, "log file") {
        Some(why) => Err(Error::BadInput(why)),
        None => Ok(file),
    }
}

/// Open `--log-file` again at its path (after logrotate moved it away): later lines go to
/// the file now at the path. None without --log-file; on failure the old file is kept.
pub fn reopen_log_file() -> Option<Result<(), String>> {
    let path = LOG_FILE.lock().ok()?.as_ref()?.0.clone();
    let opened = open_log_file(&path);
    let mut guard = LOG_FILE.lock().ok()?;
    let (_, file) = guard.as_mut()?;
    Some(match opened {
        Ok(f) => {
            let _ = file.flush();
            *file = f;
            Ok(())
        }
        Err(e) => Err(format!("{e}; still writing to the file opened before")),
    })
}

/// Install the logger. `verbosity`: -1 quiet, 0 normal, 1 debug, 2 debug with the SDK's logs.
/// RUST_LOG, when set, replaces the level filter.
pub fn init(
    ctx: String,
    verbosity: i8,
    log_file: Option<&Path>,
    syslog: bool,
    format: Format,
) -> Result<(), String> {
    set_context(ctx);
    if let Ok(mut r) = RUN.write() {
        *r = run_id();
    }
    let own = match verbosity {
        i8::MIN..=-1 => LevelFilter::Warn,
        0 => LevelFilter::Info,
        _ => LevelFilter::Debug,
    };
    let sdk = if verbosity >= 2 { LevelFilter::Debug } else { LevelFilter::Warn };
    let mut b = env_logger::Builder::new();
    b.filter_level(sdk).filter_module("ec2_vip", own);
    if let Ok(spec) = std::env::var("RUST_LOG") {
        b.parse_filters(&spec);
    }
    let journal = stderr_is_journal();
    match format {
        Format::Text => b.format(move |buf, r| {
            let text = format!("ec2-vip {:<5} {}: {}", r.level(), context(), r.args());
            write_stderr(buf, journal, r.level(), &text)
        }),
        Format::Json => b.format(move |buf, r| {
            let text = json_line(r.level(), &current_context(), &current_run(), &r.args().to_string());
            write_stderr(buf, journal, r.level(), &text)
        }),
    };
    // Nothing auxiliary may stop a failover: a log file that cannot be opened or a syslog
    // that is not there is warned about on stderr, and the run goes on.
    // A log file planted by someone else is refused, though (see `open_log_file`).
    let file = match log_file.map(|p| open_log_file(p).map(|f| (p.to_path_buf(), f))).transpose() {
        Ok(f) => f,
        Err(e @ Error::BadInput(_)) => return Err(e.to_string()),
        Err(e) => {
            early_warn(journal, &format!("{e}; logging to stderr only"));
            None
        }
    };
    if let Ok(mut g) = LOG_FILE.lock() {
        *g = file;
    }
    // Under the journal, stderr already reaches it (and syslog through it): a syslog copy
    // would be a second line for every line.
    let skipped_syslog = syslog && journal;
    let syslog = if syslog && !journal {
        // Non-blocking: a stalled syslog daemon drops our lines instead of stalling us.
        let s = UnixDatagram::unbound().and_then(|s| s.set_nonblocking(true).map(|_| s));
        match s.and_then(|s| s.connect("/dev/log").map(|_| s)) {
            Ok(s) => Some(s),
            Err(e) => {
                early_warn(journal, &format!("--syslog: /dev/log: {e}; logging to stderr only"));
                None
            }
        }
    } else {
        None
    };
    let stderr = b.build();
    let max = stderr.filter();
    log::set_boxed_logger(Box::new(Tee { format, stderr, syslog })).map_err(|e| e.to_string())?;
    log::set_max_level(max);
    if skipped_syslog {
        log::debug!("--syslog not used: stderr is the journal (JOURNAL_STREAM), which has every line");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_lines_name_instance_and_transition() {
        let v: serde_json::Value =
            serde_json::from_str(&json_line(log::Level::Info, "VI_1 MASTER", "ab12", "2 changed")).unwrap();
        assert_eq!((v["instance"].as_str(), v["transition"].as_str()), (Some("VI_1"), Some("MASTER")));
        assert_eq!(
            (v["level"].as_str(), v["run"].as_str(), v["message"].as_str()),
            (Some("INFO"), Some("ab12"), Some("2 changed"))
        );
        let w: serde_json::Value =
            serde_json::from_str(&json_line(log::Level::Warn, "check --repair", "x", "a \"q\"\n")).unwrap();
        assert!(w.get("instance").is_none() && w["message"] == "a \"q\"\n");
    }

    #[test]
    fn journal_stream_must_name_stderr() {
        assert!(journal_stream_matches("64769:1234", 64769, 1234));
        assert!(!journal_stream_matches("64769:1234", 64769, 1235), "another stream: /dev/null, a pipe");
        assert!(!journal_stream_matches("", 0, 0));
        assert!(!journal_stream_matches("x:y", 0, 0));
    }

    #[test]
    fn journal_lines_carry_their_priority() {
        let mut out = Vec::new();
        write_stderr(&mut out, true, log::Level::Error, "a\nb").unwrap();
        write_stderr(&mut out, true, log::Level::Info, "c").unwrap();
        write_stderr(&mut out, false, log::Level::Warn, "d").unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "<3>a\n<3>b\n<6>c\nd\n");
    }
}
