//! DNS record scenario (Route 53): records that name the MASTER. Taking, each record is
//! UPSERTed only where it differs; the engine then reads the record back (Route 53's API
//! shows an accepted change at once). A change still PENDING is reported as written and
//! propagating, not waited for (see [`write`]). With `release`, BACKUP/FAULT/STOP DELETE a record only while it still
//! names this node, with its exact current values: Route 53 refuses a DELETE whose values
//! no longer match, so a late BACKUP cannot delete what the new master wrote. A record whose
//! zone is in another account (`role_arn`) is read and written with that role's client.

mod plan;

pub use plan::{plan_record, reassert, resolve_value};

use super::{Ctx, Goal, Step};
use crate::aws::read;
use crate::aws::route53::{DnsChange, Route53};
use crate::config::dns::DnsRecord;
use crate::error::{Ec2Error, Error};
use crate::model::RecordSet;
use futures_util::future::try_join_all;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsRecords {
    pub records: Vec<DnsRecord>,
    /// DELETE on BACKUP/FAULT/STOP (only while a record still names this node).
    pub release: bool,
}

/// One ChangeResourceRecordSets: the record set as it is to be (UPSERT) or as it is now
/// (DELETE, exact values).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    Upsert { zone: String, set: RecordSet, role: Option<String> },
    Delete { zone: String, set: RecordSet, role: Option<String> },
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
    /// Read every record concurrently (one ListResourceRecordSets each) and plan it.
    pub async fn plan<C: Route53>(&self, cx: &Ctx<'_, C>, goal: Goal) -> Result<Vec<Step>, Error> {
        try_join_all(self.records.iter().map(|rec| async move {
            let want = resolve_value(rec, cx.me).map_err(Error::BadInput)?;
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
