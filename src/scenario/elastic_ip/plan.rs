//! Elastic IP scenario, pure planning. No I/O here; tested with plain data.

use super::Write;
use crate::model::{Address, EipRef};
use crate::scenario::{Action, Goal, Kind, Resource, Step};
use std::collections::BTreeSet;

/// Plan every Elastic IP on its own: one that cannot move does not hold up the others.
///
/// `wanted` are the requested addresses as DescribeAddresses returned them, in the order
/// the user gave them; `on_our_eni` are all addresses associated with our ENI now (ours and
/// anybody else's). Taking, each wanted address not already on our ENI goes to the next
/// private IP of the ENI that carries no Elastic IP, primary first, so no association we do
/// not own is ever displaced. Releasing, an address is disassociated only while the
/// association is still on our ENI: a late BACKUP never takes an address from the new master.
/// `pins` (allocation id, private IP) bind an address to one private IP of our ENI; no
/// other address is given a pinned private IP.
pub fn plan_eips(
    wanted: &[Address],
    on_our_eni: &[Address],
    goal: Goal,
    eni: &str,
    private_ips: &[String],
    pins: &[(String, String)],
) -> Vec<Step> {
    let mut occupied: BTreeSet<&str> = on_our_eni.iter().filter_map(|a| a.private_ip.as_deref()).collect();
    occupied.extend(pins.iter().map(|(_, ip)| ip.as_str()));
    let mut steps = Vec::with_capacity(wanted.len());
    for a in wanted {
        let ours = a.network_interface_id.as_deref() == Some(eni);
        let step = |desired: String, action: Action, write: Option<Write>| Step {
            kind: Kind::ElasticIp,
            resource: Resource::ElasticIp {
                allocation_id: a.allocation_id.clone(),
                public_ip: a.public_ip.clone(),
                private_ip: a.private_ip.clone(),
            },
            current: a.network_interface_id.clone(),
            desired,
            action,
            write: write.map(crate::scenario::Write::ElasticIp),
        };
        if goal == Goal::Release {
            steps.push(match (&a.association_id, ours) {
                (Some(assoc), true) => step(
                    "unassociated".into(),
                    Action::Write { verb: "release", call: "DisassociateAddress" },
                    Some(Write::Disassociate {
                        allocation_id: a.allocation_id.clone(),
                        association_id: assoc.clone(),
                    }),
                ),
                (None, _) => step("unassociated".into(), Action::Keep("not associated".into()), None),
                (Some(_), false) => {
                    let at = a.network_interface_id.as_deref().or(a.association_id.as_deref()).unwrap_or("?");
                    step(
                        "unassociated".into(),
                        Action::Keep(format!("associated with {at}, not this node")),
                        None,
                    )
                }
            });
            continue;
        }
        if let Some((_, pin)) = pins.iter().find(|(id, _)| *id == a.allocation_id) {
            if ours && a.private_ip.as_deref() == Some(pin.as_str()) {
                steps.push(step(
                    format!("{eni} {pin}"),
                    Action::Keep("already associated with this node".into()),
                    None,
                ));
            } else {
                let write = Write::Associate {
                    allocation_id: a.allocation_id.clone(),
                    eni: eni.into(),
                    private_ip: pin.clone(),
                    pinned: true,
                };
                let action = Action::Write { verb: "associate", call: "AssociateAddress" };
                steps.push(step(format!("{eni} {pin}"), action, Some(write)));
            }
            continue;
        }
        if ours {
            steps.push(step(eni.into(), Action::Keep("already associated with this node".into()), None));
            continue;
        }
        match private_ips.iter().find(|ip| !occupied.contains(ip.as_str())) {
            Some(slot) => {
                occupied.insert(slot);
                steps.push(step(
                    format!("{eni} {slot}"),
                    Action::Write { verb: "associate", call: "AssociateAddress" },
                    Some(Write::Associate {
                        allocation_id: a.allocation_id.clone(),
                        eni: eni.into(),
                        private_ip: slot.clone(),
                        pinned: false,
                    }),
                ))
            }
            None => steps.push(step(
                eni.into(),
                Action::Blocked(format!(
                    "{eni} has no private IP left without an Elastic IP; \
                     each Elastic IP needs its own private IP on the ENI"
                )),
                None,
            )),
        }
    }
    steps
}

/// An address that reads as already associated with this node (`desired` is "ENI" or
/// "ENI PRIVATE-IP"), associated anyway: the read may be stale (EC2 is eventually
/// consistent), and associating it where it already is moves nothing. None for any other
/// step.
pub fn reassert(step: &Step) -> Option<Step> {
    let Resource::ElasticIp { allocation_id, private_ip: Some(ip), .. } = &step.resource else { return None };
    let (eni, pin) = match step.desired.split_once(' ') {
        Some((eni, pin)) => (eni, Some(pin)),
        None => (step.desired.as_str(), None),
    };
    if step.kind != Kind::ElasticIp || !step.is_keep() || step.current.as_deref() != Some(eni) {
        return None;
    }
    let write = Write::Associate {
        allocation_id: allocation_id.clone(),
        eni: eni.into(),
        private_ip: pin.unwrap_or(ip).into(),
        pinned: pin.is_some(),
    };
    Some(Step {
        action: Action::Write { verb: "reassert", call: "AssociateAddress" },
        write: Some(crate::scenario::Write::ElasticIp(write)),
        ..step.clone()
    })
}

/// Match the addresses DescribeAddresses returned to the user's references, in the user's
/// order. A reference nothing matched is returned as the error (bad input).
pub fn resolve_eips(refs: &[EipRef], found: &[Address]) -> Result<Vec<Address>, EipRef> {
    let mut out: Vec<Address> = Vec::with_capacity(refs.len());
    for r in refs {
        let a = found.iter().find(|a| r.matches(a)).ok_or_else(|| r.clone())?;
        if !out.iter().any(|o| o.allocation_id == a.allocation_id) {
            out.push(a.clone());
        }
    }
    Ok(out)
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
