//! The resource's parameters (`OCF_RESKEY_*`): ec2-vip's own names and the names of
//! ClusterLabs' `aws-vpc-move-ip`, `awseip`, `awsvip` and `aws-vpc-route53` ([`super::route53`]),
//! accepted as they are (mapped onto ec2-vip's resources, or ignored with a log line where
//! ec2-vip has no use for them).
//! Pure: the variables come in as a map, so every mapping is unit-tested.

use super::local::Local;
use super::route53::route53_record;
use crate::config::{
    eni_choice, first_duplicate, parse_ipv6_address, parse_private_ip, table_choice, Resources,
};
use crate::model::{parse_destination, Access, EipRef, TableChoice};
use ipnet::IpNet;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// What `monitor` answers when EC2 or IMDS cannot be asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unknown {
    /// The last recorded state: running if the last transition was a start.
    Last,
    /// OCF_ERR_GENERIC: the cluster recovers the resource.
    Failed,
    /// OCF_NOT_RUNNING.
    Stopped,
}

/// Where the resources come from.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// Parameters naming the resources.
    Params(Box<Resources>),
    /// A section of an ec2-vip config file (Transit Gateway sites and everything else).
    Section { config: PathBuf, instance: String },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Params {
    pub source: Source,
    /// The `release` parameter as given: it wins over a config section's `release`; unset,
    /// the section's (or, for parameters, the default in the resources) stands.
    pub release: Option<bool>,
    pub timeout: Option<f64>,
    pub state_dir: Option<PathBuf>,
    pub region: Option<String>,
    pub profile: Option<String>,
    pub unknown: Unknown,
    /// The VIP's address on a local interface (aws-vpc-move-ip's behaviour).
    pub local: Option<Local>,
    /// One line per ClusterLabs parameter ec2-vip accepts but does not use.
    pub ignored: Vec<String>,
}

/// ClusterLabs' parameters ec2-vip accepts and ignores, and why.
pub const IGNORED: &[(&str, &str)] = &[
    ("awscli", "ec2-vip calls the EC2 API itself, no aws CLI"),
    ("monapi", "the monitor always reads the routes and addresses from EC2"),
    ("lookup_type", "routes are matched by this node's ENI and instance id alike"),
    ("iflabel", "the local address gets no label"),
    ("api_delay", "every write is read back instead of waited for"),
    ("curl_retries", "IMDS calls are retried within the deadline"),
    ("curl_sleep", "IMDS calls are retried within the deadline"),
    ("awscli_timeout", "every call is bounded by the deadline (parameter timeout)"),
];

/// aws-vpc-move-ip adds `ip` to `interface` (default eth0): so does this agent when `ip` is
/// given, unless local_address=false; local_address=true with only `routes` carries their
/// host routes (/32, /128).
fn local(
    flag_v: Option<&String>,
    dev: Option<&String>,
    vips: &[IpNet],
    routes: &[IpNet],
) -> Result<Option<Local>, String> {
    let on = flag_v.map(|v| flag("local_address", v)).transpose()?.unwrap_or(!vips.is_empty());
    if !on {
        return Ok(None);
    }
    let addrs: Vec<IpNet> = if vips.is_empty() { routes.to_vec() } else { vips.to_vec() };
    let addrs: Vec<IpNet> = addrs.into_iter().filter(|a| a.prefix_len() == a.max_prefix_len()).collect();
    if addrs.is_empty() {
        return Err("local_address needs ip, or routes with a single address (/32 or /128)".into());
    }
    Ok(Some(Local { addrs, dev: dev.cloned().unwrap_or_else(|| "eth0".into()) }))
}

fn flag(name: &str, v: &str) -> Result<bool, String> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" | "y" => Ok(true),
        "0" | "false" | "no" | "off" | "n" => Ok(false),
        _ => Err(format!("{name}: {v:?} is not a boolean (true or false)")),
    }
}

/// Items of a list parameter: separated by commas and/or white space.
fn items(v: &str) -> impl Iterator<Item = &str> {
    v.split(|c: char| c == ',' || c.is_whitespace()).filter(|s| !s.is_empty())
}

fn each<T>(
    name: &str,
    v: Option<&String>,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<Vec<T>, String> {
    v.map(|v| items(v).map(|s| parse(s).map_err(|e| format!("{name}: {e}"))).collect())
        .unwrap_or_else(|| Ok(Vec::new()))
}

fn seconds(name: &str, v: &str, range: std::ops::RangeInclusive<f64>) -> Result<f64, String> {
    match v.trim().trim_end_matches('s').parse::<f64>() {
        Ok(s) if range.contains(&s) => Ok(s),
        _ => Err(format!(
            "{name}: {v:?} is not a number of seconds between {} and {}",
            range.start(),
            range.end()
        )),
    }
}

/// ClusterLabs' `auth_type`: `key` (the default) uses `profile`'s credentials, `role` the
/// default chain without a profile (the instance's role), as their `aws` calls do.
fn profile(auth: Option<&String>, profile: Option<&String>) -> Result<Option<String>, String> {
    match auth.map(|v| v.trim().to_ascii_lowercase()).as_deref() {
        None | Some("key") => Ok(profile.cloned()),
        Some("role") => Ok(None),
        Some(v) => Err(format!("auth_type: {v:?} is not key or role")),
    }
}

/// Every parameter name this agent knows (its meta-data lists the same).
pub const OWN: &[&str] = &[
    "routes",
    "elastic_ips",
    "private_ips",
    "ipv6_addresses",
    "route_tables",
    "interface",
    "eni",
    "config",
    "instance",
    "release",
    "timeout",
    "state_dir",
    "region",
    "profile",
    "unknown",
    "binary",
    "local_address",
    "auth_type",
];

/// ClusterLabs' names that ec2-vip maps onto its own.
pub const MAPPED: &[&str] = &[
    "ip",
    "address",
    "routing_table",
    "elastic_ip",
    "allocation_id",
    "private_ip_address",
    "secondary_private_ip",
    "routing_table_role",
    "hostedzoneid",
    "fullname",
    "ttl",
];

/// The `OCF_RESKEY_*` variables (without the prefix), minus Pacemaker's own.
pub fn from_env() -> BTreeMap<String, String> {
    std::env::vars()
        .filter_map(|(k, v)| k.strip_prefix("OCF_RESKEY_").map(|n| (n.to_string(), v)))
        .filter(|(n, _)| !n.starts_with("CRM_meta_") && n != "crm_feature_set")
        .collect()
}

pub fn parse(vars: &BTreeMap<String, String>) -> Result<Params, String> {
    let mut ignored = Vec::new();
    for name in vars.keys() {
        if let Some((_, why)) = IGNORED.iter().find(|(n, _)| n == name) {
            ignored.push(format!("parameter {name} ignored: {why}"));
        } else if !OWN.contains(&name.as_str()) && !MAPPED.contains(&name.as_str()) {
            return Err(format!("unknown parameter {name:?} (see `ec2-vip ocf meta-data`)"));
        }
    }
    let get = |n: &str| vars.get(n).filter(|v| !v.trim().is_empty());
    let record = route53_record(get)?;
    let mut routes = each("routes", get("routes"), parse_destination)?;
    let mut vips = Vec::new();
    // With hostedzoneid, `ip` is aws-vpc-route53's record value, not a VIP.
    for name in ["ip", "address"].into_iter().filter(|n| record.is_none() || *n != "ip") {
        vips.extend(each(name, get(name), parse_destination)?);
    }
    let local = local(get("local_address"), get("interface"), &vips, &routes)?;
    routes.extend(vips);
    let mut eips = each("elastic_ips", get("elastic_ips"), EipRef::parse)?;
    let allocation = each("allocation_id", get("allocation_id"), EipRef::parse)?;
    if allocation.iter().any(|e| !matches!(e, EipRef::AllocationId(_))) {
        return Err("allocation_id: give an allocation id (eipalloc-...)".into());
    }
    // awseip names one address twice (public IP and allocation id): the id wins.
    let named = if allocation.is_empty() {
        each("elastic_ip", get("elastic_ip"), EipRef::parse)?
    } else {
        allocation
    };
    let pin = get("private_ip_address")
        .map(|v| parse_private_ip(v))
        .transpose()
        .map_err(|e| format!("private_ip_address: {e}"))?;
    if pin.is_some() && named.is_empty() {
        return Err("private_ip_address needs elastic_ip or allocation_id".into());
    }
    let eip_pins = pin.map(|ip| named.iter().map(|e| (e.clone(), ip)).collect()).unwrap_or_default();
    eips.extend(named);
    let mut private_ips = each("private_ips", get("private_ips"), parse_private_ip)?;
    private_ips.extend(each("secondary_private_ip", get("secondary_private_ip"), parse_private_ip)?);
    let ipv6_addresses = each("ipv6_addresses", get("ipv6_addresses"), parse_ipv6_address)?;
    let mut tables: Vec<String> = Vec::new();
    for name in ["route_tables", "routing_table"] {
        tables.extend(items(get(name).map(String::as_str).unwrap_or("")).map(String::from));
    }
    let tables = table_choice((!tables.is_empty()).then_some(tables), None)?;
    if tables != TableChoice::Holding && routes.is_empty() {
        return Err("route_tables / routing_table need routes or ip".into());
    }
    let eni = eni_choice(get("interface").cloned(), get("eni").cloned())?;
    // aws-vpc-route53 leaves its record on stop (a deleted one is negatively cached by
    // resolvers): so does a resource with hostedzoneid, unless release is given.
    let explicit = get("release").map(|v| flag("release", v)).transpose()?;
    let release = explicit.unwrap_or(record.is_none());
    let sites = Vec::new();
    // aws-vpc-move-ip assumes it for its route-table calls; here every EC2 call of the
    // resource is made as that role (a config section's role_arn).
    let role_arn = get("routing_table_role").cloned();
    if let Some(arn) = role_arn.as_ref().filter(|a| !a.starts_with("arn:") || !a.contains(":role/")) {
        return Err(format!(
            "routing_table_role: {arn:?} is not a role ARN (arn:aws:iam::ACCOUNT:role/NAME)"
        ));
    }
    if role_arn.is_some() && get("config").is_some() {
        return Err("routing_table_role: with config + instance, give the section's role_arn instead".into());
    }
    let access = Access { role_arn, ..Access::default() };
    let resources = Resources {
        routes,
        eips,
        eip_pins,
        private_ips,
        ipv6_addresses,
        tables,
        eni,
        release,
        sites,
        dns_records: record.into_iter().collect(),
        access,
    };
    if let Some(dup) = first_duplicate(&resources) {
        return Err(format!("{dup} is named twice"));
    }
    let source =
        match (get("config"), get("instance")) {
            (Some(config), Some(instance))
                if resources.is_empty()
                    && resources.eni == crate::model::EniChoice::Primary
                    && resources.access.is_default() =>
            {
                Source::Section { config: PathBuf::from(config), instance: instance.clone() }
            }
            (Some(_), Some(_)) => {
                return Err(
                    "give either config + instance or the resources (routes, ip, elastic_ips, ...), not both"
                        .into(),
                )
            }
            (Some(_), None) | (None, Some(_)) => return Err("config and instance go together".into()),
            (None, None) if resources.is_empty() => return Err(
                "nothing to move: give routes / ip, elastic_ips / elastic_ip / allocation_id, private_ips / \
                        secondary_private_ip, ipv6_addresses, hostedzoneid + fullname, or config + instance"
                    .into(),
            ),
            (None, None) => Source::Params(Box::new(resources)),
        };
    let unknown = match get("unknown").map(|v| v.trim().to_ascii_lowercase()) {
        None => Unknown::Last,
        Some(v) if v == "last" => Unknown::Last,
        Some(v) if v == "failed" => Unknown::Failed,
        Some(v) if v == "stopped" => Unknown::Stopped,
        Some(v) => return Err(format!("unknown: {v:?} is not last, failed or stopped")),
    };
    Ok(Params {
        source,
        local,
        release: explicit,
        timeout: get("timeout").map(|v| seconds("timeout", v, 0.1..=3600.0)).transpose()?,
        state_dir: get("state_dir").map(PathBuf::from),
        region: get("region").cloned(),
        profile: profile(get("auth_type"), get("profile"))?,
        unknown,
        ignored,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn resources(p: &Params) -> &Resources {
        match &p.source {
            Source::Params(r) => r,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn aws_vpc_move_ip_parameters_map_onto_routes() {
        let p = parse(&vars(&[
            ("ip", "10.1.0.10"),
            ("routing_table", "rtb-0a,rtb-0b"),
            ("interface", "eth0"),
            ("region", "us-east-1"),
            ("profile", "cluster"),
            ("awscli", "/usr/bin/aws"),
            ("monapi", "true"),
            ("lookup_type", "NetworkInterfaceId"),
        ]))
        .unwrap();
        let r = resources(&p);
        assert_eq!(r.routes, vec!["10.1.0.10/32".parse().unwrap()]);
        assert_eq!(r.tables, TableChoice::Ids(vec!["rtb-0a".into(), "rtb-0b".into()]));
        assert_eq!(r.eni, crate::model::EniChoice::Interface("eth0".into()));
        assert_eq!((p.region.as_deref(), p.profile.as_deref()), (Some("us-east-1"), Some("cluster")));
        assert_eq!(p.ignored.len(), 3, "{:?}", p.ignored);
        assert!(p.ignored.iter().any(|l| l.contains("monapi")));
        let local = p.local.expect("ip is added to the interface, as aws-vpc-move-ip does");
        assert_eq!((local.addrs, local.dev.as_str()), (vec!["10.1.0.10/32".parse().unwrap()], "eth0"));
        let p = parse(&vars(&[("ip", "10.1.0.10"), ("local_address", "false")])).unwrap();
        assert_eq!(p.local, None);
        assert!(resources(&p).access.is_default());
    }

    #[test]
    fn current_clusterlabs_parameters_are_accepted() {
        let base = [("ip", "10.1.0.10"), ("profile", "cluster"), ("awscli_timeout", "10")];
        let with = |auth: &str| {
            let mut v = vars(&base);
            v.insert("auth_type".into(), auth.into());
            parse(&v)
        };
        let key = with("key").unwrap();
        assert_eq!(key.profile.as_deref(), Some("cluster"));
        assert!(key.ignored.iter().any(|l| l.contains("awscli_timeout")), "{:?}", key.ignored);
        assert_eq!(with("role").unwrap().profile, None, "role: the instance's credentials, no profile");
        assert!(with("password").unwrap_err().contains("auth_type"));
    }

    #[test]
    fn routing_table_role_is_the_resources_role() {
        let role = "arn:aws:iam::222222222222:role/vip";
        let p = parse(&vars(&[("ip", "10.1.0.10"), ("routing_table_role", role)])).unwrap();
        assert_eq!(resources(&p).access.role_arn.as_deref(), Some(role));
        assert!(p.ignored.is_empty(), "{:?}", p.ignored);
    }

    #[test]
    fn awseip_and_awsvip_parameters_map_onto_addresses() {
        let p = parse(&vars(&[
            ("elastic_ip", "198.51.100.7"),
            ("allocation_id", "eipalloc-0abc"),
            ("private_ip_address", "10.0.2.100"),
            ("secondary_private_ip", "10.0.2.100"),
            ("api_delay", "3"),
        ]))
        .unwrap();
        let r = resources(&p);
        let id = EipRef::AllocationId("eipalloc-0abc".into());
        assert_eq!(r.eips, vec![id.clone()]);
        assert_eq!(r.eip_pins, vec![(id, "10.0.2.100".parse().unwrap())]);
        assert_eq!(r.private_ips, vec!["10.0.2.100".parse::<std::net::Ipv4Addr>().unwrap()]);
        assert!(r.release, "stop releases by default, as awseip and awsvip do");
    }

    #[test]
    fn own_parameters_and_a_config_section() {
        let p = parse(&vars(&[
            ("routes", "10.1.0.10/32 fd00:ec2::10"),
            ("release", "false"),
            ("unknown", "failed"),
        ]))
        .unwrap();
        assert_eq!(resources(&p).routes.len(), 2);
        assert_eq!(p.local, None, "own parameters add no local address unless asked");
        assert_eq!(p.release, Some(false));
        assert_eq!(p.unknown, Unknown::Failed);
        let p = parse(&vars(&[("config", "/etc/ec2-vip.toml"), ("instance", "VI_1"), ("timeout", "10")]))
            .unwrap();
        assert_eq!(p.source, Source::Section { config: "/etc/ec2-vip.toml".into(), instance: "VI_1".into() });
        assert_eq!(p.timeout, Some(10.0));
    }

    #[test]
    fn bad_parameters_are_one_line_errors() {
        for (pairs, says) in [
            (vec![], "nothing to move"),
            (vec![("ip", "10.1.0.10/24")], "ip:"),
            (vec![("route", "10.1.0.10")], "unknown parameter \"route\""),
            (vec![("ip", "10.1.0.10"), ("routes", "10.1.0.10/32")], "named twice"),
            (vec![("routing_table", "rtb-0a")], "need routes"),
            (vec![("routing_table", "tbl"), ("ip", "10.1.0.10")], "not a route table id"),
            (vec![("ip", "10.1.0.10"), ("release", "maybe")], "not a boolean"),
            (vec![("ip", "10.1.0.10"), ("unknown", "ok")], "not last, failed or stopped"),
            (vec![("ip", "10.1.0.10"), ("timeout", "0")], "timeout"),
            (vec![("config", "/etc/ec2-vip.toml")], "go together"),
            (vec![("config", "/c"), ("instance", "VI_1"), ("ip", "10.1.0.10")], "not both"),
            (vec![("private_ip_address", "10.0.2.100")], "needs elastic_ip"),
            (vec![("allocation_id", "203.0.113.1")], "allocation id"),
            (vec![("routes", "10.1.0.0/28"), ("local_address", "true")], "local_address needs"),
            (vec![("ip", "10.1.0.10"), ("interface", "eth0"), ("eni", "eni-1")], "mutually exclusive"),
            (vec![("ip", "10.1.0.10"), ("routing_table_role", "vip")], "not a role ARN"),
            (
                vec![("config", "/c"), ("instance", "VI_1"), ("routing_table_role", "arn:aws:iam::2:role/v")],
                "give the section's role_arn",
            ),
        ] {
            let err = parse(&vars(&pairs)).unwrap_err();
            assert!(err.contains(says) && !err.contains('\n'), "{pairs:?}: {err}");
        }
    }
}
