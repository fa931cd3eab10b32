//! DNS record scenario, pure planning. No I/O here; tested with plain data.

use super::Write;
use crate::config::dns::{value_text, DnsRecord, DnsType, DnsValue};
use crate::model::{Identity, RecordSet};
use crate::scenario::{Action, Goal, Kind, Resource, Step};

/// The address `rec` names while this node is MASTER: `local` is the ENI's primary private
/// IPv4 (A) or its first IPv6 address (AAAA), `public` the ENI's public IPv4. Err: IMDS
/// does not tell one (bad input: the config asks for what this node does not have).
pub fn resolve_value(rec: &DnsRecord, me: &Identity) -> Result<String, String> {
    let found = match (&rec.value, rec.kind) {
        (DnsValue::Address(ip), _) => return Ok(ip.to_string()),
        (DnsValue::Local, DnsType::A) => me.private_ips.first(),
        (DnsValue::Local, DnsType::Aaaa) => me.ipv6s.first(),
        (DnsValue::Public, _) => me.public_ipv4.as_ref(),
    };
    found.cloned().ok_or_else(|| {
        let what = match (&rec.value, rec.kind) {
            (DnsValue::Local, DnsType::Aaaa) => "IPv6 address",
            (DnsValue::Public, _) => "public IPv4 address",
            _ => "private IPv4 address",
        };
        format!("{rec}: value {}: {} has no {what} in instance metadata", value_text(&rec.value), me.eni_id)
    })
}

fn resource(rec: &DnsRecord) -> Resource {
    Resource::DnsRecord {
        zone: rec.zone.clone(),
        name: rec.name.clone(),
        kind: rec.kind.as_str(),
        ttl: rec.ttl,
        role: rec.role_arn.clone(),
    }
}

/// A record whose value this node cannot tell (`why`, from [`resolve_value`]): taking, it
/// is blocked (the run is incomplete, exit 1) while the routes and addresses still move;
/// releasing, there is nothing of this node's to delete.
pub fn unresolved(rec: &DnsRecord, why: String, goal: Goal) -> Step {
    let action = match goal {
        Goal::Take => Action::Blocked(why),
        Goal::Release => Action::Keep(why),
    };
    Step {
        kind: Kind::DnsRecord,
        resource: resource(rec),
        current: None,
        desired: "none".into(),
        action,
        write: None,
    }
}

/// What a record set shows, for plan and status lines: its values, and its TTL when it is
/// not the one wanted.
fn shown(set: &RecordSet, ttl: u32) -> String {
    let values = set.values.join(",");
    match set.ttl {
        Some(t) if t != i64::from(ttl) => format!("{values} (TTL {t})"),
        _ => values,
    }
}

/// Why a record with a fixed value (or the section's Elastic IP) is kept: it reads the same
/// whichever node wrote it, so it shows nothing about who holds the VIP (see `Step::proves_here`).
pub const SAME_ON_EVERY_NODE: &str = "already names the address every node writes";

/// Plan one record. `found`: the record set Route 53 holds for its name and type now.
///
/// Taking: keep it when it names exactly `want` with the wanted TTL; otherwise UPSERT it.
/// A record that is not a plain one (alias, routing policy, traffic policy) is not ours.
/// Releasing: DELETE it (with its exact current values, which Route 53 checks) only while
/// it names exactly `want`; a record that names anything else is the new master's.
pub fn plan_record(rec: &DnsRecord, want: &str, found: Option<&RecordSet>, goal: Goal) -> Step {
    let resource = resource(rec);
    let current = found.map(|s| shown(s, rec.ttl));
    let step = |desired: String, action: Action, write: Option<Write>| Step {
        kind: Kind::DnsRecord,
        resource: resource.clone(),
        current: current.clone(),
        desired,
        action,
        write: write.map(crate::scenario::Write::DnsRecord),
    };
    let names_me = found.is_some_and(|s| s.special.is_none() && s.values == [want]);
    if let Some(why) = found.and_then(|s| s.special.clone()) {
        return step(want.into(), Action::NotOwned(why), None);
    }
    let change = |ttl: Option<i64>, values: Vec<String>| RecordSet {
        name: rec.name.clone(),
        kind: rec.kind.as_str().into(),
        ttl,
        values,
        special: None,
    };
    if goal == Goal::Release {
        return match found {
            // A fixed address is the same on every node: naming it proves no ownership
            // (config and command line refuse release with one; so does this, for any caller).
            Some(_)
                if matches!(rec.value, DnsValue::Address(_))
                    && !crate::engine::knobs::reverted(crate::engine::knobs::Knob::DnsOwnership) =>
            {
                let why =
                    "names an address every node writes (fixed, or the section's Elastic IP): not deleted";
                step("none".into(), Action::Keep(why.into()), None)
            }
            Some(s) if names_me => step(
                "none".into(),
                Action::Write { verb: "delete", call: "ChangeResourceRecordSets" },
                Some(Write::Delete {
                    zone: rec.zone.clone(),
                    set: change(s.ttl, s.values.clone()),
                    role: rec.role_arn.clone(),
                }),
            ),
            Some(_) => step("none".into(), Action::Keep("names another node".into()), None),
            None => step("none".into(), Action::Keep("no such record".into()), None),
        };
    }
    let ttl_right = found.and_then(|s| s.ttl) == Some(i64::from(rec.ttl));
    if names_me && ttl_right {
        let why = match rec.value {
            DnsValue::Address(_) => SAME_ON_EVERY_NODE,
            _ => "already names this node",
        };
        return step(want.into(), Action::Keep(why.into()), None);
    }
    let desired = if names_me { format!("{want} (TTL {})", rec.ttl) } else { want.to_string() };
    let set = change(Some(i64::from(rec.ttl)), vec![want.into()]);
    let upsert = Write::Upsert { zone: rec.zone.clone(), set, role: rec.role_arn.clone() };
    step(desired, Action::Write { verb: "upsert", call: "ChangeResourceRecordSets" }, Some(upsert))
}

/// A record that reads as already naming this node, upserted anyway: the read may be
/// stale (a failback within the consistency window), and an UPSERT of the same value
/// changes nothing (a step is kept only with the wanted TTL). None for any other step.
pub fn reassert(step: &Step) -> Option<Step> {
    let Resource::DnsRecord { zone, name, kind, ttl, role } = &step.resource else { return None };
    if !step.is_keep() || step.current.as_deref() != Some(step.desired.as_str()) {
        return None;
    }
    let set = RecordSet {
        name: name.clone(),
        kind: (*kind).into(),
        ttl: Some(i64::from(*ttl)),
        values: vec![step.desired.clone()],
        special: None,
    };
    Some(Step {
        action: Action::Write { verb: "reassert", call: "ChangeResourceRecordSets" },
        write: Some(crate::scenario::Write::DnsRecord(Write::Upsert {
            zone: zone.clone(),
            set,
            role: role.clone(),
        })),
        ..step.clone()
    })
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
