//! ec2-vip: move a virtual IP's VPC route-table entries, Elastic IPs, Transit Gateway
//! routes, secondary private IPs, IPv6 addresses and Route 53 records to this EC2 node when
//! keepalived (or anyone) says it is MASTER.
//!
//! # Layout
//!
//! Layers, from the top; each imports only layers below it, never one above:
//!
//! ```text
//! main (bin)   parse the command line, set up logging and the runtime, map the exit code
//! commands/    one file per subcommand: CLI values in, engine calls, text and JSON out
//!   cli/       clap definitions; `Settings` and `Resources` from them (used by main and
//!              commands only: the library below never sees clap)
//! engine/      transition and reconcile over every scenario; apply (throttle-aware writes,
//!              read back that stops when superseded); stale (EC2 is eventually
//!              consistent: when "already here" is not trusted); settle (split brain);
//!              typed reports and the events built from them; sessions (identity + clients)
//! scenario/    one folder per way of carrying a VIP (route_table, elastic_ip,
//!              transit_gateway, private_ip, ipv6_address, dns_record), each plan → uniform steps →
//!              write → confirm; the pure planning in each folder's plan.rs
//! aws/         the seams: `Ec2`, `TransitGateways`, `Route53`, `Cloud` (IMDS identity,
//!              clients per region, per section's profile/role and per site through STS);
//!              SDK implementations; test fakes
//! keepalived/  ordering/   VRRP states, notify_fifo lines and their reader, keepalived.conf;
//!                          lock, fork stamps, records
//! foundation   model (plain data), config, error (exit codes), deadline, logging,
//!              hook (runs the operator's event command, bounded), arena (the binary's
//!              global allocator: a bump arena in front of musl's), trust (who may own
//!              and write the config, the notify FIFO and the log file), metrics (the
//!              Prometheus families, their registry and text format)
//! sim/         (tests only) the deterministic simulation of 2–3 nodes running the real
//!              engine against a shared, eventually consistent, faulty fake cloud
//! ```
//!
//! The rule: `main → commands → engine → scenario → aws → foundation`; `keepalived` and
//! `ordering` sit beside `aws` and import only the foundation; the foundation imports
//! nothing above it. Scenarios know nothing of keepalived: the engine turns a VRRP state
//! into a [`scenario::Goal`].

pub mod arena;
pub mod aws;
pub mod cli;
pub mod commands;
pub mod config;
pub mod deadline;
pub mod engine;
pub mod error;
pub mod hook;
pub mod keepalived;
pub mod logging;
pub mod metrics;
pub mod model;
pub mod ordering;
pub mod scenario;
#[cfg(test)]
pub mod sim;
pub mod trust;
