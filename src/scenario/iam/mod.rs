//! The IAM permissions each scenario needs: the API actions it may call, the resources they
//! act on (ARNs in the region's partition) and the conditions that narrow them. Pure: this
//! is what `ec2-vip iam-policy` prints, and a test checks it against the calls really made.
//!
//! Least privilege, per the EC2 service authorization reference: `Describe*` support no
//! resource-level permissions and get `*`; every write names its resources. Where the
//! config names no ids, a wildcard ARN is narrowed by a condition the action supports:
//! `ec2:Vpc` (the VPC's ARN) for discovered route tables and for the ENIs an address moves
//! between, `ec2:ResourceTag/KEY` (StringLike, the config's own `*`/`?` patterns) for
//! tag-selected tables, `ec2:PublicIpAddress` for an Elastic IP named by its address.
//! Transit Gateway route tables have no VPC key: discovered ones are narrowed to the site's
//! region and account. A site with `role_arn` is written with that role's credentials: the
//! node's policy then needs only `sts:AssumeRole` on it, and the site's permissions belong
//! to the role ([`Permission::via`]). A config section's own `role_arn` works the same way
//! for all of that section's calls ([`for_vip`]).

mod scenarios;
pub use scenarios::for_vip;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

/// A condition on a permission: `op` (e.g. `ArnEquals`) of `key` against any of `values`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Condition {
    pub op: &'static str,
    pub key: String,
    pub values: Vec<String>,
}

/// One action, the resource ARNs it needs (`["*"]` when any), the conditions that must all
/// hold, and whose credentials make the call.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Permission {
    pub action: &'static str,
    pub resources: Vec<String>,
    pub conditions: Vec<Condition>,
    /// The role the call is made as (a section's or a Transit Gateway site's `role_arn`);
    /// `None`: the node's own credentials.
    pub via: Option<String>,
}

impl Permission {
    /// `action` on any resource (what `Describe*` need).
    pub fn any(action: &'static str) -> Permission {
        Permission::on(action, vec!["*".into()])
    }

    pub fn on(action: &'static str, resources: Vec<String>) -> Permission {
        Permission { action, resources, conditions: Vec::new(), via: None }
    }

    fn when(mut self, condition: Condition) -> Permission {
        self.conditions.push(condition);
        self.conditions.sort();
        self
    }

    pub fn via(mut self, role: Option<&String>) -> Permission {
        self.via = role.cloned();
        self
    }

    /// Whether it is a read on `*` (no resource-level permissions).
    pub fn is_read(&self) -> bool {
        self.resources == ["*"] && self.conditions.is_empty()
    }
}

/// Where the node's own resources live; `*` for what is not known. `vpc`: the node's VPC,
/// which callers resolve before asking for a scenario that [`needs_vpc`](super::Scenario::needs_vpc).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub region: String,
    pub account: String,
    pub vpc: Option<String>,
}

impl Scope {
    /// Any region and account, no VPC known.
    pub fn anywhere() -> Scope {
        Scope { region: "*".into(), account: "*".into(), vpc: None }
    }
}

/// The partition a region belongs to: `aws-cn` for `cn-*`, `aws-us-gov` for `us-gov-*`,
/// the ISO ones for theirs; `aws` otherwise (also for `*`, an unknown region).
pub fn partition(region: &str) -> &'static str {
    const BY_PREFIX: [(&str, &str); 6] = [
        ("cn-", "aws-cn"),
        ("us-gov-", "aws-us-gov"),
        ("us-isob-", "aws-iso-b"),
        ("us-isof-", "aws-iso-f"),
        ("us-iso-", "aws-iso"),
        ("eu-isoe-", "aws-iso-e"),
    ];
    BY_PREFIX.iter().find(|(prefix, _)| region.starts_with(prefix)).map_or("aws", |(_, p)| p)
}

/// The partition and account of a role ARN (`arn:PARTITION:iam::ACCOUNT:role/NAME`).
pub fn role_home(role_arn: &str) -> Option<(&str, &str)> {
    let mut parts = role_arn.split(':');
    match (parts.next(), parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some("arn"), Some(partition), Some("iam"), Some(""), Some(account)) => Some((partition, account)),
        _ => None,
    }
}

/// A region and account, in the region's partition: where ARNs are built.
#[derive(Debug, Clone, Copy)]
struct Place<'a> {
    region: &'a str,
    account: &'a str,
}

impl Place<'_> {
    /// `arn:PARTITION:ec2:REGION:ACCOUNT:KIND/ID`.
    fn arn(&self, kind: &str, id: &str) -> String {
        format!("arn:{}:ec2:{}:{}:{kind}/{id}", partition(self.region), self.region, self.account)
    }

    /// One ARN per id, or `KIND/*` when none is named.
    fn arns(&self, kind: &str, ids: &[String]) -> Vec<String> {
        if ids.is_empty() {
            return vec![self.arn(kind, "*")];
        }
        ids.iter().map(|id| self.arn(kind, id)).collect()
    }

    /// `ec2:Vpc` is the VPC's ARN (ArnLike where region or account is a wildcard).
    fn in_vpc(&self, vpc: &str) -> Condition {
        let arn = self.arn("vpc", vpc);
        let op = if arn.contains('*') { "ArnLike" } else { "ArnEquals" };
        Condition { op, key: "ec2:Vpc".into(), values: vec![arn] }
    }
}

/// Merge permissions: one entry per action, role and conditions, its resources united
/// (`*` absorbs the rest).
pub fn merge(perms: impl IntoIterator<Item = Permission>) -> Vec<Permission> {
    type Key = (&'static str, Option<String>, Vec<Condition>);
    let mut by: BTreeMap<Key, Vec<String>> = BTreeMap::new();
    for p in perms {
        by.entry((p.action, p.via, p.conditions)).or_default().extend(p.resources);
    }
    by.into_iter()
        .map(|((action, via, conditions), mut resources)| {
            resources.sort();
            resources.dedup();
            if resources.iter().any(|r| r == "*") {
                resources = vec!["*".into()];
            }
            Permission { action, resources, conditions, via }
        })
        .collect()
}
