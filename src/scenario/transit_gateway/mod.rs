//! Transit Gateway scenario: the cluster's nodes sit in different VPCs (possibly regions
//! and accounts) joined by Transit Gateways. Discover every site (VPC, its Transit
//! Gateway, TGW route tables, peerings), plan (`plan.rs`, pure), write, confirm.

mod plan;

pub use plan::{plan_tgw, Op, SiteTable, SiteView, TgwPlan, TgwRouteTable, TgwView};

use super::{Ctx, Step};
use crate::aws::{read, Ec2, TransitGateways};
use crate::config::Site;
use crate::deadline::Deadline;
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
        let found = try_join_all(
            self.sites
                .iter()
                .zip(cx.sites)
                .enumerate()
                .map(|(i, (s, c))| discover_site(i, s, c, &self.destinations, cx.deadline)),
        )
        .await?;
        let (views, tgws): (Vec<_>, Vec<_>) = found.into_iter().unzip();
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

async fn discover_site<C: Ec2 + TransitGateways>(
    i: usize,
    site: &Site,
    ec2: &C,
    dests: &[IpNet],
    deadline: &Deadline,
) -> Result<(SiteView, TgwView), Error> {
    let step = |op: &str| format!("{op} ({} {})", site.vpc_id, site.region);
    let attachment = || ec2.vpc_attachment(&site.vpc_id, site.transit_gateway_id.as_deref());
    let (tgw_id, attachment) =
        read(deadline, &step("DescribeTransitGatewayAttachments"), attachment).await??.ok_or_else(|| {
            Error::BadInput(format!(
                "{} ({}) has no available Transit Gateway attachment",
                site.vpc_id, site.region
            ))
        })?;
    let (listed, raw) = match &site.route_tables {
        Some(ids) => {
            (true, read(deadline, &step("DescribeRouteTables"), || ec2.route_tables_by_id(ids)).await??)
        }
        None => (
            false,
            read(deadline, &step("DescribeRouteTables"), || ec2.route_tables_for(&site.vpc_id, dests))
                .await??,
        ),
    };
    let tables = raw
        .into_iter()
        .map(|t| SiteTable {
            id: t.id,
            routes: t
                .routes
                .into_iter()
                .filter(|r| dests.contains(&r.destination))
                .map(|r| (r.destination, r.target))
                .collect(),
            listed,
        })
        .collect();
    let (tgw_listed, tgw_table_ids) = match &site.tgw_route_tables {
        Some(ids) => (true, ids.clone()),
        None => (
            false,
            read(deadline, &step("DescribeTransitGatewayRouteTables"), || ec2.tgw_route_tables(&tgw_id))
                .await??,
        ),
    };
    let peerings =
        read(deadline, &step("DescribeTransitGatewayAttachments"), || ec2.tgw_peerings(&tgw_id)).await??;
    let mut tgw_tables = Vec::new();
    for id in tgw_table_ids {
        let routes = || try_join_all(dests.iter().map(|d| ec2.tgw_routes(&id, *d)));
        let routes = read(deadline, &step("SearchTransitGatewayRoutes"), routes).await??;
        let routes = routes.into_iter().flatten().collect();
        tgw_tables.push(TgwRouteTable { id, routes, listed: tgw_listed });
    }
    let view = SiteView {
        site: i,
        region: site.region.clone(),
        vpc_id: site.vpc_id.clone(),
        tgw_id: tgw_id.clone(),
        vpc_attachment_id: attachment,
        tables,
    };
    Ok((view, TgwView { site: i, region: site.region.clone(), tgw_id, tables: tgw_tables, peerings }))
}
