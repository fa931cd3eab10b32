//! The simulator in the test suite: a fixed set of seeds over every scenario, the same
//! seed twice giving the same trace, each reverted fix found, and the entry point of
//! `scripts/simulate` (environment variables, the test `simulate_from_env`).

use super::run::run;
use super::schedule::{generate, shrink, Schedule};
use super::world::Scenario;
use crate::engine::knobs::{self, Knob};
use std::time::Instant;

/// A failing schedule: its seed, violations, the shrunk schedule and how to replay it.
pub fn explain(s: &Schedule, violations: &[String]) -> String {
    let small = shrink(s.clone(), &|t| !run(t).violations.is_empty());
    let mut out = format!("seed {} ({}) violates:\n", s.seed, s.scenario.name());
    for v in violations {
        out += &format!("  {v}\n");
    }
    out += &format!("shrunk ({} of {} steps): {small}", small.steps.len(), s.steps.len());
    out += &format!("replay: scripts/simulate --seed {} --scenario {}\n", s.seed, s.scenario.name());
    out
}

/// Run `count` seeds from `first`; the first failing schedule, and how many ran.
pub fn explore(first: u64, count: u64, only: Option<Scenario>) -> (u64, Option<(Schedule, Vec<String>)>) {
    for seed in first..first + count {
        let s = generate(seed, only);
        let out = run(&s);
        if !out.violations.is_empty() {
            return (seed - first + 1, Some((s, out.violations)));
        }
    }
    (count, None)
}

/// Violations still found, and tolerated by the suite (counted): (scenario, invariant).
/// Issue 27's fixes emptied the rest of this list (items 4, 5, 7, 8 and 11: `census` finds
/// none of those classes in 1,400 schedules). Left:
/// - any scenario, 6: a 3-node split brain changes hands up to 6 times in 30 s (routes
///   seed 96, eip 87, mix 96): a node yields only to a lower ENI *holding* the resource,
///   so the two higher ones fight on until the lowest takes it; and a dead winner not
///   replaced within 11 s under heavy faults (routes seed 62)
/// - private-ip, ipv6, 4: in a split brain, a first MASTER 0.5 s after the peer's write
///   reads the stale "already on this node", trusts it (`stale::distrust` trusts an
///   address on a first MASTER) and exits 0 with the address on the peer (seed 57). Reading
///   again on every MASTER fixes it here, but made the 2-node split brain of
///   test_split_brain change hands 5 times in 14 s (the ReadAgain MASTER takes everything
///   back after the window, and the contest restarts): left for settle.rs
/// - eip, 4: a 3-node flap where a BACKUP's release reads a stale association (a window
///   after its own superseded MASTER re-associated) and exits 0 with the address still
///   here (seed 88, 167); dns and mix, 4: a record read stale by another caller (dns seed
///   32, mix 249; the model makes Route 53's reads as stale as EC2's, which its API is
///   not: not triaged)
const KNOWN: &[(Option<Scenario>, char)] = &[(None, '6'), (None, '4')];

fn known(sc: Scenario, v: &str) -> bool {
    let inv = v.chars().next().unwrap_or(' ');
    KNOWN.iter().any(|(s, i)| *i == inv && s.is_none_or(|s| s == sc))
}

#[test]
fn the_same_seed_gives_the_same_trace() {
    for seed in [1, 7, 42] {
        let s = generate(seed, None);
        let (a, b) = (run(&s), run(&s));
        assert_eq!(a.trace, b.trace, "seed {seed} is not deterministic");
        assert!(a.trace.len() > 5, "seed {seed} did something: {:?}", a.trace);
    }
}

/// Schedules in the ordinary suite (per scenario: this over 7).
const SUITE: u64 = 2100;

#[test]
fn schedules_keep_every_invariant() {
    let started = Instant::now();
    let (mut ran, mut tolerated) = (0, 0);
    for sc in Scenario::ALL {
        for seed in 1..=SUITE / Scenario::ALL.len() as u64 {
            let s = generate(seed, Some(sc));
            let v = run(&s).violations;
            ran += 1;
            let (old, new): (Vec<String>, Vec<String>) = v.into_iter().partition(|v| known(sc, v));
            tolerated += old.len();
            assert!(new.is_empty(), "{}", explain_unknown(&s, &new));
        }
    }
    eprintln!(
        "{ran} schedules in {:.1} s; {tolerated} known violations (issue 27)",
        started.elapsed().as_secs_f64()
    );
}

/// The suite without `KNOWN`: un-ignore once issue 27's fixes (and the split-brain
/// findings) are merged; until then it fails on the first of today's defects.
#[test]
#[ignore = "today's issue-27 defects: un-ignore when KNOWN is emptied"]
fn schedules_keep_every_invariant_strictly() {
    for sc in Scenario::ALL {
        let (_, failed) = explore(1, SUITE / Scenario::ALL.len() as u64, Some(sc));
        if let Some((s, v)) = failed {
            panic!("{}", explain(&s, &v));
        }
    }
}

/// As `explain`, shrinking while a violation outside `KNOWN` remains.
fn explain_unknown(s: &Schedule, violations: &[String]) -> String {
    let fails = |t: &Schedule| run(t).violations.iter().any(|v| !known(t.scenario, v));
    let small = shrink(s.clone(), &fails);
    format!(
        "seed {} ({}): {violations:?}\nshrunk: {small}replay: scripts/simulate --seed {} --scenario {}",
        s.seed,
        s.scenario.name(),
        s.seed,
        s.scenario.name()
    )
}

/// `scripts/simulate`: EC2VIP_SIM_SEED (one schedule, printed), or EC2VIP_SIM_SEEDS
/// schedules from EC2VIP_SIM_FIRST; EC2VIP_SIM_SCENARIO restricts the scenario.
#[test]
#[ignore = "run by scripts/simulate"]
fn simulate_from_env() {
    let var = |k: &str| std::env::var(k).ok();
    let only = var("EC2VIP_SIM_SCENARIO").map(|s| Scenario::parse(&s).expect("unknown scenario"));
    if let Some(seed) = var("EC2VIP_SIM_SEED").and_then(|s| s.parse().ok()) {
        let s = generate(seed, only);
        let out = run(&s);
        println!("{s}");
        for t in &out.trace {
            println!("  {t}");
        }
        assert!(out.violations.is_empty(), "{}", explain(&s, &out.violations));
        return;
    }
    let count = var("EC2VIP_SIM_SEEDS").and_then(|s| s.parse().ok()).unwrap_or(1000);
    let first = var("EC2VIP_SIM_FIRST").and_then(|s| s.parse().ok()).unwrap_or(1);
    let strict = var("EC2VIP_SIM_STRICT").is_some();
    let started = Instant::now();
    let mut tolerated = 0;
    for seed in first..first + count {
        let s = generate(seed, only);
        let (old, new): (Vec<String>, Vec<String>) =
            run(&s).violations.into_iter().partition(|v| !strict && known(s.scenario, v));
        tolerated += old.len();
        assert!(new.is_empty(), "{}", explain_unknown(&s, &new));
    }
    let secs = started.elapsed().as_secs_f64();
    println!("{count} schedules in {secs:.1} s ({:.0}/s); {tolerated} known violations", count as f64 / secs);
}

/// Revert `knob`'s fix and search `only`'s schedules for a violation that the same
/// schedule does not show with the fix in place (today's known defects aside).
fn finds(knob: Knob, only: Scenario, within: u64) {
    for seed in 1..=within {
        let s = generate(seed, Some(only));
        knobs::set(knob, true);
        let reverted = run(&s).violations;
        knobs::set(knob, false);
        if reverted.is_empty() {
            continue;
        }
        let fixed = run(&s).violations;
        let new: Vec<&String> = reverted.iter().filter(|v| !fixed.contains(v)).collect();
        if !new.is_empty() {
            eprintln!("{knob:?} reverted: found after {seed} schedules (seed {seed}): {new:?}");
            return;
        }
    }
    panic!("{knob:?} reverted: no new violation in {within} schedules");
}

#[test]
fn a_reverted_stale_keep_is_found() {
    finds(Knob::StaleKeep, Scenario::Routes, 400);
}

#[test]
fn a_reverted_release_after_takeover_is_found() {
    finds(Knob::ReleaseAfterTakeover, Scenario::PrivateIp, 400);
}

#[test]
fn a_reverted_superseded_read_back_is_found() {
    finds(Knob::SupersededReadBack, Scenario::Routes, 400);
}

#[test]
fn a_reverted_dns_ownership_is_found() {
    finds(Knob::DnsOwnership, Scenario::DnsFixed, 400);
}

#[test]
fn a_reverted_dns_settlement_is_found() {
    finds(Knob::DnsSettlement, Scenario::Dns, 400);
}

/// Every violation class over `EC2VIP_SIM_SEEDS` seeds per scenario, with a first seed of
/// each (what today's main breaks; `scripts/simulate --census`).
#[test]
#[ignore = "run by scripts/simulate --census"]
fn census() {
    let count = std::env::var("EC2VIP_SIM_SEEDS").ok().and_then(|s| s.parse().ok()).unwrap_or(200u64);
    let started = Instant::now();
    let mut classes: std::collections::BTreeMap<String, (u64, u64)> = Default::default();
    for sc in Scenario::ALL {
        for seed in 1..=count {
            for v in run(&generate(seed, Some(sc))).violations {
                let class = format!("{} inv {}", sc.name(), &v[..1]);
                classes.entry(class).or_insert((0, seed)).0 += 1;
            }
        }
    }
    let n = count * Scenario::ALL.len() as u64;
    println!("{n} schedules in {:.1} s", started.elapsed().as_secs_f64());
    for (c, (k, seed)) in classes {
        println!("{c}: {k} violations, first seed {seed}");
    }
}

/// Found by the simulator (ipv6, seed 21): a release that waits out the consistency window
/// to read again ignored a newer transition recorded meanwhile and went on reading (4.9 s
/// past it, holding the lock). Fixed in `transition`: it asks again after the wait.
#[test]
fn a_run_superseded_while_it_waits_out_the_window_lets_go() {
    let v = run(&generate(21, Some(Scenario::Ipv6))).violations;
    assert!(!v.iter().any(|v| v.starts_with("5:")), "{v:?}");
}
