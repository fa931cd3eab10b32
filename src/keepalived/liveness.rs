//! Is keepalived's VRRP process still running? keepalived writes no STOP when it is killed
//! (SIGKILL, OOM, a crash), so a watcher that only reads the FIFO would go on believing
//! its instances are MASTER and "repair" the VIP back onto a node without VRRP. The VRRP
//! child's pid file answers: a pid file naming no running keepalived means it is gone.

use std::path::{Path, PathBuf};

/// Where keepalived 2.x writes its VRRP child's pid by default (Debian 12: 2.2.7).
pub const DEFAULT_PID_FILES: [&str; 2] = ["/run/keepalived/vrrp.pid", "/run/vrrp.pid"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Alive {
    Yes,
    /// Gone: why (the pid file and the pid it names).
    No(String),
    /// No pid file to tell (keepalived not started yet, stopped cleanly, or elsewhere).
    Unknown,
}

/// The first of `files` that exists decides.
pub fn vrrp(files: &[PathBuf]) -> Alive {
    let Some((path, text)) = files.iter().find_map(|p| Some((p, std::fs::read_to_string(p).ok()?))) else {
        return Alive::Unknown;
    };
    let Ok(pid) = text.trim().parse::<u32>() else {
        return Alive::Unknown;
    };
    if is_keepalived(&Path::new("/proc").join(pid.to_string())) {
        Alive::Yes
    } else {
        Alive::No(format!("{} names pid {pid}, which is not a running keepalived", path.display()))
    }
}

/// A live process whose command name is keepalived (a reused pid is another program).
fn is_keepalived(proc_dir: &Path) -> bool {
    let comm = std::fs::read_to_string(proc_dir.join("comm")).unwrap_or_default();
    let state = std::fs::read_to_string(proc_dir.join("stat")).unwrap_or_default();
    // A zombie (state Z) has exited already.
    let zombie = state.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'));
    comm.trim() == "keepalived" && !zombie
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pid_file_naming_no_keepalived_means_gone() {
        let dir = std::env::temp_dir().join(format!("ec2-vip-live-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("vrrp.pid");
        assert_eq!(vrrp(std::slice::from_ref(&file)), Alive::Unknown);
        // This test process is alive but is not keepalived.
        std::fs::write(&file, format!("{}\n", std::process::id())).unwrap();
        assert!(matches!(vrrp(&[dir.join("none"), file.clone()]), Alive::No(w) if w.contains("vrrp.pid")));
        std::fs::write(&file, "garbage").unwrap();
        assert_eq!(vrrp(&[file]), Alive::Unknown);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
