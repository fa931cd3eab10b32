//! The engine: one `transition` (record → lock → superseded? → plan every scenario →
//! apply → read back → report) and one `reconcile` (check / repair) over every scenario,
//! used by `notify`, `master…`, `check` and `watch` alike. It owns the policies —
//! ordering, retries while throttled, read-back, concurrency — and talks to AWS only
//! through a `Cloud` and the scenarios.

pub mod apply;
pub mod event;
pub mod progress;
pub mod reconcile;
pub mod report;
pub mod retry;
mod settle;
pub mod stale;
pub mod transition;

#[cfg(test)]
mod tests;

use crate::aws::Cloud;
use crate::config::Resources;
use crate::deadline::Deadline;
use crate::error::Error;
use crate::keepalived::Role;
use crate::model::Identity;
use crate::scenario::{Ctx, Goal};
use log::info;
use std::path::PathBuf;
use std::time::Duration;

/// What the library runs on: plain values, whatever the front end (clap, a test).
#[derive(Debug, Clone)]
pub struct Settings {
    /// Per-instance lock and transition-record files.
    pub state_dir: PathBuf,
    /// Region of the node's EC2 client; None: the instance's region from IMDS.
    pub region: Option<String>,
    /// One deadline for a whole run.
    pub timeout: Duration,
    /// Attempts per API call (first try plus retries).
    pub max_attempts: u32,
    /// Plan and print, change nothing.
    pub dry_run: bool,
    /// How long EC2's Describe answers may lag a write (EC2 is eventually consistent): a
    /// read that could be that stale is not trusted to skip a write (see `stale`).
    pub consistency_window: Duration,
}

/// Settings plus where sessions come from.
pub struct Engine<K> {
    pub settings: Settings,
    pub cloud: K,
}

/// Who this node is and the clients to reach its resources: the node's region, and one
/// client per Transit Gateway site (parallel to the resources' `sites`).
pub struct Session<C> {
    pub me: Identity,
    pub ec2: C,
    pub sites: Vec<C>,
}

impl<C> Session<C> {
    pub fn ctx<'a>(&'a self, deadline: &'a Deadline) -> Ctx<'a, C> {
        Ctx { me: &self.me, ec2: &self.ec2, sites: &self.sites, deadline }
    }
}

/// What a keepalived state asks of the resources; None: nothing at all.
pub fn goal(role: Role, res: &Resources) -> Option<Goal> {
    match role {
        Role::Master => Some(Goal::Take),
        _ if res.release
            && !(res.eips.is_empty() && res.private_ips.is_empty() && res.ipv6_addresses.is_empty()) =>
        {
            Some(Goal::Release)
        }
        _ => None,
    }
}

impl<K: Cloud> Engine<K> {
    pub fn new(settings: Settings, cloud: K) -> Engine<K> {
        Engine { settings, cloud }
    }

    /// Learn who we are (IMDS) and build the clients.
    pub async fn connect(&self, res: &Resources, deadline: &Deadline) -> Result<Session<K::Client>, Error> {
        let me = self.cloud.identity(&res.eni, deadline).await?;
        log::debug!("identity from IMDS after {} ms", (deadline.total() - deadline.remaining()).as_millis());
        let region = self.settings.region.clone().unwrap_or_else(|| me.region.clone());
        info!("this node: {} {} in {} ({region})", me.instance_id, me.eni_id, me.vpc_id);
        let ec2 = self.cloud.client(&region, deadline).await;
        let mut sites = Vec::with_capacity(res.sites.len());
        for s in &res.sites {
            sites.push(self.cloud.site_client(&ec2, s).await);
        }
        Ok(Session { me, ec2, sites })
    }
}
