//! The Route 53 seam for the DNS record scenario: read one record set, change it, and ask
//! whether a change has reached every Route 53 name server (INSYNC); for `doctor`, what a
//! hosted zone is (its name, private or public). Four operations of aws-sdk-route53 and
//! nothing more; the client comes from the same SDK configuration as
//! the EC2 client (credentials, timeouts, retries; `AWS_ENDPOINT_URL_ROUTE_53` or
//! `AWS_ENDPOINT_URL` for the endpoint).

use super::ec2::{ec2_error, SdkEc2};
use crate::error::Ec2Error;
use crate::model::RecordSet;
use aws_sdk_route53::types::{
    Change, ChangeAction, ChangeBatch, ChangeStatus, ResourceRecord, ResourceRecordSet, RrType,
};

/// A change of one record set: UPSERT it, or DELETE it with its exact current values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DnsChange {
    Upsert,
    Delete,
}

/// A hosted zone as GetHostedZone tells it (doctor's checks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostedZone {
    /// Lower-case, with the trailing dot.
    pub name: String,
    pub private: bool,
    /// The VPCs a private zone is associated with (empty for a public one).
    pub vpcs: Vec<String>,
}

#[allow(async_fn_in_trait)]
pub trait Route53 {
    /// GetHostedZone: the zone's name, whether it is private, and its VPCs. An unknown zone
    /// is a `NoSuchHostedZone` error.
    async fn hosted_zone(&self, zone: &str) -> Result<HostedZone, Ec2Error>;
    /// The record set `name`/`kind` of `zone`, if there is one (ListResourceRecordSets
    /// starting there, one item). An unknown zone is a `NoSuchHostedZone` error.
    async fn record_set(&self, zone: &str, name: &str, kind: &str) -> Result<Option<RecordSet>, Ec2Error>;
    /// ChangeResourceRecordSets with one change; returns the change id and whether Route 53
    /// already reports it INSYNC.
    async fn change_record(
        &self,
        zone: &str,
        change: DnsChange,
        set: &RecordSet,
    ) -> Result<(String, bool), Ec2Error>;
    /// GetChange: whether the change is INSYNC.
    async fn change_insync(&self, change_id: &str) -> Result<bool, Ec2Error>;
}

fn built<T>(
    operation: &'static str,
    what: &str,
    r: Result<T, aws_sdk_route53::error::BuildError>,
) -> Result<T, Ec2Error> {
    r.map_err(|e| Ec2Error {
        operation,
        resources: what.to_string(),
        code: None,
        message: Some(e.to_string()),
        request_id: None,
    })
}

fn convert(s: &ResourceRecordSet) -> RecordSet {
    let special = if s.alias_target().is_some() {
        Some("an alias record".to_string())
    } else if let Some(id) = s.set_identifier() {
        Some(format!("a record with a routing policy (set identifier {id})"))
    } else {
        s.traffic_policy_instance_id().map(|id| format!("a traffic policy record ({id})"))
    };
    RecordSet {
        name: s.name().to_ascii_lowercase(),
        kind: s.r#type().as_str().to_string(),
        ttl: s.ttl(),
        values: s.resource_records().iter().map(|r| r.value().to_string()).collect(),
        special,
    }
}

impl Route53 for SdkEc2 {
    async fn hosted_zone(&self, zone: &str) -> Result<HostedZone, Ec2Error> {
        let out = self
            .route53
            .get_hosted_zone()
            .id(zone)
            .send()
            .await
            .map_err(|e| ec2_error("GetHostedZone", zone, e))?;
        let (name, private) = out
            .hosted_zone()
            .map(|z| (z.name().to_ascii_lowercase(), z.config().is_some_and(|c| c.private_zone())))
            .unwrap_or_default();
        let vpcs = out.vpcs().iter().filter_map(|v| v.vpc_id().map(String::from)).collect();
        Ok(HostedZone { name, private, vpcs })
    }

    async fn record_set(&self, zone: &str, name: &str, kind: &str) -> Result<Option<RecordSet>, Ec2Error> {
        let what = format!("{zone} {name} {kind}");
        let out = self
            .route53
            .list_resource_record_sets()
            .hosted_zone_id(zone)
            .start_record_name(name)
            .start_record_type(RrType::from(kind))
            .max_items(1)
            .send()
            .await
            .map_err(|e| ec2_error("ListResourceRecordSets", what, e))?;
        let found = out.resource_record_sets().iter().map(convert);
        Ok(found.into_iter().find(|s| s.name == name && s.kind == kind))
    }

    async fn change_record(
        &self,
        zone: &str,
        change: DnsChange,
        set: &RecordSet,
    ) -> Result<(String, bool), Ec2Error> {
        const OP: &str = "ChangeResourceRecordSets";
        let what = format!("{zone} {} {}", set.name, set.kind);
        let mut b = ResourceRecordSet::builder().name(&set.name).r#type(RrType::from(set.kind.as_str()));
        b = b.set_ttl(set.ttl);
        for v in &set.values {
            b = b.resource_records(built(OP, &what, ResourceRecord::builder().value(v).build())?);
        }
        let action = match change {
            DnsChange::Upsert => ChangeAction::Upsert,
            DnsChange::Delete => ChangeAction::Delete,
        };
        let one = Change::builder().action(action).resource_record_set(built(OP, &what, b.build())?).build();
        let batch = built(OP, &what, ChangeBatch::builder().changes(built(OP, &what, one)?).build())?;
        let out = self
            .route53
            .change_resource_record_sets()
            .hosted_zone_id(zone)
            .change_batch(batch)
            .send()
            .await
            .map_err(|e| ec2_error(OP, what, e))?;
        let info = out.change_info();
        Ok(info.map_or((String::new(), false), |i| {
            (i.id().trim_start_matches("/change/").to_string(), i.status() == &ChangeStatus::Insync)
        }))
    }

    async fn change_insync(&self, change_id: &str) -> Result<bool, Ec2Error> {
        let out = self
            .route53
            .get_change()
            .id(change_id)
            .send()
            .await
            .map_err(|e| ec2_error("GetChange", change_id, e))?;
        Ok(out.change_info().is_some_and(|i| i.status() == &ChangeStatus::Insync))
    }
}
