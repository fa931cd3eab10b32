//! DNS record scenario (Route 53): records that name the MASTER. Taking, each record is
//! UPSERTed only where it differs; the engine then reads the record back (Route 53's API
//! shows an accepted change at once). A change still PENDING is reported as written and
//! propagating, not waited for (see [`write`]). With `release`, BACKUP/FAULT/STOP DELETE a
//! record only while it still names this node, with its exact current values: Route 53
//! refuses a DELETE whose values no longer match, so a late BACKUP cannot delete what the
//! new master wrote; a value every node writes alike (fixed, or the section's Elastic IP)
//! is never deleted. A record whose zone is in another account (`role_arn`) is read and
//! written with that role's client.

mod plan;

pub use plan::{plan_record, reassert, resolve_value, unresolved, SAME_ON_EVERY_NODE};

use super::{Ctx, Goal, Step};
use crate::aws::read;
use crate::aws::route53::{DnsChange, Route53};
use crate::aws::Ec2;
use crate::config::dns::DnsRecord;
use crate::config::dns::DnsValue;
use crate::error::{Ec2Error, Error};
use crate::model::{EipRef, RecordSet};
use futures_util::future::try_join_all;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsRecords {
    pub records: Vec<DnsRecord>,
    /// DELETE on BACKUP/FAULT/STOP (only while a record still names this node).
    pub release: bool,
    /// The section's (first) Elastic IP: `public` names its public IP, which follows the
    /// MASTER, rather than the node's own.
    pub eip: Option<EipRef>,
}

/// One ChangeResourceRecordSets: the record set as it is to be (UPSERT) or as it is now
/// (DELETE, exact values).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    Upsert { zone: String, set: RecordSet, role: Option<String> },
    Delete { zone: String, set: RecordSet, role: Option<String> },
}

fn bad_ip(ip: &str) -> Error {
    Error::Other(format!("DescribeAddresses answered {ip:?}, which is not an IPv4 address"))
}

/// A hosted zone Route 53 does not know (or this account cannot see): bad input.
fn bad_zone(rec: &DnsRecord, e: &Ec2Error) -> Error {
    Error::BadInput(format!(
        "{rec}: {} ({})",
        e.message.as_deref().unwrap_or("no such hosted zone"),
        e.code.as_deref().unwrap_or("NoSuchHostedZone")
    ))
}

impl DnsRecords {
    /// The public IP `public` names with the section's Elastic IP (DescribeAddresses when
    /// it is given by allocation id); None without one; Some(Err(why)) when EC2 has no
    /// such address (the record is blocked, as the Elastic IP itself is).
    async fn eip_ip<C: Ec2>(&self, cx: &Ctx<'_, C>) -> Result<Option<Result<String, String>>, Error> {
        match &self.eip {
            _ if !self.records.iter().any(|r| r.value == DnsValue::Public) => Ok(None),
            None => Ok(None),
            Some(EipRef::PublicIp(ip)) => Ok(Some(Ok(ip.to_string()))),
            Some(eip) => {
                let refs = std::slice::from_ref(eip);
                let found = read(cx.deadline, "DescribeAddresses", || cx.ec2.addresses(refs)).await??;
                let ip = found.into_iter().next().map(|a| a.public_ip);
                Ok(Some(ip.ok_or_else(|| format!("value public: the Elastic IP {eip} does not exist"))))
            }
        }
    }

    /// Read every record concurrently (one ListResourceRecordSets each) and plan it. A
    /// record whose value this node cannot tell (`public` without an Elastic IP or a public
    /// IPv4 of its own) is blocked, and the other scenarios go on.
    pub async fn plan<C: Ec2 + Route53>(&self, cx: &Ctx<'_, C>, goal: Goal) -> Result<Vec<Step>, Error> {
        let eip_ip = self.eip_ip(cx).await?;
        let eip_ip = &eip_ip;
        try_join_all(self.records.iter().map(|rec| async move {
            // The Elastic IP's address is the same on every node: planned as a fixed value
            // (never deleted on release, see plan_record).
            let fixed;
            let (rec, want) = match (&rec.value, eip_ip) {
                (DnsValue::Public, Some(Err(why))) => {
                    return Ok(unresolved(rec, format!("{rec}: {why}"), goal))
                }
                (DnsValue::Public, Some(Ok(ip))) => {
                    fixed = DnsRecord {
                        value: DnsValue::Address(ip.parse().map_err(|_| bad_ip(ip))?),
                        ..rec.clone()
                    };
                    (&fixed, ip.clone())
                }
                _ => match resolve_value(rec, cx.me) {
                    Ok(want) => (rec, want),
                    Err(why) => return Ok(unresolved(rec, why, goal)),
                },
            };
            let kind = rec.kind.as_str();
            let client = cx.as_role(rec.role_arn.as_deref());
            let found =
                read(cx.deadline, "ListResourceRecordSets", || client.record_set(&rec.zone, &rec.name, kind))
                    .await?
                    .map_err(|e| match e.code.as_deref() {
                        Some("NoSuchHostedZone" | "InvalidInput") => bad_zone(rec, &e),
                        _ => e.into(),
                    })?;
            Ok::<_, Error>(plan_record(rec, &want, found.as_ref(), goal))
        }))
        .await
    }

    /// Read back what was written: an UPSERT shows its value, a DELETE no longer the values
    /// it deleted.
    pub async fn confirm<C: Route53>(
        &self,
        cx: &Ctx<'_, C>,
        written: &[&Step],
    ) -> Result<Vec<Option<String>>, Ec2Error> {
        let writes = written.iter().filter_map(|s| match s.write.as_ref()? {
            super::Write::DnsRecord(w) => Some(w),
            _ => None,
        });
        try_join_all(writes.map(|w| async move {
            let (Write::Upsert { zone, set, role } | Write::Delete { zone, set, role }) = w;
            let now = cx.as_role(role.as_deref()).record_set(zone, &set.name, &set.kind).await?;
            Ok(match (w, now) {
                (Write::Upsert { .. }, Some(n)) if n.values == set.values && n.ttl == set.ttl => None,
                (Write::Upsert { .. }, Some(n)) => Some(format!("names {}", n.values.join(","))),
                (Write::Upsert { .. }, None) => Some("no such record".into()),
                (Write::Delete { .. }, Some(n)) if n.values == set.values => Some("still there".into()),
                (Write::Delete { .. }, _) => None,
            })
        }))
        .await
    }
}

/// One ChangeResourceRecordSets. Ok(Some(why)): accepted and still PENDING. It is not
/// waited for: Route 53 puts an accepted change on every name server (usually within a
/// minute), and a run waiting for INSYNC would hold the instance's lock, and in `watch`
/// every other instance's failover, for that long; the read back that follows shows the
/// record at once. A DELETE Route 53 refuses because the values no longer match
/// (InvalidChangeBatch) is not ours to make any more: done.
pub async fn write<C: Route53>(cx: &Ctx<'_, C>, w: &Write) -> Result<Option<String>, Ec2Error> {
    let (zone, set, role, change) = match w {
        Write::Upsert { zone, set, role } => (zone, set, role, DnsChange::Upsert),
        Write::Delete { zone, set, role } => (zone, set, role, DnsChange::Delete),
    };
    let client = cx.as_role(role.as_deref());
    let (id, insync) = match client.change_record(zone, change, set).await {
        Err(e) if change == DnsChange::Delete && e.code_is("InvalidChangeBatch") => {
            log::warn!("{zone} {} {}: changed meanwhile, not deleted ({e})", set.name, set.kind);
            return Ok(None);
        }
        other => other?,
    };
    if insync || id.is_empty() {
        return Ok(None);
    }
    Ok(Some(format!("change {id} is PENDING at Route 53")))
}
