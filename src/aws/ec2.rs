//! The EC2 seam for the route-table and Elastic IP scenarios. `Ec2` is what they need;
//! `SdkEc2` implements it with aws-sdk-ec2 and turns SDK types into plain `model` data.

use super::paging::{every_page, pages};
pub(crate) use super::sdk_error::ec2_error;
use crate::error::Ec2Error;
use crate::model::{Address, EipRef, EniAttachment, Interface, Route, RouteTable, RouteTarget};
use aws_sdk_ec2::types::Filter;
use ipnet::IpNet;
use std::net::{Ipv4Addr, Ipv6Addr};

/// What the failover needs from EC2, nothing more.
#[allow(async_fn_in_trait)]
pub trait Ec2 {
    /// Route tables of `vpc_id` that hold a route for any of `destinations` (one
    /// DescribeRouteTables per address family).
    async fn route_tables_for(
        &self,
        vpc_id: &str,
        destinations: &[IpNet],
    ) -> Result<Vec<RouteTable>, Ec2Error>;
    async fn replace_route(&self, table_id: &str, destination: IpNet, eni: &str) -> Result<(), Ec2Error>;
    /// Route tables of `vpc_id` whose tags match every (key, value pattern).
    async fn route_tables_tagged(
        &self,
        vpc_id: &str,
        tags: &[(String, String)],
    ) -> Result<Vec<RouteTable>, Ec2Error>;
    /// The addresses named by `refs`; an unknown one is an `InvalidAllocationID.NotFound`
    /// or `InvalidAddress.NotFound` error.
    async fn addresses(&self, refs: &[EipRef]) -> Result<Vec<Address>, Ec2Error>;
    /// Every Elastic IP associated with `eni` now.
    async fn addresses_on(&self, eni: &str) -> Result<Vec<Address>, Ec2Error>;
    /// AssociateAddress with AllowReassociation; returns the new association id.
    async fn associate_address(
        &self,
        allocation_id: &str,
        eni: &str,
        private_ip: &str,
    ) -> Result<String, Ec2Error>;
    async fn disassociate_address(&self, association_id: &str) -> Result<(), Ec2Error>;
    /// Every network interface of a subnet, with its private IPv4 addresses.
    async fn interfaces_in_subnet(&self, subnet_id: &str) -> Result<Vec<Interface>, Ec2Error>;
    /// Every network interface of a VPC (`status`: where is an address that is on no ENI of
    /// this node's subnet — a peer in another subnet).
    async fn interfaces_in_vpc(&self, vpc_id: &str) -> Result<Vec<Interface>, Ec2Error>;
    /// AssignPrivateIpAddresses with AllowReassignment: takes `ip` from another ENI.
    async fn assign_private_ip(&self, eni: &str, ip: Ipv4Addr) -> Result<(), Ec2Error>;
    async fn unassign_private_ip(&self, eni: &str, ip: Ipv4Addr) -> Result<(), Ec2Error>;
    async fn assign_ipv6(&self, eni: &str, ip: Ipv6Addr) -> Result<(), Ec2Error>;
    async fn unassign_ipv6(&self, eni: &str, ip: Ipv6Addr) -> Result<(), Ec2Error>;
    /// The attachment of network interface `eni` (DescribeNetworkInterfaces); None: EC2
    /// knows no such ENI. Asked only in a split-brain contest: is the winner alive?
    async fn eni_attachment(&self, eni: &str) -> Result<Option<EniAttachment>, Ec2Error>;
    /// The state of instance `id` (DescribeInstanceStatus: `running`, `stopped`, ...); None: EC2
    /// knows no such instance.
    async fn instance_state(&self, id: &str) -> Result<Option<String>, Ec2Error>;
}

/// The SDK client of one region and account; keeps its configuration so per-site
/// clients (another region, another account) can be derived from it.
#[derive(Clone)]
pub struct SdkEc2 {
    pub(crate) client: aws_sdk_ec2::Client,
    /// Route 53 from the same configuration (the DNS record scenario).
    pub(crate) route53: aws_sdk_route53::Client,
    pub(crate) config: aws_config::SdkConfig,
    /// With a section's role (another account's tables or addresses): EC2 as this node's
    /// own credentials, where a peer's instance and ENI are (split-brain liveness).
    pub(crate) home: Option<aws_sdk_ec2::Client>,
}

impl SdkEc2 {
    pub fn new(config: &aws_config::SdkConfig) -> SdkEc2 {
        SdkEc2 {
            client: aws_sdk_ec2::Client::new(config),
            route53: aws_sdk_route53::Client::new(config),
            config: config.clone(),
            home: None,
        }
    }

    /// DescribeRouteTables filtered to the VPC and one destination, every page.
    async fn tables_with(&self, vpc_id: &str, destination: IpNet) -> Result<Vec<RouteTable>, Ec2Error> {
        let name = match destination {
            IpNet::V4(_) => "route.destination-cidr-block",
            IpNet::V6(_) => "route.destination-ipv6-cidr-block",
        };
        let req = self
            .client
            .describe_route_tables()
            .filters(filter("vpc-id", [vpc_id.to_string()]))
            .filters(filter(name, [destination.to_string()]));
        let found =
            every_page("DescribeRouteTables", &format!("{vpc_id} {destination}"), pages!(req, route_tables))
                .await?;
        Ok(found.iter().map(convert_table).collect())
    }
}

pub(crate) fn filter(name: &str, values: impl IntoIterator<Item = String>) -> Filter {
    Filter::builder().name(name).set_values(Some(values.into_iter().collect())).build()
}

pub(crate) fn convert_table(t: &aws_sdk_ec2::types::RouteTable) -> RouteTable {
    RouteTable {
        id: t.route_table_id().unwrap_or_default().to_string(),
        vpc_id: t.vpc_id().unwrap_or_default().to_string(),
        routes: t.routes().iter().filter_map(convert_route).collect(),
    }
}

fn convert_route(r: &aws_sdk_ec2::types::Route) -> Option<Route> {
    let destination: IpNet = r.destination_cidr_block().or(r.destination_ipv6_cidr_block())?.parse().ok()?;
    let other = |kind: &'static str, id: &str| RouteTarget::Other { kind, id: id.to_string() };
    let target = if let Some(id) = r.network_interface_id() {
        RouteTarget::NetworkInterface(id.to_string())
    } else if let Some(id) = r.instance_id() {
        RouteTarget::Instance(id.to_string())
    } else if let Some(id) = r.gateway_id() {
        other("gateway", id)
    } else if let Some(id) = r.nat_gateway_id() {
        other("nat-gateway", id)
    } else if let Some(id) = r.transit_gateway_id() {
        other("transit-gateway", id)
    } else if let Some(id) = r.vpc_peering_connection_id() {
        other("vpc-peering-connection", id)
    } else if let Some(id) = r.local_gateway_id() {
        other("local-gateway", id)
    } else if let Some(id) = r.carrier_gateway_id() {
        other("carrier-gateway", id)
    } else if let Some(id) = r.egress_only_internet_gateway_id() {
        other("egress-only-internet-gateway", id)
    } else if let Some(id) = r.core_network_arn() {
        other("core-network", id)
    } else {
        // A target kind this program does not know (a new one of EC2's): not ours.
        RouteTarget::Unknown
    };
    Some(Route { destination, target })
}

/// Some emulators answer "" where EC2 leaves a field out.
fn non_empty(s: Option<&str>) -> Option<String> {
    s.filter(|s| !s.is_empty()).map(String::from)
}

fn convert_address(a: &aws_sdk_ec2::types::Address) -> Address {
    Address {
        allocation_id: a.allocation_id().unwrap_or_default().to_string(),
        public_ip: a.public_ip().unwrap_or_default().to_string(),
        association_id: non_empty(a.association_id()),
        network_interface_id: non_empty(a.network_interface_id()),
        private_ip: non_empty(a.private_ip_address()),
    }
}

impl SdkEc2 {
    /// DescribeNetworkInterfaces filtered by `name = value`, every page.
    async fn interfaces_where(&self, name: &str, value: &str) -> Result<Vec<Interface>, Ec2Error> {
        let req = self.client.describe_network_interfaces().filters(filter(name, [value.to_string()]));
        let found = every_page(
            "DescribeNetworkInterfaces",
            &format!("{name}={value}"),
            pages!(req, network_interfaces),
        )
        .await?;
        Ok(found
            .iter()
            .map(|n| Interface {
                id: n.network_interface_id().unwrap_or_default().to_string(),
                private_ips: n
                    .private_ip_addresses()
                    .iter()
                    .filter_map(|p| p.private_ip_address()?.parse().ok())
                    .collect(),
                ipv6: n.ipv6_addresses().iter().filter_map(|a| a.ipv6_address()?.parse().ok()).collect(),
            })
            .collect())
    }
}

impl Ec2 for SdkEc2 {
    async fn route_tables_for(
        &self,
        vpc_id: &str,
        destinations: &[IpNet],
    ) -> Result<Vec<RouteTable>, Ec2Error> {
        // One request per destination, concurrently: EC2 ORs a filter's values, but moto
        // 5.2.5 demands every value match one table, so several values in one filter
        // would find nothing there.
        let found =
            futures_util::future::join_all(destinations.iter().map(|d| self.tables_with(vpc_id, *d))).await;
        let mut tables: Vec<RouteTable> = Vec::new();
        for t in found.into_iter().collect::<Result<Vec<_>, _>>()?.into_iter().flatten() {
            if !tables.iter().any(|x| x.id == t.id) {
                tables.push(t);
            }
        }
        Ok(tables)
    }

    async fn route_tables_tagged(
        &self,
        vpc_id: &str,
        tags: &[(String, String)],
    ) -> Result<Vec<RouteTable>, Ec2Error> {
        let mut req = self.client.describe_route_tables().filters(filter("vpc-id", [vpc_id.to_string()]));
        for (k, v) in tags {
            req = req.filters(filter(&format!("tag:{k}"), [v.clone()]));
        }
        let what = tags.iter().map(|(k, v)| format!("tag:{k}={v}")).collect::<Vec<_>>().join(",");
        let found =
            every_page("DescribeRouteTables", &format!("{vpc_id} {what}"), pages!(req, route_tables)).await?;
        Ok(found.iter().map(convert_table).collect())
    }

    async fn replace_route(&self, table_id: &str, destination: IpNet, eni: &str) -> Result<(), Ec2Error> {
        let req = self.client.replace_route().route_table_id(table_id).network_interface_id(eni);
        let req = match destination {
            IpNet::V4(_) => req.destination_cidr_block(destination.to_string()),
            IpNet::V6(_) => req.destination_ipv6_cidr_block(destination.to_string()),
        };
        req.send()
            .await
            .map(|_| ())
            .map_err(|e| ec2_error("ReplaceRoute", format!("{table_id} {destination} -> {eni}"), e))
    }

    async fn addresses(&self, refs: &[EipRef]) -> Result<Vec<Address>, Ec2Error> {
        let mut req = self.client.describe_addresses();
        let (mut allocs, mut ips) = (Vec::new(), Vec::new());
        for r in refs {
            match r {
                EipRef::AllocationId(id) => allocs.push(id.clone()),
                EipRef::PublicIp(ip) => ips.push(ip.to_string()),
            }
        }
        let mut out = Vec::new();
        // AllocationIds and PublicIps in one request must both match, so ask separately.
        // DescribeAddresses does not page (no NextToken): one answer holds every address.
        if !allocs.is_empty() {
            req = req.set_allocation_ids(Some(allocs.clone()));
            let res = req.send().await.map_err(|e| ec2_error("DescribeAddresses", allocs.join(","), e))?;
            out.extend(res.addresses().iter().map(convert_address));
        }
        if !ips.is_empty() {
            let res = self
                .client
                .describe_addresses()
                .set_public_ips(Some(ips.clone()))
                .send()
                .await
                .map_err(|e| ec2_error("DescribeAddresses", ips.join(","), e))?;
            out.extend(res.addresses().iter().map(convert_address));
        }
        Ok(out)
    }

    async fn addresses_on(&self, eni: &str) -> Result<Vec<Address>, Ec2Error> {
        let res = self
            .client
            .describe_addresses()
            .filters(filter("network-interface-id", [eni.to_string()]))
            .send()
            .await
            .map_err(|e| ec2_error("DescribeAddresses", format!("network-interface-id={eni}"), e))?;
        Ok(res.addresses().iter().map(convert_address).collect())
    }

    async fn associate_address(
        &self,
        allocation_id: &str,
        eni: &str,
        private_ip: &str,
    ) -> Result<String, Ec2Error> {
        let res = self
            .client
            .associate_address()
            .allocation_id(allocation_id)
            .network_interface_id(eni)
            .private_ip_address(private_ip)
            .allow_reassociation(true)
            .send()
            .await
            .map_err(|e| {
                ec2_error("AssociateAddress", format!("{allocation_id} -> {eni} ({private_ip})"), e)
            })?;
        Ok(res.association_id().unwrap_or_default().to_string())
    }

    async fn disassociate_address(&self, association_id: &str) -> Result<(), Ec2Error> {
        self.client
            .disassociate_address()
            .association_id(association_id)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| ec2_error("DisassociateAddress", association_id, e))
    }

    async fn interfaces_in_subnet(&self, subnet_id: &str) -> Result<Vec<Interface>, Ec2Error> {
        self.interfaces_where("subnet-id", subnet_id).await
    }

    async fn interfaces_in_vpc(&self, vpc_id: &str) -> Result<Vec<Interface>, Ec2Error> {
        self.interfaces_where("vpc-id", vpc_id).await
    }

    async fn assign_private_ip(&self, eni: &str, ip: Ipv4Addr) -> Result<(), Ec2Error> {
        self.client
            .assign_private_ip_addresses()
            .network_interface_id(eni)
            .private_ip_addresses(ip.to_string())
            .allow_reassignment(true)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| ec2_error("AssignPrivateIpAddresses", format!("{ip} -> {eni}"), e))
    }

    async fn unassign_private_ip(&self, eni: &str, ip: Ipv4Addr) -> Result<(), Ec2Error> {
        self.client
            .unassign_private_ip_addresses()
            .network_interface_id(eni)
            .private_ip_addresses(ip.to_string())
            .send()
            .await
            .map(|_| ())
            .map_err(|e| ec2_error("UnassignPrivateIpAddresses", format!("{ip} from {eni}"), e))
    }

    async fn assign_ipv6(&self, eni: &str, ip: Ipv6Addr) -> Result<(), Ec2Error> {
        self.client
            .assign_ipv6_addresses()
            .network_interface_id(eni)
            .ipv6_addresses(ip.to_string())
            .send()
            .await
            .map(|_| ())
            .map_err(|e| ec2_error("AssignIpv6Addresses", format!("{ip} -> {eni}"), e))
    }

    async fn unassign_ipv6(&self, eni: &str, ip: Ipv6Addr) -> Result<(), Ec2Error> {
        self.client
            .unassign_ipv6_addresses()
            .network_interface_id(eni)
            .ipv6_addresses(ip.to_string())
            .send()
            .await
            .map(|_| ())
            .map_err(|e| ec2_error("UnassignIpv6Addresses", format!("{ip} from {eni}"), e))
    }

    async fn eni_attachment(&self, eni: &str) -> Result<Option<EniAttachment>, Ec2Error> {
        self.attachment_of(eni).await
    }

    async fn instance_state(&self, id: &str) -> Result<Option<String>, Ec2Error> {
        self.state_of(id).await
    }
}
