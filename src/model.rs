//! Plain data the planner works on: what EC2 and IMDS told us, free of SDK types.

use ipnet::IpNet;
use std::fmt;

/// Who this node is, as the instance metadata service reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub instance_id: String,
    pub region: String,
    pub mac: String,
    pub eni_id: String,
    pub vpc_id: String,
    pub vpc_cidrs: Vec<IpNet>,
    /// Private IPv4 addresses of the ENI, primary first.
    pub private_ips: Vec<String>,
    /// The ENI's subnet and its IPv4 CIDR block, where IMDS tells them.
    pub subnet_id: Option<String>,
    pub subnet_cidr: Option<IpNet>,
    /// The subnet's IPv6 CIDR blocks (none where IMDS has none).
    pub subnet_ipv6_cidrs: Vec<IpNet>,
    /// The ENI's IPv6 addresses and its public IPv4 address, where IMDS has them (what a
    /// DNS record's `local` (AAAA) and `public` values name).
    pub ipv6s: Vec<String>,
    pub public_ipv4: Option<String>,
}

/// How one VIP's EC2 calls are made (a config section's `region`, `profile`, `role_arn`,
/// `external_id`); the default: the run's region and credentials.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Access {
    /// The region of the section's EC2 calls; None: the run's (--region, the environment,
    /// the config's top-level `region`, else the instance's).
    pub region: Option<String>,
    /// A shared-config profile (AWS_CONFIG_FILE, ~/.aws/config) for the credentials.
    pub profile: Option<String>,
    /// A role assumed (STS AssumeRole) with those credentials; every EC2 call of the
    /// section is made as that role.
    pub role_arn: Option<String>,
    pub external_id: Option<String>,
}

impl Access {
    /// True when nothing is set: the run's own region and credentials.
    pub fn is_default(&self) -> bool {
        *self == Access::default()
    }
}

/// A network interface and the private IPv4 addresses on it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interface {
    pub id: String,
    pub private_ips: Vec<std::net::Ipv4Addr>,
    pub ipv6: Vec<std::net::Ipv6Addr>,
}

/// A network interface's attachment, as EC2 reports it now (winner liveness).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EniAttachment {
    /// `attached`, `attaching`, `detaching`, `detached`; None: not attached at all.
    pub status: Option<String>,
    /// The instance it is attached to.
    pub instance_id: Option<String>,
}

/// Which ENI of this instance the VIP belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EniChoice {
    /// The instance's primary network interface.
    Primary,
    /// The ENI behind a local interface (e.g. eth1), found through its MAC address.
    Interface(String),
    /// An ENI id given outright.
    Eni(String),
}

/// Where a route sends its traffic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteTarget {
    /// An ENI (active, or blackhole because the ENI is gone: EC2 still names it).
    NetworkInterface(String),
    /// An instance (active or blackhole).
    Instance(String),
    /// Gateways, NAT gateways, peering connections, transit gateways, ...: not ours.
    Other { kind: &'static str, id: String },
    /// A target kind this program does not know: never a node's, so never touched.
    Unknown,
}

impl RouteTarget {
    /// Whether a route with this target is one a VIP failover may repoint: it names an
    /// ENI or an instance (a node of some cluster). Gateways and anything unknown are
    /// somebody else's (fail closed).
    pub fn is_node_target(&self) -> bool {
        matches!(self, RouteTarget::NetworkInterface(_) | RouteTarget::Instance(_))
    }

    pub fn is_eni(&self, eni: &str) -> bool {
        matches!(self, RouteTarget::NetworkInterface(id) if id == eni)
    }
}

impl fmt::Display for RouteTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RouteTarget::NetworkInterface(id) | RouteTarget::Instance(id) => f.write_str(id),
            RouteTarget::Other { id, .. } => f.write_str(id),
            RouteTarget::Unknown => f.write_str("an unknown target"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub destination: IpNet,
    pub target: RouteTarget,
}

/// A route table as far as we care: its id and its routes (possibly only the VIP ones).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteTable {
    pub id: String,
    pub vpc_id: String,
    pub routes: Vec<Route>,
}

/// Which route tables of its VPC a VIP owns (the route-table scenario).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum TableChoice {
    /// Every table of the VPC that holds a route for the VIP.
    #[default]
    Holding,
    /// These tables; a missing VIP route is created.
    Ids(Vec<String>),
    /// The tables whose tags match (values may use `*` and `?`); a missing route is created.
    Tagged(Vec<(String, String)>),
}

/// Where the Transit Gateway scenario wants a VPC route to point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NextHop {
    Eni(String),
    TransitGateway(String),
}

impl NextHop {
    pub fn matches(&self, t: &RouteTarget) -> bool {
        match (self, t) {
            (NextHop::Eni(e), RouteTarget::NetworkInterface(id)) => e == id,
            (NextHop::TransitGateway(g), RouteTarget::Other { kind: "transit-gateway", id }) => g == id,
            _ => false,
        }
    }

    pub fn id(&self) -> &str {
        match self {
            NextHop::Eni(id) | NextHop::TransitGateway(id) => id,
        }
    }
}

/// A VPC's available attachment to a Transit Gateway, with the two owners: the Transit
/// Gateway's account, and the VPC's (the account this client sees it from).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VpcAttachment {
    pub transit_gateway_id: String,
    pub attachment_id: String,
    pub transit_gateway_owner: Option<String>,
    pub vpc_owner: Option<String>,
}

/// A route of a Transit Gateway route table, as far as we care.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TgwRoute {
    pub destination: IpNet,
    /// The attachment it sends traffic to; None for a blackhole route.
    pub attachment_id: Option<String>,
    /// Only static routes can be replaced; propagated ones are reported.
    pub is_static: bool,
}

/// How the user named an Elastic IP.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum EipRef {
    AllocationId(String),
    PublicIp(std::net::Ipv4Addr),
}

impl EipRef {
    pub fn parse(s: &str) -> Result<EipRef, String> {
        let s = s.trim();
        if let Some(rest) = s.strip_prefix("eipalloc-") {
            if !rest.is_empty() && rest.chars().all(|c| c.is_ascii_hexdigit()) {
                return Ok(EipRef::AllocationId(s.to_string()));
            }
            return Err(format!("{s:?} is not a valid allocation id (eipalloc-<hex>)"));
        }
        s.parse::<std::net::Ipv4Addr>().map(EipRef::PublicIp).map_err(|_| {
            format!("{s:?} is neither an allocation id (eipalloc-...) nor a public IPv4 address")
        })
    }

    pub fn matches(&self, a: &Address) -> bool {
        match self {
            EipRef::AllocationId(id) => &a.allocation_id == id,
            EipRef::PublicIp(ip) => a.public_ip == ip.to_string(),
        }
    }
}

impl fmt::Display for EipRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EipRef::AllocationId(id) => f.write_str(id),
            EipRef::PublicIp(ip) => write!(f, "{ip}"),
        }
    }
}

/// An Elastic IP and its current association.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    pub allocation_id: String,
    pub public_ip: String,
    pub association_id: Option<String>,
    pub network_interface_id: Option<String>,
    pub private_ip: Option<String>,
}

/// Parse a route destination: a CIDR, or a bare address meaning a host route.
/// Host bits must be clear, so a typo like 10.1.0.10/24 is rejected, not widened.
pub fn parse_destination(s: &str) -> Result<IpNet, String> {
    let s = s.trim();
    let net: IpNet = if s.contains('/') {
        s.parse().map_err(|_| format!("{s:?} is not a valid CIDR (expected e.g. 10.1.0.10/32)"))?
    } else {
        let ip: std::net::IpAddr =
            s.parse().map_err(|_| format!("{s:?} is not a valid CIDR (expected e.g. 10.1.0.10/32)"))?;
        IpNet::from(ip)
    };
    if net.trunc() != net {
        return Err(format!("{s} has host bits set (did you mean {}/{}?)", net.addr(), net.max_prefix_len()));
    }
    Ok(net)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_parse_strictly() {
        assert_eq!(parse_destination("10.1.0.10/32").unwrap().to_string(), "10.1.0.10/32");
        assert_eq!(parse_destination("10.1.0.10").unwrap().to_string(), "10.1.0.10/32");
        assert_eq!(parse_destination("fd00::10").unwrap().to_string(), "fd00::10/128");
        assert!(parse_destination("10.1.0.10/24").unwrap_err().contains("host bits"));
        assert!(parse_destination("10.1.0.300/32").is_err());
        assert!(parse_destination("10.1.0.10/33").is_err());
        assert!(parse_destination("").is_err());
    }

    #[test]
    fn only_enis_and_instances_are_node_targets() {
        assert!(RouteTarget::NetworkInterface("eni-1".into()).is_node_target());
        assert!(RouteTarget::Instance("i-1".into()).is_node_target());
        assert!(!RouteTarget::Other { kind: "gateway", id: "igw-1".into() }.is_node_target());
        assert!(!RouteTarget::Unknown.is_node_target(), "unknown targets are not owned");
    }

    #[test]
    fn eip_refs_parse() {
        assert_eq!(
            EipRef::parse("eipalloc-0123abcd").unwrap(),
            EipRef::AllocationId("eipalloc-0123abcd".into())
        );
        assert_eq!(EipRef::parse("54.1.2.3").unwrap(), EipRef::PublicIp("54.1.2.3".parse().unwrap()));
        assert!(EipRef::parse("eipalloc-").is_err());
        assert!(EipRef::parse("eipalloc-xyz").is_err());
        assert!(EipRef::parse("eni-123").is_err());
    }
}

/// A Route 53 record set, as far as the DNS scenario cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordSet {
    /// As Route 53 shows it: lower-case, with the trailing dot.
    pub name: String,
    pub kind: String,
    pub ttl: Option<i64>,
    pub values: Vec<String>,
    /// Why it is not a plain record this scenario may rewrite (an alias, a routing policy
    /// with a set identifier, a traffic policy); None for a plain one.
    pub special: Option<String>,
}
