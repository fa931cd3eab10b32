//! Ordering for transitions of one instance: a per-instance lock so two invocations never
//! interleave their API calls, and a stale guard so a late notify never undoes a newer
//! transition.
//!
//! keepalived forks notify scripts in transition order but they run concurrently and
//! finish in any order. Each invocation therefore records its transition *before* it waits
//! for the lock, stamped with when its process was forked (start time in clock ticks since
//! boot, then the pid, which the kernel hands out in increasing order). After taking the
//! lock, an invocation whose stamp is older than the newest recorded one skips its work.
//!
//! Files, in the state directory (default /run/ec2-vip, a tmpfs gone at reboot; 0700):
//! `<key>.lock` is only flock'ed; `<key>.state` holds the newest transition as
//! `boot_id start_ticks pid seq STATE` (0600). A record from another boot is ignored.
//! `<key>.contest` is the split-brain memory (see `contest`).

mod contest;
mod stamp;

#[cfg(test)]
pub use contest::VIRTUAL_BOOT;
pub use contest::{boot_seconds, Contest, FIRST_HOLD, MAX_HOLD};
use stamp::pid_max;
pub use stamp::Stamp;

use crate::deadline::Deadline;
use crate::error::Error;
use nix::fcntl::{Flock, FlockArg};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// The newest transition recorded for an instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub stamp: Stamp,
    pub state: String,
}

fn parse_record(text: &str, boot: &str) -> Option<Record> {
    let mut f = text.split_whitespace();
    let (b, ticks, pid, seq, state) = (f.next()?, f.next()?, f.next()?, f.next()?, f.next()?);
    if b != boot {
        return None; // another boot: its ticks and pids mean nothing now
    }
    let stamp = Stamp { start_ticks: ticks.parse().ok()?, pid: pid.parse().ok()?, seq: seq.parse().ok()? };
    Some(Record { stamp, state: state.into() })
}

/// The lock and record of one instance (`key`: the keepalived instance name, or a name
/// derived from the resources for a command-line run).
pub struct Guard {
    dir: PathBuf,
    lock_path: PathBuf,
    state_path: PathBuf,
    boot: String,
    pid_max: u32,
}

/// Held while a transition runs; dropping it releases the lock.
pub struct Held(#[allow(dead_code)] Flock<File>);

impl Guard {
    /// The guard of instance `key` in `dir`; nothing is created until it is needed.
    pub fn new(dir: &Path, key: &str) -> Result<Guard, Error> {
        if key.is_empty() || key.contains('/') || key.starts_with('.') {
            return Err(Error::BadInput(format!("{key:?} cannot name a lock file")));
        }
        Ok(Guard {
            dir: dir.to_path_buf(),
            lock_path: dir.join(format!("{key}.lock")),
            state_path: dir.join(format!("{key}.state")),
            boot: boot_id(),
            pid_max: pid_max(),
        })
    }

    /// Create the directory (0700) if needed, and refuse one that is not a directory of
    /// ours: records decide whether this node writes, so nobody else may forge them.
    pub(crate) fn ensure_dir(&self) -> Result<(), Error> {
        let bad = |why: String| {
            Error::StateDir(format!("state directory {}: {why} (see --state-dir)", self.dir.display()))
        };
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)
            .map_err(|e| bad(e.to_string()))?;
        let meta = std::fs::symlink_metadata(&self.dir).map_err(|e| bad(e.to_string()))?;
        if !meta.is_dir() {
            return Err(bad("not a directory (a symlink is refused)".into()));
        }
        let me = nix::unistd::geteuid().as_raw();
        if meta.uid() != me {
            return Err(bad(format!("owned by uid {}, not by us (uid {me}); refused", meta.uid())));
        }
        if meta.mode() & 0o022 != 0 {
            return Err(bad(format!(
                "writable by group or others (mode {:o}); refused",
                meta.mode() & 0o777
            )));
        }
        Ok(())
    }

    /// Open (creating 0600) without following a symlink.
    fn open_file(&self, path: &Path) -> Result<File, Error> {
        self.ensure_dir()?;
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(nix::libc::O_NOFOLLOW)
            .open(path)
            .map_err(|e| Error::StateDir(format!("{}: {e}", path.display())))
    }

    /// The state file, exclusively locked: the file now at the path (a writer may have
    /// renamed a new one over the one we opened while we waited for its lock).
    fn locked_state(&self) -> Result<Flock<File>, Error> {
        loop {
            let f = self.open_file(&self.state_path)?;
            let f = Flock::lock(f, FlockArg::LockExclusive)
                .map_err(|(_, e)| Error::StateDir(format!("flock {}: {e}", self.state_path.display())))?;
            let held = f.metadata().map(|m| m.ino()).ok();
            let now = std::fs::symlink_metadata(&self.state_path).map(|m| m.ino()).ok();
            if held.is_some() && held == now {
                return Ok(f);
            }
        }
    }

    fn read(f: &mut File) -> String {
        let mut s = String::new();
        let _ = f.seek(SeekFrom::Start(0)).and_then(|_| f.read_to_string(&mut s));
        s
    }

    /// The newest transition recorded in this boot, if any (creates nothing).
    pub fn latest(&self) -> Result<Option<Record>, Error> {
        let opened = OpenOptions::new().read(true).custom_flags(nix::libc::O_NOFOLLOW).open(&self.state_path);
        let f = match opened {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::StateDir(format!("{}: {e}", self.state_path.display()))),
        };
        self.ensure_dir()?;
        let mut f = Flock::lock(f, FlockArg::LockShared)
            .map_err(|(_, e)| Error::StateDir(format!("flock {}: {e}", self.state_path.display())))?;
        Ok(parse_record(&Self::read(&mut f), &self.boot))
    }

    /// Record `state` for a process stamped `mine`, unless a newer one is recorded already.
    /// Written to a temporary file and renamed over the record, so a full disk leaves the
    /// old record whole.
    pub fn record(&self, mine: Stamp, state: &str) -> Result<(), Error> {
        let mut f = self.locked_state()?;
        if let Some(r) = parse_record(&Self::read(&mut f), &self.boot) {
            if !mine.newer_than(&r.stamp, self.pid_max) {
                return Ok(());
            }
        }
        let line = format!("{} {} {} {} {state}\n", self.boot, mine.start_ticks, mine.pid, mine.seq);
        self.replace_file(&self.state_path, &line)
    }

    /// Write `text` to a temporary file beside `path` and rename it over `path`: readers
    /// see the old content or the new, whole; a full disk leaves the old one.
    pub(crate) fn replace_file(&self, path: &Path, text: &str) -> Result<(), Error> {
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let tmp = self.dir.join(format!(".{name}.{}", std::process::id()));
        let fail = |e: std::io::Error| Error::StateDir(format!("{}: {e}", tmp.display()));
        let _ = std::fs::remove_file(&tmp);
        let mut t = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(nix::libc::O_NOFOLLOW)
            .open(&tmp)
            .map_err(fail)?;
        let written =
            t.write_all(text.as_bytes()).and_then(|_| t.sync_all()).and_then(|_| std::fs::rename(&tmp, path));
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(fail(e));
        }
        Ok(())
    }

    /// A newer transition than `mine`, if one was recorded.
    pub fn superseded(&self, mine: Stamp) -> Result<Option<Record>, Error> {
        Ok(self.latest()?.filter(|r| r.stamp.newer_than(&mine, self.pid_max)))
    }

    /// Wait for the instance's lock, within the deadline.
    pub async fn lock(&self, deadline: &Deadline) -> Result<Held, Error> {
        let mut f = self.open_file(&self.lock_path)?;
        loop {
            match Flock::lock(f, FlockArg::LockExclusiveNonblock) {
                Ok(l) => return Ok(Held(l)),
                Err((back, nix::errno::Errno::EWOULDBLOCK)) => f = back,
                Err((_, e)) => {
                    return Err(Error::StateDir(format!("flock {}: {e}", self.lock_path.display())))
                }
            }
            if !deadline.sleep(Duration::from_millis(10)).await {
                return Err(Error::Deadline {
                    timeout_secs: deadline.total().as_secs_f64(),
                    step: format!("waiting for the lock {}", self.lock_path.display()),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(t: u64, p: u32) -> Stamp {
        Stamp { start_ticks: t, pid: p, seq: 0 }
    }

    #[test]
    fn records_keep_the_newest_and_ignore_other_boots() {
        let dir = std::env::temp_dir().join(format!("ec2-vip-guard-{}", std::process::id()));
        let g = Guard::new(&dir, "VI_1").unwrap();
        assert_eq!(g.latest().unwrap(), None);
        assert!(!dir.exists(), "reading creates nothing");
        g.record(st(10, 100), "MASTER").unwrap();
        g.record(st(9, 200), "BACKUP").unwrap(); // older fork, recorded late: ignored
        assert_eq!(g.latest().unwrap().unwrap(), Record { stamp: st(10, 100), state: "MASTER".into() });
        assert!(g.superseded(st(9, 200)).unwrap().is_some());
        assert!(g.superseded(st(10, 100)).unwrap().is_none());
        std::fs::write(dir.join("VI_1.state"), "other-boot 99 1 0 BACKUP\n").unwrap();
        assert_eq!(g.latest().unwrap(), None);
        assert!(Guard::new(&dir, "../x").is_err());
        let mode = std::fs::metadata(dir.join("VI_1.state")).unwrap();
        assert_eq!(std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o777, 0o600);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn foreign_or_open_state_dirs_and_symlinks_are_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("ec2-vip-guard-perm-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let g = Guard::new(&dir, "VI_1").unwrap();
        g.record(Stamp { start_ticks: 1, pid: 1, seq: 0 }, "MASTER").unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        let err = g.record(Stamp { start_ticks: 2, pid: 1, seq: 0 }, "BACKUP").unwrap_err();
        assert!(err.to_string().contains("writable by group or others"), "{err}");
        assert!(g.latest().is_err(), "a record anybody could have written is not believed");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        std::fs::remove_file(dir.join("VI_1.state")).unwrap();
        std::os::unix::fs::symlink("/etc/hostname", dir.join("VI_1.state")).unwrap();
        assert!(g.latest().is_err() && g.record(Stamp { start_ticks: 3, pid: 1, seq: 0 }, "MASTER").is_err());
        assert!(std::fs::read_to_string("/etc/hostname").is_ok(), "the link's target is untouched");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
