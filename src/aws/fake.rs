//! An in-memory EC2 for tests: route tables, Elastic IPs and Transit Gateways with EC2's
//! semantics for the calls ec2-vip makes, and a count of every call by operation name.
//! `FakeCloud` hands out a fixed identity and clients sharing one world.

use super::{Cloud, Ec2, Route53, TransitGateways};
use crate::config::Site;
use crate::deadline::Deadline;
use crate::error::{Ec2Error, Error};
use crate::model::{
    Access, Address, EipRef, EniAttachment, EniChoice, Identity, Interface, NextHop, Route, RouteTable,
    RouteTarget, TgwRoute, VpcAttachment,
};
use ipnet::IpNet;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

/// Everything the fake EC2 knows.
#[derive(Debug, Default, Clone)]
pub struct World {
    pub tables: Vec<RouteTable>,
    pub addresses: Vec<Address>,
    /// (vpc id, transit gateway id, attachment id); every owner is one account
    pub vpc_attachments: Vec<(String, String, String)>,
    /// (transit gateway id, peering attachment id, the peer transit gateway)
    pub peerings: Vec<(String, String, String)>,
    /// (transit gateway id, route table id, routes)
    pub tgw_tables: Vec<(String, String, Vec<TgwRoute>)>,
    /// Network interfaces: (subnet id, interface)
    pub interfaces: Vec<(String, Interface)>,
    /// Attachments by ENI id (an ENI without one here does not exist).
    pub attachments: BTreeMap<String, EniAttachment>,
    /// Instance states by id (`running`, `stopped`, ...).
    pub instances: BTreeMap<String, String>,
    /// Route 53: record sets by hosted zone (a zone with none is listed with an empty
    /// name), and how many more GetChange calls answer PENDING (see `fake_route53`).
    pub records: Vec<(String, crate::model::RecordSet)>,
    pub pending: usize,
    /// Calls made, by operation name.
    pub calls: BTreeMap<&'static str, usize>,
    pub next_id: u32,
}

impl World {
    /// Where route `destination` of table `table_id` points now.
    pub fn route(&self, table_id: &str, destination: &str) -> Option<RouteTarget> {
        let d: IpNet = destination.parse().ok()?;
        let t = self.tables.iter().find(|t| t.id == table_id)?;
        t.routes.iter().find(|r| r.destination == d).map(|r| r.target.clone())
    }

    pub fn tgw_route(&self, table_id: &str, destination: &str) -> Option<String> {
        let d: IpNet = destination.parse().ok()?;
        let (_, _, routes) = self.tgw_tables.iter().find(|(_, t, _)| t == table_id)?;
        routes.iter().find(|r| r.destination == d).and_then(|r| r.attachment_id.clone())
    }

    pub fn address(&self, allocation_id: &str) -> Option<&Address> {
        self.addresses.iter().find(|a| a.allocation_id == allocation_id)
    }

    /// Calls whose name starts with one of the mutating verbs.
    pub fn writes(&self) -> usize {
        let mutating = ["Replace", "Create", "Associate", "Disassociate", "Change"];
        self.calls.iter().filter(|(k, _)| mutating.iter().any(|m| k.starts_with(m))).map(|(_, n)| n).sum()
    }
}

/// A client of the fake EC2; clones share the world.
#[derive(Clone, Default)]
pub struct FakeEc2 {
    pub world: Rc<RefCell<World>>,
}

pub(super) fn err(operation: &'static str, resources: impl Into<String>, code: &str) -> Ec2Error {
    Ec2Error {
        operation,
        resources: resources.into(),
        code: Some(code.into()),
        message: Some("fake EC2".into()),
        request_id: None,
    }
}

impl FakeEc2 {
    pub fn new(world: World) -> FakeEc2 {
        FakeEc2 { world: Rc::new(RefCell::new(world)) }
    }

    pub(super) fn count(&self, op: &'static str) {
        *self.world.borrow_mut().calls.entry(op).or_default() += 1;
    }

    fn set_route(
        &self,
        op: &'static str,
        table_id: &str,
        destination: IpNet,
        target: RouteTarget,
        create: bool,
    ) -> Result<(), Ec2Error> {
        self.count(op);
        let mut w = self.world.borrow_mut();
        let what = format!("{table_id} {destination}");
        let t = w
            .tables
            .iter_mut()
            .find(|t| t.id == table_id)
            .ok_or_else(|| err(op, &what, "InvalidRouteTableID.NotFound"))?;
        match (t.routes.iter_mut().find(|r| r.destination == destination), create) {
            (Some(r), false) => r.target = target,
            (None, true) => t.routes.push(Route { destination, target }),
            (Some(_), true) => return Err(err(op, what, "RouteAlreadyExists")),
            (None, false) => return Err(err(op, what, "InvalidRoute.NotFound")),
        }
        Ok(())
    }
}

impl Ec2 for FakeEc2 {
    async fn route_tables_for(
        &self,
        vpc_id: &str,
        destinations: &[IpNet],
    ) -> Result<Vec<RouteTable>, Ec2Error> {
        for _ in destinations {
            self.count("DescribeRouteTables");
        }
        let w = self.world.borrow();
        Ok(w.tables
            .iter()
            .filter(|t| t.vpc_id == vpc_id && t.routes.iter().any(|r| destinations.contains(&r.destination)))
            .cloned()
            .collect())
    }

    async fn route_tables_tagged(
        &self,
        vpc_id: &str,
        _tags: &[(String, String)],
    ) -> Result<Vec<RouteTable>, Ec2Error> {
        // The fake keeps no tags: every table of the VPC matches.
        self.count("DescribeRouteTables");
        Ok(self.world.borrow().tables.iter().filter(|t| t.vpc_id == vpc_id).cloned().collect())
    }

    async fn replace_route(&self, table_id: &str, destination: IpNet, eni: &str) -> Result<(), Ec2Error> {
        let target = RouteTarget::NetworkInterface(eni.into());
        self.set_route("ReplaceRoute", table_id, destination, target, false)
    }

    async fn addresses(&self, refs: &[EipRef]) -> Result<Vec<Address>, Ec2Error> {
        self.count("DescribeAddresses");
        let w = self.world.borrow();
        let mut out = Vec::new();
        for r in refs {
            match w.addresses.iter().find(|a| r.matches(a)) {
                Some(a) => out.push(a.clone()),
                None if matches!(r, EipRef::AllocationId(_)) => {
                    return Err(err("DescribeAddresses", r.to_string(), "InvalidAllocationID.NotFound"))
                }
                None => return Err(err("DescribeAddresses", r.to_string(), "InvalidAddress.NotFound")),
            }
        }
        Ok(out)
    }

    async fn addresses_on(&self, eni: &str) -> Result<Vec<Address>, Ec2Error> {
        self.count("DescribeAddresses");
        let w = self.world.borrow();
        Ok(w.addresses.iter().filter(|a| a.network_interface_id.as_deref() == Some(eni)).cloned().collect())
    }

    async fn associate_address(
        &self,
        allocation_id: &str,
        eni: &str,
        private_ip: &str,
    ) -> Result<String, Ec2Error> {
        self.count("AssociateAddress");
        let mut w = self.world.borrow_mut();
        w.next_id += 1;
        let id = format!("eipassoc-{:08x}", w.next_id);
        let a = w
            .addresses
            .iter_mut()
            .find(|a| a.allocation_id == allocation_id)
            .ok_or_else(|| err("AssociateAddress", allocation_id, "InvalidAllocationID.NotFound"))?;
        a.association_id = Some(id.clone());
        a.network_interface_id = Some(eni.into());
        a.private_ip = Some(private_ip.into());
        Ok(id)
    }

    async fn disassociate_address(&self, association_id: &str) -> Result<(), Ec2Error> {
        self.count("DisassociateAddress");
        let mut w = self.world.borrow_mut();
        let a = w
            .addresses
            .iter_mut()
            .find(|a| a.association_id.as_deref() == Some(association_id))
            .ok_or_else(|| err("DisassociateAddress", association_id, "InvalidAssociationID.NotFound"))?;
        a.association_id = None;
        a.network_interface_id = None;
        a.private_ip = None;
        Ok(())
    }

    async fn interfaces_in_subnet(&self, subnet_id: &str) -> Result<Vec<Interface>, Ec2Error> {
        self.count("DescribeNetworkInterfaces");
        let w = self.world.borrow();
        Ok(w.interfaces.iter().filter(|(s, _)| s == subnet_id).map(|(_, i)| i.clone()).collect())
    }

    async fn interfaces_in_vpc(&self, _vpc_id: &str) -> Result<Vec<Interface>, Ec2Error> {
        self.count("DescribeNetworkInterfaces");
        Ok(self.world.borrow().interfaces.iter().map(|(_, i)| i.clone()).collect())
    }

    async fn assign_private_ip(&self, eni: &str, ip: std::net::Ipv4Addr) -> Result<(), Ec2Error> {
        self.count("AssignPrivateIpAddresses");
        let mut w = self.world.borrow_mut();
        if !w.interfaces.iter().any(|(_, i)| i.id == eni) {
            return Err(err("AssignPrivateIpAddresses", eni, "InvalidNetworkInterfaceID.NotFound"));
        }
        // AllowReassignment: the address leaves whichever ENI had it.
        for (_, i) in w.interfaces.iter_mut() {
            i.private_ips.retain(|p| *p != ip);
            if i.id == eni {
                i.private_ips.push(ip);
            }
        }
        Ok(())
    }

    async fn unassign_private_ip(&self, eni: &str, ip: std::net::Ipv4Addr) -> Result<(), Ec2Error> {
        self.count("UnassignPrivateIpAddresses");
        let mut w = self.world.borrow_mut();
        match w.interfaces.iter_mut().find(|(_, i)| i.id == eni) {
            Some((_, i)) => {
                i.private_ips.retain(|p| *p != ip);
                Ok(())
            }
            None => Err(err("UnassignPrivateIpAddresses", eni, "InvalidNetworkInterfaceID.NotFound")),
        }
    }

    async fn assign_ipv6(&self, eni: &str, ip: std::net::Ipv6Addr) -> Result<(), Ec2Error> {
        self.count("AssignIpv6Addresses");
        let mut w = self.world.borrow_mut();
        if w.interfaces.iter().any(|(_, i)| i.id != eni && i.ipv6.contains(&ip)) {
            return Err(err("AssignIpv6Addresses", ip.to_string(), "InvalidParameterValue"));
        }
        match w.interfaces.iter_mut().find(|(_, i)| i.id == eni) {
            Some((_, i)) if i.ipv6.contains(&ip) => Ok(()),
            Some((_, i)) => {
                i.ipv6.push(ip);
                Ok(())
            }
            None => Err(err("AssignIpv6Addresses", eni, "InvalidNetworkInterfaceID.NotFound")),
        }
    }

    async fn unassign_ipv6(&self, eni: &str, ip: std::net::Ipv6Addr) -> Result<(), Ec2Error> {
        self.count("UnassignIpv6Addresses");
        let mut w = self.world.borrow_mut();
        match w.interfaces.iter_mut().find(|(_, i)| i.id == eni) {
            Some((_, i)) => {
                i.ipv6.retain(|p| *p != ip);
                Ok(())
            }
            None => Err(err("UnassignIpv6Addresses", eni, "InvalidNetworkInterfaceID.NotFound")),
        }
    }

    async fn eni_attachment(&self, eni: &str) -> Result<Option<EniAttachment>, Ec2Error> {
        self.count("DescribeNetworkInterfaces");
        Ok(self.world.borrow().attachments.get(eni).cloned())
    }

    async fn instance_state(&self, id: &str) -> Result<Option<String>, Ec2Error> {
        self.count("DescribeInstanceStatus");
        Ok(self.world.borrow().instances.get(id).cloned())
    }
}

impl TransitGateways for FakeEc2 {
    async fn vpc_attachment(
        &self,
        vpc_id: &str,
        tgw_id: Option<&str>,
    ) -> Result<Option<VpcAttachment>, Ec2Error> {
        self.count("DescribeTransitGatewayAttachments");
        let w = self.world.borrow();
        let found = w.vpc_attachments.iter().find(|(v, t, _)| v == vpc_id && tgw_id.is_none_or(|x| x == t));
        Ok(found.map(|(_, t, a)| VpcAttachment {
            transit_gateway_id: t.clone(),
            attachment_id: a.clone(),
            transit_gateway_owner: Some("111111111111".into()),
            vpc_owner: Some("111111111111".into()),
        }))
    }

    async fn tgw_peerings(&self, tgw_id: &str) -> Result<Vec<(String, String)>, Ec2Error> {
        self.count("DescribeTransitGatewayAttachments");
        let w = self.world.borrow();
        Ok(w.peerings
            .iter()
            .filter(|(t, _, _)| t == tgw_id)
            .map(|(_, a, p)| (a.clone(), p.clone()))
            .collect())
    }

    async fn tgw_route_tables(&self, tgw_id: &str) -> Result<Vec<String>, Ec2Error> {
        self.count("DescribeTransitGatewayRouteTables");
        let w = self.world.borrow();
        Ok(w.tgw_tables.iter().filter(|(t, _, _)| t == tgw_id).map(|(_, id, _)| id.clone()).collect())
    }

    async fn tgw_routes(&self, table_id: &str, destination: IpNet) -> Result<Vec<TgwRoute>, Ec2Error> {
        self.count("SearchTransitGatewayRoutes");
        let w = self.world.borrow();
        let (_, _, routes) = w
            .tgw_tables
            .iter()
            .find(|(_, id, _)| id == table_id)
            .ok_or_else(|| err("SearchTransitGatewayRoutes", table_id, "InvalidRouteTableID.NotFound"))?;
        Ok(routes.iter().filter(|r| r.destination == destination).cloned().collect())
    }

    async fn set_tgw_route(
        &self,
        table_id: &str,
        destination: IpNet,
        attachment: &str,
        create: bool,
    ) -> Result<(), Ec2Error> {
        let op = if create { "CreateTransitGatewayRoute" } else { "ReplaceTransitGatewayRoute" };
        self.count(op);
        let mut w = self.world.borrow_mut();
        let what = format!("{table_id} {destination}");
        let (_, _, routes) = w
            .tgw_tables
            .iter_mut()
            .find(|(_, id, _)| id == table_id)
            .ok_or_else(|| err(op, &what, "InvalidRouteTableID.NotFound"))?;
        let route = TgwRoute { destination, attachment_id: Some(attachment.into()), is_static: true };
        match (routes.iter_mut().find(|r| r.destination == destination), create) {
            (Some(r), false) => *r = route,
            (None, true) => routes.push(route),
            (Some(_), true) => return Err(err(op, what, "RouteAlreadyExists")),
            (None, false) => return Err(err(op, what, "InvalidRoute.NotFound")),
        }
        Ok(())
    }

    async fn set_vpc_route(
        &self,
        table_id: &str,
        destination: IpNet,
        target: &NextHop,
        create: bool,
    ) -> Result<(), Ec2Error> {
        let t = match target {
            NextHop::Eni(e) => RouteTarget::NetworkInterface(e.clone()),
            NextHop::TransitGateway(g) => RouteTarget::Other { kind: "transit-gateway", id: g.clone() },
        };
        self.set_route(if create { "CreateRoute" } else { "ReplaceRoute" }, table_id, destination, t, create)
    }

    async fn route_tables_by_id(&self, ids: &[String]) -> Result<Vec<RouteTable>, Ec2Error> {
        self.count("DescribeRouteTables");
        let w = self.world.borrow();
        Ok(w.tables.iter().filter(|t| ids.contains(&t.id)).cloned().collect())
    }
}

/// A fixed identity and clients that are clones of one client (every site shares the world).
pub struct FakeCloud<C> {
    pub identity: Identity,
    pub client: C,
}

impl<C: Ec2 + TransitGateways + Route53 + Clone> Cloud for FakeCloud<C> {
    type Client = C;

    async fn identity(&self, _eni: &EniChoice, _deadline: &Deadline) -> Result<Identity, Error> {
        Ok(self.identity.clone())
    }

    async fn client(&self, _region: &str, _access: &Access, _deadline: &Deadline) -> Result<C, Error> {
        Ok(self.client.clone())
    }

    async fn site_client(&self, base: &C, _site: &Site) -> C {
        base.clone()
    }
}
