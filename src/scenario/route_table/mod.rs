//! Route-table scenario: every route table of this node's VPC that holds a route for a
//! VIP destination gets this node's ENI as target (ReplaceRoute).

mod plan;

pub use plan::{inside_vpc, plan_routes, reassert};

use super::{Ctx, Step};
use crate::aws::{read, Ec2, TransitGateways};
use crate::error::{Ec2Error, Error};
use crate::model::{NextHop, TableChoice};
use ipnet::IpNet;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteTables {
    pub destinations: Vec<IpNet>,
    pub tables: TableChoice,
}

/// ReplaceRoute (or, in a chosen table without it, CreateRoute) `destination` in
/// `table_id` to `eni`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Write {
    pub table_id: String,
    pub destination: IpNet,
    pub eni: String,
    pub create: bool,
}

/// A VIP inside a VPC's CIDR blocks is bad input (exit 2): EC2 routes those locally.
pub fn check_outside(destinations: &[IpNet], vpc_cidrs: &[IpNet], vpc_id: &str) -> Result<(), Error> {
    match inside_vpc(destinations, vpc_cidrs) {
        Some((dest, cidr)) => Err(Error::BadInput(format!(
            "route {dest} overlaps {cidr} of {vpc_id}: a VIP must lie outside the VPC's CIDR blocks"
        ))),
        None => Ok(()),
    }
}

impl RouteTables {
    pub async fn plan<C: Ec2 + TransitGateways>(&self, cx: &Ctx<'_, C>) -> Result<Vec<Step>, Error> {
        let me = cx.me;
        check_outside(&self.destinations, &me.vpc_cidrs, &me.vpc_id)?;
        let step = format!("DescribeRouteTables {}", me.vpc_id);
        let (tables, listed) = match &self.tables {
            TableChoice::Holding => {
                let call = || cx.ec2.route_tables_for(&me.vpc_id, &self.destinations);
                (read(cx.deadline, &step, call).await??, false)
            }
            TableChoice::Tagged(tags) => {
                (read(cx.deadline, &step, || cx.ec2.route_tables_tagged(&me.vpc_id, tags)).await??, true)
            }
            TableChoice::Ids(ids) => {
                let found = read(cx.deadline, &step, || cx.ec2.route_tables_by_id(ids)).await?;
                let found = found.map_err(|e| match e.is_not_found() {
                    true => Error::BadInput(format!(
                        "route_tables: {} ({})",
                        e.message.as_deref().unwrap_or("no such route table"),
                        e.code.as_deref().unwrap_or("NotFound")
                    )),
                    false => e.into(),
                })?;
                if let Some(id) = ids.iter().find(|id| !found.iter().any(|t| &t.id == *id)) {
                    return Err(Error::BadInput(format!("route table {id}: not found in {}", me.region)));
                }
                if let Some(t) = found.iter().find(|t| t.vpc_id != me.vpc_id) {
                    return Err(Error::BadInput(format!(
                        "route table {} belongs to {}, not to this node's {}",
                        t.id, t.vpc_id, me.vpc_id
                    )));
                }
                (found, true)
            }
        };
        Ok(plan_routes(&tables, &self.destinations, &me.vpc_id, &me.eni_id, listed))
    }

    pub async fn confirm<C: Ec2>(
        &self,
        cx: &Ctx<'_, C>,
        written: &[&Step],
    ) -> Result<Vec<Option<String>>, Ec2Error> {
        let writes: Vec<&Write> = written.iter().filter_map(|s| s.write.as_ref()?.route_table()).collect();
        let mut dests: Vec<IpNet> = writes.iter().map(|w| w.destination).collect();
        dests.sort();
        dests.dedup();
        let tables = cx.ec2.route_tables_for(&cx.me.vpc_id, &dests).await?;
        Ok(writes
            .iter()
            .map(|w| {
                let now = tables
                    .iter()
                    .find(|t| t.id == w.table_id)
                    .and_then(|t| t.routes.iter().find(|r| r.destination == w.destination));
                match now {
                    Some(r) if r.target.is_eni(&w.eni) => None,
                    Some(r) => Some(format!("still targets {}", r.target)),
                    None => Some("route vanished".to_string()),
                }
            })
            .collect())
    }
}

pub async fn write<C: Ec2 + TransitGateways>(cx: &Ctx<'_, C>, w: &Write) -> Result<(), Ec2Error> {
    if w.create {
        let eni = NextHop::Eni(w.eni.clone());
        return cx.ec2.set_vpc_route(&w.table_id, w.destination, &eni, true).await;
    }
    cx.ec2.replace_route(&w.table_id, w.destination, &w.eni).await
}
