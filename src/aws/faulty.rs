//! A wrapper around any EC2 client that injects faults before the call reaches it: fail
//! the k-th call, answer an operation throttled n times or always fail it, delay every
//! call, or run a hook first (e.g. to record a newer transition in the middle of a run).

use super::{Ec2, TransitGateways};
use crate::error::Ec2Error;
use crate::model::{Address, EipRef, EniAttachment, Interface, NextHop, RouteTable, TgwRoute, VpcAttachment};
use ipnet::IpNet;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::Duration;

type Hook = Box<dyn FnMut(&'static str)>;

/// What to inject. Operation names are EC2's (`ReplaceRoute`, `DescribeAddresses`, ...).
#[derive(Default)]
pub struct Faults {
    /// Calls seen so far, over every operation.
    pub calls: usize,
    /// Fail the k-th call (1-based) with this error code.
    pub fail_nth: BTreeMap<usize, &'static str>,
    /// Answer this operation `RequestLimitExceeded` this many more times.
    pub throttle: BTreeMap<&'static str, usize>,
    /// Fail every call of this operation with this error code.
    pub fail_always: BTreeMap<&'static str, &'static str>,
    /// Added before every call.
    pub delay: Duration,
    /// Run before every call with its operation name.
    pub before: Option<Hook>,
}

#[derive(Clone)]
pub struct Faulty<C> {
    pub inner: C,
    pub faults: Rc<RefCell<Faults>>,
}

impl<C> Faulty<C> {
    pub fn new(inner: C) -> Faulty<C> {
        Faulty { inner, faults: Rc::default() }
    }

    pub(super) async fn gate(&self, operation: &'static str, resources: String) -> Result<(), Ec2Error> {
        let (delay, code) = {
            let mut f = self.faults.borrow_mut();
            f.calls += 1;
            let n = f.calls;
            if let Some(hook) = f.before.as_mut() {
                hook(operation);
            }
            let throttled = match f.throttle.get_mut(operation) {
                Some(left) if *left > 0 => {
                    *left -= 1;
                    Some("RequestLimitExceeded")
                }
                _ => None,
            };
            let code = f.fail_nth.get(&n).or(f.fail_always.get(operation)).copied().or(throttled);
            (f.delay, code)
        };
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        match code {
            None => Ok(()),
            Some(c) => Err(Ec2Error {
                operation,
                resources,
                code: Some(c.into()),
                message: Some("injected fault".into()),
                request_id: None,
            }),
        }
    }
}

impl<C: Ec2> Ec2 for Faulty<C> {
    async fn route_tables_for(
        &self,
        vpc_id: &str,
        destinations: &[IpNet],
    ) -> Result<Vec<RouteTable>, Ec2Error> {
        self.gate("DescribeRouteTables", vpc_id.into()).await?;
        self.inner.route_tables_for(vpc_id, destinations).await
    }

    async fn route_tables_tagged(
        &self,
        vpc_id: &str,
        tags: &[(String, String)],
    ) -> Result<Vec<RouteTable>, Ec2Error> {
        self.gate("DescribeRouteTables", vpc_id.into()).await?;
        self.inner.route_tables_tagged(vpc_id, tags).await
    }

    async fn replace_route(&self, table_id: &str, destination: IpNet, eni: &str) -> Result<(), Ec2Error> {
        self.gate("ReplaceRoute", format!("{table_id} {destination}")).await?;
        self.inner.replace_route(table_id, destination, eni).await
    }

    async fn addresses(&self, refs: &[EipRef]) -> Result<Vec<Address>, Ec2Error> {
        self.gate("DescribeAddresses", String::new()).await?;
        self.inner.addresses(refs).await
    }

    async fn addresses_on(&self, eni: &str) -> Result<Vec<Address>, Ec2Error> {
        self.gate("DescribeAddresses", eni.into()).await?;
        self.inner.addresses_on(eni).await
    }

    async fn associate_address(
        &self,
        allocation_id: &str,
        eni: &str,
        private_ip: &str,
    ) -> Result<String, Ec2Error> {
        self.gate("AssociateAddress", allocation_id.into()).await?;
        self.inner.associate_address(allocation_id, eni, private_ip).await
    }

    async fn disassociate_address(&self, association_id: &str) -> Result<(), Ec2Error> {
        self.gate("DisassociateAddress", association_id.into()).await?;
        self.inner.disassociate_address(association_id).await
    }

    async fn interfaces_in_subnet(&self, subnet_id: &str) -> Result<Vec<Interface>, Ec2Error> {
        self.gate("DescribeNetworkInterfaces", subnet_id.into()).await?;
        self.inner.interfaces_in_subnet(subnet_id).await
    }

    async fn interfaces_in_vpc(&self, vpc_id: &str) -> Result<Vec<Interface>, Ec2Error> {
        self.gate("DescribeNetworkInterfaces", vpc_id.into()).await?;
        self.inner.interfaces_in_vpc(vpc_id).await
    }

    async fn assign_private_ip(&self, eni: &str, ip: std::net::Ipv4Addr) -> Result<(), Ec2Error> {
        self.gate("AssignPrivateIpAddresses", format!("{ip} -> {eni}")).await?;
        self.inner.assign_private_ip(eni, ip).await
    }

    async fn unassign_private_ip(&self, eni: &str, ip: std::net::Ipv4Addr) -> Result<(), Ec2Error> {
        self.gate("UnassignPrivateIpAddresses", format!("{ip} from {eni}")).await?;
        self.inner.unassign_private_ip(eni, ip).await
    }

    async fn assign_ipv6(&self, eni: &str, ip: std::net::Ipv6Addr) -> Result<(), Ec2Error> {
        self.gate("AssignIpv6Addresses", format!("{ip} -> {eni}")).await?;
        self.inner.assign_ipv6(eni, ip).await
    }

    async fn unassign_ipv6(&self, eni: &str, ip: std::net::Ipv6Addr) -> Result<(), Ec2Error> {
        self.gate("UnassignIpv6Addresses", format!("{ip} from {eni}")).await?;
        self.inner.unassign_ipv6(eni, ip).await
    }

    async fn eni_attachment(&self, eni: &str) -> Result<Option<EniAttachment>, Ec2Error> {
        self.gate("DescribeNetworkInterfaces", eni.into()).await?;
        self.inner.eni_attachment(eni).await
    }

    async fn instance_state(&self, id: &str) -> Result<Option<String>, Ec2Error> {
        self.gate("DescribeInstanceStatus", id.into()).await?;
        self.inner.instance_state(id).await
    }
}

impl<C: TransitGateways> TransitGateways for Faulty<C> {
    async fn vpc_attachment(
        &self,
        vpc_id: &str,
        tgw_id: Option<&str>,
    ) -> Result<Option<VpcAttachment>, Ec2Error> {
        self.gate("DescribeTransitGatewayAttachments", vpc_id.into()).await?;
        self.inner.vpc_attachment(vpc_id, tgw_id).await
    }

    async fn tgw_peerings(&self, tgw_id: &str) -> Result<Vec<(String, String)>, Ec2Error> {
        self.gate("DescribeTransitGatewayAttachments", tgw_id.into()).await?;
        self.inner.tgw_peerings(tgw_id).await
    }

    async fn tgw_route_tables(&self, tgw_id: &str) -> Result<Vec<String>, Ec2Error> {
        self.gate("DescribeTransitGatewayRouteTables", tgw_id.into()).await?;
        self.inner.tgw_route_tables(tgw_id).await
    }

    async fn tgw_routes(&self, table_id: &str, destination: IpNet) -> Result<Vec<TgwRoute>, Ec2Error> {
        self.gate("SearchTransitGatewayRoutes", table_id.into()).await?;
        self.inner.tgw_routes(table_id, destination).await
    }

    async fn set_tgw_route(
        &self,
        table_id: &str,
        destination: IpNet,
        attachment: &str,
        create: bool,
    ) -> Result<(), Ec2Error> {
        let op = if create { "CreateTransitGatewayRoute" } else { "ReplaceTransitGatewayRoute" };
        self.gate(op, format!("{table_id} {destination}")).await?;
        self.inner.set_tgw_route(table_id, destination, attachment, create).await
    }

    async fn set_vpc_route(
        &self,
        table_id: &str,
        destination: IpNet,
        target: &NextHop,
        create: bool,
    ) -> Result<(), Ec2Error> {
        let op = if create { "CreateRoute" } else { "ReplaceRoute" };
        self.gate(op, format!("{table_id} {destination}")).await?;
        self.inner.set_vpc_route(table_id, destination, target, create).await
    }

    async fn route_tables_by_id(&self, ids: &[String]) -> Result<Vec<RouteTable>, Ec2Error> {
        self.gate("DescribeRouteTables", ids.join(",")).await?;
        self.inner.route_tables_by_id(ids).await
    }
}
