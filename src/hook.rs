//! The event hook: an operator's command (`on_event`, `--on-event`) run through `/bin/sh -c`
//! with one JSON event on stdin, after the writes are done and the instance's lock is
//! released. It is bounded in time: when the bound passes its whole process group is
//! killed. Its failure is logged, never the run's failure.

use log::{debug, warn};
use std::io::{Read, Write};
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
        let mut stderr = child.stderr.take();
        let (tx, said) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut text = String::new();
            if let Some(e) = stderr.as_mut() {
                let _ = e.take(2048).read_to_string(&mut text);
            }
            let _ = tx.send(text);
        });
        let pgid = nix::unistd::Pid::from_raw(child.id() as i32);
        let outcome = loop {
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
        let ms = started.elapsed().as_millis();
        match &outcome {
            Delivered::Exited(0) => debug!("event hook done in {ms} ms"),
            Delivered::Exited(code) => {
                // Something it left running may hold its stderr open: wait briefly only.
                let text = said.recv_timeout(Duration::from_millis(100)).unwrap_or_default();
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
}
