//! Transit Gateway scenario: the cluster's nodes sit in different VPCs (possibly regions
//! and accounts) joined by Transit Gateways. Discover every site (VPC, its Transit
//! Gateway, TGW route tables, peerings), plan (`plan.rs`, pure), write, confirm.

mod discover;
mod plan;

pub use discover::{discover, viewers};
pub use plan::{plan_tgw, Op, SiteTable, SiteView, TgwPlan, TgwRouteTable, TgwView};

use super::{Ctx, Step};
use crate::aws::{Ec2, TransitGateways};
use crate::config::Site;
use crate::error::{Ec2Error, Error};
use crate::model::NextHop;
use futures_util::future::try_join_all;
use ipnet::IpNet;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransitGatewayRoutes {
    pub destinations: Vec<IpNet>,
    pub sites: Vec<Site>,
}

/// A route write in one site's VPC route table or Transit Gateway route table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    VpcRoute { site: usize, table_id: String, destination: IpNet, target: NextHop, create: bool },
    TgwRoute { site: usize, table_id: String, destination: IpNet, attachment: String, create: bool },
}

impl Write {
    pub fn call(&self) -> &'static str {
        match self {
            Write::VpcRoute { create: true, .. } => "CreateRoute",
            Write::VpcRoute { create: false, .. } => "ReplaceRoute",
            Write::TgwRoute { create: true, .. } => "CreateTransitGatewayRoute",
            Write::TgwRoute { create: false, .. } => "ReplaceTransitGatewayRoute",
        }
    }
}

impl TransitGatewayRoutes {
    /// Discover every site concurrently and plan for this node as MASTER.
    pub async fn plan<C: Ec2 + TransitGateways>(&self, cx: &Ctx<'_, C>) -> Result<Vec<Step>, Error> {
        crate::scenario::route_table::check_outside(&self.destinations, &cx.me.vpc_cidrs, &cx.me.vpc_id)?;
        let (views, tgws) = discover(&self.sites, cx.sites, &self.destinations, cx.deadline).await?;
        let plan = plan_tgw(&views, &tgws, &self.destinations, &cx.me.vpc_id, &cx.me.eni_id)
            .map_err(Error::BadInput)?;
        Ok(plan.steps())
    }

    /// Read back only what was written: each written VPC table once per site, each
    /// written Transit Gateway route once.
    pub async fn confirm<C: Ec2 + TransitGateways>(
        &self,
        cx: &Ctx<'_, C>,
        written: &[&Step],
    ) -> Result<Vec<Option<String>>, Ec2Error> {
        let writes: Vec<&Write> =
            written.iter().filter_map(|s| s.write.as_ref()?.transit_gateway()).collect();
        let checks = writes.iter().map(|w| async move {
            match w {
                Write::VpcRoute { site, table_id, destination, target, .. } => {
                    let tables = cx.sites[*site].route_tables_by_id(std::slice::from_ref(table_id)).await?;
                    let now = tables.iter().flat_map(|t| &t.routes).find(|r| r.destination == *destination);
                    Ok(match now {
                        Some(r) if target.matches(&r.target) => None,
                        Some(r) => Some(format!("targets {}", r.target)),
                        None => Some("route missing".into()),
                    })
                }
                Write::TgwRoute { site, table_id, destination, attachment, .. } => {
                    let routes = cx.sites[*site].tgw_routes(table_id, *destination).await?;
                    Ok(match routes.iter().find(|r| r.destination == *destination) {
                        Some(r) if r.attachment_id.as_deref() == Some(attachment.as_str()) => None,
                        Some(r) => {
                            Some(format!("targets {}", r.attachment_id.as_deref().unwrap_or("blackhole")))
                        }
                        None => Some("route missing".into()),
                    })
                }
            }
        });
        try_join_all(checks).await
    }
}

pub async fn write<C: Ec2 + TransitGateways>(cx: &Ctx<'_, C>, w: &Write) -> Result<(), Ec2Error> {
    match w {
        Write::VpcRoute { site, table_id, destination, target, create } => {
            cx.sites[*site].set_vpc_route(table_id, *destination, target, *create).await
        }
        Write::TgwRoute { site, table_id, destination, attachment, create } => {
            cx.sites[*site].set_tgw_route(table_id, *destination, attachment, *create).await
        }
    }
}
