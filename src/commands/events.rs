//! Events to the operator's hook: which hook a run uses, and sending an event without
//! delaying a failover (one-shot runs wait at most the hook's bound after the work is
//! done and the lock released; the watcher never waits).

use super::metrics::Metrics;
use crate::cli::GlobalArgs;
use crate::config::Config;
use crate::deadline::Deadline;
use crate::engine::event::{Event, Kind, Node};
use crate::engine::transition::Ran;
use crate::error::Error;
use crate::hook::Hook;
use crate::keepalived::Role;
use crate::model::Identity;
use std::time::Duration;

pub struct Events {
    flag: Option<String>,
    bound: Duration,
    hostname: String,
    /// --dry-run: nothing happens, so nothing is announced.
    off: bool,
    /// One-shot runs wait for the hook (bounded); the watcher does not.
    wait: bool,
    /// What this run tells Prometheus (one-shot runs write it to --metrics-file when done).
    pub metrics: Metrics,
}

impl Events {
    pub fn new(g: &GlobalArgs, wait: bool) -> Events {
        let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
        Events {
            flag: g.on_event.clone(),
            bound: Duration::from_secs_f64(g.event_timeout),
            hostname: hostname.trim().to_string(),
            off: g.dry_run,
            wait,
            metrics: Metrics::new(g.metrics_file.clone().filter(|_| wait), g.dry_run),
        }
    }

    /// A section's own `on_event`, else --on-event, else the config's top-level `on_event`.
    pub fn hook(&self, config: Option<&Config>, name: &str) -> Option<Hook> {
        let own = config.and_then(|c| c.section_hooks.get(name));
        let global = config.and_then(|c| c.on_event.as_ref());
        let command = own.or(self.flag.as_ref()).or(global)?.clone();
        Some(Hook { command, bound: self.bound })
    }

    pub fn node(&self, me: Option<&Identity>) -> Node {
        Node::new(self.hostname.clone(), me)
    }

    /// The event a transition's end calls for, sent. Bad input is no failover: no event.
    pub fn transition(
        &self,
        hook: Option<&Hook>,
        key: &str,
        role: Role,
        ran: &Result<Ran, Error>,
        d: &Deadline,
    ) {
        let t = role.to_string();
        self.metrics.transition(key, role, ran, (d.total() - d.remaining()).as_millis());
        let ev = match ran {
            Ok(Ran::Applied { report, ms, node }) => {
                Event::from_report(key, &t, self.node(Some(node)), report, *ms)
            }
            Err(Error::BadInput(_)) | Ok(_) => None,
            Err(e) => {
                let ms = (d.total() - d.remaining()).as_millis();
                Some(Event::from_error(key, &t, self.node(None), &e.to_string(), ms))
            }
        };
        self.send(hook, ev);
    }

    /// Local recovery put `lines` back (Repaired) or lost a contest (SplitBrain).
    pub fn recovery(
        &self,
        hook: Option<&Hook>,
        kind: Kind,
        key: &str,
        me: &Identity,
        lines: &[String],
        other: Option<&str>,
    ) {
        self.send(hook, Some(Event::from_lines(kind, key, self.node(Some(me)), lines, other)));
    }

    fn send(&self, hook: Option<&Hook>, ev: Option<Event>) {
        let (Some(hook), Some(ev)) = (hook, ev) else { return };
        if self.off {
            return;
        }
        let kind = ev.event.as_str();
        if self.wait {
            hook.run(kind, &ev.instance, ev.to_json());
        } else {
            hook.spawn(kind, &ev.instance, ev.to_json());
        }
    }
}

/// One-shot runs write their metrics when they end, whichever way they end.
impl Drop for Events {
    fn drop(&mut self) {
        if let Err(e) = self.metrics.flush() {
            log::warn!("{e}");
        }
    }
}
