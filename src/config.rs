//! The TOML config file: resources per keepalived instance or sync group name.
//!
//! ```toml
//! on_event = "/usr/local/bin/page-oncall"   # optional: the event hook (JSON on stdin)
//! [instance.VI_1]
//! routes = ["10.1.0.10/32"]
//! elastic_ips = ["eipalloc-0123456789abcdef0"]   # or [{ id = "eipalloc-...", private_ip = "10.0.2.100" }]
//! private_ips = ["10.0.2.100"]   # secondary private IPs within the ENI's subnet
//! ipv6_addresses = ["2600:1f18::100"]   # IPv6 addresses within the ENI's subnet
//! route_tables = ["rtb-0a"]       # optional: these tables (or route_table_tags = { Name = "private-*" })
//! interface = "eth1"   # optional; or eni = "eni-..."
//! release = false      # optional: disassociate the EIPs on BACKUP/FAULT/STOP
//! on_event = "..."     # optional: this section's own event hook
//! ```

use crate::error::ConfigError;
use crate::model::{parse_destination, EipRef, EniChoice, TableChoice};
use ipnet::IpNet;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    /// The event hook for every section that names none of its own.
    on_event: Option<String>,
    #[serde(default)]
    instance: BTreeMap<String, RawInstance>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInstance {
    #[serde(default)]
    routes: Vec<String>,
    #[serde(default)]
    elastic_ips: Vec<RawEip>,
    #[serde(default)]
    private_ips: Vec<String>,
    #[serde(default)]
    ipv6_addresses: Vec<String>,
    route_tables: Option<Vec<String>>,
    route_table_tags: Option<BTreeMap<String, String>>,
    interface: Option<String>,
    eni: Option<String>,
    #[serde(default)]
    release: bool,
    #[serde(default)]
    sites: Vec<Site>,
    on_event: Option<String>,
}

/// An Elastic IP: its allocation id or public IP, or a table naming also the private IP
/// it belongs to (`{ id = "eipalloc-...", private_ip = "10.0.2.100" }`).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawEip {
    Plain(String),
    Pinned(PinnedEip),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PinnedEip {
    id: String,
    private_ip: String,
}

/// One VPC of a Transit Gateway cluster (see the README's Transit Gateway scenario).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Site {
    pub region: String,
    pub vpc_id: String,
    /// Default: the Transit Gateway of the VPC's available attachment.
    pub transit_gateway_id: Option<String>,
    /// Default: the VPC's route tables that hold a VIP route. Listed tables get a
    /// missing VIP route created.
    pub route_tables: Option<Vec<String>>,
    /// Default: the Transit Gateway's route tables that hold a static VIP route. Listed
    /// tables get a missing VIP route created.
    pub tgw_route_tables: Option<Vec<String>>,
    /// A role in the account that owns this site's VPC or Transit Gateway.
    pub role_arn: Option<String>,
    pub external_id: Option<String>,
}

impl Site {
    fn check(&self) -> Result<(), String> {
        if self.region.trim().is_empty() {
            return Err("sites: region is empty".into());
        }
        if !self.vpc_id.starts_with("vpc-") {
            return Err(format!("sites: {:?} is not a VPC id (vpc-...)", self.vpc_id));
        }
        if let Some(t) = &self.transit_gateway_id {
            if !t.starts_with("tgw-") {
                return Err(format!("sites: {t:?} is not a Transit Gateway id (tgw-...)"));
            }
        }
        if let Some(arn) = &self.role_arn {
            if !arn.starts_with("arn:") || !arn.contains(":role/") {
                return Err(format!("sites: {arn:?} is not a role ARN (arn:aws:iam::ACCOUNT:role/NAME)"));
            }
        }
        if self.external_id.is_some() && self.role_arn.is_none() {
            return Err("sites: external_id needs role_arn".into());
        }
        Ok(())
    }
}

/// What one VIP consists of, from the command line or from one config section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resources {
    pub routes: Vec<IpNet>,
    pub eips: Vec<EipRef>,
    /// Elastic IPs that belong to a given private IP of this node's ENI (often one of
    /// `private_ips`: the address moves first, then the Elastic IP onto it).
    pub eip_pins: Vec<(EipRef, std::net::Ipv4Addr)>,
    /// Secondary private IPv4 addresses that follow MASTER within one subnet.
    pub private_ips: Vec<std::net::Ipv4Addr>,
    /// IPv6 addresses that follow MASTER within one subnet.
    pub ipv6_addresses: Vec<std::net::Ipv6Addr>,
    /// Which route tables of the node's VPC the routes are in (single VPC only).
    pub tables: TableChoice,
    pub eni: EniChoice,
    pub release: bool,
    /// Transit Gateway scenario: every VPC of the cluster; empty for a single VPC.
    pub sites: Vec<Site>,
}

impl Resources {
    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
            && self.eips.is_empty()
            && self.private_ips.is_empty()
            && self.ipv6_addresses.is_empty()
    }
}

#[derive(Debug)]
pub struct Config {
    pub path: String,
    pub instances: BTreeMap<String, Resources>,
    /// Top-level `on_event`: the event hook of sections without their own.
    pub on_event: Option<String>,
    /// Sections' own `on_event`.
    pub section_hooks: BTreeMap<String, String>,
}

impl Config {
    /// Read and parse the config, refusing one that anyone but root (or the running user)
    /// could have written: its `on_event` runs as us (see `trust`).
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        Config::read(path, true)
    }

    /// Read and parse; `trusted_only`: refuse an untrusted file (doctor reports that itself).
    pub fn read(path: &Path, trusted_only: bool) -> Result<Config, ConfigError> {
        let shown = path.display().to_string();
        let failed = |e: std::io::Error| match e.kind() {
            std::io::ErrorKind::PermissionDenied => {
                ConfigError::Denied { path: shown.clone(), detail: e.to_string() }
            }
            _ => ConfigError::Read { path: shown.clone(), detail: e.to_string() },
        };
        let mut file = std::fs::File::open(path).map_err(failed)?;
        if let Some(why) = trusted_only.then(|| crate::trust::untrusted(path, "config file")).flatten() {
            return Err(ConfigError::Untrusted(why));
        }
        let mut text = String::new();
        std::io::Read::read_to_string(&mut file, &mut text).map_err(failed)?;
        Config::parse(&shown, &text)
    }

    pub fn parse(path: &str, text: &str) -> Result<Config, ConfigError> {
        let bad = |detail: String| ConfigError::Parse { path: path.to_string(), detail };
        let raw: RawConfig = toml::from_str(text).map_err(|e| bad(e.message().to_string()))?;
        let on_event = non_empty_hook(raw.on_event).map_err(|e| bad(e.to_string()))?;
        let mut instances = BTreeMap::new();
        let mut section_hooks = BTreeMap::new();
        for (name, r) in raw.instance {
            let section = format!("[instance.{name}]");
            if let Some(cmd) = non_empty_hook(r.on_event).map_err(|e| bad(format!("{section} {e}")))? {
                section_hooks.insert(name.clone(), cmd);
            }
            let routes = r
                .routes
                .iter()
                .map(|s| parse_destination(s))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| bad(format!("{section} routes: {e}")))?;
            let mut eips = Vec::new();
            let mut eip_pins = Vec::new();
            for raw in &r.elastic_ips {
                let (id, pin) = match raw {
                    RawEip::Plain(s) => (s, None),
                    RawEip::Pinned(p) => (&p.id, Some(&p.private_ip)),
                };
                let eip = EipRef::parse(id).map_err(|e| bad(format!("{section} elastic_ips: {e}")))?;
                if let Some(p) = pin {
                    let ip = parse_private_ip(p).map_err(|e| bad(format!("{section} elastic_ips: {e}")))?;
                    eip_pins.push((eip.clone(), ip));
                }
                eips.push(eip);
            }
            let private_ips = r
                .private_ips
                .iter()
                .map(|s| parse_private_ip(s))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| bad(format!("{section} private_ips: {e}")))?;
            let ipv6_addresses = r
                .ipv6_addresses
                .iter()
                .map(|s| parse_ipv6_address(s))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| bad(format!("{section} ipv6_addresses: {e}")))?;
            let eni = eni_choice(r.interface, r.eni).map_err(|e| bad(format!("{section} {e}")))?;
            for site in &r.sites {
                site.check().map_err(|e| bad(format!("{section} {e}")))?;
            }
            if !r.sites.is_empty() && routes.is_empty() {
                return Err(bad(format!("{section} has sites but no routes")));
            }
            let tables = table_choice(r.route_tables, r.route_table_tags)
                .map_err(|e| bad(format!("{section} {e}")))?;
            if tables != TableChoice::Holding && (routes.is_empty() || !r.sites.is_empty()) {
                return Err(bad(format!(
                    "{section} route_tables / route_table_tags need routes and no sites \
                     (with sites, name tables per site)"
                )));
            }
            let res = Resources {
                routes,
                eips,
                eip_pins,
                private_ips,
                ipv6_addresses,
                tables,
                eni,
                release: r.release,
                sites: r.sites,
            };
            if res.is_empty() {
                return Err(bad(format!(
                    "{section} has no routes, elastic_ips, private_ips or ipv6_addresses"
                )));
            }
            if let Some(dup) = first_duplicate(&res) {
                return Err(bad(format!("{section} names {dup} twice")));
            }
            instances.insert(name, res);
        }
        if let Some((what, a, b)) = shared(&instances) {
            return Err(bad(format!(
                "{what} is in both [instance.{a}] and [instance.{b}]: one VIP resource belongs to one instance"
            )));
        }
        Ok(Config { path: path.to_string(), instances, on_event, section_hooks })
    }

    pub fn instance(&self, name: &str) -> Result<&Resources, ConfigError> {
        self.instances
            .get(name)
            .ok_or_else(|| ConfigError::UnknownInstance { path: self.path.clone(), name: name.to_string() })
    }
}

fn non_empty_hook(cmd: Option<String>) -> Result<Option<String>, &'static str> {
    match cmd {
        Some(c) if c.trim().is_empty() => Err("on_event is empty"),
        other => Ok(other),
    }
}

/// The resource names of a section: its routes and Elastic IPs, as written.
fn names(res: &Resources) -> Vec<String> {
    let routes = res.routes.iter().map(|r| format!("route {r}"));
    let ips = res.private_ips.iter().map(|p| format!("private IP {p}"));
    let ips = ips.chain(res.ipv6_addresses.iter().map(|p| format!("IPv6 address {p}")));
    routes.chain(res.eips.iter().map(|e| format!("Elastic IP {e}"))).chain(ips).collect()
}

/// The first resource a VIP names twice.
pub fn first_duplicate(res: &Resources) -> Option<String> {
    let all = names(res);
    all.iter().enumerate().find(|(i, n)| all[..*i].contains(n)).map(|(_, n)| n.clone())
}

/// A route or Elastic IP named by two sections, with the two section names.
fn shared(instances: &BTreeMap<String, Resources>) -> Option<(String, String, String)> {
    let mut seen: BTreeMap<String, &str> = BTreeMap::new();
    for (name, res) in instances {
        for n in names(res) {
            if let Some(other) = seen.insert(n.clone(), name) {
                return Some((n, other.to_string(), name.clone()));
            }
        }
    }
    None
}

/// `route_tables` and `route_table_tags` are two ways to choose tables: at most one.
pub fn table_choice(
    ids: Option<Vec<String>>,
    tags: Option<BTreeMap<String, String>>,
) -> Result<TableChoice, String> {
    match (ids, tags) {
        (Some(_), Some(_)) => Err("route_tables and route_table_tags are mutually exclusive".into()),
        (Some(ids), None) => match ids.iter().find(|i| !i.starts_with("rtb-") || i.len() < 5) {
            Some(bad) => Err(format!("route_tables: {bad:?} is not a route table id (rtb-...)")),
            None if ids.is_empty() => Err("route_tables is empty".into()),
            None => Ok(TableChoice::Ids(ids)),
        },
        (None, Some(tags)) if tags.is_empty() => Err("route_table_tags is empty".into()),
        (None, Some(tags)) => Ok(TableChoice::Tagged(tags.into_iter().collect())),
        (None, None) => Ok(TableChoice::Holding),
    }
}

/// An IPv6 address (not a CIDR).
pub fn parse_ipv6_address(s: &str) -> Result<std::net::Ipv6Addr, String> {
    s.trim().parse().map_err(|_| format!("{s:?} is not an IPv6 address (e.g. 2600:1f18::100)"))
}

/// A secondary private IPv4 address (not a CIDR).
pub fn parse_private_ip(s: &str) -> Result<std::net::Ipv4Addr, String> {
    s.trim().parse().map_err(|_| format!("{s:?} is not a private IPv4 address (e.g. 10.0.2.100)"))
}

/// `interface` and `eni` are two ways to name the same thing: at most one may be given.
pub fn eni_choice(interface: Option<String>, eni: Option<String>) -> Result<EniChoice, String> {
    match (interface, eni) {
        (Some(_), Some(_)) => Err("interface and eni are mutually exclusive".into()),
        (Some(i), None) => Ok(EniChoice::Interface(i)),
        (None, Some(e)) if e.starts_with("eni-") && e.len() > 4 => Ok(EniChoice::Eni(e)),
        (None, Some(e)) => Err(format!("{e:?} is not an ENI id (eni-...)")),
        (None, None) => Ok(EniChoice::Primary),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_example() {
        let c = Config::parse(
            "t.toml",
            r#"
            [instance.VI_1]
            routes = ["10.1.0.10/32"]
            elastic_ips = ["eipalloc-0123456789abcdef0"]
            interface = "eth1"
            release = true
            [instance.VG_1]
            routes = ["10.1.0.20"]
            "#,
        )
        .unwrap();
        let vi = c.instance("VI_1").unwrap();
        assert_eq!(vi.routes[0].to_string(), "10.1.0.10/32");
        assert_eq!(vi.eni, EniChoice::Interface("eth1".into()));
        assert!(vi.release);
        assert_eq!(c.instance("VG_1").unwrap().eni, EniChoice::Primary);
        let t = Config::parse(
            "t.toml",
            r#"
            [instance.VI_1]
            routes = ["10.1.0.10/32"]
            [[instance.VI_1.sites]]
            region = "us-east-1"
            vpc_id = "vpc-a"
            [[instance.VI_1.sites]]
            region = "us-west-2"
            vpc_id = "vpc-b"
            role_arn = "arn:aws:iam::222222222222:role/ec2-vip"
            external_id = "x"
            "#,
        )
        .unwrap();
        let sites = &t.instance("VI_1").unwrap().sites;
        let h = Config::parse(
            "t.toml",
            "on_event = \"/bin/all\"\n[instance.A]\nroutes = [\"10.1.0.10/32\"]\non_event = \"/bin/a\"\n\
             [instance.B]\nroutes = [\"10.1.0.11/32\"]\n",
        )
        .unwrap();
        assert_eq!(h.on_event.as_deref(), Some("/bin/all"));
        assert_eq!(h.section_hooks.get("A").map(String::as_str), Some("/bin/a"));
        assert!(!h.section_hooks.contains_key("B"));
        assert_eq!(sites.len(), 2);
        assert_eq!(sites[1].role_arn.as_deref(), Some("arn:aws:iam::222222222222:role/ec2-vip"));
        let err = c.instance("VI_9").unwrap_err().to_string();
        assert!(err.contains("[instance.VI_9]"), "{err}");
    }

    #[test]
    fn shipped_examples_parse() {
        let c = Config::parse("ec2-vip.toml", include_str!("../examples/keepalived/ec2-vip.toml")).unwrap();
        assert_eq!(c.instances.len(), 3);
        assert_eq!(
            c.instance("VI_3").unwrap().private_ips,
            vec!["10.0.2.100".parse::<std::net::Ipv4Addr>().unwrap()]
        );
        let t = include_str!("../examples/keepalived/transit-gateway/ec2-vip.toml");
        let t = Config::parse("transit-gateway/ec2-vip.toml", t).unwrap();
        assert_eq!(t.instance("VI_1").unwrap().sites.len(), 3);
    }

    #[test]
    fn bad_configs_name_the_problem() {
        let cases = [
            ("[instance.A]\nroutes = [\"10.1.0.10/24\"]", "host bits"),
            ("[instance.A]\nelastic_ips = [\"eni-1\"]", "elastic_ips"),
            ("[instance.A]\nroutes = [\"10.1.0.10/32\"]\nrout = 1", "unknown field"),
            ("[instance.A]\n", "no routes"),
            ("[instance.A]\nroutes = [\"10.1.0.10/32\"]\ninterface = \"eth1\"\neni = \"eni-1\"", "exclusive"),
            ("[instance.A", "t.toml"),
            ("[instance.A]\nroutes = [\"10.1.0.10/32\"]\n[[instance.A.sites]]\nregion = \"r\"\nvpc_id = \"v\"", "VPC id"),
            ("[instance.A]\n[[instance.A.sites]]\nregion = \"r\"\nvpc_id = \"vpc-1\"", "no routes"),
            ("[instance.A]\nroutes = [\"10.1.0.10/32\"]\n[[instance.A.sites]]\nregion = \"r\"\nvpc_id = \"vpc-1\"\nrole_arn = \"x\"", "role ARN"),
            ("[instance.A]\nroutes = [\"10.1.0.10/32\", \"10.1.0.10\"]", "[instance.A] names route 10.1.0.10/32 twice"),
            ("[instance.A]\nroutes = [\"10.1.0.10/32\"]\nroute_tables = [\"x\"]", "not a route table id"),
            ("[instance.A]\nroutes = [\"10.1.0.10/32\"]\nroute_tables = [\"rtb-1\"]\nroute_table_tags = { Name = \"a\" }", "mutually exclusive"),
            ("[instance.A]\nelastic_ips = [\"198.51.100.1\"]\nroute_tables = [\"rtb-1\"]", "need routes"),
            ("[instance.A]\nroutes = [\"10.1.0.10/32\"]\n[instance.B]\nroutes = [\"10.1.0.10/32\"]", "in both [instance.A] and [instance.B]"),
            ("[instance.A]\nelastic_ips = [\"198.51.100.1\"]\n[instance.B]\nelastic_ips = [\"198.51.100.1\"]", "Elastic IP 198.51.100.1 is in both"),
            ("on_event = \" \"\n[instance.A]\nroutes = [\"10.1.0.10/32\"]", "on_event is empty"),
        ];
        for (text, want) in cases {
            let err = Config::parse("t.toml", text).unwrap_err().to_string();
            assert!(err.contains(want), "{text:?}: {err}");
            assert!(err.starts_with("config t.toml: "), "{err}");
        }
    }
}
