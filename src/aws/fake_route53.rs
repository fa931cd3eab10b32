//! Route 53 for the in-memory fake (record sets per zone; GetChange answers PENDING as
//! often as `World::pending` says) and through the fault-injecting wrapper.

use super::fake::{err, FakeEc2};
use super::faulty::Faulty;
use super::route53::{DnsChange, HostedZone, Route53};
use crate::error::Ec2Error;
use crate::model::RecordSet;

impl Route53 for FakeEc2 {
    /// A zone the world holds records of, named after its first record's parent domain.
    async fn hosted_zone(&self, zone: &str) -> Result<HostedZone, Ec2Error> {
        self.count("GetHostedZone");
        let w = self.world.borrow();
        let first = w.records.iter().find(|(z, _)| z == zone);
        let Some((_, set)) = first else {
            return Err(err("GetHostedZone", zone, "NoSuchHostedZone"));
        };
        let name = set.name.split_once('.').map_or(".", |(_, rest)| rest).to_string();
        Ok(HostedZone { name, private: true, vpcs: Vec::new() })
    }

    async fn record_set(&self, zone: &str, name: &str, kind: &str) -> Result<Option<RecordSet>, Ec2Error> {
        self.count("ListResourceRecordSets");
        let w = self.world.borrow();
        if !w.records.iter().any(|(z, _)| z == zone) {
            return Err(err("ListResourceRecordSets", zone, "NoSuchHostedZone"));
        }
        Ok(w.records
            .iter()
            .find(|(z, s)| z == zone && s.name == name && s.kind == kind)
            .map(|(_, s)| s.clone()))
    }

    async fn change_record(
        &self,
        zone: &str,
        change: DnsChange,
        set: &RecordSet,
    ) -> Result<(String, bool), Ec2Error> {
        self.count("ChangeResourceRecordSets");
        let mut w = self.world.borrow_mut();
        let at = w.records.iter().position(|(z, s)| z == zone && s.name == set.name && s.kind == set.kind);
        match (change, at) {
            (DnsChange::Upsert, Some(i)) => w.records[i].1 = set.clone(),
            (DnsChange::Upsert, None) => w.records.push((zone.into(), set.clone())),
            (DnsChange::Delete, Some(i)) if w.records[i].1 == *set => _ = w.records.remove(i),
            (DnsChange::Delete, _) => {
                return Err(err("ChangeResourceRecordSets", zone, "InvalidChangeBatch"))
            }
        }
        w.next_id += 1;
        Ok((format!("C{}", w.next_id), w.pending == 0))
    }

    async fn change_insync(&self, change_id: &str) -> Result<bool, Ec2Error> {
        self.count("GetChange");
        let _ = change_id;
        let mut w = self.world.borrow_mut();
        w.pending = w.pending.saturating_sub(1);
        Ok(w.pending == 0)
    }
}

impl<C: Route53> Route53 for Faulty<C> {
    async fn hosted_zone(&self, zone: &str) -> Result<HostedZone, Ec2Error> {
        self.gate("GetHostedZone", zone.into()).await?;
        self.inner.hosted_zone(zone).await
    }

    async fn record_set(&self, zone: &str, name: &str, kind: &str) -> Result<Option<RecordSet>, Ec2Error> {
        self.gate("ListResourceRecordSets", format!("{zone} {name}")).await?;
        self.inner.record_set(zone, name, kind).await
    }

    async fn change_record(
        &self,
        zone: &str,
        change: DnsChange,
        set: &RecordSet,
    ) -> Result<(String, bool), Ec2Error> {
        self.gate("ChangeResourceRecordSets", format!("{zone} {}", set.name)).await?;
        self.inner.change_record(zone, change, set).await
    }

    async fn change_insync(&self, change_id: &str) -> Result<bool, Ec2Error> {
        self.gate("GetChange", change_id.into()).await?;
        self.inner.change_insync(change_id).await
    }
}
