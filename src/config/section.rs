//! One `[instance.NAME]` section: its raw form (as serde reads it) and its checks, each
//! error naming the key it is about.

use super::dns::RawDnsRecord;
use super::locate::KeyPath;
use super::{check_region, check_role, eni_choice, parse_ipv6_address, parse_private_ip, table_choice};
use super::{Resources, Site};
use crate::model::{parse_destination, Access, EipRef, TableChoice};
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawInstance {
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
    #[serde(default)]
    dns_records: Vec<RawDnsRecord>,
    region: Option<String>,
    profile: Option<String>,
    role_arn: Option<String>,
    external_id: Option<String>,
}

/// An Elastic IP: its allocation id or public IP, or a table naming also the private IP
/// it belongs to (`{ id = "eipalloc-...", private_ip = "10.0.2.100" }`).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawEip {
    Plain(String),
    Pinned(PinnedEip),
}

/// serde's words for an `elastic_ips` entry that is neither form, and ours.
pub(super) const EIP_MISMATCH: (&str, &str) = (
    "data did not match any variant of untagged enum RawEip",
    "expected an allocation id or public IP, or { id = \"eipalloc-...\", private_ip = \"10.0.2.100\" }",
);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PinnedEip {
    id: String,
    private_ip: String,
}

/// A section's error: the key it is about (empty: the section as a whole) and what is wrong.
pub(super) type Bad = (KeyPath, String);

pub(super) fn non_empty_hook(cmd: Option<String>) -> Result<Option<String>, &'static str> {
    match cmd {
        Some(c) if c.trim().is_empty() => Err("on_event is empty"),
        other => Ok(other),
    }
}

/// Each item of `items` parsed, or the first bad one with its path.
fn each<T, E: ToString>(
    key: &str,
    items: &[String],
    parse: impl Fn(&str) -> Result<T, E>,
) -> Result<Vec<T>, Bad> {
    let parsed =
        items.iter().enumerate().map(|(i, s)| parse(s).map_err(|e| (KeyPath::item(key, i), e.to_string())));
    parsed.collect()
}

impl RawInstance {
    /// The section's resources and its own event hook, or its first error.
    pub(super) fn check(self) -> Result<(Resources, Option<String>), Bad> {
        let hook = non_empty_hook(self.on_event).map_err(|e| (KeyPath::key("on_event"), e.to_string()))?;
        let access = Access {
            region: self.region,
            profile: self.profile,
            role_arn: self.role_arn,
            external_id: self.external_id,
        };
        check_access(&access)?;
        let routes = each("routes", &self.routes, parse_destination)?;
        let mut eips = Vec::new();
        let mut eip_pins = Vec::new();
        for (i, raw) in self.elastic_ips.iter().enumerate() {
            let (id, pin, at) = match raw {
                RawEip::Plain(s) => (s, None, KeyPath::item("elastic_ips", i)),
                RawEip::Pinned(p) => (&p.id, Some(&p.private_ip), KeyPath::item("elastic_ips", i).then("id")),
            };
            let eip = EipRef::parse(id).map_err(|e| (at, e.to_string()))?;
            if let Some(p) = pin {
                let ip = parse_private_ip(p)
                    .map_err(|e| (KeyPath::item("elastic_ips", i).then("private_ip"), e))?;
                eip_pins.push((eip.clone(), ip));
            }
            eips.push(eip);
        }
        let private_ips = each("private_ips", &self.private_ips, parse_private_ip)?;
        let ipv6_addresses = each("ipv6_addresses", &self.ipv6_addresses, parse_ipv6_address)?;
        let mut dns_records = Vec::with_capacity(self.dns_records.len());
        for (i, raw) in self.dns_records.iter().enumerate() {
            dns_records.push(raw.check().map_err(|(key, e)| (KeyPath::item("dns_records", i).then(key), e))?);
        }
        super::dns::check_release(&dns_records, self.release)
            .map_err(|(i, e)| (KeyPath::item("dns_records", i).then("value"), e))?;
        let eni_key = if self.eni.is_some() { "eni" } else { "interface" };
        let eni = eni_choice(self.interface, self.eni).map_err(|e| (KeyPath::key(eni_key), e))?;
        for (i, site) in self.sites.iter().enumerate() {
            site.check().map_err(|(key, e)| (KeyPath::item("sites", i).then(key), e))?;
        }
        if !self.sites.is_empty() && routes.is_empty() {
            return Err((KeyPath::key("sites"), "has sites but no routes".into()));
        }
        let tables_key = if self.route_table_tags.is_some() { "route_table_tags" } else { "route_tables" };
        let sites = !self.sites.is_empty();
        let tables = table_choice(self.route_tables, self.route_table_tags)
            .map_err(|e| (KeyPath::key(tables_key), e))?;
        if tables != TableChoice::Holding && (routes.is_empty() || sites) {
            let why =
                "route_tables / route_table_tags need routes and no sites (with sites, name tables per site)";
            return Err((KeyPath::key(tables_key), why.into()));
        }
        let res = Resources {
            routes,
            eips,
            eip_pins,
            private_ips,
            ipv6_addresses,
            tables,
            eni,
            release: self.release,
            sites: self.sites,
            dns_records,
            access,
        };
        if res.is_empty() {
            return Err((
                KeyPath::default(),
                "has no routes, elastic_ips, private_ips, ipv6_addresses or dns_records".into(),
            ));
        }
        let all = names(&res);
        if let Some(i) = (0..all.len()).find(|i| all[..*i].iter().any(|(n, _)| *n == all[*i].0)) {
            let (name, at) = all[i].clone();
            return Err((at, format!("names {name} twice")));
        }
        Ok((res, hook))
    }
}

/// A section's `region`, `profile`, `role_arn` and `external_id`, each checked.
fn check_access(a: &Access) -> Result<(), Bad> {
    if let Some(r) = &a.region {
        check_region(r).map_err(|e| (KeyPath::key("region"), e))?;
    }
    if let Some(p) = &a.profile {
        let shaped = !p.trim().is_empty() && !p.contains(['[', ']']) && p.trim() == p;
        if !shaped {
            return Err((KeyPath::key("profile"), format!("{p:?} is not a profile name")));
        }
    }
    check_role(a.role_arn.as_deref(), a.external_id.as_deref()).map_err(|(k, e)| (KeyPath::key(k), e))
}

/// The resources of a section as named in messages, each with its key.
pub(super) fn names(res: &Resources) -> Vec<(String, KeyPath)> {
    let mut out = Vec::new();
    let mut add = |key: &str, shown: Vec<String>| {
        out.extend(shown.into_iter().enumerate().map(|(i, n)| (n, KeyPath::item(key, i))));
    };
    add("routes", res.routes.iter().map(|r| format!("route {r}")).collect());
    add("elastic_ips", res.eips.iter().map(|e| format!("Elastic IP {e}")).collect());
    add("private_ips", res.private_ips.iter().map(|p| format!("private IP {p}")).collect());
    add("ipv6_addresses", res.ipv6_addresses.iter().map(|p| format!("IPv6 address {p}")).collect());
    add("dns_records", res.dns_records.iter().map(|d| d.to_string()).collect());
    out
}
