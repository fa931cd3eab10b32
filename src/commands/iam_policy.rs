//! `ec2-vip iam-policy`: the least-privilege IAM policy for this config (or --route/--eip…),
//! from each scenario's permissions. Offline: nothing is asked of AWS.

use super::{select, Selected};
use crate::cli::PolicyArgs;
use crate::error::Error;
use crate::scenario::iam::{merge, Permission};
use crate::scenario::Scenario;
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

/// What `doctor` reads beyond a failover's own calls (source/destination check).
pub const DOCTOR_ACTIONS: [&str; 1] = ["ec2:DescribeNetworkInterfaces"];

/// What local recovery reads in a split-brain contest: is the winner alive (its ENI's
/// attachment, its instance's state)?
pub const SPLIT_BRAIN_ACTIONS: [&str; 2] = ["ec2:DescribeInstances", "ec2:DescribeNetworkInterfaces"];

pub fn run(config: &Path, args: &PolicyArgs, region: Option<&str>) -> Result<(), Error> {
    let selected = select(config, &args.resources, args.instance.as_deref())?;
    let text = serde_json::to_string_pretty(&policy(&selected, region.unwrap_or("*"))).unwrap_or_default();
    // A closed pipe (`| head`) is not an error worth a panic.
    let _ = writeln!(std::io::stdout(), "{text}");
    Ok(())
}

/// The policy document: reads on `*`, each set of writes on its resources, then what only a
/// split-brain contest and `doctor` need.
pub fn policy(selected: &[Selected], region: &str) -> Policy {
    let perms = merge(
        selected
            .iter()
            .flat_map(|s| Scenario::for_resources(&s.resources))
            .flat_map(|s| s.permissions(region)),
    );
    let mut statements = Vec::new();
    let reads: Vec<&str> = perms.iter().filter(|p| p.resources == ["*"]).map(|p| p.action).collect();
    if !reads.is_empty() {
        statements.push(statement("Describe", &reads, &["*".to_string()]));
    }
    // Writes that act on the same resources share a statement.
    let mut groups: BTreeMap<&[String], Vec<&str>> = BTreeMap::new();
    for Permission { action, resources } in perms.iter().filter(|p| p.resources != ["*"]) {
        groups.entry(resources).or_default().push(action);
    }
    for (resources, actions) in groups {
        let sid: String = actions.iter().map(|a| a.split(':').nth(1).unwrap_or(a)).collect();
        statements.push(statement(&sid, &actions, resources));
    }
    let mut granted = reads;
    for (sid, actions) in [("SplitBrain", &SPLIT_BRAIN_ACTIONS[..]), ("Doctor", &DOCTOR_ACTIONS[..])] {
        let extra: Vec<&str> = actions.iter().copied().filter(|a| !granted.contains(a)).collect();
        if !extra.is_empty() {
            statements.push(statement(sid, &extra, &["*".to_string()]));
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
}

fn statement(sid: &str, actions: &[&str], resources: &[String]) -> Statement {
    let resource = match resources {
        [one] => json!(one),
        many => json!(many),
    };
    let action = actions.iter().map(|a| a.to_string()).collect();
    Statement { sid: sid.to_string(), effect: "Allow", action, resource }
}
