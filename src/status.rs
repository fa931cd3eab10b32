//! `ec2-vip status`: where each resource points now, and whether that is this node.

use crate::app::{connect_sdk, select};
use crate::cli::{GlobalArgs, StatusArgs};
use crate::config::Resources;
use crate::deadline::Deadline;
use crate::ec2::Ec2;
use crate::ec2::SdkEc2;
use crate::error::Error;
use crate::model::Identity;
use crate::tgw;
use serde::Serialize;

#[derive(Debug, Serialize)]
pub struct RouteStatus {
    pub destination: String,
    pub route_table_id: String,
    pub target: String,
    pub this_node: bool,
}

#[derive(Debug, Serialize)]
pub struct EipStatus {
    pub allocation_id: String,
    pub public_ip: String,
    pub network_interface_id: Option<String>,
    pub private_ip: Option<String>,
    pub this_node: bool,
}

#[derive(Debug, Serialize)]
pub struct Status {
    pub name: Option<String>,
    pub instance_id: String,
    pub network_interface_id: String,
    pub vpc_id: String,
    pub routes: Vec<RouteStatus>,
    /// Destinations no route table of the VPC holds.
    pub missing_routes: Vec<String>,
    pub elastic_ips: Vec<EipStatus>,
    /// Transit Gateway scenario: every VIP route of every site, and whether it is where
    /// this node as MASTER would put it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub transit_gateway_routes: Vec<tgw::RouteStatus>,
}

pub async fn run(g: &GlobalArgs, args: &StatusArgs, deadline: &Deadline) -> Result<(), Error> {
    let mut all = Vec::new();
    for sel in select(g, &args.resources, args.instance.as_deref())? {
        let (me, sdk) = connect_sdk(g, &sel.resources, deadline).await?;
        let res = &sel.resources;
        // With Transit Gateway sites the routes live in many VPCs and TGWs: list them all.
        let single = Resources {
            routes: if res.sites.is_empty() { res.routes.clone() } else { Vec::new() },
            ..res.clone()
        };
        let mut st = collect(&SdkEc2::new(&sdk), &me, sel.name, &single, deadline).await?;
        if !res.sites.is_empty() {
            let clients = tgw::site_clients(&sdk, &res.sites).await;
            let plan = tgw::plan(&res.sites, &clients, &res.routes, &me.vpc_id, &me.eni_id, deadline).await?;
            st.transit_gateway_routes = tgw::status_lines(&plan, &res.sites);
        }
        all.push(st);
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&all).map_err(|e| Error::Other(e.to_string()))?);
    } else {
        for s in &all {
            print!("{}", render(s));
        }
    }
    Ok(())
}

pub async fn collect<E: Ec2>(
    ec2: &E,
    me: &Identity,
    name: Option<String>,
    res: &Resources,
    deadline: &Deadline,
) -> Result<Status, Error> {
    let mut routes = Vec::new();
    let mut missing_routes = Vec::new();
    if !res.routes.is_empty() {
        let step = format!("DescribeRouteTables {}", me.vpc_id);
        let tables = deadline.run(&step, ec2.route_tables_for(&me.vpc_id, &res.routes)).await??;
        for dest in &res.routes {
            let before = routes.len();
            for t in &tables {
                for r in t.routes.iter().filter(|r| r.destination == *dest) {
                    routes.push(RouteStatus {
                        destination: dest.to_string(),
                        route_table_id: t.id.clone(),
                        target: r.target.to_string(),
                        this_node: r.target.is_eni(&me.eni_id),
                    });
                }
            }
            if routes.len() == before {
                missing_routes.push(dest.to_string());
            }
        }
    }
    let mut elastic_ips = Vec::new();
    if !res.eips.is_empty() {
        let found = deadline.run("DescribeAddresses", ec2.addresses(&res.eips)).await?;
        let found =
            found.map_err(|e| if e.is_not_found() { crate::failover::bad_eip(&e) } else { e.into() })?;
        let found = crate::plan::resolve_eips(&res.eips, &found)
            .map_err(|r| Error::BadInput(format!("Elastic IP {r}: no such address in {}", me.region)))?;
        for a in found {
            elastic_ips.push(EipStatus {
                this_node: a.network_interface_id.as_deref() == Some(me.eni_id.as_str()),
                allocation_id: a.allocation_id,
                public_ip: a.public_ip,
                network_interface_id: a.network_interface_id,
                private_ip: a.private_ip,
            });
        }
    }
    Ok(Status {
        name,
        instance_id: me.instance_id.clone(),
        network_interface_id: me.eni_id.clone(),
        vpc_id: me.vpc_id.clone(),
        routes,
        missing_routes,
        elastic_ips,
        transit_gateway_routes: Vec::new(),
    })
}

pub fn render(s: &Status) -> String {
    let mut out = String::new();
    let here = |b: bool| if b { "this node" } else { "other" };
    out.push_str(&format!(
        "{}this node: {} {} in {}\n",
        s.name.as_ref().map(|n| format!("[{n}] ")).unwrap_or_default(),
        s.instance_id,
        s.network_interface_id,
        s.vpc_id
    ));
    for r in &s.routes {
        out.push_str(&format!(
            "route {:<18} {:<24} -> {:<24} {}\n",
            r.destination,
            r.route_table_id,
            r.target,
            here(r.this_node)
        ));
    }
    for d in &s.missing_routes {
        out.push_str(&format!("route {d:<18} (no route table in {} holds it)\n", s.vpc_id));
    }
    for t in &s.transit_gateway_routes {
        out.push_str(&format!(
            "route {:<18} {:<24} -> {:<24} {} ({} {})\n",
            t.destination,
            t.table_id,
            t.target,
            if t.as_this_master_wants { "as this node wants as MASTER" } else { "not for this node" },
            t.region,
            t.owner
        ));
    }
    for e in &s.elastic_ips {
        out.push_str(&format!(
            "eip   {:<18} {:<24} -> {:<24} {}\n",
            e.public_ip,
            e.allocation_id,
            e.network_interface_id.as_deref().unwrap_or("unassociated"),
            here(e.this_node)
        ));
    }
    out
}
