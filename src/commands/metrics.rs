//! What runs tell Prometheus (the families are `crate::metrics`'): filled from the engine's
//! typed results (a transition's `Ran`, a reconcile's `Checked`, the error types), written
//! as a node_exporter textfile by one-shot runs and served on `/metrics` by `watch`.
//!
//! The label `vip` names the keepalived instance or OCF resource (not `instance`: Prometheus
//! gives every scraped series that label for its target). API errors are counted from the
//! errors the engine returns (whole runs) and reports (per resource); throttling as the
//! throttling errors it sees after the SDK's own retries (the SDK's retry counts are not
//! observable from here).

use crate::engine::reconcile::Checked;
use crate::engine::report::Outcome;
use crate::engine::transition::Ran;
use crate::error::{Ec2Error, Error, ImdsError};
use crate::keepalived::Role;
use crate::metrics::{labels, Registry};
use crate::scenario::Resource;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

pub type Shared = Arc<Mutex<Registry>>;

pub struct Metrics {
    pub reg: Shared,
    /// The textfile a one-shot run merges its registry into (none: nothing is written).
    file: Option<PathBuf>,
    /// Checks whose drift decides the owned gauges of series the earlier file holds:
    /// replayed over the merged registry.
    drift: Mutex<Vec<(String, Option<Vec<String>>)>>,
    off: bool,
}

fn now() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

fn kind(r: &Resource) -> &'static str {
    match r {
        Resource::Route { .. } => "route",
        Resource::Destination { .. } => "destination",
        Resource::ElasticIp { .. } => "elastic_ip",
        Resource::PrivateIp { .. } => "private_ip",
        Resource::Ipv6Address { .. } => "ipv6_address",
        Resource::DnsRecord { .. } => "dns_record",
    }
}

fn service(op: &str) -> &'static str {
    match op {
        "ChangeResourceRecordSets" | "GetChange" | "GetHostedZone" | "ListResourceRecordSets" => "route53",
        "GetCallerIdentity" | "AssumeRole" | "AssumeRoleProvider" => "sts",
        _ => "ec2",
    }
}

/// The operation and AWS error code of a per-resource failure, from its line
/// (`Operation resources failed: Code: message`, as `Ec2Error` displays).
fn parse_failure(s: &str) -> (&str, &str) {
    let op = s.split(' ').next().filter(|w| {
        w.starts_with(|c: char| c.is_ascii_uppercase()) && w.chars().all(|c| c.is_ascii_alphanumeric())
    });
    let op = op.unwrap_or("unknown");
    let code = s.split_once(" failed: ").and_then(|(_, rest)| rest.split(':').next());
    let code = code.filter(|c| !c.is_empty() && !c.contains(' ')).unwrap_or("unknown");
    (op, code)
}

fn is_throttling(code: &str) -> bool {
    Ec2Error {
        operation: "",
        resources: String::new(),
        code: Some(code.into()),
        message: None,
        request_id: None,
    }
    .is_throttling()
}

/// A `resource="..."` label's value, as rendered.
fn resource_of(l: &str) -> &str {
    l.split_once("resource=\"").map_or("", |(_, v)| v.strip_suffix('"').unwrap_or(v))
}

fn owned_from_drift(r: &mut Registry, instance: &str, drift: Option<&[String]>) {
    let prefix = labels(&[("vip", instance)]) + ",";
    r.set_matching("ec2_vip_resource_owned", &prefix, |l| {
        let res = resource_of(l);
        Some(match drift {
            Some(lines) if lines.iter().any(|d| d.starts_with(res)) => 0.0,
            _ => 1.0,
        })
    });
}

impl Metrics {
    /// `file`: one-shot runs' textfile; `off`: --dry-run (nothing happened, nothing counts).
    pub fn new(file: Option<PathBuf>, off: bool) -> Metrics {
        Metrics { reg: Shared::default(), file, drift: Mutex::default(), off }
    }

    fn with(&self, f: impl FnOnce(&mut Registry)) {
        if !self.off {
            if let Ok(mut r) = self.reg.lock() {
                f(&mut r);
            }
        }
    }

    fn api_error(r: &mut Registry, service: &str, op: &str, code: &str) {
        r.add("ec2_vip_api_errors_total", &[("service", service), ("operation", op), ("code", code)], 1.0);
        if is_throttling(code) {
            r.add("ec2_vip_throttled_total", &[("service", service), ("operation", op)], 1.0);
        }
    }

    fn error(r: &mut Registry, e: &Error) {
        match e {
            Error::Ec2(x) => {
                Self::api_error(r, service(x.operation), x.operation, x.code.as_deref().unwrap_or("unknown"))
            }
            Error::Imds(x) => {
                let code = match x {
                    ImdsError::Request { .. } => "request",
                    ImdsError::NotFound { .. } => "not_found",
                    ImdsError::BadValue { .. } => "bad_value",
                };
                Self::api_error(r, "imds", "metadata", code)
            }
            Error::Deadline { .. } => Self::api_error(r, "ec2", "unknown", "deadline"),
            _ => {}
        }
    }

    /// A transition's end (`elapsed`: ms, for runs without a report). Bad input, dry runs and
    /// superseded runs did nothing: not counted.
    pub fn transition(&self, instance: &str, role: Role, ran: &Result<Ran, Error>, elapsed: u128) {
        let (ok, ms) = match ran {
            Ok(Ran::Applied { report, ms, .. }) => (report.failures().next().is_none(), *ms),
            // e.g. BACKUP without release: still this node's state now.
            Ok(Ran::NothingToDo) => (true, elapsed),
            Err(Error::BadInput(_)) | Ok(_) => return,
            Err(_) => (false, elapsed),
        };
        let state = role.to_string();
        self.with(|r| {
            for s in ["MASTER", "BACKUP", "FAULT", "STOP"] {
                r.set("ec2_vip_state", &[("vip", instance), ("state", s)], (s == state) as u8 as f64);
            }
            let i = &[("vip", instance)];
            r.set("ec2_vip_last_transition_timestamp_seconds", i, now());
            r.set("ec2_vip_last_transition_success", i, ok as u8 as f64);
            let result = if ok { "success" } else { "failure" };
            r.add(
                "ec2_vip_transitions_total",
                &[("vip", instance), ("state", &state), ("result", result)],
                1.0,
            );
            r.observe("ec2_vip_transition_duration_seconds", i, ms as f64 / 1000.0);
            if role != Role::Master {
                let prefix = labels(i) + ",";
                r.set_matching("ec2_vip_resource_owned", &prefix, |_| Some(0.0));
            }
            match ran {
                Ok(Ran::Applied { report, .. }) => {
                    for e in &report.entries {
                        let here = role == Role::Master
                            && matches!(e.outcome, Outcome::Changed | Outcome::Unchanged);
                        let res = e.resource.to_string();
                        let l = &[("vip", instance), ("kind", kind(&e.resource)), ("resource", &res)];
                        r.set("ec2_vip_resource_owned", l, here as u8 as f64);
                        if let Outcome::Failed(why) = &e.outcome {
                            let (op, code) = parse_failure(why);
                            Self::api_error(r, service(op), op, code);
                        }
                    }
                }
                Err(e) => Self::error(r, e),
                Ok(_) => {}
            }
        });
    }

    /// A check's or reconcile's result for one instance.
    pub fn checked(&self, instance: &str, c: Result<&Checked, &Error>) {
        let i = &[("vip", instance)];
        let mut drift = None;
        self.with(|r| match c {
            Ok(Checked::Right) => {
                r.set("ec2_vip_last_reconcile_success_timestamp_seconds", i, now());
                r.set("ec2_vip_yielding", i, 0.0);
                drift = Some(None);
            }
            Ok(Checked::Repaired(lines)) => {
                r.add("ec2_vip_drift_seen_total", i, lines.len() as f64);
                r.add("ec2_vip_drift_repaired_total", i, lines.len() as f64);
                r.set("ec2_vip_last_reconcile_success_timestamp_seconds", i, now());
                r.set("ec2_vip_yielding", i, 0.0);
                drift = Some(None);
            }
            Ok(Checked::Drifted(lines) | Checked::Unowned(lines)) => {
                r.add("ec2_vip_drift_seen_total", i, lines.len() as f64);
                drift = Some(Some(lines.clone()));
            }
            Ok(Checked::Yielding { lines, fresh, .. }) => {
                if *fresh {
                    r.add("ec2_vip_split_brain_contests_total", i, 1.0);
                    r.add("ec2_vip_drift_seen_total", i, lines.len() as f64);
                }
                r.set("ec2_vip_yielding", i, 1.0);
                drift = Some(Some(lines.clone()));
            }
            Ok(Checked::NotMaster(_) | Checked::WouldRepair(_)) => {}
            Err(e) => Self::error(r, e),
        });
        if let Some(d) = drift {
            self.with(|r| owned_from_drift(r, instance, d.as_deref()));
            if let Ok(mut v) = self.drift.lock() {
                v.push((instance.to_string(), d));
            }
        }
    }

    /// One-shot runs: merge this run into the textfile (read, add, write a temp file in
    /// the same directory, rename), under a lock so concurrent runs lose no counts.
    pub fn flush(&self) -> Result<(), String> {
        let Some(path) = &self.file else { return Ok(()) };
        let reg = self.reg.lock().map_err(|_| "metrics registry poisoned".to_string())?;
        if self.off || *reg == Registry::default() {
            return Ok(());
        }
        let err = |what: &str, e: std::io::Error| format!("--metrics-file {}: {what}: {e}", path.display());
        let lock_path = path.with_extension("lock");
        let lock = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&lock_path);
        let lock = lock.map_err(|e| err("lock", e))?;
        let _held = nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusive)
            .map_err(|(_, e)| err("lock", e.into()))?;
        let earlier = std::fs::read_to_string(path).map(|t| Registry::parse(&t)).unwrap_or_default();
        let mut merged = reg.merged_over(earlier);
        for (instance, d) in self.drift.lock().iter().flat_map(|v| v.iter()) {
            owned_from_drift(&mut merged, instance, d.as_deref());
        }
        let name = path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
        let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
        std::fs::write(&tmp, merged.render()).map_err(|e| err("write", e))?;
        std::fs::rename(&tmp, path).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            err("rename", e)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_name_operation_and_code() {
        let line = "ReplaceRoute rtb-1 10.0.0.0/24 failed: RequestLimitExceeded: slow down (request id x)";
        assert_eq!(parse_failure(line), ("ReplaceRoute", "RequestLimitExceeded"));
        assert_eq!(parse_failure("route 10.0.0.0/24 in rtb-1: gone"), ("unknown", "unknown"));
        assert!(is_throttling("RequestLimitExceeded") && !is_throttling("InvalidRoute.NotFound"));
        assert_eq!(service("ChangeResourceRecordSets"), "route53");
    }

    #[test]
    fn a_check_sets_owned_from_its_drift_and_a_backup_clears_it() {
        let m = Metrics::new(None, false);
        let l = |res: &str| {
            [("vip", "VI_1"), ("kind", "route"), ("resource", res)].map(|(a, b)| (a, b.to_string()))
        };
        for res in ["route 10.0.0.0/24 in rtb-1", "route 10.0.1.0/24 in rtb-1"] {
            let l = l(res);
            let pairs: Vec<(&str, &str)> = l.iter().map(|(a, b)| (*a, b.as_str())).collect();
            m.reg.lock().unwrap().set("ec2_vip_resource_owned", &pairs, 1.0);
        }
        let drift = vec!["route 10.0.1.0/24 in rtb-1 is eni-2, not eni-1 as this node wants".to_string()];
        m.checked("VI_1", Ok(&Checked::Drifted(drift)));
        let text = m.reg.lock().unwrap().render();
        assert!(text.contains("resource=\"route 10.0.0.0/24 in rtb-1\"} 1\n"), "{text}");
        assert!(text.contains("resource=\"route 10.0.1.0/24 in rtb-1\"} 0\n"), "{text}");
        assert!(text.contains("ec2_vip_drift_seen_total{vip=\"VI_1\"} 1\n"));
        let e = Error::Ec2(Ec2Error {
            operation: "DescribeRouteTables",
            resources: String::new(),
            code: Some("Throttling".into()),
            message: None,
            request_id: None,
        });
        m.transition("VI_1", Role::Backup, &Err(e), 2500);
        let text = m.reg.lock().unwrap().render();
        assert!(!text.contains("} 1\nec2_vip_drift"), "owned all 0 after BACKUP: {text}");
        assert!(text.contains("ec2_vip_state{vip=\"VI_1\",state=\"BACKUP\"} 1\n"));
        assert!(
            text.contains("ec2_vip_throttled_total{service=\"ec2\",operation=\"DescribeRouteTables\"} 1\n")
        );
        assert!(text.contains("ec2_vip_transition_duration_seconds_bucket{vip=\"VI_1\",le=\"2.5\"} 1\n"));
    }

    #[test]
    fn concurrent_runs_lose_no_counts() {
        let dir = std::env::temp_dir().join(format!("ec2-vip-metrics-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("ec2-vip.prom");
        let runs: Vec<_> = (0..8)
            .map(|_| {
                let path = path.clone();
                std::thread::spawn(move || {
                    let m = Metrics::new(Some(path), false);
                    m.transition("VI_1", Role::Master, &Ok(Ran::NothingToDo), 10);
                    m.flush().unwrap();
                })
            })
            .collect();
        runs.into_iter().for_each(|t| t.join().unwrap());
        let r = Registry::parse(&std::fs::read_to_string(&path).unwrap());
        let l = &[("vip", "VI_1"), ("state", "MASTER"), ("result", "success")];
        assert_eq!(r.get("ec2_vip_transitions_total", l), Some(8.0));
        let names: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names.len(), 2, "the textfile and its lock, no temp file left: {names:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
