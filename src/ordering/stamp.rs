//! Fork stamps: when keepalived forked a notify process (clock ticks since boot, then the
//! pid), or when the watcher learnt of a transition; and their order.

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
        let hz = ticks_per_second();
        let ticks = t.tv_sec() as u64 * hz + t.tv_nsec() as u64 * hz / 1_000_000_000;
        Ok(Stamp { start_ticks: ticks, pid: std::process::id(), seq })
    }

    /// Seconds from `earlier` to `self` (0 if `earlier` is not earlier).
    pub fn seconds_since(&self, earlier: &Stamp) -> f64 {
        self.start_ticks.saturating_sub(earlier.start_ticks) as f64 / ticks_per_second() as f64
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

/// The kernel's clock ticks per second (USER_HZ), the unit of start times in /proc.
fn ticks_per_second() -> u64 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK).ok().flatten().unwrap_or(100) as u64
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

pub(super) fn pid_max() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/pid_max")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(4_194_304)
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
}
