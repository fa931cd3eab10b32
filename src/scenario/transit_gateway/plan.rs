//! Transit Gateway scenario, pure planning. The cluster's nodes sit in different VPCs
//! (possibly regions, possibly accounts) joined by Transit Gateways. When the node in VPC
//! A becomes MASTER, the VIP must be routed:
//! - in VPC A's route tables to the node's ENI;
//! - in the route tables of A's Transit Gateway to A's VPC attachment;
//! - in every other Transit Gateway's route tables to its peering attachment toward A's;
//! - in every other VPC's route tables to that VPC's Transit Gateway.

use super::Write;
use crate::model::{NextHop, RouteTarget, TgwRoute};
use crate::scenario::{Action, Kind, Resource, Step};
use ipnet::IpNet;
use std::collections::BTreeSet;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TgwRouteTable {
    pub id: String,
    pub routes: Vec<TgwRoute>,
    /// Named in the config: a missing VIP route is created here.
    pub listed: bool,
}

/// A VPC route table of a site, with its routes for the VIP destinations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteTable {
    pub id: String,
    pub routes: Vec<(IpNet, RouteTarget)>,
    /// Named in the config: a missing VIP route is created here.
    pub listed: bool,
}

/// What discovery found for one site (one VPC).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteView {
    /// Index into the instance's `sites`, to find its client again.
    pub site: usize,
    pub region: String,
    pub vpc_id: String,
    pub tgw_id: String,
    /// This VPC's attachment to its Transit Gateway.
    pub vpc_attachment_id: String,
    pub tables: Vec<SiteTable>,
}

/// What discovery found for one Transit Gateway (sites may share one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TgwView {
    pub site: usize,
    pub region: String,
    pub tgw_id: String,
    pub tables: Vec<TgwRouteTable>,
    /// (peering attachment id, the Transit Gateway at its other end).
    pub peerings: Vec<(String, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Keep,
    Create,
    Replace,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VpcStep {
    pub site: usize,
    pub region: String,
    pub vpc_id: String,
    pub table_id: String,
    pub destination: IpNet,
    pub current: Option<RouteTarget>,
    pub desired: NextHop,
    pub op: Op,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TgwStep {
    pub site: usize,
    pub region: String,
    pub tgw_id: String,
    pub table_id: String,
    pub destination: IpNet,
    pub current: Option<String>,
    pub attachment_id: String,
    pub op: Op,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TgwPlan {
    pub vpc: Vec<VpcStep>,
    pub tgw: Vec<TgwStep>,
    /// Routes we may not touch, and anything missing; the run reports them (exit 1).
    pub problems: Vec<Step>,
}

impl TgwPlan {
    pub fn changes(&self) -> usize {
        self.vpc.iter().filter(|s| s.op != Op::Keep).count()
            + self.tgw.iter().filter(|s| s.op != Op::Keep).count()
    }

    /// The plan as uniform steps: VPC routes, Transit Gateway routes, then the problems.
    pub fn steps(&self) -> Vec<Step> {
        let mut out = Vec::new();
        for s in &self.vpc {
            let write = Write::VpcRoute {
                site: s.site,
                table_id: s.table_id.clone(),
                destination: s.destination,
                target: s.desired.clone(),
                create: s.op == Op::Create,
            };
            let resource = Resource::Route {
                region: Some(s.region.clone()),
                scope: s.vpc_id.clone(),
                table_id: s.table_id.clone(),
                destination: s.destination,
            };
            out.push(step(resource, s.current.as_ref().map(|c| c.to_string()), s.desired.id(), s.op, write));
        }
        for s in &self.tgw {
            let write = Write::TgwRoute {
                site: s.site,
                table_id: s.table_id.clone(),
                destination: s.destination,
                attachment: s.attachment_id.clone(),
                create: s.op == Op::Create,
            };
            let resource = Resource::Route {
                region: Some(s.region.clone()),
                scope: s.tgw_id.clone(),
                table_id: s.table_id.clone(),
                destination: s.destination,
            };
            out.push(step(resource, s.current.clone(), &s.attachment_id, s.op, write));
        }
        out.extend(self.problems.iter().cloned());
        out
    }
}

fn step(resource: Resource, current: Option<String>, desired: &str, op: Op, write: Write) -> Step {
    let (action, write) = match op {
        Op::Keep => (Action::Keep(format!("already {desired}")), None),
        Op::Create => (Action::Write { verb: "create", call: write.call() }, Some(write)),
        Op::Replace => (Action::Write { verb: "replace", call: write.call() }, Some(write)),
    };
    let write = write.map(crate::scenario::Write::TransitGateway);
    Step { kind: Kind::TransitGateway, resource, current, desired: desired.into(), action, write }
}

fn problem(region: &str, scope: &str, table_id: Option<&str>, destination: IpNet, action: Action) -> Step {
    let region = Some(region.to_string());
    let resource = match table_id {
        Some(t) => Resource::Route { region, scope: scope.into(), table_id: t.into(), destination },
        None => Resource::Destination { region, scope: scope.into(), destination },
    };
    Step { kind: Kind::TransitGateway, resource, current: None, desired: String::new(), action, write: None }
}

/// A VIP route in a site's VPC may point at a node or at a Transit Gateway; anything else
/// (internet or NAT gateway, peering connection, ...) is somebody else's.
fn ours(t: &RouteTarget) -> bool {
    t.is_node_target() || matches!(t, RouteTarget::Other { kind: "transit-gateway", .. })
}

/// Plan a MASTER transition of the node with `eni` in VPC `active_vpc`.
pub fn plan_tgw(
    sites: &[SiteView],
    tgws: &[TgwView],
    destinations: &[IpNet],
    active_vpc: &str,
    eni: &str,
) -> Result<TgwPlan, String> {
    let active = sites
        .iter()
        .find(|s| s.vpc_id == active_vpc)
        .ok_or_else(|| format!("this node's VPC {active_vpc} is not one of the instance's sites"))?;
    let mut plan = TgwPlan::default();
    for s in sites {
        let desired = if s.vpc_id == active_vpc {
            NextHop::Eni(eni.into())
        } else {
            NextHop::TransitGateway(s.tgw_id.clone())
        };
        for dest in destinations {
            let mut held = false;
            for t in &s.tables {
                let current = t.routes.iter().find(|(d, _)| d == dest).map(|(_, t)| t.clone());
                let op = match &current {
                    None if t.listed => Op::Create,
                    None => continue,
                    Some(c) if desired.matches(c) => Op::Keep,
                    Some(c) if ours(c) => Op::Replace,
                    Some(c) => {
                        let why = format!("targets {c} (not a node or transit gateway)");
                        plan.problems.push(problem(
                            &s.region,
                            &s.vpc_id,
                            Some(&t.id),
                            *dest,
                            Action::NotOwned(why),
                        ));
                        continue;
                    }
                };
                held = true;
                plan.vpc.push(VpcStep {
                    site: s.site,
                    region: s.region.clone(),
                    vpc_id: s.vpc_id.clone(),
                    table_id: t.id.clone(),
                    destination: *dest,
                    current,
                    desired: desired.clone(),
                    op,
                });
            }
            if !held {
                let why = format!("no route table in {} ({}) holds a route for {dest}", s.vpc_id, s.region);
                plan.problems.push(problem(&s.region, &s.vpc_id, None, *dest, Action::Missing(why)));
            }
        }
    }
    // Sites sharing a Transit Gateway each report it; an account that does not own it
    // (a shared TGW in a network account) sees no route tables. Use the fullest view.
    let mut ids: Vec<&str> = tgws.iter().map(|g| g.tgw_id.as_str()).collect();
    ids.dedup();
    let ids: Vec<&str> = ids.into_iter().collect::<BTreeSet<_>>().into_iter().collect();
    let fullest = ids.iter().filter_map(|id| {
        tgws.iter()
            .filter(|g| g.tgw_id == *id)
            .max_by_key(|g| (g.tables.len(), g.peerings.len(), usize::MAX - g.site))
    });
    for g in fullest {
        let attachment = if g.tgw_id == active.tgw_id {
            active.vpc_attachment_id.clone()
        } else {
            match g.peerings.iter().find(|(_, peer)| *peer == active.tgw_id) {
                Some((att, _)) => att.clone(),
                None => {
                    let why = format!(
                        "{} ({}) has no peering attachment to {}; its routes are left as they are",
                        g.tgw_id, g.region, active.tgw_id
                    );
                    for dest in destinations {
                        plan.problems.push(problem(
                            &g.region,
                            &g.tgw_id,
                            None,
                            *dest,
                            Action::Missing(why.clone()),
                        ));
                    }
                    continue;
                }
            }
        };
        for dest in destinations {
            let mut held = false;
            for t in &g.tables {
                let route = t.routes.iter().find(|r| r.destination == *dest);
                let op = match route {
                    None if t.listed => Op::Create,
                    None => continue,
                    Some(r) if r.attachment_id.as_deref() == Some(attachment.as_str()) => Op::Keep,
                    Some(r) if !r.is_static => {
                        let why = "a propagated route, not a static one".to_string();
                        plan.problems.push(problem(
                            &g.region,
                            &g.tgw_id,
                            Some(&t.id),
                            *dest,
                            Action::NotOwned(why),
                        ));
                        continue;
                    }
                    Some(_) => Op::Replace,
                };
                held = true;
                plan.tgw.push(TgwStep {
                    site: g.site,
                    region: g.region.clone(),
                    tgw_id: g.tgw_id.clone(),
                    table_id: t.id.clone(),
                    destination: *dest,
                    current: route.and_then(|r| r.attachment_id.clone()),
                    attachment_id: attachment.clone(),
                    op,
                });
            }
            if !held {
                let why =
                    format!("no route table of {} ({}) holds a static route for {dest}", g.tgw_id, g.region);
                plan.problems.push(problem(&g.region, &g.tgw_id, None, *dest, Action::Missing(why)));
            }
        }
    }
    Ok(plan)
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
