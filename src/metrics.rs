//! Prometheus metrics as plain data: the families ec2-vip exports, a registry of their
//! series, the text exposition format (0.0.4) out and back in. The same registry feeds the
//! node_exporter textfile of one-shot runs and `watch`'s `/metrics`; what fills it lives in
//! `commands::metrics`.
//!
//! One-shot runs each see only their own run, so the textfile is the memory: a run reads
//! the file it replaces, adds its counts to the counters and histograms found there, sets
//! its gauges, and renames the new file over the old one. Counters count across runs until
//! the file is removed (Prometheus takes the drop as a counter reset).

use std::collections::BTreeMap;
use std::fmt::Write;

/// Failover durations, seconds: from a warm watcher's ~50 ms to a run near its deadline.
pub const BUCKETS: [f64; 11] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    Counter,
    Gauge,
    Histogram,
}

pub struct Family {
    pub name: &'static str,
    pub kind: Type,
    pub help: &'static str,
}

const fn fam(name: &'static str, kind: Type, help: &'static str) -> Family {
    Family { name, kind, help }
}

pub const FAMILIES: &[Family] = &[
    fam(
        "ec2_vip_state",
        Type::Gauge,
        "1 for the instance's last VRRP state (MASTER, BACKUP, FAULT, STOP), 0 for the others.",
    ),
    fam(
        "ec2_vip_last_transition_timestamp_seconds",
        Type::Gauge,
        "When the instance's last transition ended, seconds since the epoch.",
    ),
    fam(
        "ec2_vip_last_transition_success",
        Type::Gauge,
        "1 if the instance's last transition succeeded, 0 if it failed.",
    ),
    fam(
        "ec2_vip_transitions_total",
        Type::Counter,
        "Transitions run, by state and result (success or failure).",
    ),
    fam("ec2_vip_transition_duration_seconds", Type::Histogram, "How long transitions took."),
    fam(
        "ec2_vip_resource_owned",
        Type::Gauge,
        "1 if the resource pointed at this node when last written or checked, else 0.",
    ),
    fam("ec2_vip_drift_seen_total", Type::Counter, "Resources found not pointing at this node while MASTER."),
    fam("ec2_vip_drift_repaired_total", Type::Counter, "Drifted resources put back by local recovery."),
    fam(
        "ec2_vip_split_brain_contests_total",
        Type::Counter,
        "Repairs another MASTER took back (split brain); this node then yields.",
    ),
    fam(
        "ec2_vip_yielding",
        Type::Gauge,
        "1 while this node yields to another MASTER after a split-brain contest.",
    ),
    fam(
        "ec2_vip_api_errors_total",
        Type::Counter,
        "Failed AWS and instance metadata calls, by service, operation and error code.",
    ),
    fam(
        "ec2_vip_throttled_total",
        Type::Counter,
        "Throttling errors the engine saw after the SDK's retries, by service and operation.",
    ),
    fam(
        "ec2_vip_last_reconcile_success_timestamp_seconds",
        Type::Gauge,
        "When a check or reconcile last read every resource, seconds since the epoch.",
    ),
];

fn family(name: &str) -> Option<&'static Family> {
    FAMILIES.iter().find(|f| f.name == name)
}

#[derive(Debug, Clone, Default, PartialEq)]
struct Hist {
    buckets: [f64; BUCKETS.len()],
    sum: f64,
    count: f64,
}

/// Series by (family, rendered labels). Labels are kept as rendered, so a parsed file and
/// this run's updates name the same series alike.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Registry {
    values: BTreeMap<(&'static str, String), f64>,
    hists: BTreeMap<(&'static str, String), Hist>,
}

/// `a="x",b="y"`, values escaped as the text format wants.
pub fn labels(pairs: &[(&str, &str)]) -> String {
    let mut s = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(k);
        s.push_str("=\"");
        for c in v.chars() {
            match c {
                '\\' => s.push_str("\\\\"),
                '"' => s.push_str("\\\""),
                '\n' => s.push_str("\\n"),
                c => s.push(c),
            }
        }
        s.push('"');
    }
    s
}

fn num(v: f64) -> String {
    if v == f64::INFINITY {
        "+Inf".into()
    } else {
        v.to_string()
    }
}

impl Registry {
    fn key(name: &str, l: String) -> (&'static str, String) {
        match family(name) {
            Some(f) => (f.name, l),
            None => panic!("metric {name} is not in FAMILIES"),
        }
    }

    pub fn add(&mut self, name: &str, pairs: &[(&str, &str)], by: f64) {
        *self.values.entry(Self::key(name, labels(pairs))).or_default() += by;
    }

    pub fn set(&mut self, name: &str, pairs: &[(&str, &str)], v: f64) {
        self.values.insert(Self::key(name, labels(pairs)), v);
    }

    pub fn get(&self, name: &str, pairs: &[(&str, &str)]) -> Option<f64> {
        self.values.get(&(family(name)?.name, labels(pairs))).copied()
    }

    pub fn observe(&mut self, name: &str, pairs: &[(&str, &str)], v: f64) {
        let h = self.hists.entry(Self::key(name, labels(pairs))).or_default();
        for (b, le) in h.buckets.iter_mut().zip(BUCKETS) {
            if v <= le {
                *b += 1.0;
            }
        }
        h.sum += v;
        h.count += 1.0;
    }

    /// Set every series of `name` whose labels start with `prefix` (e.g. one instance's).
    pub fn set_matching(&mut self, name: &str, prefix: &str, v: impl Fn(&str) -> Option<f64>) {
        for ((n, l), val) in self.values.iter_mut() {
            if *n == name && l.starts_with(prefix) {
                if let Some(x) = v(l) {
                    *val = x;
                }
            }
        }
    }

    /// This registry on top of `earlier`: counters and histograms add up, gauges replace.
    pub fn merged_over(&self, mut earlier: Registry) -> Registry {
        for ((n, l), v) in &self.values {
            let slot = earlier.values.entry((n, l.clone())).or_default();
            match family(n).map(|f| f.kind) {
                Some(Type::Counter) => *slot += v,
                _ => *slot = *v,
            }
        }
        for (k, h) in &self.hists {
            let e = earlier.hists.entry(k.clone()).or_default();
            e.buckets.iter_mut().zip(h.buckets).for_each(|(a, b)| *a += b);
            e.sum += h.sum;
            e.count += h.count;
        }
        earlier
    }

    /// The text exposition format, families in FAMILIES' order, each with HELP and TYPE.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for f in FAMILIES {
            let kind = match f.kind {
                Type::Counter => "counter",
                Type::Gauge => "gauge",
                Type::Histogram => "histogram",
            };
            let _ = write!(out, "# HELP {} {}\n# TYPE {} {kind}\n", f.name, f.help, f.name);
            for ((_, l), v) in
                self.values.range((f.name, String::new())..).take_while(|((n, _), _)| *n == f.name)
            {
                let _ = writeln!(out, "{}{{{l}}} {}", f.name, num(*v));
            }
            for ((_, l), h) in
                self.hists.range((f.name, String::new())..).take_while(|((n, _), _)| *n == f.name)
            {
                let sep = if l.is_empty() { "" } else { "," };
                let les = BUCKETS.iter().copied().zip(h.buckets).chain([(f64::INFINITY, h.count)]);
                for (le, c) in les {
                    let _ = writeln!(out, "{}_bucket{{{l}{sep}le=\"{}\"}} {}", f.name, num(le), num(c));
                }
                let _ = writeln!(
                    out,
                    "{}_sum{{{l}}} {}\n{}_count{{{l}}} {}",
                    f.name,
                    num(h.sum),
                    f.name,
                    num(h.count)
                );
            }
        }
        out
    }

    /// What an earlier `render` wrote (other lines, and families not ours, are dropped).
    pub fn parse(text: &str) -> Registry {
        let mut r = Registry::default();
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let (Some(open), Some(close)) = (line.find('{'), line.rfind('}')) else { continue };
            let (name, l) = (&line[..open], &line[open + 1..close]);
            let Ok(v) = line[close + 1..].trim().parse::<f64>() else { continue };
            if let Some(f) = family(name).filter(|f| f.kind != Type::Histogram) {
                r.values.insert((f.name, l.to_string()), v);
                continue;
            }
            let Some((base, part)) = name.rsplit_once('_') else { continue };
            let Some(f) = family(base).filter(|f| f.kind == Type::Histogram) else { continue };
            let (l, le) = match l.rfind("le=\"") {
                Some(i) if part == "bucket" => (l[..i].trim_end_matches(','), Some(&l[i + 4..l.len() - 1])),
                _ => (l, None),
            };
            let h = r.hists.entry((f.name, l.to_string())).or_default();
            match (part, le) {
                ("sum", _) => h.sum = v,
                ("count", _) => h.count = v,
                ("bucket", Some(le)) => {
                    if let Some(i) = BUCKETS.iter().position(|b| num(*b) == le) {
                        h.buckets[i] = v;
                    }
                }
                _ => {}
            }
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_add_across_runs_and_gauges_replace() {
        let mut one = Registry::default();
        one.add(
            "ec2_vip_transitions_total",
            &[("instance", "VI_1"), ("state", "MASTER"), ("result", "success")],
            1.0,
        );
        one.set("ec2_vip_state", &[("instance", "VI_1"), ("state", "MASTER")], 1.0);
        one.observe("ec2_vip_transition_duration_seconds", &[("instance", "VI_1")], 0.3);
        let file = one.render();
        let again = Registry::parse(&file);
        assert_eq!(again, one, "{file}");
        let mut two = Registry::default();
        two.add(
            "ec2_vip_transitions_total",
            &[("instance", "VI_1"), ("state", "MASTER"), ("result", "success")],
            1.0,
        );
        two.set("ec2_vip_state", &[("instance", "VI_1"), ("state", "MASTER")], 0.0);
        two.observe("ec2_vip_transition_duration_seconds", &[("instance", "VI_1")], 12.0);
        let both = two.merged_over(again);
        let t = &[("instance", "VI_1"), ("state", "MASTER"), ("result", "success")];
        assert_eq!(both.get("ec2_vip_transitions_total", t), Some(2.0));
        assert_eq!(both.get("ec2_vip_state", &[("instance", "VI_1"), ("state", "MASTER")]), Some(0.0));
        let text = both.render();
        assert!(
            text.contains("ec2_vip_transition_duration_seconds_bucket{instance=\"VI_1\",le=\"0.5\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("ec2_vip_transition_duration_seconds_bucket{instance=\"VI_1\",le=\"+Inf\"} 2\n")
        );
        assert!(text.contains("ec2_vip_transition_duration_seconds_sum{instance=\"VI_1\"} 12.3\n"));
        assert_eq!(Registry::parse(&text), both);
    }

    #[test]
    fn label_values_are_escaped_and_read_back() {
        let mut r = Registry::default();
        let l =
            &[("instance", "a \"b\" \\ c"), ("kind", "route"), ("resource", "route 10.0.0.0/24 in rtb-1")];
        r.set("ec2_vip_resource_owned", l, 1.0);
        let text = r.render();
        assert!(text.contains(r#"instance="a \"b\" \\ c""#), "{text}");
        assert_eq!(Registry::parse(&text).get("ec2_vip_resource_owned", l), Some(1.0));
        assert_eq!(Registry::parse("garbage\nec2_vip_nope{a=\"b\"} 1\n"), Registry::default());
    }
}
