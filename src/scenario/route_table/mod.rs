//! Route-table scenario: every route table of this node's VPC that holds a route for a
//! VIP destination gets this node's ENI as target (ReplaceRoute).

mod plan;

pub use plan::{inside_vpc, plan_routes};

use super::{Ctx, Step};
use crate::aws::{read, Ec2};
use crate::error::{Ec2Error, Error};
use ipnet::IpNet;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteTables {
    pub destinations: Vec<IpNet>,
}

/// ReplaceRoute `destination` in `table_id` to `eni`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Write {
    pub table_id: String,
    pub destination: IpNet,
    pub eni: String,
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
    pub async fn plan<C: Ec2>(&self, cx: &Ctx<'_, C>) -> Result<Vec<Step>, Error> {
        let me = cx.me;
        check_outside(&self.destinations, &me.vpc_cidrs, &me.vpc_id)?;
        let step = format!("DescribeRouteTables {}", me.vpc_id);
        let tables =
            read(cx.deadline, &step, || cx.ec2.route_tables_for(&me.vpc_id, &self.destinations)).await??;
        Ok(plan_routes(&tables, &self.destinations, &me.vpc_id, &me.eni_id))
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

pub async fn write<C: Ec2>(cx: &Ctx<'_, C>, w: &Write) -> Result<(), Ec2Error> {
    cx.ec2.replace_route(&w.table_id, w.destination, &w.eni).await
}
