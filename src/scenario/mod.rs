//! The ways a VIP is carried, behind one interface. Each scenario (a folder here) does
//! three things and nothing else:
//! - `plan`: describe what it needs and decide, per resource, a uniform [`Step`]
//!   (resource, current, desired, action) — the pure part lives in its `plan.rs`;
//! - `write`: one attempt of one step's write call;
//! - `confirm`: one read of the written steps, saying which are now as desired.
//!
//! Retries, throttling, read-back loops, ordering and reports belong to the engine.
//! Plan, drift and status lines are rendered here, once, from steps, for every scenario.
//! Adding a scenario: a folder with its `plan`/`write`/`confirm`, a variant of
//! [`Scenario`] and of [`Write`], and a line in [`Scenario::for_resources`].

pub mod dns_record;
pub mod elastic_ip;
pub mod iam;
pub mod ipv6_address;
pub mod private_ip;
mod resource;
pub mod route_table;
pub mod transit_gateway;

use crate::aws::{Ec2, Route53, TransitGateways};
use crate::config::Resources;
use crate::deadline::Deadline;
use crate::error::{Ec2Error, Error};
use crate::model::Identity;
pub use resource::{Kind, Resource};

/// What the node wants of its resources.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Goal {
    /// Become the owner (MASTER): point everything at this node.
    Take,
    /// Let go (BACKUP/FAULT/STOP with release): only what is still on this node.
    Release,
}

/// What a scenario works with: who we are, the region's client, one client per Transit
/// Gateway site (parallel to the instance's `sites`), one per role a DNS record's hosted
/// zone is reached through, and the run's deadline.
pub struct Ctx<'a, C> {
    pub me: &'a Identity,
    pub ec2: &'a C,
    pub sites: &'a [C],
    pub zones: &'a [(String, C)],
    pub deadline: &'a Deadline,
}

impl<C> Ctx<'_, C> {
    /// The client for calls made with `role`'s credentials (None: the node's own).
    pub fn as_role(&self, role: Option<&str>) -> &C {
        role.and_then(|r| self.zones.iter().find(|(arn, _)| arn == r)).map_or(self.ec2, |(_, c)| c)
    }
}

/// What to do with one resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Already as wanted (the reason says how).
    Keep(String),
    /// Make it so: `verb` for people, `call` the EC2 API call.
    Write { verb: &'static str, call: &'static str },
    /// Somebody else's (a gateway, a propagated route, ...): left alone, reported.
    NotOwned(String),
    /// Nothing there to move (no table holds the route, no peering to route through).
    Missing(String),
    /// Cannot be moved from here (e.g. no free private IP for an Elastic IP).
    Blocked(String),
}

/// The scenario-specific write behind a `Write` step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    RouteTable(route_table::Write),
    ElasticIp(elastic_ip::Write),
    TransitGateway(transit_gateway::Write),
    PrivateIp(private_ip::Write),
    Ipv6Address(ipv6_address::Write),
    DnsRecord(dns_record::Write),
}

impl Write {
    pub fn ipv6_address(&self) -> Option<&ipv6_address::Write> {
        match self {
            Write::Ipv6Address(w) => Some(w),
            _ => None,
        }
    }

    pub fn private_ip(&self) -> Option<&private_ip::Write> {
        match self {
            Write::PrivateIp(w) => Some(w),
            _ => None,
        }
    }

    pub fn route_table(&self) -> Option<&route_table::Write> {
        match self {
            Write::RouteTable(w) => Some(w),
            _ => None,
        }
    }

    pub fn elastic_ip(&self) -> Option<&elastic_ip::Write> {
        match self {
            Write::ElasticIp(w) => Some(w),
            _ => None,
        }
    }

    pub fn transit_gateway(&self) -> Option<&transit_gateway::Write> {
        match self {
            Write::TransitGateway(w) => Some(w),
            _ => None,
        }
    }

    /// Writes run in waves, each after the one before: an Elastic IP bound to a private
    /// IP is associated only once that address has moved here.
    pub fn wave(&self) -> u8 {
        match self {
            Write::ElasticIp(elastic_ip::Write::Associate { pinned: true, .. }) => 1,
            _ => 0,
        }
    }
}

/// The subnet of this node's ENI, which the address scenarios (`what`) need.
pub(crate) fn subnet_of<'a>(me: &'a Identity, what: &str) -> Result<&'a str, Error> {
    me.subnet_id.as_deref().ok_or_else(|| {
        Error::BadInput(format!("{what}: instance metadata does not say the subnet of {}", me.eni_id))
    })
}

/// One resource, where it is, where it should be, and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub kind: Kind,
    pub resource: Resource,
    /// Where it points now; None for nothing (missing route, unassociated address).
    pub current: Option<String>,
    /// Where this node wants it.
    pub desired: String,
    pub action: Action,
    /// Set exactly when `action` is `Write`.
    pub write: Option<Write>,
}

impl Step {
    pub fn is_keep(&self) -> bool {
        matches!(self.action, Action::Keep(_))
    }

    /// Kept because it points at this node and at no other: a record with a fixed value
    /// reads the same whoever wrote it, and proves nothing.
    pub fn proves_here(&self) -> bool {
        matches!(&self.action, Action::Keep(why) if why != dns_record::SAME_ON_EVERY_NODE)
    }

    /// A step no write can fix, which a run reports as failed: not ours, missing, blocked.
    pub fn fails_as_is(&self) -> bool {
        matches!(self.action, Action::NotOwned(_) | Action::Missing(_) | Action::Blocked(_))
    }

    pub fn current_or(&self, none: &str) -> String {
        self.current.clone().unwrap_or_else(|| none.to_string())
    }

    /// The plan line: logged before applying, printed by --dry-run.
    pub fn plan_line(&self) -> String {
        let r = &self.resource;
        match &self.action {
            Action::Keep(why) => format!("{r}: {why}, keep"),
            Action::Write { verb, call } => {
                format!("{r}: {} -> {} ({verb}) via {call}", self.current_or("none"), self.desired)
            }
            Action::NotOwned(why) => format!("{r}: {why}; left alone"),
            Action::Missing(why) | Action::Blocked(why) => format!("{r}: {why}"),
        }
    }

    /// The drift line for `check`: None when the resource is as this node's MASTER wants.
    pub fn drift_line(&self) -> Option<String> {
        let r = &self.resource;
        match &self.action {
            Action::Keep(_) => None,
            Action::Write { .. } => Some(format!(
                "{r} is {}, not {} as this node wants",
                self.current_or("missing"),
                self.desired
            )),
            Action::NotOwned(why) => Some(format!("{r}: {why} (ec2-vip leaves it alone)")),
            Action::Missing(why) | Action::Blocked(why) => Some(format!("{r}: {why}")),
        }
    }
}

/// The scenarios of one VIP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scenario {
    RouteTable(route_table::RouteTables),
    ElasticIp(elastic_ip::ElasticIps),
    TransitGateway(transit_gateway::TransitGatewayRoutes),
    PrivateIp(private_ip::PrivateIps),
    Ipv6Address(ipv6_address::Ipv6Addresses),
    DnsRecord(dns_record::DnsRecords),
}

impl Scenario {
    /// The one place that decides which scenarios a VIP's resources make: its routes go
    /// through the Transit Gateway scenario when it has sites, else the route-table one.
    pub fn for_resources(res: &Resources) -> Vec<Scenario> {
        let mut out = Vec::new();
        if !res.routes.is_empty() && res.sites.is_empty() {
            out.push(Scenario::RouteTable(route_table::RouteTables {
                destinations: res.routes.clone(),
                tables: res.tables.clone(),
            }));
        }
        if !res.routes.is_empty() && !res.sites.is_empty() {
            out.push(Scenario::TransitGateway(transit_gateway::TransitGatewayRoutes {
                destinations: res.routes.clone(),
                sites: res.sites.clone(),
            }));
        }
        if !res.private_ips.is_empty() {
            let ips = res.private_ips.clone();
            out.push(Scenario::PrivateIp(private_ip::PrivateIps { ips, release: res.release }));
        }
        if !res.ipv6_addresses.is_empty() {
            let ips = res.ipv6_addresses.clone();
            out.push(Scenario::Ipv6Address(ipv6_address::Ipv6Addresses { ips, release: res.release }));
        }
        if !res.eips.is_empty() {
            out.push(Scenario::ElasticIp(elastic_ip::ElasticIps {
                refs: res.eips.clone(),
                release: res.release,
                pins: res.eip_pins.clone(),
                moving: res.private_ips.clone(),
            }));
        }
        if !res.dns_records.is_empty() {
            let records = res.dns_records.clone();
            let eip = res.eips.first().cloned();
            out.push(Scenario::DnsRecord(dns_record::DnsRecords { records, release: res.release, eip }));
        }
        out
    }

    /// Whether `goal` needs any API call at all (Release without `release` needs none).
    pub fn acts_on(&self, goal: Goal) -> bool {
        match (self, goal) {
            (_, Goal::Take) => true,
            (Scenario::ElasticIp(e), Goal::Release) => e.release,
            (Scenario::PrivateIp(p), Goal::Release) => p.release,
            (Scenario::Ipv6Address(p), Goal::Release) => p.release,
            (Scenario::DnsRecord(d), Goal::Release) => d.release,
            (_, Goal::Release) => false,
        }
    }

    pub async fn plan<C: Ec2 + TransitGateways + Route53>(
        &self,
        cx: &Ctx<'_, C>,
        goal: Goal,
    ) -> Result<Vec<Step>, Error> {
        if !self.acts_on(goal) {
            return Ok(Vec::new());
        }
        match self {
            Scenario::RouteTable(s) => s.plan(cx).await,
            Scenario::ElasticIp(s) => s.plan(cx, goal).await,
            Scenario::TransitGateway(s) => s.plan(cx).await,
            Scenario::PrivateIp(s) => s.plan(cx, goal).await,
            Scenario::Ipv6Address(s) => s.plan(cx, goal).await,
            Scenario::DnsRecord(s) => s.plan(cx, goal).await,
        }
    }

    /// One read of what was written: for each step, None if it is now as desired, else
    /// what it shows instead.
    pub async fn confirm<C: Ec2 + TransitGateways + Route53>(
        &self,
        cx: &Ctx<'_, C>,
        written: &[&Step],
    ) -> Result<Vec<Option<String>>, Ec2Error> {
        match self {
            Scenario::RouteTable(s) => s.confirm(cx, written).await,
            Scenario::ElasticIp(s) => s.confirm(cx, written).await,
            Scenario::TransitGateway(s) => s.confirm(cx, written).await,
            Scenario::PrivateIp(s) => s.confirm(cx, written).await,
            Scenario::Ipv6Address(s) => s.confirm(cx, written).await,
            Scenario::DnsRecord(s) => s.confirm(cx, written).await,
        }
    }

    pub fn kind(&self) -> Kind {
        match self {
            Scenario::RouteTable(_) => Kind::RouteTable,
            Scenario::ElasticIp(_) => Kind::ElasticIp,
            Scenario::TransitGateway(_) => Kind::TransitGateway,
            Scenario::PrivateIp(_) => Kind::PrivateIp,
            Scenario::Ipv6Address(_) => Kind::Ipv6Address,
            Scenario::DnsRecord(_) => Kind::DnsRecord,
        }
    }
}

/// One attempt of a step's write call. A step without a write is a no-op. Ok(Some(why)):
/// written, and still propagating (a Route 53 change not yet INSYNC).
pub async fn write<C: Ec2 + TransitGateways + Route53>(
    cx: &Ctx<'_, C>,
    step: &Step,
) -> Result<Option<String>, Ec2Error> {
    let done = match &step.write {
        None => Ok(()),
        Some(Write::RouteTable(w)) => route_table::write(cx, w).await,
        Some(Write::ElasticIp(w)) => elastic_ip::write(cx, w).await,
        Some(Write::TransitGateway(w)) => transit_gateway::write(cx, w).await,
        Some(Write::PrivateIp(w)) => private_ip::write(cx, w).await,
        Some(Write::Ipv6Address(w)) => ipv6_address::write(cx, w).await,
        Some(Write::DnsRecord(w)) => return dns_record::write(cx, w).await,
    };
    done.map(|()| None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{EipRef, EniChoice};

    #[test]
    fn every_resource_kind_makes_its_scenario() {
        let mut res = Resources {
            routes: vec!["10.1.0.10/32".parse().unwrap()],
            eips: vec![EipRef::AllocationId("eipalloc-1".into())],
            eip_pins: Vec::new(),
            private_ips: vec!["10.0.2.100".parse().unwrap()],
            ipv6_addresses: vec!["2600:1f18::100".parse().unwrap()],
            tables: Default::default(),
            eni: EniChoice::Primary,
            release: true,
            sites: Vec::new(),
            dns_records: Vec::new(),
            access: Default::default(),
        };
        let kinds = |r: &Resources| Scenario::for_resources(r).iter().map(Scenario::kind).collect::<Vec<_>>();
        assert_eq!(kinds(&res), vec![Kind::RouteTable, Kind::PrivateIp, Kind::Ipv6Address, Kind::ElasticIp]);
        res.sites = vec![crate::config::Site {
            region: "us-east-1".into(),
            vpc_id: "vpc-1".into(),
            transit_gateway_id: None,
            route_tables: None,
            tgw_route_tables: None,
            role_arn: None,
            external_id: None,
        }];
        assert_eq!(
            kinds(&res),
            vec![Kind::TransitGateway, Kind::PrivateIp, Kind::Ipv6Address, Kind::ElasticIp]
        );
        let released: Vec<bool> =
            Scenario::for_resources(&res).iter().map(|s| s.acts_on(Goal::Release)).collect();
        assert_eq!(released, vec![false, true, true, true], "routes are never released");
    }
}
