//! `ec2-vip status`: where each resource points now, and whether that is this node.
//! Rendered from the same steps every scenario plans for MASTER.

use super::{select, set_aside};
use crate::aws::{read, Cloud, Ec2};
use crate::cli::StatusArgs;
use crate::deadline::Deadline;
use crate::engine::apply::{plan_all, steps, Planned};
use crate::engine::Engine;
use crate::error::Error;
use crate::model::Identity;
use crate::ordering::{boot_seconds, Guard};
use crate::scenario::{Ctx, Goal, Kind, Resource, Scenario};
use serde::Serialize;
use std::path::Path;

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

/// One VIP route of a Transit Gateway cluster.
#[derive(Debug, Serialize)]
pub struct TgwRouteStatus {
    pub region: String,
    /// The VPC or Transit Gateway the table belongs to.
    pub owner: String,
    pub table_id: String,
    pub destination: String,
    pub target: String,
    pub as_this_master_wants: bool,
}

#[derive(Debug, Serialize)]
pub struct PrivateIpStatus {
    pub address: String,
    pub network_interface_id: Option<String>,
    pub this_node: bool,
}

/// A Route 53 record of the DNS scenario.
#[derive(Debug, Serialize)]
pub struct DnsStatus {
    pub zone: String,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// What it names now (values joined by commas, the TTL when not the wanted one); null
    /// when there is no such record.
    pub value: Option<String>,
    /// What this node as MASTER wants it to name.
    pub wanted: String,
    pub this_node: bool,
}

/// The version of the `status --json` object ([`Status`]); the README documents it. Fields
/// may be added within a version; one renamed, removed or changed in meaning bumps it.
pub const SCHEMA: u32 = 1;

/// The newest transition recorded for the VIP in this boot (the state directory).
#[derive(Debug, Serialize)]
pub struct Recorded {
    /// MASTER, BACKUP, FAULT or STOP.
    pub state: String,
    /// The process that recorded it.
    pub pid: u32,
}

/// A split-brain hold-off: this node yields the VIP to `other` for `seconds_left` more.
#[derive(Debug, Serialize)]
pub struct HoldOff {
    pub other: String,
    pub seconds_left: f64,
}

#[derive(Debug, Serialize)]
pub struct Status {
    /// Always [`SCHEMA`].
    pub schema: u32,
    pub name: Option<String>,
    /// The record key: the section name, or `cli-<hash>` for --route/--eip...
    pub key: String,
    /// null when nothing is recorded in this boot.
    pub recorded: Option<Recorded>,
    /// null unless this node is yielding after a split brain.
    pub hold_off: Option<HoldOff>,
    pub instance_id: String,
    pub network_interface_id: String,
    pub vpc_id: String,
    pub routes: Vec<RouteStatus>,
    /// Destinations no route table of the VPC holds.
    pub missing_routes: Vec<String>,
    pub elastic_ips: Vec<EipStatus>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub private_ips: Vec<PrivateIpStatus>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ipv6_addresses: Vec<PrivateIpStatus>,
    /// Transit Gateway scenario: every VIP route of every site, and whether it is where
    /// this node as MASTER would put it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub transit_gateway_routes: Vec<TgwRouteStatus>,
    /// Route 53 scenario: each record and whether it names this node.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dns_records: Vec<DnsStatus>,
}

pub async fn run<K: Cloud>(
    engine: &Engine<K>,
    config: &Path,
    args: &StatusArgs,
    deadline: &Deadline,
) -> Result<(), Error> {
    let mut all = Vec::new();
    let selection = select(config, &args.resources, args.instance.as_deref())?;
    for sel in selection.sound {
        let session = engine.connect(&sel.resources, deadline).await?;
        let cx = session.ctx(deadline);
        let plans = plan_all(&cx, &Scenario::for_resources(&sel.resources), Goal::Take).await?;
        let mut st = collect(&session.me, sel.name, &plans);
        beyond_the_subnet(&cx, &mut st).await?;
        (st.recorded, st.hold_off) = recorded(&engine.settings.state_dir, &sel.key);
        st.key = sel.key;
        all.push(st);
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&all).map_err(|e| Error::Other(e.to_string()))?);
    } else {
        for s in &all {
            print!("{}", render(s));
        }
    }
    set_aside(&selection.broken, !args.json)
}

/// The status of one VIP from its MASTER plan.
pub fn collect(me: &Identity, name: Option<String>, plans: &[Planned]) -> Status {
    let mut st = Status {
        schema: SCHEMA,
        name,
        key: String::new(),
        recorded: None,
        hold_off: None,
        instance_id: me.instance_id.clone(),
        network_interface_id: me.eni_id.clone(),
        vpc_id: me.vpc_id.clone(),
        routes: Vec::new(),
        missing_routes: Vec::new(),
        elastic_ips: Vec::new(),
        private_ips: Vec::new(),
        ipv6_addresses: Vec::new(),
        transit_gateway_routes: Vec::new(),
        dns_records: Vec::new(),
    };
    for s in steps(plans) {
        let target = s.current_or("missing");
        match (&s.kind, &s.resource) {
            (Kind::RouteTable, Resource::Route { table_id, destination, .. }) => {
                st.routes.push(RouteStatus {
                    destination: destination.to_string(),
                    route_table_id: table_id.clone(),
                    target,
                    this_node: s.is_keep(),
                })
            }
            (Kind::RouteTable, Resource::Destination { destination, .. }) => {
                st.missing_routes.push(destination.to_string())
            }
            (Kind::TransitGateway, Resource::Route { region, scope, table_id, destination }) => {
                st.transit_gateway_routes.push(TgwRouteStatus {
                    region: region.clone().unwrap_or_default(),
                    owner: scope.clone(),
                    table_id: table_id.clone(),
                    destination: destination.to_string(),
                    target,
                    as_this_master_wants: s.is_keep(),
                })
            }
            (_, Resource::ElasticIp { allocation_id, public_ip, private_ip }) => {
                st.elastic_ips.push(EipStatus {
                    allocation_id: allocation_id.clone(),
                    public_ip: public_ip.clone(),
                    network_interface_id: s.current.clone(),
                    private_ip: private_ip.clone(),
                    this_node: s.current.as_deref() == Some(me.eni_id.as_str()),
                })
            }
            (_, Resource::Ipv6Address { ip, .. }) => st.ipv6_addresses.push(PrivateIpStatus {
                address: ip.to_string(),
                network_interface_id: s.current.clone(),
                this_node: s.is_keep(),
            }),
            (_, Resource::PrivateIp { ip, .. }) => st.private_ips.push(PrivateIpStatus {
                address: ip.to_string(),
                network_interface_id: s.current.clone(),
                this_node: s.is_keep(),
            }),
            (_, Resource::DnsRecord { zone, name, kind, .. }) => st.dns_records.push(DnsStatus {
                zone: zone.clone(),
                name: name.clone(),
                kind: kind.to_string(),
                value: s.current.clone(),
                wanted: s.desired.clone(),
                this_node: s.is_keep(),
            }),
            _ => {}
        }
    }
    st
}

/// Addresses on no ENI of this node's subnet may be on a peer in another subnet: say which
/// ENI of the VPC holds them (one more DescribeNetworkInterfaces, only when needed) rather
/// than "unassigned".
async fn beyond_the_subnet<C: Ec2>(cx: &Ctx<'_, C>, st: &mut Status) -> Result<(), Error> {
    let mut nowhere: Vec<&mut PrivateIpStatus> = st
        .private_ips
        .iter_mut()
        .chain(&mut st.ipv6_addresses)
        .filter(|p| p.network_interface_id.is_none())
        .collect();
    if nowhere.is_empty() {
        return Ok(());
    }
    let vpc = &cx.me.vpc_id;
    let found =
        read(cx.deadline, &format!("DescribeNetworkInterfaces {vpc}"), || cx.ec2.interfaces_in_vpc(vpc))
            .await??;
    for p in nowhere.iter_mut() {
        let ip: Option<std::net::IpAddr> = p.address.parse().ok();
        let holds = |i: &&crate::model::Interface| match ip {
            Some(std::net::IpAddr::V4(v4)) => i.private_ips.contains(&v4),
            Some(std::net::IpAddr::V6(v6)) => i.ipv6.contains(&v6),
            None => false,
        };
        p.network_interface_id = found.iter().find(holds).map(|i| i.id.clone());
    }
    Ok(())
}

/// What the state directory says about `key`: its record, and a hold-off still running.
/// Reads only (creates nothing); an unreadable record reads as none.
fn recorded(dir: &Path, key: &str) -> (Option<Recorded>, Option<HoldOff>) {
    let Ok(guard) = Guard::new(dir, key) else { return (None, None) };
    let Some(r) = guard.latest().ok().flatten() else { return (None, None) };
    let hold = match r.state.as_str() {
        "MASTER" => {
            let c = guard.contest(&r);
            let left = c.yield_until.map(|until| until - boot_seconds()).filter(|s| *s > 0.0);
            left.map(|seconds_left| HoldOff { other: c.other, seconds_left })
        }
        _ => None,
    };
    (Some(Recorded { state: r.state, pid: r.stamp.pid }), hold)
}

pub fn render(s: &Status) -> String {
    let mut out = String::new();
    let here = |b: bool| if b { "this node" } else { "other" };
    out.push_str(&format!(
        "{}this node: {} {} in {}{}\n",
        s.name.as_ref().map(|n| format!("[{n}] ")).unwrap_or_default(),
        s.instance_id,
        s.network_interface_id,
        s.vpc_id,
        s.recorded.as_ref().map(|r| format!(", last recorded {}", r.state)).unwrap_or_default()
    ));
    if let Some(h) = &s.hold_off {
        out.push_str(&format!("split brain: yielding to {} for {:.0} s more\n", h.other, h.seconds_left));
    }
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
    for p in s.private_ips.iter().chain(&s.ipv6_addresses) {
        out.push_str(&format!(
            "ip    {:<18} {:<24} -> {:<24} {}\n",
            p.address,
            "",
            p.network_interface_id.as_deref().unwrap_or("unassigned"),
            here(p.this_node)
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
    for d in &s.dns_records {
        out.push_str(&format!(
            "dns   {:<18} {:<24} -> {:<24} {}\n",
            d.name,
            format!("{} {}", d.kind, d.zone),
            d.value.as_deref().unwrap_or("missing"),
            here(d.this_node)
        ));
    }
    out
}
