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
        // One DescribeRouteTables per site for every VPC table written there.
        let mut by_site: Vec<(usize, Vec<String>)> = Vec::new();
        for w in &writes {
            if let Write::VpcRoute { site, table_id, .. } = w {
                match by_site.iter_mut().find(|(s, _)| s == site) {
                    Some((_, ids)) => ids.push(table_id.clone()),
                    None => by_site.push((*site, vec![table_id.clone()])),
                }
            }
        }
        let vpc = try_join_all(by_site.iter().map(|(site, ids)| cx.sites[*site].route_tables_by_id(ids)));
        let tgw = try_join_all(writes.iter().filter_map(|w| match w {
            Write::TgwRoute { site, table_id, destination, .. } => {
                Some(cx.sites[*site].tgw_routes(table_id, *destination))
            }
            Write::VpcRoute { .. } => None,
        }));
        // Both kinds in the same round trip.
        let (tables, searched) = tokio::try_join!(vpc, tgw)?;
        let tables: Vec<_> = tables.into_iter().flatten().collect();
        let mut searched = searched.into_iter();
        Ok(writes
            .iter()
            .map(|w| match w {
                Write::VpcRoute { table_id, destination, target, .. } => {
                    let t = tables.iter().find(|t| &t.id == table_id);
                    match t.and_then(|t| t.routes.iter().find(|r| r.destination == *destination)) {
                        Some(r) if target.matches(&r.target) => None,
                        Some(r) => Some(format!("targets {}", r.target)),
                        None => Some("route missing".into()),
                    }
                }
                Write::TgwRoute { destination, attachment, .. } => {
                    let routes = searched.next().unwrap_or_default();
                    match routes.iter().find(|r| r.destination == *destination) {
                        Some(r) if r.attachment_id.as_deref() == Some(attachment.as_str()) => None,
                        Some(r) => {
                            Some(format!("targets {}", r.attachment_id.as_deref().unwrap_or("blackhole")))
                        }
                        None => Some("route missing".into()),
                    }
                }
            })
            .collect())
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
