//! DNS records that follow the MASTER (the Route 53 scenario): a `dns_records` entry of a
//! config section, or a `--dns-record` on the command line, checked into a [`DnsRecord`].
//!
//! ```toml
//! dns_records = [{ zone = "Z0123456789ABC", name = "db.internal.example", type = "A",
//!                  value = "local", ttl = 10 }]
//! ```
//!
//! `value`: `local` (the ENI's primary private IPv4, or its first IPv6 address for AAAA),
//! `public` (the ENI's public IPv4, A only) or an address of the record's family; default
//! `local`. `ttl`: seconds, default 60. The name is kept lower-case with a trailing dot.
//! `role_arn` (and `external_id`): the zone is in another account, reached through STS.

use serde::Deserialize;
use std::fmt;
use std::net::IpAddr;

/// The TTL a record gets when none is given.
pub const DEFAULT_TTL: u32 = 60;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DnsType {
    A,
    Aaaa,
}

impl DnsType {
    pub fn as_str(&self) -> &'static str {
        match self {
            DnsType::A => "A",
            DnsType::Aaaa => "AAAA",
        }
    }
}

/// What the record should name while this node is MASTER.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DnsValue {
    /// The ENI's primary private IPv4 (A), or its first IPv6 address (AAAA).
    Local,
    /// The ENI's public IPv4 (A only).
    Public,
    Address(IpAddr),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsRecord {
    /// Hosted zone id (Z...), without `/hostedzone/`.
    pub zone: String,
    /// Lower-case, with the trailing dot.
    pub name: String,
    pub kind: DnsType,
    pub value: DnsValue,
    pub ttl: u32,
    /// A role in the account that owns the hosted zone, assumed through STS (as a Transit
    /// Gateway site's), with its external id.
    pub role_arn: Option<String>,
    pub external_id: Option<String>,
}

impl fmt::Display for DnsRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DNS record {} {} in {}", self.kind.as_str(), self.name, self.zone)
    }
}

/// A `dns_records` entry as serde reads it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDnsRecord {
    zone: String,
    name: String,
    r#type: String,
    value: Option<String>,
    ttl: Option<i64>,
    role_arn: Option<String>,
    external_id: Option<String>,
}

impl RawDnsRecord {
    /// The record, or the first bad field and what is wrong with it.
    pub(super) fn check(&self) -> Result<DnsRecord, (&'static str, String)> {
        let zone = parse_zone(&self.zone).map_err(|e| ("zone", e))?;
        let name = parse_name(&self.name).map_err(|e| ("name", e))?;
        let kind = parse_type(&self.r#type).map_err(|e| ("type", e))?;
        let value = parse_value(self.value.as_deref().unwrap_or("local"), kind).map_err(|e| ("value", e))?;
        let ttl = match self.ttl {
            None => DEFAULT_TTL,
            Some(t) => parse_ttl(&t.to_string()).map_err(|e| ("ttl", e))?,
        };
        super::check_role(self.role_arn.as_deref(), self.external_id.as_deref())?;
        let (role_arn, external_id) = (self.role_arn.clone(), self.external_id.clone());
        Ok(DnsRecord { zone, name, kind, value, ttl, role_arn, external_id })
    }
}

/// With `release`, every record must name this node (`local` or `public`): a fixed address
/// is the same on every node, so a record naming it proves nothing about who wrote it, and
/// a BACKUP deleting it would delete what the new MASTER just wrote. Err: the first such
/// record's index and why.
pub fn check_release(records: &[DnsRecord], release: bool) -> Result<(), (usize, String)> {
    match records.iter().position(|r| matches!(r.value, DnsValue::Address(_))) {
        Some(i) if release => Err((
            i,
            format!(
                "{} names the fixed address {}, which no node owns: with release a BACKUP would \
                 delete what the new MASTER wrote; use value local or public, or no release",
                records[i],
                value_text(&records[i].value)
            ),
        )),
        _ => Ok(()),
    }
}

/// `local`, `public` or the address, as a config writes it.
pub fn value_text(v: &DnsValue) -> String {
    match v {
        DnsValue::Local => "local".into(),
        DnsValue::Public => "public".into(),
        DnsValue::Address(ip) => ip.to_string(),
    }
}

/// A hosted zone id: upper-case letters and digits, e.g. Z0123456789ABCDEFGHIJ (a
/// `/hostedzone/` prefix is dropped).
pub fn parse_zone(s: &str) -> Result<String, String> {
    let z = s.trim().trim_start_matches("/hostedzone/");
    let ok =
        !z.is_empty() && z.len() <= 32 && z.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
    if !ok {
        return Err(format!(
            "{s:?} is not a hosted zone id (upper-case letters and digits, e.g. Z0123456789ABC)"
        ));
    }
    Ok(z.to_string())
}

/// A DNS name, lower-cased, with the trailing dot; labels of 1-63 letters, digits, `-`, `_`.
pub fn parse_name(s: &str) -> Result<String, String> {
    let n = s.trim().trim_end_matches('.').to_ascii_lowercase();
    let bad = |why: &str| Err(format!("{s:?} is not a DNS name: {why}"));
    if n.is_empty() {
        return bad("empty");
    }
    if n.len() > 253 {
        return bad("longer than 253 characters");
    }
    for label in n.split('.') {
        if label.is_empty() || label.len() > 63 {
            return bad("each label has 1 to 63 characters");
        }
        if !label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            return bad("only letters, digits, '-' and '_' in a label");
        }
    }
    Ok(format!("{n}."))
}

pub fn parse_type(s: &str) -> Result<DnsType, String> {
    match s.trim().to_ascii_uppercase().as_str() {
        "A" => Ok(DnsType::A),
        "AAAA" => Ok(DnsType::Aaaa),
        _ => Err(format!("{s:?} is not a record type this scenario moves (A or AAAA)")),
    }
}

pub fn parse_value(s: &str, kind: DnsType) -> Result<DnsValue, String> {
    match (s.trim(), kind) {
        ("local", _) => Ok(DnsValue::Local),
        ("public", DnsType::A) => Ok(DnsValue::Public),
        ("public", DnsType::Aaaa) => {
            Err("public is the ENI's public IPv4 address: an AAAA record needs local or an IPv6 address"
                .into())
        }
        (v, _) => match (v.parse::<IpAddr>(), kind) {
            (Ok(ip @ IpAddr::V4(_)), DnsType::A) | (Ok(ip @ IpAddr::V6(_)), DnsType::Aaaa) => {
                Ok(DnsValue::Address(ip))
            }
            (Ok(_), DnsType::A) => Err(format!("{v:?} is not an IPv4 address, which an A record needs")),
            (Ok(_), DnsType::Aaaa) => {
                Err(format!("{v:?} is not an IPv6 address, which an AAAA record needs"))
            }
            (Err(_), _) => Err(format!("{v:?} is neither local, public nor an IP address")),
        },
    }
}

/// Seconds, 0 to 2147483647 (Route 53's range).
pub fn parse_ttl(s: &str) -> Result<u32, String> {
    match s.trim().parse::<u32>() {
        Ok(t) if t <= i32::MAX as u32 => Ok(t),
        _ => Err(format!("{s:?} is not a TTL in seconds (0 to 2147483647)")),
    }
}

/// `--dns-record ZONE,NAME,TYPE[,VALUE[,TTL]]` (commas: an IPv6 value has colons).
pub fn parse_dns_spec(s: &str) -> Result<DnsRecord, String> {
    let parts: Vec<&str> = s.split(',').collect();
    if !(3..=5).contains(&parts.len()) {
        return Err(format!("{s:?} is not ZONE,NAME,TYPE[,VALUE[,TTL]]"));
    }
    let kind = parse_type(parts[2])?;
    Ok(DnsRecord {
        zone: parse_zone(parts[0])?,
        name: parse_name(parts[1])?,
        kind,
        value: parse_value(parts.get(3).copied().unwrap_or("local"), kind)?,
        ttl: parts.get(4).map_or(Ok(DEFAULT_TTL), |t| parse_ttl(t))?,
        role_arn: None,
        external_id: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_normalized_and_values_checked_against_the_type() {
        assert_eq!(parse_name("DB.Internal.Example").unwrap(), "db.internal.example.");
        assert_eq!(parse_name("db.internal.example.").unwrap(), "db.internal.example.");
        assert!(parse_name("a..b").is_err() && parse_name("").is_err() && parse_name("a b.c").is_err());
        assert_eq!(parse_zone("/hostedzone/Z123ABC").unwrap(), "Z123ABC");
        assert!(parse_zone("hz-1").is_err() && parse_zone("z123").is_err() && parse_zone("").is_err());
        assert!(parse_value("public", DnsType::Aaaa).unwrap_err().contains("AAAA"));
        assert!(parse_value("10.0.0.1", DnsType::Aaaa).unwrap_err().contains("IPv6"));
        assert!(parse_value("2600::1", DnsType::A).unwrap_err().contains("IPv4"));
        assert_eq!(
            parse_value("2600::1", DnsType::Aaaa).unwrap(),
            DnsValue::Address("2600::1".parse().unwrap())
        );
        assert!(parse_ttl("-1").is_err() && parse_ttl("2147483648").is_err());
    }

    #[test]
    fn the_cli_spec_has_three_to_five_fields() {
        let r = parse_dns_spec("Z1,db.example,AAAA,2600:1f18::5,10").unwrap();
        assert_eq!((r.name.as_str(), r.kind, r.ttl), ("db.example.", DnsType::Aaaa, 10));
        let r = parse_dns_spec("Z1,db.example,a").unwrap();
        assert_eq!((r.value, r.ttl), (DnsValue::Local, DEFAULT_TTL));
        assert!(parse_dns_spec("Z1,db.example").is_err());
        assert!(parse_dns_spec("Z1,db.example,CNAME").is_err());
    }
}
