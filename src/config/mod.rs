//! The TOML config file: resources per keepalived instance or sync group name.
//!
//! ```toml
//! on_event = "/usr/local/bin/page-oncall"   # optional: the event hook (JSON on stdin)
//! region = "us-east-1"   # optional defaults of --region, --timeout, --syslog, --log-file,
//! timeout = 20           # --log-format: the command line wins (see `top`)
//! syslog = true
//! log_file = "/var/log/ec2-vip.log"
//! log_format = "text"
//! [instance.VI_1]
//! routes = ["10.1.0.10/32"]
//! elastic_ips = ["eipalloc-0123456789abcdef0"]   # or [{ id = "eipalloc-...", private_ip = "10.0.2.100" }]
//! private_ips = ["10.0.2.100"]   # secondary private IPs within the ENI's subnet
//! ipv6_addresses = ["2600:1f18::100"]   # IPv6 addresses within the ENI's subnet
//! route_tables = ["rtb-0a"]       # optional: these tables (or route_table_tags = { Name = "private-*" })
//! interface = "eth1"   # optional; or eni = "eni-..."
//! release = false      # optional: disassociate the EIPs on BACKUP/FAULT/STOP
//! on_event = "..."     # optional: this section's own event hook
//! dns_records = [{ zone = "Z0123", name = "db.internal.example", type = "A", value = "local", ttl = 10 }]
//! region = "eu-west-1" # optional: this section's EC2 calls in this region,
//! profile = "vip"      # with this shared-config profile's credentials,
//! role_arn = "arn:aws:iam::222222222222:role/vip"   # as this role (STS AssumeRole)
//! external_id = "x"    # optional, with role_arn
//! ```
//!
//! Errors say where: `PATH:LINE:COLUMN: [instance.NAME] KEY: message`. A syntax error or a
//! bad top-level setting stops everything (nothing in the file can be trusted); a section
//! with a bad value or an unknown key is set aside in [`Config::broken`] with its error,
//! and so are both sections when two name the same resource. The other sections work.
//! `locate` maps the TOML parser's byte spans to lines and keys; `section` holds a
//! section's raw form and checks (its `region` / `profile` / `role_arn` become
//! [`Resources::access`]); `top` the top-level keys and [`Defaults`].

pub mod dns;
mod locate;
mod section;
mod site;
#[cfg(test)]
mod tests;
mod top;

use crate::error::{ConfigError, ConfigProblem};
use crate::model::{Access, EipRef, EniChoice, TableChoice};
use ipnet::IpNet;
use locate::{line_col, path_at, span_of, KeyPath};
use section::{names, RawInstance, EIP_MISMATCH};
use serde::Deserialize;
pub(crate) use site::check_role;
pub use site::Site;
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;
use toml::de::{DeTable, DeValue, ValueDeserializer};
use toml::Spanned;
use top::RawTop;
pub use top::{check_region, parse_timeout, Defaults};

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
    /// Route 53 scenario: records that name the MASTER (see [`dns`]).
    pub dns_records: Vec<dns::DnsRecord>,
    /// The region, profile and role of this VIP's EC2 calls (default: the run's).
    pub access: Access,
}

impl Resources {
    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
            && self.eips.is_empty()
            && self.private_ips.is_empty()
            && self.ipv6_addresses.is_empty()
            && self.dns_records.is_empty()
    }
}

#[derive(Debug)]
pub struct Config {
    pub path: String,
    /// The sound sections.
    pub instances: BTreeMap<String, Resources>,
    /// Sections set aside, each with its error: a bad value, an unknown key, or a resource
    /// that another section also names (then both are set aside). Acting on one is an error
    /// (exit 2); the other sections work.
    pub broken: BTreeMap<String, ConfigProblem>,
    /// Top-level `on_event`: the event hook of sections without their own.
    pub on_event: Option<String>,
    /// Sections' own `on_event`.
    pub section_hooks: BTreeMap<String, String>,
    /// The top-level defaults of the command line's options (the command line wins).
    pub defaults: Defaults,
}

/// The text being parsed and its name, to turn spans into located errors.
struct Source<'a> {
    path: &'a str,
    text: &'a str,
}

impl Source<'_> {
    fn problem(
        &self,
        span: Option<Range<usize>>,
        section: Option<&str>,
        key: &KeyPath,
        message: &str,
    ) -> ConfigProblem {
        let key = key.to_string();
        let message = message.trim().replace(EIP_MISMATCH.0, EIP_MISMATCH.1);
        ConfigProblem {
            path: self.path.to_string(),
            at: span.map(|s| line_col(self.text, s.start)),
            section: section.map(str::to_string),
            key: (!key.is_empty()).then_some(key),
            message: message.lines().next().unwrap_or_default().to_string(),
        }
    }

    /// A parser or serde error, located; `within`: the value it came from.
    fn toml_error(&self, e: &toml::de::Error, section: Option<&str>, within: &DeValue<'_>) -> ConfigProblem {
        let key = e.span().map(|s| path_at(within, &s)).unwrap_or_default();
        self.problem(e.span(), section, &key, e.message())
    }
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

    /// The file's sections. A syntax error or a bad top-level setting is an error: nothing
    /// in the file can be trusted. A bad section is only set aside ([`Config::broken`]).
    pub fn parse(path: &str, text: &str) -> Result<Config, ConfigError> {
        let src = Source { path, text };
        let at = |p: ConfigProblem| ConfigError::At(p);
        let root =
            DeTable::parse(text).map_err(|e| at(src.toml_error(&e, None, &DeValue::Boolean(false))))?;
        let span = root.span();
        let (sections, top): (Vec<_>, Vec<_>) =
            root.into_inner().into_iter().partition(|(k, _)| k.get_ref() == "instance");
        let top = Spanned::new(span, DeValue::Table(top.into_iter().collect()));
        let raw = RawTop::deserialize(ValueDeserializer::from(top.clone()))
            .map_err(|e| at(src.toml_error(&e, None, top.get_ref())))?;
        let (on_event, defaults) = raw.check().map_err(|(key, e)| {
            let key = KeyPath::key(key);
            at(src.problem(Some(span_of(&top, &key)), None, &key, &e))
        })?;
        let mut c = Config {
            path: path.to_string(),
            instances: BTreeMap::new(),
            broken: BTreeMap::new(),
            on_event,
            section_hooks: BTreeMap::new(),
            defaults,
        };
        let mut values = BTreeMap::new();
        for (key, value) in sections {
            let DeValue::Table(t) = value.get_ref() else {
                let why = "must be a table of sections: [instance.NAME]";
                return Err(at(src.problem(Some(key.span()), None, &KeyPath::key("instance"), why)));
            };
            for (name, v) in t.iter() {
                let name = name.get_ref().to_string();
                if let Err(p) = c.section(&src, &name, v) {
                    c.broken.insert(name.clone(), p);
                }
                values.insert(name, v.clone());
            }
        }
        c.set_aside_shared(&src, &values);
        Ok(c)
    }

    /// Check one section and file it as sound, or return its error.
    fn section(
        &mut self,
        src: &Source<'_>,
        name: &str,
        v: &Spanned<DeValue<'_>>,
    ) -> Result<(), ConfigProblem> {
        if !matches!(v.get_ref(), DeValue::Table(_)) {
            let why = "must be a table (keys routes, elastic_ips, ...)";
            return Err(src.problem(Some(v.span()), Some(name), &KeyPath::default(), why));
        }
        let raw = RawInstance::deserialize(ValueDeserializer::from(v.clone()))
            .map_err(|e| src.toml_error(&e, Some(name), v.get_ref()))?;
        let (res, hook) = raw.check().map_err(|(key, why)| {
            // About the section as a whole: where its header is.
            let at = if key.0.is_empty() { header(src.text, name, v) } else { span_of(v, &key) };
            src.problem(Some(at), Some(name), &key, &why)
        })?;
        if let Some(cmd) = hook {
            self.section_hooks.insert(name.to_string(), cmd);
        }
        self.instances.insert(name.to_string(), res);
        Ok(())
    }

    /// One VIP resource belongs to one instance: sections naming the same one are both set
    /// aside, each error naming the other section.
    fn set_aside_shared(&mut self, src: &Source<'_>, values: &BTreeMap<String, Spanned<DeValue<'_>>>) {
        let mut owner: BTreeMap<String, (String, KeyPath)> = BTreeMap::new();
        let mut shared = Vec::new();
        for (name, res) in &self.instances {
            for (what, key) in names(res) {
                match owner.get(&what) {
                    Some((other, other_key)) => {
                        shared.push((name.clone(), key, what.clone(), other.clone()));
                        shared.push((other.clone(), other_key.clone(), what, name.clone()));
                    }
                    None => _ = owner.insert(what, (name.clone(), key)),
                }
            }
        }
        for (name, key, what, other) in shared {
            if self.broken.contains_key(&name) {
                continue;
            }
            let why =
                format!("{what} is also in [instance.{other}]: one VIP resource belongs to one instance");
            let at = values.get(&name).map(|v| span_of(v, &key));
            self.broken.insert(name.clone(), src.problem(at, Some(&name), &key, &why));
            self.instances.remove(&name);
            self.section_hooks.remove(&name);
        }
    }

    /// A sound section's resources; a broken section's error; or no such section.
    pub fn instance(&self, name: &str) -> Result<&Resources, ConfigError> {
        if let Some(p) = self.broken.get(name) {
            return Err(ConfigError::At(p.clone()));
        }
        self.instances
            .get(name)
            .ok_or_else(|| ConfigError::UnknownInstance { path: self.path.clone(), name: name.to_string() })
    }

    /// The sound section that names every resource of `res` (e.g. `check --route X`'s
    /// flags), if one does: its record is the one keepalived's notify writes.
    pub fn owner(&self, res: &Resources) -> Option<&str> {
        let wanted: Vec<String> = names(res).into_iter().map(|(n, _)| n).collect();
        if wanted.is_empty() {
            return None;
        }
        let holds = |r: &Resources| {
            let has: Vec<String> = names(r).into_iter().map(|(n, _)| n).collect();
            wanted.iter().all(|w| has.contains(w))
        };
        self.instances.iter().find(|(_, r)| holds(r)).map(|(n, _)| n.as_str())
    }

    /// Every section's name, sound or broken.
    pub fn names(&self) -> Vec<&str> {
        let mut all: Vec<&str> =
            self.instances.keys().chain(self.broken.keys()).map(String::as_str).collect();
        all.sort_unstable();
        all
    }

    /// The broken sections' errors, in file order.
    pub fn problems(&self) -> Vec<&ConfigProblem> {
        let mut all: Vec<&ConfigProblem> = self.broken.values().collect();
        all.sort_by_key(|p| p.at);
        all
    }
}

/// Where a section starts: its `[instance.NAME]` header if there is one, else its value.
fn header(text: &str, name: &str, v: &Spanned<DeValue<'_>>) -> Range<usize> {
    let found = [format!("[instance.{name}]"), format!("[instance.\"{name}\"]")]
        .into_iter()
        .find_map(|h| text.find(h.as_str()).map(|i| i..i + h.len()));
    found.unwrap_or_else(|| v.span())
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

/// The first resource a VIP names twice (e.g. the OCF agent's parameters).
pub fn first_duplicate(res: &Resources) -> Option<String> {
    let all = names(res);
    all.iter()
        .enumerate()
        .find(|(i, (n, _))| all[..*i].iter().any(|(m, _)| m == n))
        .map(|(_, (n, _))| n.clone())
}
