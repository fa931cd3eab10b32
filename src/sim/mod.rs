//! A deterministic simulation (issue 28): 2–3 nodes run the real engine (transition,
//! reconcile and repair, settle, release, the stale rules, the lock and records of
//! `ordering`) in one process, in virtual time, against one shared in-memory cloud that
//! is eventually consistent per node, throttles, fails and loses answers. Schedules of
//! keepalived transitions, reconcile ticks, Pacemaker start/stop/probe, crashes and
//! partitions come from a seed; the invariants are checked after every step and at the
//! end; a failing schedule is shrunk and printed with the command that replays it.
//!
//! Test-only (`#[cfg(test)]`): nothing of it is in the binary.

pub mod check;
pub mod client;
pub mod cloud;
pub mod rng;
pub mod run;
pub mod schedule;
pub mod world;

#[cfg(test)]
mod tests;
