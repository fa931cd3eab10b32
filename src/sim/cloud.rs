//! The simulated cloud: one true world (`aws::fake::World`) shared by every node, and
//! what each node is shown of it. After every write each node, independently, keeps
//! seeing the world from before it for a random part of the consistency window (EC2 is
//! eventually consistent — also to the writer). Calls take a random latency, are
//! throttled by token buckets (EC2's mutating and describe buckets, Route 53's 5/s) and
//! at random fail with a 5xx, hang past the deadline, or succeed with the answer lost.

use super::rng::Rng;
use crate::aws::fake::{FakeEc2, World};
use crate::error::Ec2Error;
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::time::Instant;

/// Fault rates (per call) and the staleness window.
#[derive(Debug, Clone)]
pub struct Faults {
    pub stale: Duration,
    pub server_error: f64,
    pub hang: f64,
    pub lost_answer: f64,
    pub imds_drop: f64,
    pub throttle: bool,
}

impl Faults {
    pub fn none() -> Faults {
        Faults {
            stale: Duration::ZERO,
            server_error: 0.0,
            hang: 0.0,
            lost_answer: 0.0,
            imds_drop: 0.0,
            throttle: false,
        }
    }
}

/// A token bucket: `cap` tokens, refilled at `rate` per second (virtual time).
#[derive(Debug, Clone)]
struct Bucket {
    tokens: f64,
    cap: f64,
    rate: f64,
    at: Instant,
}

impl Bucket {
    fn new(cap: f64, rate: f64) -> Bucket {
        Bucket { tokens: cap, cap, rate, at: Instant::now() }
    }

    fn take(&mut self) -> bool {
        let now = Instant::now();
        self.tokens = (self.tokens + (now - self.at).as_secs_f64() * self.rate).min(self.cap);
        self.at = now;
        (self.tokens >= 1.0).then(|| self.tokens -= 1.0).is_some()
    }
}

/// A write some node may not see yet: the world before it, and when each node will.
struct Past {
    before: World,
    visible: Vec<Instant>,
}

/// One accepted write and what it changed: (resource, holder before, holder after).
#[derive(Debug, Clone)]
pub struct Write {
    pub at: Duration,
    pub node: usize,
    pub op: &'static str,
    /// The resource the call names (`holders`' key).
    pub key: String,
    pub changed: Vec<(String, Option<String>, Option<String>)>,
}

/// Who holds what: a key per resource (route, Elastic IP, address, record) → its holder.
pub fn holders(w: &World) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    for t in &w.tables {
        for r in &t.routes {
            m.insert(format!("route {} {}", t.id, r.destination), r.target.to_string());
        }
    }
    for a in &w.addresses {
        let on = a.network_interface_id.clone().unwrap_or_else(|| "-".into());
        m.insert(format!("eip {}", a.allocation_id), on);
    }
    for (_, i) in &w.interfaces {
        for ip in &i.private_ips {
            m.insert(format!("ip {ip}"), i.id.clone());
        }
        for ip in &i.ipv6 {
            m.insert(format!("ipv6 {ip}"), i.id.clone());
        }
    }
    for (z, s) in &w.records {
        m.insert(format!("dns {z} {} {}", s.name, s.kind), s.values.join(","));
    }
    m
}

/// The shared cloud.
pub struct Shared {
    pub truth: FakeEc2,
    past: Vec<Past>,
    pub rng: Rng,
    pub faults: Faults,
    buckets: [Bucket; 3],
    pub nodes: usize,
    pub start: Instant,
    /// Every call: "ms node op fate", for replay and the determinism check.
    pub trace: Vec<String>,
    pub writes: Vec<Write>,
    /// Route 53 change id → when it is INSYNC.
    pub insync_at: BTreeMap<String, Instant>,
}

/// What becomes of one call.
pub enum Fate {
    Ok,
    Fail(&'static str),
    Hang,
    /// Made, then the answer is lost (writes only).
    Lost,
}

impl Shared {
    pub fn new(world: World, nodes: usize, rng: Rng, faults: Faults) -> Shared {
        Shared {
            truth: FakeEc2::new(world),
            past: Vec::new(),
            rng,
            faults,
            buckets: [Bucket::new(6.0, 2.0), Bucket::new(12.0, 6.0), Bucket::new(5.0, 5.0)],
            nodes,
            start: Instant::now(),
            trace: Vec::new(),
            writes: Vec::new(),
            insync_at: BTreeMap::new(),
        }
    }

    pub fn ms(&self) -> u128 {
        self.start.elapsed().as_millis()
    }

    /// The call's latency and fate.
    pub fn fate(&mut self, node: usize, op: &'static str, write: bool) -> (Duration, Fate) {
        let latency = Duration::from_millis(5 + self.rng.below(60));
        let bucket = if op.contains("Record") || op == "GetChange" || op == "GetHostedZone" {
            2
        } else if write {
            0
        } else {
            1
        };
        let f = self.faults.clone();
        let fate = if f.throttle && !self.buckets[bucket].take() {
            Fate::Fail(if bucket == 2 { "Throttling" } else { "RequestLimitExceeded" })
        } else if self.rng.chance(f.server_error) {
            Fate::Fail(if self.rng.chance(0.5) { "InternalError" } else { "Unavailable" })
        } else if self.rng.chance(f.hang) {
            Fate::Hang
        } else if write && self.rng.chance(f.lost_answer) {
            Fate::Lost
        } else {
            Fate::Ok
        };
        let said = match &fate {
            Fate::Ok => "ok",
            Fate::Fail(c) => c,
            Fate::Hang => "hang",
            Fate::Lost => "lost",
        };
        self.trace.push(format!("{} n{node} {op} {said}", self.ms()));
        (latency, fate)
    }

    /// What `node` reads now: the world before the oldest write it does not see yet.
    pub fn view(&mut self, node: usize) -> FakeEc2 {
        let now = Instant::now();
        self.past.retain(|p| p.visible.iter().any(|v| *v > now));
        match self.past.iter().find(|p| p.visible[node] > now) {
            Some(p) => FakeEc2::new(p.before.clone()),
            None => self.truth.clone(),
        }
    }

    /// Record an accepted write made by `node`: its effect, hidden from each node for a
    /// random part of the window.
    pub fn wrote(&mut self, node: usize, op: &'static str, key: String, before: World) {
        let (old, new) = (holders(&before), holders(&self.truth.world.borrow()));
        let mut changed = Vec::new();
        for k in old.keys().chain(new.keys().filter(|k| !old.contains_key(*k))) {
            if old.get(k) != new.get(k) {
                changed.push((k.clone(), old.get(k).cloned(), new.get(k).cloned()));
            }
        }
        let window = self.faults.stale.as_millis() as u64;
        let now = Instant::now();
        let visible =
            (0..self.nodes).map(|_| now + Duration::from_millis(self.rng.below(window + 1))).collect();
        self.past.push(Past { before, visible });
        let at = self.start.elapsed();
        self.writes.push(Write { at, node, op, key, changed });
    }
}

pub fn fault(op: &'static str, code: &str) -> Ec2Error {
    Ec2Error {
        operation: op,
        resources: String::new(),
        code: Some(code.into()),
        message: Some("simulated".into()),
        request_id: None,
    }
}
