//! doctor's Route 53 side, per `dns_records` entry of a section: the hosted zone exists and
//! these credentials (or the entry's `role_arn`) may read it (GetHostedZone: its name, and
//! private or public), the record's name lies inside the zone, the record can be read
//! (ListResourceRecordSets, the read every failover makes) and is a plain one, and its TTL
//! is short enough for a failover. Route 53 has no DryRun: ChangeResourceRecordSets cannot
//! be proven without a write, which doctor never makes; the line says so.

use super::{Finding, Level};
use crate::aws::route53::{HostedZone, Route53};
use crate::aws::{Cloud, SdkCloud, SdkEc2};
use crate::config::dns::DnsRecord;
use crate::config::Site;
use crate::deadline::Deadline;
use crate::engine::Engine;
use crate::error::Ec2Error;
use crate::model::Identity;

/// The longest TTL that does not warn: after a failover, resolvers keep the old address for
/// up to the TTL.
pub const TTL_WARN_ABOVE: u32 = 60;

const POLICY: &str = "grant it to the instance role (or the record's role_arn): `ec2-vip iam-policy` \
                      prints the Route 53 policy this config needs";

/// What a failed Route 53 read means for doctor: a missing zone and a denial are FAILs
/// naming the zone and the action; anything else (a timeout, throttling) is not proven.
fn failed(rec: &DnsRecord, action: &str, e: &Ec2Error) -> Finding {
    let code = e.code.as_deref().unwrap_or_default();
    let on = format!("route53:{action} on hostedzone/{}", rec.zone);
    if matches!(code, "NoSuchHostedZone" | "InvalidInput") {
        return Finding::fail(
            "dns-zone",
            format!("hosted zone {} does not exist ({code}): {rec}", rec.zone),
            "fix the zone id of the dns_records entry (aws route53 list-hosted-zones)",
        );
    }
    if matches!(code, "AccessDenied" | "AccessDeniedException" | "UnauthorizedOperation") {
        return Finding::fail("permission", format!("{on} denied: {e}"), POLICY);
    }
    Finding::new(Level::Warn, "permission", format!("{on} not proven: {e}"), POLICY)
}

/// Whether `name` is the zone's apex or lies below it (both lower-case, trailing dot).
pub fn inside(name: &str, zone: &str) -> bool {
    zone == "." || name == zone || name.ends_with(&format!(".{zone}"))
}

/// The zone's kind, as the ok line states it.
fn kind(z: &HostedZone, me: &Identity) -> String {
    if !z.private {
        return "public".into();
    }
    let here = if z.vpcs.contains(&me.vpc_id) { "" } else { "; not this node's VPC" };
    format!("private, associated with {}{here}", z.vpcs.join(", "))
}

/// Every check of one record.
async fn record(client: &SdkEc2, rec: &DnsRecord, me: &Identity, d: &Deadline) -> Vec<Finding> {
    let mut out = Vec::new();
    let zone = match d.run("GetHostedZone", client.hosted_zone(&rec.zone)).await {
        Ok(Ok(z)) => z,
        Ok(Err(e)) => return vec![failed(rec, "GetHostedZone", &e)],
        Err(e) => return vec![Finding::new(Level::Warn, "dns-zone", e.to_string(), "")],
    };
    out.push(Finding::ok("dns-zone", format!("{} is {} ({})", rec.zone, zone.name, kind(&zone, me))));
    if !inside(&rec.name, &zone.name) {
        out.push(Finding::fail(
            "dns-record",
            format!("{} lies outside the zone {} ({})", rec.name, zone.name, rec.zone),
            "name a record inside the zone, or the hosted zone that holds the name",
        ));
        return out;
    }
    let kind = rec.kind.as_str();
    out.push(match d.run("ListResourceRecordSets", client.record_set(&rec.zone, &rec.name, kind)).await {
        Ok(Ok(Some(set))) if set.special.is_some() => Finding::fail(
            "dns-record",
            format!("{rec} is {}: ec2-vip rewrites only a plain record", set.special.unwrap_or_default()),
            "name a plain record (no alias, routing policy or traffic policy)",
        ),
        Ok(Ok(Some(set))) => Finding::ok(
            "dns-record",
            format!("{rec} names {} now (route53:ListResourceRecordSets allowed)", set.values.join(",")),
        ),
        Ok(Ok(None)) => Finding::ok(
            "dns-record",
            format!("{rec} does not exist yet: created on failover (route53:ListResourceRecordSets allowed)"),
        ),
        Ok(Err(e)) => failed(rec, "ListResourceRecordSets", &e),
        Err(e) => Finding::new(Level::Warn, "dns-record", e.to_string(), ""),
    });
    if rec.ttl > TTL_WARN_ABOVE {
        out.push(Finding::new(
            Level::Warn,
            "dns-ttl",
            format!(
                "{rec}: TTL {} s; after a failover resolvers keep the old address for up to that long",
                rec.ttl
            ),
            &format!("set ttl = {TTL_WARN_ABOVE} or less (10 suits a failover)"),
        ));
    }
    out.push(Finding::new(
        Level::Warn,
        "permission",
        format!(
            "route53:ChangeResourceRecordSets on hostedzone/{} cannot be proven: Route 53 has no DryRun \
             and doctor never writes",
            rec.zone
        ),
        "make sure the role allows it (`ec2-vip iam-policy`)",
    ));
    out
}

/// The checks of a section's `dns_records`, each through its own role's client when it
/// has a `role_arn`.
pub async fn records(
    engine: &Engine<SdkCloud>,
    ec2: &SdkEc2,
    me: &Identity,
    recs: &[DnsRecord],
    name: &str,
    d: &Deadline,
) -> Vec<Finding> {
    let region = engine.settings.region.clone().unwrap_or_else(|| me.region.clone());
    let mut out = Vec::new();
    for rec in recs {
        let found = match &rec.role_arn {
            Some(role) => {
                let site = Site::for_role(&region, role, rec.external_id.as_deref());
                let client = engine.cloud.site_client(ec2, &site).await;
                record(&client, rec, me, d).await
            }
            None => record(ec2, rec, me, d).await,
        };
        out.extend(found.into_iter().map(|f| f.of(name)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_inside_its_zone_or_not() {
        assert!(inside("db.internal.example.", "internal.example."));
        assert!(inside("internal.example.", "internal.example."));
        assert!(!inside("db.other.example.", "internal.example."));
        assert!(!inside("dbinternal.example.", "internal.example."), "a label boundary");
    }
}
