//! Transit Gateway scenario: discover every site (VPC, its Transit Gateway, TGW route
//! tables, peerings), plan (`tgw_plan`), apply site by site in parallel, read back.

use crate::config::Site;
use crate::deadline::Deadline;
use crate::ec2::{Ec2, SdkEc2};
use crate::ec2_tgw::TransitGateways;
use crate::error::Error;
use crate::failover::{until_not_throttled, Report, MAX_PARALLEL_WRITES};
use crate::tgw_plan::{plan_tgw, Op, SiteTable, SiteView, TgwPlan, TgwRouteTable, TgwView};
use aws_config::SdkConfig;
use futures_util::future::try_join_all;
use futures_util::stream::{self, StreamExt};
use ipnet::IpNet;
use log::info;

/// One EC2 client per site: the site's region, and its account through AssumeRole.
pub async fn site_clients(base: &SdkConfig, sites: &[Site]) -> Vec<SdkEc2> {
    let mut out = Vec::with_capacity(sites.len());
    for s in sites {
        let region = aws_config::Region::new(s.region.clone());
        let mut b = base.to_builder();
        b.set_region(Some(region.clone()));
        if let Some(arn) = &s.role_arn {
            let mut p =
                aws_config::sts::AssumeRoleProvider::builder(arn).session_name("ec2-vip").region(region);
            if let Some(id) = &s.external_id {
                p = p.external_id(id);
            }
            let provider = p.configure(base).build().await;
            b.set_credentials_provider(Some(aws_credential_types::provider::SharedCredentialsProvider::new(
                provider,
            )));
        }
        out.push(SdkEc2::new(&b.build()));
    }
    out
}

async fn discover_site(
    i: usize,
    site: &Site,
    ec2: &SdkEc2,
    dests: &[IpNet],
    deadline: &Deadline,
) -> Result<(SiteView, TgwView), Error> {
    let step = |op: &str| format!("{op} ({} {})", site.vpc_id, site.region);
    let (tgw_id, attachment) = deadline
        .run(
            &step("DescribeTransitGatewayAttachments"),
            ec2.vpc_attachment(&site.vpc_id, site.transit_gateway_id.as_deref()),
        )
        .await??
        .ok_or_else(|| {
            Error::BadInput(format!(
                "{} ({}) has no available Transit Gateway attachment",
                site.vpc_id, site.region
            ))
        })?;
    let (listed, raw) = match &site.route_tables {
        Some(ids) => (true, deadline.run(&step("DescribeRouteTables"), ec2.route_tables_by_id(ids)).await??),
        None => (
            false,
            deadline.run(&step("DescribeRouteTables"), ec2.route_tables_for(&site.vpc_id, dests)).await??,
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
            deadline.run(&step("DescribeTransitGatewayRouteTables"), ec2.tgw_route_tables(&tgw_id)).await??,
        ),
    };
    let peerings =
        deadline.run(&step("DescribeTransitGatewayAttachments"), ec2.tgw_peerings(&tgw_id)).await??;
    let mut tgw_tables = Vec::new();
    for id in tgw_table_ids {
        let routes = try_join_all(dests.iter().map(|d| ec2.tgw_routes(&id, *d)));
        let routes =
            deadline.run(&step("SearchTransitGatewayRoutes"), routes).await??.into_iter().flatten().collect();
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

/// Discover every site concurrently and plan for the node with `eni` in `vpc_id`.
pub async fn plan(
    sites: &[Site],
    clients: &[SdkEc2],
    dests: &[IpNet],
    vpc_id: &str,
    eni: &str,
    deadline: &Deadline,
) -> Result<TgwPlan, Error> {
    let found = try_join_all(
        sites.iter().zip(clients).enumerate().map(|(i, (s, c))| discover_site(i, s, c, dests, deadline)),
    )
    .await?;
    let (views, tgws): (Vec<_>, Vec<_>) = found.into_iter().unzip();
    plan_tgw(&views, &tgws, dests, vpc_id, eni).map_err(Error::BadInput)
}

pub fn plan_lines(plan: &TgwPlan, sites: &[Site]) -> Vec<String> {
    let mut out = Vec::new();
    let what = |op: Op| match op {
        Op::Keep => "keep",
        Op::Create => "create",
        Op::Replace => "replace",
    };
    for s in &plan.vpc {
        let from = s.current.as_ref().map(|c| c.to_string()).unwrap_or_else(|| "missing".into());
        let site = &sites[s.site];
        out.push(format!(
            "{} {} route {} in {}: {from} -> {} ({})",
            site.region,
            site.vpc_id,
            s.destination,
            s.table_id,
            s.desired.id(),
            what(s.op)
        ));
    }
    for s in &plan.tgw {
        let from = s.current.clone().unwrap_or_else(|| "missing".into());
        out.push(format!(
            "{} {} route {} in {}: {from} -> {} ({})",
            sites[s.site].region,
            s.tgw_id,
            s.destination,
            s.table_id,
            s.attachment_id,
            what(s.op)
        ));
    }
    out.extend(plan.problems.iter().cloned());
    out
}

/// Apply the plan, every site's writes in parallel, then read back and re-plan.
pub async fn apply(
    plan: &TgwPlan,
    sites: &[Site],
    clients: &[SdkEc2],
    dests: &[IpNet],
    vpc_id: &str,
    eni: &str,
    deadline: &Deadline,
) -> Result<Report, Error> {
    let mut report = Report::default();
    report.failed.extend(plan.problems.iter().cloned());
    let vpc_writes = plan.vpc.iter().filter(|s| s.op != Op::Keep).map(|s| {
        let ec2 = &clients[s.site];
        let step = format!("{} route {} in {}", sites[s.site].region, s.destination, s.table_id);
        let create = s.op == Op::Create;
        async move {
            let r = until_not_throttled(deadline, &step, || {
                ec2.set_vpc_route(&s.table_id, s.destination, &s.desired, create)
            })
            .await;
            (format!("{step} -> {}", s.desired.id()), r)
        }
    });
    let tgw_writes = plan.tgw.iter().filter(|s| s.op != Op::Keep).map(|s| {
        let ec2 = &clients[s.site];
        let step = format!("{} route {} in {}", sites[s.site].region, s.destination, s.table_id);
        let create = s.op == Op::Create;
        async move {
            let r = until_not_throttled(deadline, &step, || {
                ec2.set_tgw_route(&s.table_id, s.destination, &s.attachment_id, create)
            })
            .await;
            (format!("{step} -> {}", s.attachment_id), r)
        }
    });
    let vpc_results = stream::iter(vpc_writes).buffer_unordered(MAX_PARALLEL_WRITES).collect::<Vec<_>>();
    let tgw_results = stream::iter(tgw_writes).buffer_unordered(MAX_PARALLEL_WRITES).collect::<Vec<_>>();
    let (a, b) = tokio::join!(vpc_results, tgw_results);
    let mut wrote = false;
    for (what, r) in a.into_iter().chain(b) {
        match r {
            Ok(()) => {
                info!("{what} (done)");
                wrote = true;
            }
            Err(e) => report.failed.push(format!("{what}: {e}")),
        }
    }
    if wrote {
        let after = plan_read_back(sites, clients, dests, vpc_id, eni, deadline).await;
        match after {
            Ok(p) => {
                for s in p.vpc.iter().filter(|s| s.op != Op::Keep) {
                    report.failed.push(format!(
                        "{} {}: not {} after the write",
                        s.table_id,
                        s.destination,
                        s.desired.id()
                    ));
                }
                for s in p.tgw.iter().filter(|s| s.op != Op::Keep) {
                    report.failed.push(format!(
                        "{} {}: not {} after the write",
                        s.table_id, s.destination, s.attachment_id
                    ));
                }
            }
            Err(e) => report.failed.push(format!("read back: {e}")),
        }
    }
    let keeps = plan.vpc.iter().filter(|s| s.op == Op::Keep).count()
        + plan.tgw.iter().filter(|s| s.op == Op::Keep).count();
    report.unchanged.extend((0..keeps).map(|_| "Transit Gateway scenario route already right".to_string()));
    if report.failed.is_empty() && plan.changes() > 0 {
        report.changed.push(format!(
            "{} Transit Gateway scenario route(s) across {} site(s)",
            plan.changes(),
            sites.len()
        ));
    }
    Ok(report)
}

async fn plan_read_back(
    sites: &[Site],
    clients: &[SdkEc2],
    dests: &[IpNet],
    vpc_id: &str,
    eni: &str,
    deadline: &Deadline,
) -> Result<TgwPlan, Error> {
    let mut last = plan(sites, clients, dests, vpc_id, eni, deadline).await?;
    let mut wait = std::time::Duration::from_millis(100);
    while last.changes() > 0 && deadline.sleep(wait).await {
        last = plan(sites, clients, dests, vpc_id, eni, deadline).await?;
        wait = (wait * 2).min(std::time::Duration::from_secs(2));
    }
    Ok(last)
}

/// One VIP route of a Transit Gateway cluster, for `status`.
#[derive(Debug, serde::Serialize)]
pub struct RouteStatus {
    pub region: String,
    /// The VPC or Transit Gateway the table belongs to.
    pub owner: String,
    pub table_id: String,
    pub destination: String,
    pub target: String,
    pub as_this_master_wants: bool,
}

pub fn status_lines(plan: &TgwPlan, sites: &[Site]) -> Vec<RouteStatus> {
    let vpc = plan.vpc.iter().map(|s| RouteStatus {
        region: sites[s.site].region.clone(),
        owner: sites[s.site].vpc_id.clone(),
        table_id: s.table_id.clone(),
        destination: s.destination.to_string(),
        target: s.current.as_ref().map(|c| c.to_string()).unwrap_or_else(|| "missing".into()),
        as_this_master_wants: s.op == Op::Keep,
    });
    let tgw = plan.tgw.iter().map(|s| RouteStatus {
        region: sites[s.site].region.clone(),
        owner: s.tgw_id.clone(),
        table_id: s.table_id.clone(),
        destination: s.destination.to_string(),
        target: s.current.clone().unwrap_or_else(|| "missing".into()),
        as_this_master_wants: s.op == Op::Keep,
    });
    vpc.chain(tgw).collect()
}

/// Drift lines for `check`: every route that is not where this node's MASTER wants it.
pub fn drift(plan: &TgwPlan, sites: &[Site]) -> Vec<String> {
    let lines = plan_lines(plan, sites);
    let keep: Vec<bool> =
        plan.vpc.iter().map(|s| s.op == Op::Keep).chain(plan.tgw.iter().map(|s| s.op == Op::Keep)).collect();
    lines
        .into_iter()
        .enumerate()
        .filter(|(i, _)| !keep.get(*i).copied().unwrap_or(false))
        .map(|(_, l)| l)
        .collect()
}
