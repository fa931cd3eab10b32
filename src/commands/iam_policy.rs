//! `ec2-vip iam-policy`: the least-privilege IAM policy for this config (or --route/--eip…),
//! from each scenario's permissions (`scenario::iam`): the node's own, or with `--role` the
//! policy of a role a section or a Transit Gateway site names (`role_arn`): the calls made
//! as that role; the node's own policy then has `sts:AssumeRole` on it. Offline, except that a config whose writes are
//! scoped to the node's VPC asks IMDS for it when `--vpc` is not given.

use super::{select, set_aside, Selected};
use crate::aws::Cloud;
use crate::cli::PolicyArgs;
use crate::deadline::Deadline;
use crate::engine::Engine;
use crate::error::Error;
use crate::scenario::iam::{for_vip, merge, partition, role_home, Condition, Permission, Scope};
use crate::scenario::Scenario;
use serde::Serialize;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

/// What `doctor` reads beyond a failover's own calls (source/destination check).
pub const DOCTOR_ACTIONS: [&str; 1] = ["ec2:DescribeNetworkInterfaces"];

/// What local recovery reads in a split-brain contest: is the winner alive (its ENI's
/// attachment, its instance's state)?
pub const SPLIT_BRAIN_ACTIONS: [&str; 2] = ["ec2:DescribeInstanceStatus", "ec2:DescribeNetworkInterfaces"];

/// The longest IMDS may take to tell the node's VPC (off EC2 it never answers).
const IMDS_WAIT: Duration = Duration::from_secs(5);

pub async fn run<K: Cloud>(engine: &Engine<K>, config: &Path, args: &PolicyArgs) -> Result<(), Error> {
    let selection = select(config, &args.resources, args.instance.as_deref())?;
    // A policy without a broken section's resources would fail that section's failover.
    set_aside(&selection.broken, false)?;
    let selected = selection.sound;
    check_roles(&selected, args.role.as_deref())?;
    let mut scope = Scope::anywhere();
    if let Some(region) = &engine.settings.region {
        scope.region = region.clone();
    }
    if let Some(account) = &args.account {
        scope.account = account.clone();
    }
    scope.vpc = args.vpc.clone();
    let needs_vpc =
        selected.iter().find(|s| Scenario::for_resources(&s.resources).iter().any(|s| s.needs_vpc()));
    if let (None, None, Some(sel)) = (&args.role, &scope.vpc, needs_vpc) {
        let deadline = Deadline::after(engine.settings.timeout.min(IMDS_WAIT));
        let me = engine.cloud.identity(&sel.resources.eni, &deadline).await.map_err(|e| {
            Error::BadInput(format!(
                "{} writes only in the node's VPC and IMDS cannot tell it ({e}): give --vpc vpc-...",
                name(sel)
            ))
        })?;
        scope.vpc = Some(me.vpc_id);
        if engine.settings.region.is_none() {
            scope.region = me.region;
        }
    }
    let mut perms: Vec<Permission> = selected
        .iter()
        .flat_map(|s| for_vip(&Scenario::for_resources(&s.resources), &scope, &s.resources.access))
        .collect();
    // A section's role makes its split-brain reads too (the node's own policy has them).
    for role in selected.iter().filter_map(|s| s.resources.access.role_arn.as_ref()) {
        let reads = SPLIT_BRAIN_ACTIONS.iter().map(|a| Permission::any(a).via(Some(role)));
        perms.extend(reads);
    }
    let text = serde_json::to_string_pretty(&policy(perms, args.role.as_deref())).unwrap_or_default();
    // A closed pipe (`| head`) is not an error worth a panic.
    let _ = writeln!(std::io::stdout(), "{text}");
    Ok(())
}

fn name(s: &Selected) -> String {
    s.name.as_ref().map_or("the command line".into(), |n| format!("[instance.{n}]"))
}

/// Bad input: a role that lives in another partition than its region (no ARN can be right
/// for both), or a `--role` no section or site names.
fn check_roles(selected: &[Selected], role: Option<&str>) -> Result<(), Error> {
    let mut named = false;
    for sel in selected {
        let a = &sel.resources.access;
        let own = a.role_arn.as_ref().map(|arn| (arn, a.region.as_deref(), String::new()));
        let sites = sel.resources.sites.iter().filter_map(|s| {
            Some((s.role_arn.as_ref()?, Some(s.region.as_str()), format!(" site {} {}", s.region, s.vpc_id)))
        });
        for (arn, region, what) in own.into_iter().chain(sites) {
            named |= role == Some(arn.as_str());
            let Some(region) = region else { continue };
            let (theirs, ours) = (role_home(arn).map_or("?", |h| h.0), partition(region));
            if theirs != ours {
                return Err(Error::BadInput(format!(
                    "{}{what}: role_arn {arn} is in partition {theirs}, region {region} in {ours}",
                    name(sel),
                )));
            }
        }
        named |=
            sel.resources.dns_records.iter().any(|d| d.role_arn.is_some() && d.role_arn.as_deref() == role);
    }
    match role {
        Some(r) if !named => Err(Error::BadInput(format!(
            "--role {r}: no section, site or DNS record of the config names this role_arn"
        ))),
        _ => Ok(()),
    }
}

/// The policy document of the node (`role` None) or of a role (a section's or a site's
/// `role_arn`): reads on `*`, each set of writes on its resources under its conditions,
/// then what only `doctor` needs.
pub fn policy(perms: impl IntoIterator<Item = Permission>, role: Option<&str>) -> Policy {
    let perms: Vec<Permission> = merge(perms).into_iter().filter(|p| p.via.as_deref() == role).collect();
    let mut statements = Vec::new();
    let reads: Vec<&str> = perms.iter().filter(|p| p.is_read()).map(|p| p.action).collect();
    if !reads.is_empty() {
        statements.push(statement("Describe", &reads, &["*".to_string()], &[]));
    }
    // Writes that act on the same resources under the same conditions share a statement.
    let mut groups: BTreeMap<(&[String], &[Condition]), Vec<&str>> = BTreeMap::new();
    for p in perms.iter().filter(|p| !p.is_read()) {
        groups.entry((&p.resources, &p.conditions)).or_default().push(p.action);
    }
    for ((resources, conditions), actions) in groups {
        let base: String = actions.iter().map(|a| a.split(':').nth(1).unwrap_or(a)).collect();
        let taken = |sid: &str| statements.iter().any(|s: &Statement| s.sid == sid);
        let sid = (1..).map(|n| if n == 1 { base.clone() } else { format!("{base}{n}") }).find(|s| !taken(s));
        statements.push(statement(&sid.unwrap_or(base), &actions, resources, conditions));
    }
    // What only a split-brain contest (is the winner alive?) and `doctor` read: the node's
    // own policy only.
    let mut granted = reads;
    for (sid, actions) in [("SplitBrain", &SPLIT_BRAIN_ACTIONS[..]), ("Doctor", &DOCTOR_ACTIONS[..])] {
        let extra: Vec<&str> =
            actions.iter().copied().filter(|a| role.is_none() && !granted.contains(a)).collect();
        if !extra.is_empty() {
            statements.push(statement(sid, &extra, &["*".to_string()], &[]));
        }
        granted.extend(extra);
    }
    Policy { version: "2012-10-17", statement: statements }
}

/// An IAM policy document, its keys in the usual order.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Policy {
    pub version: &'static str,
    pub statement: Vec<Statement>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Statement {
    pub sid: String,
    pub effect: &'static str,
    pub action: Vec<String>,
    /// One ARN as a string, several as a list.
    pub resource: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub condition: Option<Value>,
}

/// One value as a string, several as a list.
fn one_or_many(values: &[String]) -> Value {
    match values {
        [one] => json!(one),
        many => json!(many),
    }
}

fn statement(sid: &str, actions: &[&str], resources: &[String], conditions: &[Condition]) -> Statement {
    let mut by_op: BTreeMap<&str, Map<String, Value>> = BTreeMap::new();
    for c in conditions {
        by_op.entry(c.op).or_default().insert(c.key.clone(), one_or_many(&c.values));
    }
    let condition = (!by_op.is_empty()).then(|| json!(by_op));
    let action = actions.iter().map(|a| a.to_string()).collect();
    Statement { sid: sid.to_string(), effect: "Allow", action, resource: one_or_many(resources), condition }
}
