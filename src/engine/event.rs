//! What the event hook receives: one JSON object per change, failed transition, repair or
//! split brain. Built from typed reports here (pure); delivered by `crate::hook`.

use super::report::{Outcome, Report};
use crate::model::Identity;
use crate::scenario::Resource;
use serde::Serialize;

/// Why an event was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A transition moved at least one resource and nothing failed.
    Changed,
    /// A transition failed or is incomplete.
    Failed,
    /// Local recovery (`check --repair`, `watch`) put back what drifted.
    Repaired,
    /// Another node that also claims MASTER took the resources back; this node yields.
    SplitBrain,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Changed => "changed",
            Kind::Failed => "failed",
            Kind::Repaired => "repaired",
            Kind::SplitBrain => "split_brain",
        }
    }
}

/// Who sent it: the host, and what IMDS said where it was asked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Node {
    pub hostname: String,
    pub instance_id: Option<String>,
    pub eni_id: Option<String>,
    pub vpc_id: Option<String>,
    pub region: Option<String>,
}

impl Node {
    pub fn new(hostname: String, me: Option<&Identity>) -> Node {
        Node {
            hostname,
            instance_id: me.map(|m| m.instance_id.clone()),
            eni_id: me.map(|m| m.eni_id.clone()),
            vpc_id: me.map(|m| m.vpc_id.clone()),
            region: me.map(|m| m.region.clone()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub resource: String,
    /// The resource as fields (`kind`: route, destination, elastic_ip, private_ip,
    /// ipv6_address, dns_record), as `status --json` has them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub what: Option<Resource>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    pub resource: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub what: Option<Resource>,
    pub error: String,
}

/// One event, as the hook reads it on stdin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Event {
    pub event: Kind,
    /// The config section (keepalived instance or group), or the by-hand run's key.
    pub instance: String,
    /// MASTER, BACKUP, FAULT, STOP, or `reconcile` for local recovery.
    pub transition: String,
    pub time: String,
    pub run: String,
    pub node: Node,
    pub changed: Vec<Change>,
    pub failed: Vec<Failure>,
    /// A failure of the whole run (e.g. IMDS or a describe call), not of one resource.
    pub error: Option<String>,
    /// For split_brain: the other node's ENI(s).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub other: Option<String>,
    pub duration_ms: u128,
}

impl Event {
    pub fn new(event: Kind, instance: &str, transition: &str, node: Node, duration_ms: u128) -> Event {
        Event {
            event,
            instance: instance.to_string(),
            transition: transition.to_string(),
            time: humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string(),
            run: crate::logging::current_run(),
            node,
            changed: Vec::new(),
            failed: Vec::new(),
            error: None,
            other: None,
            duration_ms,
        }
    }

    /// The event a transition's report calls for: None when it changed nothing and nothing
    /// failed (already right, or stopped by a newer transition before any write).
    pub fn from_report(
        instance: &str,
        transition: &str,
        node: Node,
        report: &Report,
        ms: u128,
    ) -> Option<Event> {
        let changed: Vec<Change> = report
            .changed()
            .map(|e| Change {
                resource: e.resource.to_string(),
                what: Some(e.resource.clone()),
                from: e.from.clone(),
                to: Some(e.to.clone()),
            })
            .collect();
        let failed: Vec<Failure> = report
            .failures()
            .map(|e| Failure {
                resource: e.resource.to_string(),
                what: Some(e.resource.clone()),
                error: reason(&e.outcome),
            })
            .collect();
        if changed.is_empty() && failed.is_empty() {
            return None;
        }
        let kind = if failed.is_empty() { Kind::Changed } else { Kind::Failed };
        let mut ev = Event::new(kind, instance, transition, node, ms);
        ev.changed = changed;
        ev.failed = failed;
        Some(ev)
    }

    /// A run that failed as a whole.
    pub fn from_error(instance: &str, transition: &str, node: Node, error: &str, ms: u128) -> Event {
        let mut ev = Event::new(Kind::Failed, instance, transition, node, ms);
        ev.error = Some(error.to_string());
        ev
    }

    /// Local recovery: `lines` name what was put back (or, for a split brain, contested).
    pub fn from_lines(
        kind: Kind,
        instance: &str,
        node: Node,
        lines: &[String],
        other: Option<&str>,
    ) -> Event {
        let mut ev = Event::new(kind, instance, "reconcile", node, 0);
        ev.changed =
            lines.iter().map(|l| Change { resource: l.clone(), what: None, from: None, to: None }).collect();
        ev.other = other.map(str::to_string);
        ev
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self)
            .unwrap_or_else(|e| format!("{{\"error\":\"event not serializable: {e}\"}}"))
    }
}

fn reason(o: &Outcome) -> String {
    match o {
        Outcome::Changed => "changed".into(),
        Outcome::Unchanged => "already right".into(),
        Outcome::NotOwned(w)
        | Outcome::Missing(w)
        | Outcome::Blocked(w)
        | Outcome::Failed(w)
        | Outcome::Unconfirmed(w)
        | Outcome::Skipped(w) => w.clone(),
        Outcome::Propagating(w) => format!("written, propagating: {w}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::report::Entry;
    use crate::scenario::Resource;

    fn entry(ip: &str, outcome: Outcome) -> Entry {
        Entry {
            resource: Resource::PrivateIp { ip: ip.parse().unwrap(), subnet: "subnet-1".into() },
            from: Some("eni-b".into()),
            to: "eni-a".into(),
            outcome,
        }
    }

    #[test]
    fn a_report_becomes_changed_failed_or_nothing() {
        let node = Node { hostname: "h".into(), ..Node::default() };
        let ok = Report { entries: vec![entry("10.0.2.100", Outcome::Changed)], superseded: None };
        let ev = Event::from_report("VI_1", "MASTER", node.clone(), &ok, 12).unwrap();
        let v: serde_json::Value = serde_json::from_str(&ev.to_json()).unwrap();
        assert_eq!(v["event"], "changed");
        assert_eq!(v["changed"][0]["from"], "eni-b");
        assert_eq!(v["changed"][0]["to"], "eni-a");
        let what = &v["changed"][0]["what"];
        assert_eq!((what["kind"].as_str(), what["ip"].as_str()), (Some("private_ip"), Some("10.0.2.100")));
        assert_eq!(what["subnet"], "subnet-1");
        assert_eq!(v["node"]["hostname"], "h");
        assert!(v["node"]["eni_id"].is_null() && v.get("other").is_none());
        let bad = Report {
            entries: vec![
                entry("10.0.2.100", Outcome::Changed),
                entry("10.0.2.101", Outcome::Failed("AssignPrivateIpAddresses failed: X".into())),
            ],
            superseded: None,
        };
        let ev = Event::from_report("VI_1", "MASTER", node.clone(), &bad, 12).unwrap();
        assert_eq!((ev.event, ev.changed.len(), ev.failed.len()), (Kind::Failed, 1, 1));
        assert!(ev.failed[0].error.contains("AssignPrivateIpAddresses"));
        let v: serde_json::Value = serde_json::from_str(&ev.to_json()).unwrap();
        assert_eq!(v["failed"][0]["what"]["ip"], "10.0.2.101");
        let same = Report { entries: vec![entry("10.0.2.100", Outcome::Unchanged)], superseded: None };
        assert!(Event::from_report("VI_1", "MASTER", node, &same, 1).is_none());
    }

    #[test]
    fn split_brain_names_the_other_node() {
        let ev = Event::from_lines(Kind::SplitBrain, "VI_1", Node::default(), &["a".into()], Some("eni-1"));
        let v: serde_json::Value = serde_json::from_str(&ev.to_json()).unwrap();
        assert_eq!((v["event"].as_str(), v["other"].as_str()), (Some("split_brain"), Some("eni-1")));
        assert_eq!(v["transition"], "reconcile");
    }
}
