//! Pure planning: from what EC2 reports and what this node wants, decide the calls to make.
//! No I/O here; every function is tested with plain data.

use crate::model::{Address, EipRef, RouteTable, RouteTarget};
use ipnet::IpNet;
use std::collections::BTreeSet;
use std::fmt;

/// The VRRP state this invocation acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Master,
    Backup,
    Fault,
    Stop,
}

impl Role {
    pub fn parse_keepalived(s: &str) -> Option<Role> {
        match s.to_ascii_uppercase().as_str() {
            "MASTER" => Some(Role::Master),
            "BACKUP" => Some(Role::Backup),
            "FAULT" => Some(Role::Fault),
            "STOP" => Some(Role::Stop),
            _ => None,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Master => "MASTER",
            Role::Backup => "BACKUP",
            Role::Fault => "FAULT",
            Role::Stop => "STOP",
        })
    }
}

/// One route entry and what to do with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteStep {
    pub table_id: String,
    pub destination: IpNet,
    pub current: RouteTarget,
    pub action: RouteAction,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteAction {
    /// Already targets this node's ENI.
    Keep,
    /// ReplaceRoute to this node's ENI.
    Replace,
    /// Targets a gateway or similar: not a VIP route we own; left alone and reported.
    NotOwned,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoutePlan {
    pub steps: Vec<RouteStep>,
    /// Destinations no route table of the VPC holds a route for.
    pub missing: Vec<IpNet>,
}

impl RoutePlan {
    pub fn replacements(&self) -> impl Iterator<Item = &RouteStep> {
        self.steps.iter().filter(|s| s.action == RouteAction::Replace)
    }
}

/// Plan the Route Table scenario: every table holding a route for a destination must
/// target `eni`. Routes for other destinations are never part of the plan.
pub fn plan_routes(tables: &[RouteTable], destinations: &[IpNet], eni: &str) -> RoutePlan {
    let mut plan = RoutePlan::default();
    for dest in destinations {
        let mut found = false;
        for table in tables {
            for route in table.routes.iter().filter(|r| r.destination == *dest) {
                found = true;
                let action = if route.target.is_eni(eni) {
                    RouteAction::Keep
                } else if route.target.is_node_target() {
                    RouteAction::Replace
                } else {
                    RouteAction::NotOwned
                };
                plan.steps.push(RouteStep {
                    table_id: table.id.clone(),
                    destination: *dest,
                    current: route.target.clone(),
                    action,
                });
            }
        }
        if !found {
            plan.missing.push(*dest);
        }
    }
    plan
}

/// What to do with one Elastic IP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EipAction {
    /// Leave it as it is; the reason is logged.
    Keep { allocation_id: String, public_ip: String, reason: String },
    /// AssociateAddress to this node's ENI (and private IP), taking it from `from_eni`.
    Associate { allocation_id: String, public_ip: String, private_ip: String, from_eni: Option<String> },
    /// DisassociateAddress by association id (only ever for an association on our ENI).
    Disassociate { allocation_id: String, public_ip: String, association_id: String },
}

/// Plan the Elastic IP scenario.
///
/// `wanted` are the requested addresses as DescribeAddresses returned them, in the order
/// the user gave them; `on_our_eni` are all addresses associated with our ENI now (ours and
/// anybody else's). On MASTER each wanted address not already on our ENI goes to the next
/// private IP of the ENI that carries no Elastic IP, primary first, so no association we do
/// not own is ever displaced. Otherwise addresses are only released, and only when
/// `release` is set and the association is still on our ENI: a late BACKUP never takes an
/// address from the new master.
pub fn plan_eips(
    wanted: &[Address],
    on_our_eni: &[Address],
    role: Role,
    release: bool,
    eni: &str,
    private_ips: &[String],
) -> Result<Vec<EipAction>, String> {
    let mut actions = Vec::with_capacity(wanted.len());
    if role != Role::Master {
        for a in wanted {
            let ours = a.network_interface_id.as_deref() == Some(eni);
            actions.push(match (&a.association_id, ours, release) {
                (Some(assoc), true, true) => EipAction::Disassociate {
                    allocation_id: a.allocation_id.clone(),
                    public_ip: a.public_ip.clone(),
                    association_id: assoc.clone(),
                },
                (_, true, false) => keep(a, "on this node; release not requested"),
                (None, _, _) => keep(a, "not associated"),
                (Some(_), false, _) => keep(a, &format!("associated with {}, not this node", where_(a))),
            });
        }
        return Ok(actions);
    }

    let mut occupied: BTreeSet<&str> = on_our_eni.iter().filter_map(|a| a.private_ip.as_deref()).collect();
    let mut free = private_ips.iter();
    for a in wanted {
        if a.network_interface_id.as_deref() == Some(eni) {
            actions.push(keep(a, "already associated with this node"));
            continue;
        }
        let slot = free.by_ref().find(|ip| !occupied.contains(ip.as_str())).ok_or_else(|| {
            format!(
                "{eni} has no private IP left without an Elastic IP for {} ({}); \
                     each Elastic IP needs its own private IP on the ENI",
                a.allocation_id, a.public_ip
            )
        })?;
        occupied.insert(slot);
        actions.push(EipAction::Associate {
            allocation_id: a.allocation_id.clone(),
            public_ip: a.public_ip.clone(),
            private_ip: slot.clone(),
            from_eni: a.network_interface_id.clone(),
        });
    }
    Ok(actions)
}

fn keep(a: &Address, reason: &str) -> EipAction {
    EipAction::Keep {
        allocation_id: a.allocation_id.clone(),
        public_ip: a.public_ip.clone(),
        reason: reason.to_string(),
    }
}

fn where_(a: &Address) -> String {
    a.network_interface_id
        .clone()
        .or_else(|| a.association_id.clone())
        .unwrap_or_else(|| "another resource".into())
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

/// Routes that overlap the VPC's own CIDR blocks cannot be VIP routes (EC2 routes the VPC
/// CIDR locally, and the guide requires the VIP outside it).
pub fn inside_vpc<'a>(destinations: &'a [IpNet], vpc_cidrs: &[IpNet]) -> Option<(&'a IpNet, IpNet)> {
    destinations
        .iter()
        .find_map(|d| vpc_cidrs.iter().find(|c| c.contains(d) || d.contains(*c)).map(|c| (d, *c)))
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
