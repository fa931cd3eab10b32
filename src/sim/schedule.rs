//! Schedules: what keepalived, Pacemaker, watch and the operator do to each node, in
//! order, with the virtual time between steps; drawn from a seed, shrunk greedily.

use super::cloud::Faults;
use super::rng::Rng;
use super::world::Scenario;
use std::fmt;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Act {
    /// keepalived's notify for this node's state (a notify process per transition).
    Master,
    Backup,
    Fault,
    Stop,
    /// watch's reconcile tick / `check --repair`.
    Reconcile,
    /// Pacemaker: `ocf start`, `ocf stop` (release), and a probe on every live node at once.
    OcfStart,
    OcfStop,
    Probe,
    /// The node's processes die (its state dir stays); Restart brings keepalived back as BACKUP.
    Crash,
    Restart,
    /// The nodes stop hearing each other (both may be MASTER) / hear each other again.
    Partition,
    Heal,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// Virtual milliseconds after the previous step.
    pub gap_ms: u64,
    pub node: usize,
    pub act: Act,
}

/// One schedule: its landscape, its faults, its steps, and how it ends.
#[derive(Debug, Clone)]
pub struct Schedule {
    pub seed: u64,
    pub scenario: Scenario,
    pub nodes: usize,
    pub release: bool,
    pub faults: Faults,
    pub steps: Vec<Step>,
    /// The node keepalived (or Pacemaker) leaves MASTER at the end; None: a split brain
    /// that never heals (every node MASTER, reconcile ticks each second).
    pub winner: Option<usize>,
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "seed {} {} nodes={} release={}",
            self.seed,
            self.scenario.name(),
            self.nodes,
            self.release
        )?;
        let w = self.winner.map_or("split brain".to_string(), |w| format!("n{w}"));
        writeln!(f, " winner={w} faults={:?}", self.faults)?;
        let mut at = 0;
        for s in &self.steps {
            at += s.gap_ms;
            writeln!(f, "  {at:>6} ms  n{} {:?}", s.node, s.act)?;
        }
        Ok(())
    }
}

fn gap(rng: &mut Rng) -> u64 {
    if rng.chance(0.35) {
        rng.below(300)
    } else {
        rng.below(4000)
    }
}

/// A keepalived failover to `k`: its MASTER and (unless partitioned) the others' BACKUP,
/// in any order, close together.
fn failover(rng: &mut Rng, nodes: usize, k: usize, partitioned: bool, out: &mut Vec<Step>) {
    let mut acts: Vec<(usize, Act)> = vec![(k, Act::Master)];
    if !partitioned {
        acts.extend((0..nodes).filter(|n| *n != k).map(|n| (n, Act::Backup)));
    }
    while !acts.is_empty() {
        let (node, act) = acts.remove(rng.below(acts.len() as u64) as usize);
        out.push(Step { gap_ms: rng.below(400), node, act });
    }
}

/// Draw the schedule of `seed` (restricted to `only` when given).
pub fn generate(seed: u64, only: Option<Scenario>) -> Schedule {
    let mut rng = Rng::new(seed);
    let scenario = only.unwrap_or(*rng.pick(&Scenario::ALL));
    let nodes = 2 + rng.below(2) as usize;
    let release = scenario == Scenario::DnsFixed || rng.chance(0.6);
    let heavy = rng.chance(0.3);
    let faults = Faults {
        stale: Duration::from_millis(*rng.pick(&[0, 1000, 2000])),
        server_error: if heavy { 0.05 } else { 0.01 },
        hang: if heavy { 0.02 } else { 0.0 },
        lost_answer: if heavy { 0.03 } else { 0.0 },
        imds_drop: if heavy { 0.05 } else { 0.0 },
        throttle: rng.chance(0.5),
    };
    let pacemaker = rng.chance(0.2);
    let split_end = !pacemaker && rng.chance(0.1);
    let mut steps = Vec::new();
    let (mut partitioned, mut down) = (false, vec![false; nodes]);
    let mut started: Option<usize> = None; // where Pacemaker last started the resource
    for _ in 0..(3 + rng.below(8)) {
        let k = rng.below(nodes as u64) as usize;
        let g = gap(&mut rng);
        let mark = steps.len();
        if pacemaker {
            match rng.below(10) {
                0..=4 => {
                    let held: Vec<usize> = (0..nodes).filter(|n| *n != k).collect();
                    for n in held {
                        steps.push(Step { gap_ms: rng.below(200), node: n, act: Act::OcfStop });
                    }
                    steps.push(Step { gap_ms: rng.below(3000), node: k, act: Act::OcfStart });
                    started = Some(k);
                }
                5..=6 => steps.push(Step { gap_ms: 0, node: k, act: Act::Probe }),
                7 => {
                    steps.push(Step { gap_ms: 0, node: k, act: Act::OcfStop });
                    started = started.filter(|s| *s != k);
                }
                // a start again where it runs (recovery after a failed monitor); Pacemaker
                // never starts it on a second node while one runs it
                _ => steps.push(Step { gap_ms: 0, node: started.unwrap_or(k), act: Act::OcfStart }),
            }
            if started.is_none() && steps.last().is_some_and(|s| s.act == Act::OcfStart) {
                started = Some(k);
            }
        } else if down[k] {
            down[k] = false;
            steps.push(Step { gap_ms: 0, node: k, act: Act::Restart });
        } else {
            match rng.below(20) {
                0..=6 => failover(&mut rng, nodes, k, partitioned, &mut steps),
                7..=8 => {
                    // a flap: BACKUP and MASTER again, or MASTER repeated
                    let first = if rng.chance(0.5) { Act::Backup } else { Act::Master };
                    steps.push(Step { gap_ms: 0, node: k, act: first });
                    steps.push(Step { gap_ms: rng.below(300), node: k, act: Act::Master });
                }
                9 => steps.push(Step { gap_ms: 0, node: k, act: *rng.pick(&[Act::Fault, Act::Stop]) }),
                10..=14 => steps.push(Step { gap_ms: 0, node: k, act: Act::Reconcile }),
                15..=16 => {
                    down[k] = true;
                    steps.push(Step { gap_ms: 0, node: k, act: Act::Crash });
                }
                _ => {
                    partitioned = !partitioned;
                    let act = if partitioned { Act::Partition } else { Act::Heal };
                    steps.push(Step { gap_ms: 0, node: k, act });
                }
            }
        }
        steps[mark].gap_ms += g;
    }
    for (n, d) in down.iter().enumerate() {
        if *d {
            steps.push(Step { gap_ms: gap(&mut rng), node: n, act: Act::Restart });
        }
    }
    let winner = (!split_end).then(|| rng.below(nodes as u64) as usize);
    match winner {
        Some(w) if pacemaker => {
            for n in (0..nodes).filter(|n| *n != w) {
                steps.push(Step { gap_ms: gap(&mut rng), node: n, act: Act::OcfStop });
            }
            steps.push(Step { gap_ms: rng.below(3000), node: w, act: Act::OcfStart });
            steps.push(Step { gap_ms: 12_000, node: w, act: Act::Probe });
        }
        Some(w) => {
            if partitioned {
                steps.push(Step { gap_ms: gap(&mut rng), node: w, act: Act::Heal });
            }
            let mark = steps.len();
            failover(&mut rng, nodes, w, false, &mut steps);
            steps[mark].gap_ms += gap(&mut rng);
        }
        None => {
            steps.push(Step { gap_ms: gap(&mut rng), node: 0, act: Act::Partition });
            for n in 0..nodes {
                steps.push(Step { gap_ms: rng.below(500), node: n, act: Act::Master });
            }
        }
    }
    Schedule { seed, scenario, nodes, release, faults, steps, winner }
}

/// Drop steps one at a time while `fails` still says the schedule fails (greedy).
pub fn shrink(mut s: Schedule, fails: &dyn Fn(&Schedule) -> bool) -> Schedule {
    let mut i = 0;
    while i < s.steps.len() {
        let mut t = s.clone();
        let dropped = t.steps.remove(i);
        if let Some(next) = t.steps.get_mut(i) {
            next.gap_ms += dropped.gap_ms;
        }
        if fails(&t) {
            s = t;
        } else {
            i += 1;
        }
    }
    s
}
