//! What a monitor (or probe) answers, from what it found: pure, so the agent and the
//! simulator (`sim::check::probes`, invariant 7) judge by the same rule.

use crate::engine::reconcile::Survey;

/// A monitor's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// OCF 0.
    Running,
    /// OCF 7, and why.
    NotRunning(String),
    /// OCF 1: some resources point here and some do not, after a start here.
    Partial,
}

/// `started`: a MASTER (start) is recorded here this boot. `local`: the node itself carries
/// the VIP's local address (it is part of `survey`, checked by the caller), so it shows the
/// resource held without a record. A probe is 0 only where this node really holds it: what
/// merely still points here (after a reboot, on a node that never started it) is a remnant
/// the next start takes over, and a record with a fixed value proves nothing (`survey.here`
/// does not count it).
pub fn of(survey: &Survey, started: bool, local: bool) -> Verdict {
    let here = survey.here;
    match (survey.drift.is_empty(), started || local) {
        (true, true) => Verdict::Running,
        (true, false) => Verdict::NotRunning(format!(
            "no start recorded here since boot ({here} resource(s) still point here; the next start takes them over)"
        )),
        (false, _) if here == 0 || !started => {
            Verdict::NotRunning(format!("{} resource(s) point elsewhere", survey.drift.len()))
        }
        (false, _) => Verdict::Partial,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn survey(here: usize, drift: usize) -> Survey {
        Survey { here, drift: (0..drift).map(|i| format!("d{i}")).collect() }
    }

    #[test]
    fn running_only_where_started_or_the_node_carries_it() {
        assert_eq!(of(&survey(2, 0), true, false), Verdict::Running);
        // Issue 27 item 4: no record, the routes still point here (a reboot): not running.
        assert!(matches!(of(&survey(2, 0), false, false), Verdict::NotRunning(_)));
        assert_eq!(of(&survey(3, 0), false, true), Verdict::Running);
        // A fixed DNS value counts for nothing: a started node is running, another is not.
        assert_eq!(of(&survey(0, 0), true, false), Verdict::Running);
        assert!(matches!(of(&survey(0, 0), false, false), Verdict::NotRunning(_)));
        assert_eq!(of(&survey(1, 1), true, false), Verdict::Partial);
        assert!(matches!(of(&survey(1, 1), false, false), Verdict::NotRunning(_)));
        assert!(matches!(of(&survey(0, 2), true, false), Verdict::NotRunning(_)));
    }
}
