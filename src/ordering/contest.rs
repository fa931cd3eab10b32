//! Split-brain memory of one instance: when this node last repaired its resources, and
//! until when it yields them to another node that also claims MASTER. Kept in the state
//! directory (`<key>.contest`) so `check --repair` runs share it with each other and with
//! `watch`; it belongs to one MASTER record and is void once another is recorded.

use super::{Guard, Record, Stamp};
use crate::error::Error;
use std::os::unix::fs::OpenOptionsExt;

#[derive(Debug, Clone, PartialEq)]
pub struct Contest {
    /// The MASTER record (its stamp) this memory belongs to.
    pub record: Stamp,
    /// Boot-time seconds of this node's last repair.
    pub repaired_at: Option<f64>,
    /// Boot-time seconds until which this node yields.
    pub yield_until: Option<f64>,
    /// The next hold-off, seconds.
    pub hold: f64,
    /// Who held our resources at the last contest.
    pub other: String,
}

/// The first hold-off; it doubles with every contest lost, up to `MAX_HOLD`.
pub const FIRST_HOLD: f64 = 60.0;
pub const MAX_HOLD: f64 = 900.0;

impl Contest {
    pub fn new(record: &Record) -> Contest {
        Contest {
            record: record.stamp,
            repaired_at: None,
            yield_until: None,
            hold: FIRST_HOLD,
            other: "-".into(),
        }
    }

    fn parse(text: &str, boot: &str) -> Option<Contest> {
        let f: Vec<&str> = text.split_whitespace().collect();
        if f.len() != 8 || f[0] != boot {
            return None;
        }
        let opt = |s: &str| s.parse::<f64>().ok().filter(|v| *v >= 0.0);
        Some(Contest {
            record: Stamp {
                start_ticks: f[1].parse().ok()?,
                pid: f[2].parse().ok()?,
                seq: f[3].parse().ok()?,
            },
            repaired_at: opt(f[4]),
            yield_until: opt(f[5]),
            hold: f[6].parse().ok()?,
            other: f[7].to_string(),
        })
    }
}

#[cfg(test)]
thread_local! {
    /// Test-only: boot seconds follow tokio's (paused, virtual) clock from this base.
    pub static VIRTUAL_BOOT: std::cell::Cell<Option<(f64, tokio::time::Instant)>> =
        const { std::cell::Cell::new(None) };
}

/// Seconds since boot (CLOCK_BOOTTIME): comparable across processes of one boot.
pub fn boot_seconds() -> f64 {
    #[cfg(test)]
    if let Some((base, at)) = VIRTUAL_BOOT.with(|v| v.get()) {
        return base + at.elapsed().as_secs_f64(); // the simulator's virtual clock
    }
    use nix::time::{clock_gettime, ClockId};
    clock_gettime(ClockId::CLOCK_BOOTTIME)
        .map(|t| t.tv_sec() as f64 + t.tv_nsec() as f64 / 1e9)
        .unwrap_or(0.0)
}

impl Guard {
    fn contest_path(&self) -> std::path::PathBuf {
        self.state_path.with_extension("contest")
    }

    /// This node's contest memory for `record` (fresh if none, or one of another record).
    pub fn contest(&self, record: &Record) -> Contest {
        let text = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(nix::libc::O_NOFOLLOW)
            .open(self.contest_path())
            .and_then(std::io::read_to_string)
            .unwrap_or_default();
        Contest::parse(&text, &self.boot)
            .filter(|c| c.record == record.stamp)
            .unwrap_or_else(|| Contest::new(record))
    }

    /// Keep the contest memory (temp file + rename; the caller holds the instance's lock).
    pub fn set_contest(&self, c: &Contest) -> Result<(), Error> {
        self.ensure_dir()?;
        let num = |v: Option<f64>| v.map(|v| format!("{v:.3}")).unwrap_or_else(|| "-1".into());
        let line = format!(
            "{} {} {} {} {} {} {} {}\n",
            self.boot,
            c.record.start_ticks,
            c.record.pid,
            c.record.seq,
            num(c.repaired_at),
            num(c.yield_until),
            c.hold,
            c.other.split_whitespace().next().unwrap_or("-")
        );
        self.replace_file(&self.contest_path(), &line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contest_memory_belongs_to_one_record_and_one_boot() {
        let dir = std::env::temp_dir().join(format!("ec2-vip-contest-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let g = Guard::new(&dir, "VI_1").unwrap();
        let stamp = |t| Stamp { start_ticks: t, pid: 1, seq: 0 };
        let rec = Record { stamp: stamp(10), state: "MASTER".into() };
        let mut c = g.contest(&rec);
        assert_eq!(c, Contest::new(&rec));
        c.repaired_at = Some(12.5);
        c.yield_until = Some(72.5);
        c.other = "eni-1".into();
        g.set_contest(&c).unwrap();
        assert_eq!(g.contest(&rec), c);
        let newer = Record { stamp: stamp(11), state: "MASTER".into() };
        assert_eq!(g.contest(&newer), Contest::new(&newer), "a new MASTER record starts afresh");
        std::fs::write(dir.join("VI_1.contest"), "other-boot 10 1 0 1 2 60 eni-1").unwrap();
        assert_eq!(g.contest(&rec), Contest::new(&rec));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
