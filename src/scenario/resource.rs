//! What a VIP consists of, one resource at a time: its kind, its fields (serialized for
//! events), and the line people read.

use ipnet::IpNet;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    RouteTable,
    ElasticIp,
    TransitGateway,
    PrivateIp,
    Ipv6Address,
    DnsRecord,
}

/// One thing a VIP consists of. Serialized (events' `what`) as an object tagged by `kind`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Resource {
    /// A route for `destination` in a VPC or Transit Gateway route table. `scope` is the
    /// VPC or Transit Gateway; `region` is named where sites span regions.
    Route {
        region: Option<String>,
        scope: String,
        table_id: String,
        #[serde(serialize_with = "as_text")]
        destination: IpNet,
    },
    /// A VIP destination no table of `scope` holds.
    Destination {
        region: Option<String>,
        scope: String,
        #[serde(serialize_with = "as_text")]
        destination: IpNet,
    },
    /// An Elastic IP; `private_ip` is the private address it is associated with now.
    ElasticIp { allocation_id: String, public_ip: String, private_ip: Option<String> },
    /// A secondary private IPv4 address of a subnet.
    PrivateIp { ip: std::net::Ipv4Addr, subnet: String },
    /// An IPv6 address of a subnet.
    Ipv6Address { ip: std::net::Ipv6Addr, subnet: String },
    /// A Route 53 record set (`kind` A or AAAA), the TTL this node gives it, and the role
    /// its zone is reached through (None: the node's own credentials).
    DnsRecord {
        zone: String,
        name: String,
        #[serde(rename = "type")]
        kind: &'static str,
        ttl: u32,
        role: Option<String>,
    },
}

fn as_text<T: fmt::Display, S: serde::Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let place = |region: &Option<String>, scope: &str| match region {
            Some(r) => format!(" ({r} {scope})"),
            None => String::new(),
        };
        match self {
            Resource::Route { region, scope, table_id, destination } => {
                write!(f, "route {destination} in {table_id}{}", place(region, scope))
            }
            Resource::Destination { region, scope, destination } => match region {
                Some(r) => write!(f, "route {destination} in {scope} ({r})"),
                None => write!(f, "route {destination} in {scope}"),
            },
            Resource::ElasticIp { allocation_id, public_ip, .. } => {
                write!(f, "eip {allocation_id} ({public_ip})")
            }
            Resource::PrivateIp { ip, subnet } => write!(f, "private IP {ip} in {subnet}"),
            Resource::Ipv6Address { ip, subnet } => write!(f, "IPv6 address {ip} in {subnet}"),
            Resource::DnsRecord { zone, name, kind, .. } => write!(f, "dns {kind} {name} in {zone}"),
        }
    }
}
