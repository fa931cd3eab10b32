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

use crate::deadline::Deadline;
use crate::error::Error;
use nix::fcntl::{Flock, FlockArg};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// When a transition happened: clock ticks since boot, then the pid, then a sequence
/// number within one process (the FIFO watcher's transitions all share its pid).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub start_ticks: u64,
    pub pid: u32,
    pub seq: u64,
}

impl Stamp {
    /// A notify invocation's stamp: when keepalived forked this process (/proc/self/stat).
    pub fn current() -> Result<Stamp, String> {
        let stat = std::fs::read_to_string("/proc/self/stat").map_err(|e| format!("/proc/self/stat: {e}"))?;
        Ok(Stamp { start_ticks: parse_start_ticks(&stat)?, pid: std::process::id(), seq: 0 })
    }

    /// A stamp for a transition this process learns of now (the FIFO watcher).
    pub fn now(seq: u64) -> Result<Stamp, String> {
        use nix::time::{clock_gettime, ClockId};
        let t = clock_gettime(ClockId::CLOCK_BOOTTIME).map_err(|e| format!("clock_gettime: {e}"))?;
        let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK).ok().flatten().unwrap_or(100) as u64;
        let ticks = t.tv_sec() as u64 * hz + t.tv_nsec() as u64 * hz / 1_000_000_000;
        Ok(Stamp { start_ticks: ticks, pid: std::process::id(), seq })
    }

    /// Whether `self` happened after `other`. Within one clock tick pids decide; they grow
    /// until they wrap at pid_max, so a difference above half of it means a wrap.
    pub fn newer_than(&self, other: &Stamp, pid_max: u32) -> bool {
        if self.start_ticks != other.start_ticks {
            return self.start_ticks > other.start_ticks;
        }
        if self.pid == other.pid {
            return self.seq > other.seq;
        }
        // How far `self` is ahead of `other` on the circle of pids 0..pid_max (pid_max
        // need not be a power of two: 49152 on large hosts).
        let max = i64::from(pid_max.max(2));
        let ahead = (i64::from(self.pid) - i64::from(other.pid)).rem_euclid(max);
        ahead != 0 && ahead < max / 2
    }
}

/// Field 22 of /proc/<pid>/stat (starttime), counted after the command name's ')'.
fn parse_start_ticks(stat: &str) -> Result<u64, String> {
    let rest = stat.rsplit_once(')').map(|(_, r)| r).ok_or("/proc/self/stat: no ')'")?;
    // After ')' come field 3 (state) onwards; starttime is field 22.
    rest.split_whitespace()
        .nth(22 - 3)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| "/proc/self/stat: no start time".to_string())
}

fn pid_max() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/pid_max")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(4_194_304)
}

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

    fn ensure_dir(&self) -> Result<(), Error> {
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(&self.dir).map_err(|e| {
            Error::BadInput(format!("state directory {}: {e} (see --state-dir)", self.dir.display()))
        })
    }

    fn open_file(&self, path: &Path) -> Result<File, Error> {
        self.ensure_dir()?;
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)
            .map_err(|e| Error::Other(format!("{}: {e}", path.display())))
    }

    fn locked_state(&self) -> Result<Flock<File>, Error> {
        let f = self.open_file(&self.state_path)?;
        Flock::lock(f, FlockArg::LockExclusive)
            .map_err(|(_, e)| Error::Other(format!("flock {}: {e}", self.state_path.display())))
    }

    fn read(f: &mut File) -> String {
        let mut s = String::new();
        let _ = f.seek(SeekFrom::Start(0)).and_then(|_| f.read_to_string(&mut s));
        s
    }

    /// The newest transition recorded in this boot, if any (creates nothing).
    pub fn latest(&self) -> Result<Option<Record>, Error> {
        let f = match File::open(&self.state_path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::Other(format!("{}: {e}", self.state_path.display()))),
        };
        let mut f = Flock::lock(f, FlockArg::LockShared)
            .map_err(|(_, e)| Error::Other(format!("flock {}: {e}", self.state_path.display())))?;
        Ok(parse_record(&Self::read(&mut f), &self.boot))
    }

    /// Record `state` for a process stamped `mine`, unless a newer one is recorded already.
    pub fn record(&self, mine: Stamp, state: &str) -> Result<(), Error> {
        let mut f = self.locked_state()?;
        if let Some(r) = parse_record(&Self::read(&mut f), &self.boot) {
            if !mine.newer_than(&r.stamp, self.pid_max) {
                return Ok(());
            }
        }
        let line = format!("{} {} {} {} {state}\n", self.boot, mine.start_ticks, mine.pid, mine.seq);
        f.set_len(0)
            .and_then(|_| f.seek(SeekFrom::Start(0)))
            .and_then(|_| f.write_all(line.as_bytes()))
            .map_err(|e| Error::Other(format!("{}: {e}", self.state_path.display())))
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
                Err((_, e)) => return Err(Error::Other(format!("flock {}: {e}", self.lock_path.display()))),
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
    fn later_fork_is_newer_also_across_pid_wrap() {
        let max = 32768;
        assert!(st(11, 5).newer_than(&st(10, 900), max));
        assert!(!st(10, 900).newer_than(&st(11, 5), max));
        assert!(st(10, 901).newer_than(&st(10, 900), max));
        assert!(!st(10, 900).newer_than(&st(10, 900), max));
        assert!(st(10, 3).newer_than(&st(10, 32760), max), "pid wrapped within the tick");
        assert!(!st(10, 32760).newer_than(&st(10, 3), max));
        let watcher = |seq| Stamp { start_ticks: 10, pid: 7, seq };
        assert!(watcher(2).newer_than(&watcher(1), max));
        let (a, b) = (Stamp::now(1).unwrap(), Stamp::now(2).unwrap());
        assert!(b.newer_than(&a, max));
        assert!(
            a.newer_than(&Stamp::current().unwrap(), max)
                || a.start_ticks == Stamp::current().unwrap().start_ticks
        );
    }

    #[test]
    fn fork_order_holds_for_every_pid_max() {
        for max in [32768u32, 49152, 4_194_304] {
            // Within one tick: the later fork has the higher pid, or wrapped past pid_max.
            for (older, newer) in [(100, 101), (max - 10, 3), (max - 1, 300), (1000, max / 2 - 1 + 1000 - 1)]
            {
                let (a, b) = (st(10, older), st(10, newer));
                assert!(b.newer_than(&a, max), "{newer} after {older}, pid_max {max}");
                assert!(!a.newer_than(&b, max), "{older} not after {newer}, pid_max {max}");
            }
            assert!(!st(10, 7).newer_than(&st(10, 7), max));
        }
    }

    #[test]
    fn start_ticks_are_parsed_after_the_command_name() {
        let stat = "42 (a b) c) S 1 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 123456 1000 200";
        assert_eq!(parse_start_ticks(stat).unwrap(), 123456);
        assert!(Stamp::current().unwrap().start_ticks > 0);
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
}
