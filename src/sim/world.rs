//! The simulated landscape: 2–3 nodes (eni-1.. in subnet-a of vpc-a), the cluster's VIP
//! in each scenario, and resources that belong to nobody in the cluster (another route
//! of the same tables, another cluster's Elastic IP and addresses, another record of the
//! zone) which no run may ever touch.

use crate::aws::fake::World;
use crate::config::dns::{DnsRecord, DnsType, DnsValue};
use crate::config::Resources;
use crate::model::RouteTarget;
use crate::model::{
    Address, EipRef, EniAttachment, EniChoice, Identity, Interface, RecordSet, Route, RouteTable,
};
use std::net::{Ipv4Addr, Ipv6Addr};

/// What the VIP is carried by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    Routes,
    ElasticIp,
    PrivateIp,
    Ipv6,
    Dns,
    /// A record with a fixed value (`value = "10.9.9.9"`) and release: issue 27's item 5.
    DnsFixed,
    /// Routes, an Elastic IP, a secondary IP and a record in one section.
    Mix,
}

impl Scenario {
    pub const ALL: [Scenario; 7] = [
        Scenario::Routes,
        Scenario::ElasticIp,
        Scenario::PrivateIp,
        Scenario::Ipv6,
        Scenario::Dns,
        Scenario::DnsFixed,
        Scenario::Mix,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Scenario::Routes => "routes",
            Scenario::ElasticIp => "eip",
            Scenario::PrivateIp => "private-ip",
            Scenario::Ipv6 => "ipv6",
            Scenario::Dns => "dns",
            Scenario::DnsFixed => "dns-fixed",
            Scenario::Mix => "mix",
        }
    }

    pub fn parse(s: &str) -> Option<Scenario> {
        Scenario::ALL.into_iter().find(|x| x.name() == s)
    }
}

pub const VIP: &str = "10.1.0.10/32";
pub const SECONDARY: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 100);
pub const V6: Ipv6Addr = Ipv6Addr::new(0x2600, 0x1f18, 0, 0, 0, 0, 0, 0x100);
pub const FIXED: &str = "10.9.9.9";

pub fn eni(n: usize) -> String {
    format!("eni-{}", n + 1)
}

pub fn node_ip(n: usize) -> Ipv4Addr {
    Ipv4Addr::new(10, 0, 1, 11 + n as u8)
}

pub fn identity(n: usize) -> Identity {
    Identity {
        instance_id: format!("i-{}", n + 1),
        region: "us-east-1".into(),
        mac: format!("02:00:00:00:00:0{}", n + 1),
        eni_id: eni(n),
        vpc_id: "vpc-a".into(),
        vpc_cidrs: vec!["10.0.0.0/16".parse().unwrap()],
        private_ips: vec![node_ip(n).to_string()],
        subnet_id: Some("subnet-a".into()),
        subnet_cidr: Some("10.0.1.0/24".parse().unwrap()),
        subnet_ipv6_cidrs: vec!["2600:1f18::/64".parse().unwrap()],
        ipv6s: Vec::new(),
        public_ipv4: Some(format!("198.51.100.{}", n + 1)),
    }
}

fn record(name: &str, value: &str) -> RecordSet {
    RecordSet {
        name: name.into(),
        kind: "A".into(),
        ttl: Some(60),
        values: vec![value.into()],
        special: None,
    }
}

/// The world at the start: node 0 holds the VIP in every form; eni-9 is another cluster's.
pub fn world(nodes: usize) -> World {
    let table = |id: &str| RouteTable {
        id: id.into(),
        vpc_id: "vpc-a".into(),
        routes: vec![
            Route { destination: VIP.parse().unwrap(), target: RouteTarget::NetworkInterface(eni(0)) },
            Route {
                destination: "10.9.0.0/24".parse().unwrap(),
                target: RouteTarget::NetworkInterface("eni-9".into()),
            },
        ],
    };
    let address = |alloc: &str, on: &str, ip: &str| Address {
        allocation_id: alloc.into(),
        public_ip: "203.0.113.1".into(),
        association_id: Some(format!("eipassoc-{alloc}")),
        network_interface_id: Some(on.into()),
        private_ip: Some(ip.into()),
    };
    let mut interfaces: Vec<(String, Interface)> = (0..nodes)
        .map(|n| {
            let i = Interface { id: eni(n), private_ips: vec![node_ip(n)], ipv6: Vec::new() };
            ("subnet-a".to_string(), i)
        })
        .collect();
    interfaces[0].1.private_ips.push(SECONDARY);
    interfaces[0].1.ipv6.push(V6);
    let foreign = Interface {
        id: "eni-9".into(),
        private_ips: vec![Ipv4Addr::new(10, 0, 1, 99), Ipv4Addr::new(10, 0, 1, 199)],
        ipv6: vec!["2600:1f18::99".parse().unwrap()],
    };
    interfaces.push(("subnet-a".into(), foreign));
    let attached = |n: usize| EniAttachment {
        status: Some("attached".into()),
        instance_id: Some(format!("i-{}", n + 1)),
    };
    World {
        tables: vec![table("rtb-a"), table("rtb-b")],
        addresses: vec![
            address("eipalloc-1", &eni(0), &node_ip(0).to_string()),
            address("eipalloc-9", "eni-9", "10.0.1.99"),
        ],
        interfaces,
        attachments: (0..nodes).map(|n| (eni(n), attached(n))).collect(),
        instances: (0..nodes).map(|n| (format!("i-{}", n + 1), "running".to_string())).collect(),
        records: vec![
            ("Z1".into(), record("vip.example.", &node_ip(0).to_string())),
            ("Z1".into(), record("fixed.example.", FIXED)),
            ("Z1".into(), record("other.example.", "10.0.1.99")),
        ],
        ..World::default()
    }
}

fn dns(name: &str, value: DnsValue) -> DnsRecord {
    DnsRecord {
        zone: "Z1".into(),
        name: name.into(),
        kind: DnsType::A,
        value,
        ttl: 60,
        role_arn: None,
        external_id: None,
    }
}

/// The section of `scenario`.
pub fn resources(scenario: Scenario, release: bool) -> Resources {
    let mut r = Resources {
        routes: Vec::new(),
        eips: Vec::new(),
        eip_pins: Vec::new(),
        private_ips: Vec::new(),
        ipv6_addresses: Vec::new(),
        tables: Default::default(),
        eni: EniChoice::Primary,
        release,
        sites: Vec::new(),
        dns_records: Vec::new(),
        access: Default::default(),
    };
    let eip = EipRef::AllocationId("eipalloc-1".into());
    match scenario {
        Scenario::Routes => r.routes.push(VIP.parse().unwrap()),
        Scenario::ElasticIp => r.eips.push(eip),
        Scenario::PrivateIp => r.private_ips.push(SECONDARY),
        Scenario::Ipv6 => r.ipv6_addresses.push(V6),
        Scenario::Dns => r.dns_records.push(dns("vip.example.", DnsValue::Local)),
        Scenario::DnsFixed => {
            r.dns_records.push(dns("fixed.example.", DnsValue::Address(FIXED.parse().unwrap())))
        }
        Scenario::Mix => {
            r.routes.push(VIP.parse().unwrap());
            r.eips.push(eip);
            r.private_ips.push(SECONDARY);
            r.dns_records.push(dns("vip.example.", DnsValue::Local));
        }
    }
    r
}

/// The keys (`cloud::holders`) of a scenario's resources, each with the holder that
/// means node `n`.
pub fn owned(scenario: Scenario, n: usize) -> Vec<(String, String)> {
    let routes = || ["rtb-a", "rtb-b"].map(|t| (format!("route {t} {VIP}"), eni(n)));
    let eip = || ("eip eipalloc-1".to_string(), eni(n));
    let ip = || (format!("ip {SECONDARY}"), eni(n));
    let rec = || ("dns Z1 vip.example. A".to_string(), node_ip(n).to_string());
    match scenario {
        Scenario::Routes => routes().to_vec(),
        Scenario::ElasticIp => vec![eip()],
        Scenario::PrivateIp => vec![ip()],
        Scenario::Ipv6 => vec![(format!("ipv6 {V6}"), eni(n))],
        Scenario::Dns => vec![rec()],
        Scenario::DnsFixed => vec![("dns Z1 fixed.example. A".to_string(), FIXED.to_string())],
        Scenario::Mix => {
            let mut v = routes().to_vec();
            v.extend([eip(), ip(), rec()]);
            v
        }
    }
}

/// Keys no run may change: the other cluster's resources.
pub fn foreign(scenario: Scenario) -> Vec<String> {
    let mut v = vec![
        "route rtb-a 10.9.0.0/24".to_string(),
        "route rtb-b 10.9.0.0/24".into(),
        "eip eipalloc-9".into(),
        "ip 10.0.1.99".into(),
        "ip 10.0.1.199".into(),
        "ipv6 2600:1f18::99".into(),
        "dns Z1 other.example. A".into(),
    ];
    if scenario != Scenario::DnsFixed {
        v.push("dns Z1 fixed.example. A".into());
    }
    v
}
