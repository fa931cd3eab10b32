//! Route-table scenario, pure planning: every table of the VPC holding a route for a VIP
//! destination must target this node's ENI. Routes for other destinations are never part
//! of the plan. No I/O here; tested with plain data.

use super::Write;
use crate::model::{RouteTable, RouteTarget};
use crate::scenario::{Action, Kind, Resource, Step};
use ipnet::IpNet;

/// `listed`: the tables were chosen (by id or tag), so one without a route for a VIP
/// destination gets it created; otherwise they are the tables that hold one.
pub fn plan_routes(
    tables: &[RouteTable],
    destinations: &[IpNet],
    vpc_id: &str,
    eni: &str,
    listed: bool,
) -> Vec<Step> {
    let mut steps = Vec::new();
    for dest in destinations {
        let mut found = false;
        for table in tables {
            let mut held = false;
            for route in table.routes.iter().filter(|r| r.destination == *dest) {
                held = true;
                steps.push(route_step(&table.id, vpc_id, *dest, Some(&route.target), eni));
            }
            if listed && !held {
                steps.push(route_step(&table.id, vpc_id, *dest, None, eni));
            }
            found |= held || listed;
        }
        if !found {
            steps.push(Step {
                kind: Kind::RouteTable,
                resource: Resource::Destination { region: None, scope: vpc_id.into(), destination: *dest },
                current: None,
                desired: eni.into(),
                action: Action::Missing(format!("no route table in {vpc_id} holds a route for {dest}")),
                write: None,
            });
        }
    }
    steps
}

/// The route for `destination` in `table_id`: `current` is its target (None: missing).
fn route_step(
    table_id: &str,
    vpc_id: &str,
    destination: IpNet,
    current: Option<&RouteTarget>,
    eni: &str,
) -> Step {
    let write = |create| {
        let w = Write { table_id: table_id.into(), destination, eni: eni.into(), create };
        Some(crate::scenario::Write::RouteTable(w))
    };
    let (action, write) = match current {
        None => (Action::Write { verb: "create", call: "CreateRoute" }, write(true)),
        Some(t) if t.is_eni(eni) => (Action::Keep(format!("already {eni}")), None),
        Some(t) if t.is_node_target() => {
            (Action::Write { verb: "replace", call: "ReplaceRoute" }, write(false))
        }
        Some(t) => (Action::NotOwned(format!("targets {t} (not an ENI or instance)")), None),
    };
    let table_id = table_id.into();
    Step {
        kind: Kind::RouteTable,
        resource: Resource::Route { region: None, scope: vpc_id.into(), table_id, destination },
        current: current.map(|t| t.to_string()),
        desired: eni.into(),
        action,
        write,
    }
}

/// A route that reads as already this node's, written anyway: the read may be stale (EC2
/// is eventually consistent) and ReplaceRoute to the same target is free and idempotent.
/// None for any other step.
pub fn reassert(step: &Step) -> Option<Step> {
    let Resource::Route { table_id, destination, .. } = &step.resource else { return None };
    if step.kind != Kind::RouteTable
        || !step.is_keep()
        || step.current.as_deref() != Some(step.desired.as_str())
    {
        return None;
    }
    let w = Write {
        table_id: table_id.clone(),
        destination: *destination,
        eni: step.desired.clone(),
        create: false,
    };
    Some(Step {
        action: Action::Write { verb: "reassert", call: "ReplaceRoute" },
        write: Some(crate::scenario::Write::RouteTable(w)),
        ..step.clone()
    })
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
