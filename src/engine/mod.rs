//! The engine: one `transition` (record → lock → superseded? → plan every scenario →
//! apply → read back → report) and one `reconcile` (check / repair) over every scenario,
//! used by `notify`, `master…`, `check` and `watch` alike. It owns the policies —
//! ordering, retries while throttled, read-back, concurrency — and talks to AWS only
//! through a `Cloud` and the scenarios.

pub mod apply;
mod checked;
pub mod event;
pub mod knobs;
pub mod progress;
pub mod reconcile;
pub mod report;
pub mod retry;
mod settle;
pub mod stale;
pub mod transition;

#[cfg(test)]
mod dns_tests;
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
    /// Where `region` came from (`--region`, `AWS_REGION`, `AWS_DEFAULT_REGION`), for the
    /// lines that name it.
    pub region_from: &'static str,
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

/// The region-override warning is said once per run (`watch` connects per transition).
static REGION_WARNED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

impl Settings {
    /// A region override that differs from the instance's region (IMDS), in words: the
    /// node's ENI and VPC live in the instance's region, and EC2 calls go elsewhere.
    pub fn region_mismatch(&self, instance_region: &str) -> Option<String> {
        let r = self.region.as_deref().filter(|r| *r != instance_region)?;
        Some(format!(
            "{}={r} differs from this instance's region {instance_region} (IMDS): EC2 calls go to \
             {r}, where this node's ENI and VPC are not; unset it unless that is meant",
            self.region_from
        ))
    }
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
    /// A client per role that DNS records' hosted zones are reached through.
    pub zones: Vec<(String, C)>,
}

impl<C> Session<C> {
    pub fn ctx<'a>(&'a self, deadline: &'a Deadline) -> Ctx<'a, C> {
        Ctx { me: &self.me, ec2: &self.ec2, sites: &self.sites, zones: &self.zones, deadline }
    }
}

/// What a keepalived state asks of the resources; None: nothing at all.
pub fn goal(role: Role, res: &Resources) -> Option<Goal> {
    match role {
        Role::Master => Some(Goal::Take),
        _ if res.release
            && !(res.eips.is_empty()
                && res.private_ips.is_empty()
                && res.ipv6_addresses.is_empty()
                && res.dns_records.is_empty()) =>
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
        self.cloud.check_access(&res.access).await?;
        let me = self.cloud.identity(&res.eni, deadline).await?;
        log::debug!("identity from IMDS after {} ms", (deadline.total() - deadline.remaining()).as_millis());
        let access = &res.access;
        let region = access.region.clone().or_else(|| self.settings.region.clone());
        let region = region.unwrap_or_else(|| me.region.clone());
        if let Some(w) = self.settings.region_mismatch(&me.region).filter(|_| access.region.is_none()) {
            if !REGION_WARNED.swap(true, std::sync::atomic::Ordering::Relaxed) {
                log::warn!("{w}");
            }
        }
        info!("this node: {} {} in {} ({region})", me.instance_id, me.eni_id, me.vpc_id);
        if let Some(role) = &access.role_arn {
            info!("EC2 calls as {role}");
        }
        let ec2 = self.cloud.client(&region, access, deadline).await?;
        let mut sites = Vec::with_capacity(res.sites.len());
        for s in &res.sites {
            sites.push(self.cloud.site_client(&ec2, s).await);
        }
        let mut zones: Vec<(String, K::Client)> = Vec::new();
        for r in &res.dns_records {
            let Some(role) = r.role_arn.as_deref().filter(|a| !zones.iter().any(|(z, _)| z == a)) else {
                continue;
            };
            let site = crate::config::Site::for_role(&region, role, r.external_id.as_deref());
            zones.push((role.to_string(), self.cloud.site_client(&ec2, &site).await));
        }
        Ok(Session { me, ec2, sites, zones })
    }
}
