//! Test-only switches, each reverting one fix of the engine, so that the simulator
//! (`sim`) can show it finds the defect the fix removed. All off by default; outside a
//! test build every switch is the constant `false` and compiles to nothing.

/// A fix that a test may revert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Knob {
    /// `stale::suspect` never distrusts a MASTER's "already mine" (no reassert, no read
    /// again): the stale keep of the hardening round.
    StaleKeep,
    /// `stale::suspect` never distrusts a release's "not on this node" (no read again after
    /// the window): a release after a takeover.
    ReleaseAfterTakeover,
    /// The read back ignores a newer transition (keeps the lock until the deadline).
    SupersededReadBack,
    /// A release deletes a record with a fixed value (which every node writes alike) as
    /// if it named this node: issue 27's item 5.
    DnsOwnership,
    /// Split-brain settlement sees no holder in a DNS-only section: issue 27's item 8.
    DnsSettlement,
}

#[cfg(test)]
thread_local! {
    static REVERTED: std::cell::Cell<[bool; 5]> = const { std::cell::Cell::new([false; 5]) };
}

/// Whether the fix `k` is reverted (on this thread).
#[cfg(test)]
pub fn reverted(k: Knob) -> bool {
    REVERTED.with(|r| r.get()[k as usize])
}

#[cfg(not(test))]
#[inline(always)]
pub fn reverted(_k: Knob) -> bool {
    false
}

/// Revert (true) or restore (false) the fix `k` on this thread.
#[cfg(test)]
pub fn set(k: Knob, on: bool) {
    REVERTED.with(|r| {
        let mut v = r.get();
        v[k as usize] = on;
        r.set(v);
    });
}
