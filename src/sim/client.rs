//! One node's view of the simulated cloud: the `Ec2`, `TransitGateways` and `Route53`
//! seams over `cloud::Shared` (each call through the fault gate; reads from what this node
//! sees, writes to the truth), and the `Cloud` that hands out its identity (IMDS may drop).

use super::cloud::{fault, Fate, Shared};
use crate::aws::fake::FakeEc2;
use crate::aws::route53::{DnsChange, HostedZone};
use crate::aws::{Cloud, Ec2, Route53, TransitGateways};
use crate::config::Site;
use crate::deadline::Deadline;
use crate::error::{Ec2Error, Error, ImdsError};
use crate::model::{
    Access, Address, EipRef, EniAttachment, EniChoice, Identity, Interface, NextHop, RecordSet, RouteTable,
    TgwRoute, VpcAttachment,
};
use ipnet::IpNet;
use std::cell::RefCell;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::rc::Rc;
use std::time::Duration;

/// A hung call: the SDK's attempt timeout (a third of the 10 s deadline) ends it.
const HANG: Duration = Duration::from_millis(3_333);

#[derive(Clone)]
pub struct SimClient {
    pub node: usize,
    pub shared: Rc<RefCell<Shared>>,
}

impl SimClient {
    async fn gate(&self, op: &'static str, write: bool) -> Result<Fate, Ec2Error> {
        let (latency, fate) = self.shared.borrow_mut().fate(self.node, op, write);
        tokio::time::sleep(latency).await;
        match fate {
            Fate::Fail(code) => Err(fault(op, code)),
            Fate::Hang => {
                tokio::time::sleep(HANG).await;
                Err(fault(op, "RequestTimeout"))
            }
            f => Ok(f),
        }
    }

    /// The `holders` key of the Elastic IP that association `assoc` binds (now).
    fn eip_of(&self, assoc: &str) -> String {
        let s = self.shared.borrow();
        let w = s.truth.world.borrow();
        let a = w.addresses.iter().find(|a| a.association_id.as_deref() == Some(assoc));
        format!("eip {}", a.map_or("?", |a| a.allocation_id.as_str()))
    }

    async fn reader(&self, op: &'static str) -> Result<FakeEc2, Ec2Error> {
        self.gate(op, false).await?;
        Ok(self.shared.borrow_mut().view(self.node))
    }

    /// Run a write against the truth; keep what it changed; maybe lose its answer.
    async fn write<T, F>(
        &self,
        op: &'static str,
        key: String,
        call: impl FnOnce(FakeEc2) -> F,
    ) -> Result<T, Ec2Error>
    where
        F: std::future::Future<Output = Result<T, Ec2Error>>,
    {
        let fate = self.gate(op, true).await?;
        let truth = self.shared.borrow().truth.clone();
        let before = truth.world.borrow().clone();
        let out = call(truth).await;
        if out.is_ok() {
            self.shared.borrow_mut().wrote(self.node, op, key, before);
        }
        if matches!(fate, Fate::Lost) {
            tokio::time::sleep(HANG).await;
            return Err(fault(op, "RequestTimeout"));
        }
        out
    }
}

impl Ec2 for SimClient {
    async fn route_tables_for(&self, vpc: &str, d: &[IpNet]) -> Result<Vec<RouteTable>, Ec2Error> {
        self.reader("DescribeRouteTables").await?.route_tables_for(vpc, d).await
    }
    async fn route_tables_tagged(
        &self,
        vpc: &str,
        t: &[(String, String)],
    ) -> Result<Vec<RouteTable>, Ec2Error> {
        self.reader("DescribeRouteTables").await?.route_tables_tagged(vpc, t).await
    }
    async fn replace_route(&self, table: &str, d: IpNet, eni: &str) -> Result<(), Ec2Error> {
        self.write("ReplaceRoute", format!("route {table} {d}"), |t| async move {
            t.replace_route(table, d, eni).await
        })
        .await
    }
    async fn addresses(&self, refs: &[EipRef]) -> Result<Vec<Address>, Ec2Error> {
        self.reader("DescribeAddresses").await?.addresses(refs).await
    }
    async fn addresses_on(&self, eni: &str) -> Result<Vec<Address>, Ec2Error> {
        self.reader("DescribeAddresses").await?.addresses_on(eni).await
    }
    async fn associate_address(&self, alloc: &str, eni: &str, ip: &str) -> Result<String, Ec2Error> {
        self.write("AssociateAddress", format!("eip {alloc}"), |t| async move {
            t.associate_address(alloc, eni, ip).await
        })
        .await
    }
    async fn disassociate_address(&self, assoc: &str) -> Result<(), Ec2Error> {
        self.write("DisassociateAddress", self.eip_of(assoc), |t| async move {
            t.disassociate_address(assoc).await
        })
        .await
    }
    async fn interfaces_in_subnet(&self, subnet: &str) -> Result<Vec<Interface>, Ec2Error> {
        self.reader("DescribeNetworkInterfaces").await?.interfaces_in_subnet(subnet).await
    }
    async fn interfaces_in_vpc(&self, vpc: &str) -> Result<Vec<Interface>, Ec2Error> {
        self.reader("DescribeNetworkInterfaces").await?.interfaces_in_vpc(vpc).await
    }
    async fn assign_private_ip(&self, eni: &str, ip: Ipv4Addr) -> Result<(), Ec2Error> {
        self.write("AssignPrivateIpAddresses", format!("ip {ip}"), |t| async move {
            t.assign_private_ip(eni, ip).await
        })
        .await
    }
    async fn unassign_private_ip(&self, eni: &str, ip: Ipv4Addr) -> Result<(), Ec2Error> {
        self.write("UnassignPrivateIpAddresses", format!("ip {ip}"), |t| async move {
            t.unassign_private_ip(eni, ip).await
        })
        .await
    }
    async fn assign_ipv6(&self, eni: &str, ip: Ipv6Addr) -> Result<(), Ec2Error> {
        self.write(
            "AssignIpv6Addresses",
            format!("ipv6 {ip}"),
            |t| async move { t.assign_ipv6(eni, ip).await },
        )
        .await
    }
    async fn unassign_ipv6(&self, eni: &str, ip: Ipv6Addr) -> Result<(), Ec2Error> {
        self.write("UnassignIpv6Addresses", format!("ipv6 {ip}"), |t| async move {
            t.unassign_ipv6(eni, ip).await
        })
        .await
    }
    async fn eni_attachment(&self, eni: &str) -> Result<Option<EniAttachment>, Ec2Error> {
        self.reader("DescribeNetworkInterfaces").await?.eni_attachment(eni).await
    }
    async fn instance_state(&self, id: &str) -> Result<Option<String>, Ec2Error> {
        self.reader("DescribeInstanceStatus").await?.instance_state(id).await
    }
}

impl TransitGateways for SimClient {
    async fn vpc_attachment(&self, vpc: &str, tgw: Option<&str>) -> Result<Option<VpcAttachment>, Ec2Error> {
        self.reader("DescribeTransitGatewayAttachments").await?.vpc_attachment(vpc, tgw).await
    }
    async fn tgw_peerings(&self, tgw: &str) -> Result<Vec<(String, String)>, Ec2Error> {
        self.reader("DescribeTransitGatewayAttachments").await?.tgw_peerings(tgw).await
    }
    async fn tgw_route_tables(&self, tgw: &str) -> Result<Vec<String>, Ec2Error> {
        self.reader("DescribeTransitGatewayRouteTables").await?.tgw_route_tables(tgw).await
    }
    async fn tgw_routes(&self, table: &str, d: IpNet) -> Result<Vec<TgwRoute>, Ec2Error> {
        self.reader("SearchTransitGatewayRoutes").await?.tgw_routes(table, d).await
    }
    async fn set_tgw_route(&self, table: &str, d: IpNet, att: &str, create: bool) -> Result<(), Ec2Error> {
        let op = if create { "CreateTransitGatewayRoute" } else { "ReplaceTransitGatewayRoute" };
        self.write(
            op,
            format!("tgw {table} {d}"),
            |t| async move { t.set_tgw_route(table, d, att, create).await },
        )
        .await
    }
    async fn set_vpc_route(&self, table: &str, d: IpNet, to: &NextHop, create: bool) -> Result<(), Ec2Error> {
        let op = if create { "CreateRoute" } else { "ReplaceRoute" };
        self.write(op, format!("route {table} {d}"), |t| async move {
            t.set_vpc_route(table, d, to, create).await
        })
        .await
    }
    async fn route_tables_by_id(&self, ids: &[String]) -> Result<Vec<RouteTable>, Ec2Error> {
        self.reader("DescribeRouteTables").await?.route_tables_by_id(ids).await
    }
}

impl Route53 for SimClient {
    async fn hosted_zone(&self, zone: &str) -> Result<HostedZone, Ec2Error> {
        self.reader("GetHostedZone").await?.hosted_zone(zone).await
    }
    async fn record_set(&self, zone: &str, name: &str, kind: &str) -> Result<Option<RecordSet>, Ec2Error> {
        self.reader("ListResourceRecordSets").await?.record_set(zone, name, kind).await
    }
    async fn change_record(
        &self,
        zone: &str,
        c: DnsChange,
        set: &RecordSet,
    ) -> Result<(String, bool), Ec2Error> {
        let (id, _) = self
            .write(
                "ChangeResourceRecordSets",
                format!("dns {zone} {} {}", set.name, set.kind),
                |t| async move { t.change_record(zone, c, set).await },
            )
            .await?;
        // INSYNC after a random 0-4 s (real Route 53: tens of seconds; scaled down).
        let mut s = self.shared.borrow_mut();
        let at = tokio::time::Instant::now() + Duration::from_millis(s.rng.below(4000));
        s.insync_at.insert(id.clone(), at);
        Ok((id, false))
    }
    async fn change_insync(&self, id: &str) -> Result<bool, Ec2Error> {
        self.gate("GetChange", false).await?;
        let s = self.shared.borrow();
        Ok(s.insync_at.get(id).is_none_or(|at| *at <= tokio::time::Instant::now()))
    }
}

/// A node's `Cloud`: its identity (IMDS, which may drop) and its client.
pub struct SimCloud {
    pub me: Identity,
    pub client: SimClient,
}

impl Cloud for SimCloud {
    type Client = SimClient;

    async fn identity(&self, _eni: &EniChoice, _deadline: &Deadline) -> Result<Identity, Error> {
        tokio::time::sleep(Duration::from_millis(2)).await;
        let mut s = self.client.shared.borrow_mut();
        let p = s.faults.imds_drop;
        if s.rng.chance(p) {
            let ms = s.ms();
            s.trace.push(format!("{ms} n{} IMDS drop", self.client.node));
            let detail = "connection reset (simulated)".into();
            return Err(Error::Imds(ImdsError::Request { path: "/latest/api/token".into(), detail }));
        }
        Ok(self.me.clone())
    }

    async fn client(&self, _region: &str, _access: &Access, _d: &Deadline) -> Result<SimClient, Error> {
        Ok(self.client.clone())
    }

    async fn site_client(&self, base: &SimClient, _site: &Site) -> SimClient {
        base.clone()
    }
}
