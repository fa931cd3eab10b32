//! The event hook: an operator's command (`on_event`, `--on-event`) run through `/bin/sh -c`
//! with one JSON event on stdin, after the writes are done and the instance's lock is
//! released. It is bounded in time: when the bound passes its whole process group is
//! killed. Its failure is logged, never the run's failure.

use log::{debug, warn};
use std::io::{ErrorKind, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Default bound on a hook's run time.
pub const DEFAULT_BOUND: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hook {
    pub command: String,
    pub bound: Duration,
}

/// What the hook's run came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivered {
    Exited(i32),
    /// Still running when the bound passed: killed.
    Killed,
    /// Could not be started.
    NotStarted(String),
}

impl Hook {
    /// Run the hook with `input` on stdin and `EC2_VIP_EVENT` / `EC2_VIP_INSTANCE` set;
    /// wait at most the bound. Blocking: callers that must not wait use `spawn`.
    pub fn run(&self, kind: &str, instance: &str, input: String) -> Delivered {
        let started = Instant::now();
        let spawned = Command::new("/bin/sh")
            .arg("-c")
            .arg(&self.command)
            .env("EC2_VIP_EVENT", kind)
            .env("EC2_VIP_INSTANCE", instance)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            // Its own process group, so the bound also stops what it started (curl, aws).
            .process_group(0)
            .spawn();
        let mut child = match spawned {
            Ok(c) => c,
            Err(e) => {
                warn!("event hook {:?} could not be started: {e}", self.command);
                return Delivered::NotStarted(e.to_string());
            }
        };
        // A hook that never reads stdin must not block us: write from a thread.
        if let Some(mut stdin) = child.stdin.take() {
            std::thread::spawn(move || {
                let _ = stdin.write_all(input.as_bytes());
                let _ = stdin.write_all(b"\n");
            });
        }
        // Its stderr is read here, without blocking and without a thread: something the
        // hook left running (`cmd &`) may hold it open long after the hook exited, and a
        // reader waiting for EOF would outlive the run (one thread per event in `watch`).
        let mut stderr = Stderr::new(child.stderr.take());
        let pgid = nix::unistd::Pid::from_raw(child.id() as i32);
        let outcome = loop {
            stderr.read_available();
            match child.try_wait() {
                Ok(Some(status)) => break Delivered::Exited(status.code().unwrap_or(-1)),
                Ok(None) if started.elapsed() >= self.bound => {
                    let _ = nix::sys::signal::killpg(pgid, nix::sys::signal::Signal::SIGKILL);
                    let _ = child.wait();
                    break Delivered::Killed;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(5)),
                Err(e) => break Delivered::NotStarted(e.to_string()),
            }
        };
        stderr.read_available();
        let text = stderr.text;
        let ms = started.elapsed().as_millis();
        match &outcome {
            Delivered::Exited(0) => debug!("event hook done in {ms} ms"),
            Delivered::Exited(code) => {
                let first = text.lines().next().unwrap_or("").trim();
                warn!("event hook {:?} exited {code} after {ms} ms: {first}", self.command);
            }
            Delivered::Killed => {
                warn!("event hook {:?} still running after {:?}: killed", self.command, self.bound)
            }
            Delivered::NotStarted(e) => warn!("event hook {:?}: {e}", self.command),
        }
        outcome
    }

    /// Run the hook on a thread of its own: the caller (the watcher) never waits for it.
    pub fn spawn(&self, kind: &str, instance: &str, input: String) {
        let (hook, kind, instance) = (self.clone(), kind.to_string(), instance.to_string());
        std::thread::spawn(move || hook.run(&kind, &instance, input));
    }
}

/// The first bytes of the hook's stderr, read as they come (the pipe is non-blocking);
/// dropped (closed) when the run ends, whoever else still holds its other end.
struct Stderr {
    pipe: Option<std::process::ChildStderr>,
    text: String,
}

impl Stderr {
    const KEPT: usize = 2048;

    fn new(pipe: Option<std::process::ChildStderr>) -> Stderr {
        use nix::fcntl::{fcntl, FcntlArg, OFlag};
        // Blocking reads could wait forever: no pipe rather than that.
        let pipe = pipe.filter(|p| {
            let fd = p.as_raw_fd();
            let flags = fcntl(fd, FcntlArg::F_GETFL).map(OFlag::from_bits_truncate);
            flags.and_then(|f| fcntl(fd, FcntlArg::F_SETFL(f | OFlag::O_NONBLOCK))).is_ok()
        });
        Stderr { pipe, text: String::new() }
    }

    /// What is in the pipe now, up to `KEPT` bytes in all; more is read and dropped.
    fn read_available(&mut self) {
        let Some(p) = self.pipe.as_mut() else { return };
        let mut buf = [0u8; 1024];
        loop {
            match p.read(&mut buf) {
                Ok(0) => return self.pipe = None,
                Ok(n) => {
                    let room = Self::KEPT.saturating_sub(self.text.len()).min(n);
                    self.text.push_str(&String::from_utf8_lossy(&buf[..room]));
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => return, // WouldBlock: nothing more for now
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hook_reads_stdin_and_its_exit_code_is_reported() {
        let dir = std::env::temp_dir().join(format!("ec2-vip-hook-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join("got");
        let cmd = format!("cat > {} && test \"$EC2_VIP_EVENT\" = changed", out.display());
        let hook = Hook { command: cmd, bound: Duration::from_secs(5) };
        assert_eq!(hook.run("changed", "VI_1", "{\"a\":1}".into()), Delivered::Exited(0));
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "{\"a\":1}\n");
        assert_eq!(hook.run("failed", "VI_1", "{}".into()), Delivered::Exited(1));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_hanging_hook_is_killed_at_its_bound() {
        // The grandchild (sleep) is in the hook's process group: killed too.
        let hook = Hook { command: "sleep 30; true".into(), bound: Duration::from_millis(200) };
        let t = Instant::now();
        assert_eq!(hook.run("changed", "VI_1", String::new()), Delivered::Killed);
        assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    }

    #[test]
    fn a_grandchild_holding_stderr_open_does_not_hold_the_run() {
        // (The threads it would leave behind are counted in test_event_hook.py.)
        let hook = Hook { command: "sleep 30 & echo oops >&2; exit 3".into(), bound: Duration::from_secs(5) };
        let t = Instant::now();
        for _ in 0..5 {
            assert_eq!(hook.run("changed", "VI_1", String::new()), Delivered::Exited(3));
        }
        assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    }
}
