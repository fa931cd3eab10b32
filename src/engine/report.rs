//! What a run did, per resource, typed; rendered to text only at the edge.

use crate::error::Error;
use crate::keepalived::Role;
use crate::scenario::Resource;
use log::info;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Written and read back as desired.
    Changed,
    /// Already as desired.
    Unchanged,
    /// Somebody else's; left alone.
    NotOwned(String),
    /// Nothing there to move.
    Missing(String),
    /// Could not be moved from here.
    Blocked(String),
    /// The write failed (AWS's error, naming the call).
    Failed(String),
    /// Written, but the read back does not show it (or could not be made).
    Unconfirmed(String),
    /// Not written: a newer transition took over.
    Skipped(String),
    /// Written and read back, Route 53 still PENDING (the change is accepted: Route 53
    /// puts it on every name server, usually within a minute). Not waited for: a run
    /// holding the lock until INSYNC would block newer transitions and other instances.
    Propagating(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub resource: Resource,
    pub from: Option<String>,
    pub to: String,
    pub outcome: Outcome,
}

impl Entry {
    pub fn is_failure(&self) -> bool {
        !matches!(
            self.outcome,
            Outcome::Changed | Outcome::Unchanged | Outcome::Skipped(_) | Outcome::Propagating(_)
        )
    }
}

impl fmt::Display for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = &self.resource;
        let from = self.from.as_deref().unwrap_or("none");
        match &self.outcome {
            Outcome::Changed => write!(f, "{r}: {from} -> {}", self.to),
            Outcome::Unchanged => write!(f, "{r}: already {}", self.to),
            Outcome::NotOwned(why) => write!(f, "{r}: {why}; not touched"),
            Outcome::Missing(why) | Outcome::Blocked(why) => write!(f, "{r}: {why}"),
            Outcome::Failed(e) => write!(f, "{r}: {e}"),
            Outcome::Unconfirmed(why) => write!(f, "{r}: written, but {why}"),
            Outcome::Skipped(why) => write!(f, "{r}: not written, {why}"),
            Outcome::Propagating(why) => {
                write!(f, "{r}: {from} -> {} (written, propagating: {why})", self.to)
            }
        }
    }
}

#[derive(Debug, Default, Clone)]
pub struct Report {
    pub entries: Vec<Entry>,
    /// Set when a newer transition stopped the run part way.
    pub superseded: Option<String>,
}

impl Report {
    pub fn count(&self, pred: impl Fn(&Outcome) -> bool) -> usize {
        self.entries.iter().filter(|e| pred(&e.outcome)).count()
    }

    pub fn failures(&self) -> impl Iterator<Item = &Entry> {
        self.entries.iter().filter(|e| e.is_failure())
    }

    /// Written: read back as desired, or Route 53 still propagating it.
    pub fn changed(&self) -> impl Iterator<Item = &Entry> {
        self.entries.iter().filter(|e| matches!(e.outcome, Outcome::Changed | Outcome::Propagating(_)))
    }

    /// ", N still propagating" when Route 53 has not yet reported a change INSYNC.
    fn propagating(&self) -> String {
        match self.count(|o| matches!(o, Outcome::Propagating(_))) {
            0 => String::new(),
            n => format!(" ({n} written, propagating)"),
        }
    }

    /// Log the report and turn it into the run's result.
    pub fn finish(&self, role: Role, ms: u128) -> Result<(), Error> {
        let failed: Vec<String> = self.failures().map(|e| e.to_string()).collect();
        let changed: Vec<String> = self.changed().map(|e| e.to_string()).collect();
        for f in &failed {
            log::error!("{f}");
        }
        for p in self.entries.iter().filter(|e| matches!(e.outcome, Outcome::Propagating(_))) {
            info!("{p}");
        }
        if let Some(why) = &self.superseded {
            info!("{role} stopped after {ms} ms, {why}: {} changed{}", changed.len(), self.propagating());
            return Ok(());
        }
        if failed.is_empty() {
            let same = self.count(|o| *o == Outcome::Unchanged);
            info!(
                "{role} done in {ms} ms: {} changed{}, {same} already right",
                changed.len(),
                self.propagating()
            );
            return Ok(());
        }
        Err(Error::Incomplete(format!(
            "{role} incomplete after {ms} ms: {} changed{} ({}), {} failed: {}",
            changed.len(),
            self.propagating(),
            if changed.is_empty() { "none".to_string() } else { first_few(&changed) },
            failed.len(),
            first_few(&failed)
        )))
    }
}

/// At most ten items, then how many more: the summary is one log line (syslog truncates
/// long ones); every item also has a line of its own above it.
fn first_few(items: &[String]) -> String {
    const SHOWN: usize = 10;
    let mut s = items.iter().take(SHOWN).cloned().collect::<Vec<_>>().join("; ");
    if items.len() > SHOWN {
        s.push_str(&format!("; ... and {} more", items.len() - SHOWN));
    }
    s
}
