//! What checking one instance found (`reconcile`), and the split-brain window `settle`
//! judges it by: plain data shared by the two.

/// The outcome of checking one instance.
#[derive(Debug, PartialEq)]
pub enum Checked {
    /// Everything points here.
    Right,
    /// The last recorded transition says this node is not MASTER: nothing to check.
    NotMaster(String),
    /// These resources drifted (and, with repair, are still wrong afterwards).
    Drifted(Vec<String>),
    /// They drifted and were put back.
    Repaired(Vec<String>),
    /// --dry-run with repair: they drifted and these writes (plan lines) would put them back.
    WouldRepair(Vec<String>),
    /// They drifted, but no transition is recorded for this node in this boot: it is not
    /// known to own them, so nothing was repaired.
    Unowned(Vec<String>),
    /// Split brain: another node that also claims MASTER (`other`) took them back after our
    /// repair and wins the tie-break; this node repairs nothing for `secs` more seconds.
    /// `fresh`: the contest was found in this run (not an earlier run's hold-off).
    Yielding { lines: Vec<String>, other: String, secs: f64, fresh: bool },
}

/// A repair taken back within this many seconds is a contest, not drift.
pub const CONTEST_WINDOW: f64 = 120.0;
