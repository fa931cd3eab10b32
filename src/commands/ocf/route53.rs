//! aws-vpc-route53's parameters (`hostedzoneid`, `fullname`, `ip`, `ttl`) as one DNS record
//! of the Route 53 scenario: with `hostedzoneid`, `ip` is the record's value (aws-vpc-route53's
//! meaning), not aws-vpc-move-ip's VIP. Its `profile` is ec2-vip's own; `awscli` is ignored.

use crate::config::dns::{self, DnsRecord, DnsType};

/// aws-vpc-route53's TTL default (seconds).
pub const ROUTE53_TTL: &str = "10";

/// aws-vpc-route53's record: `hostedzoneid` + `fullname`, with `ip` its value (`local`, the
/// default, `public` or an address: A, or AAAA for an IPv6 address) and `ttl` (default 10).
/// None when neither name is given (then `ip` is aws-vpc-move-ip's VIP).
pub(super) fn route53_record<'a>(
    get: impl Fn(&str) -> Option<&'a String>,
) -> Result<Option<DnsRecord>, String> {
    let (zone, name) = match (get("hostedzoneid"), get("fullname")) {
        (None, None) if get("ttl").is_some() => return Err("ttl needs hostedzoneid and fullname".into()),
        (None, None) => return Ok(None),
        (Some(z), Some(n)) => (z, n),
        _ => return Err("hostedzoneid and fullname go together (aws-vpc-route53)".into()),
    };
    let value = get("ip").map_or("local", |v| v.trim());
    let kind = if value.parse::<std::net::Ipv6Addr>().is_ok() { DnsType::Aaaa } else { DnsType::A };
    Ok(Some(DnsRecord {
        zone: dns::parse_zone(zone).map_err(|e| format!("hostedzoneid: {e}"))?,
        name: dns::parse_name(name).map_err(|e| format!("fullname: {e}"))?,
        kind,
        value: dns::parse_value(value, kind).map_err(|e| format!("ip: {e}"))?,
        ttl: dns::parse_ttl(get("ttl").map_or(ROUTE53_TTL, |t| t.as_str()))
            .map_err(|e| format!("ttl: {e}"))?,
        role_arn: None,
        external_id: None,
    }))
}

#[cfg(test)]
mod tests {
    use super::super::params::{parse, Source};
    use super::*;
    use crate::config::Resources;
    use std::collections::BTreeMap;

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn resources(p: &super::super::params::Params) -> &Resources {
        match &p.source {
            Source::Params(r) => r,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn aws_vpc_route53_parameters_map_onto_a_dns_record() {
        use crate::config::dns::DnsValue;
        let p = parse(&vars(&[
            ("hostedzoneid", "Z0123456789ABC"),
            ("fullname", "DB.internal.example"),
            ("profile", "cluster"),
            ("awscli", "/usr/bin/aws"),
        ]))
        .unwrap();
        let r = resources(&p);
        let [rec] = r.dns_records.as_slice() else { panic!("{r:?}") };
        assert_eq!((rec.zone.as_str(), rec.name.as_str()), ("Z0123456789ABC", "db.internal.example."));
        assert_eq!((rec.kind, &rec.value, rec.ttl), (DnsType::A, &DnsValue::Local, 10), "its defaults");
        assert!(r.routes.is_empty() && p.local.is_none(), "ip is the record's value, not a VIP");
        assert!(!r.release && p.release.is_none(), "aws-vpc-route53 leaves the record on stop");
        assert_eq!(p.ignored.len(), 1, "{:?}", p.ignored);
        let p = parse(&vars(&[
            ("hostedzoneid", "/hostedzone/Z1"),
            ("fullname", "db.example."),
            ("ip", "2600:1f18::5"),
            ("ttl", "30"),
            ("release", "true"),
        ]))
        .unwrap();
        let rec = &resources(&p).dns_records[0];
        assert_eq!((rec.zone.as_str(), rec.kind, rec.ttl), ("Z1", DnsType::Aaaa, 30));
        assert_eq!(rec.value, DnsValue::Address("2600:1f18::5".parse().unwrap()));
        assert_eq!((resources(&p).release, p.release), (true, Some(true)));
        let p =
            parse(&vars(&[("hostedzoneid", "Z1"), ("fullname", "db.example"), ("ip", "public")])).unwrap();
        assert_eq!(resources(&p).dns_records[0].value, DnsValue::Public);
        let p = parse(&vars(&[("ip", "10.1.0.10")])).unwrap();
        assert!(
            resources(&p).dns_records.is_empty() && resources(&p).release,
            "without hostedzoneid: aws-vpc-move-ip"
        );
    }

    #[test]
    fn bad_route53_parameters_are_one_line_errors() {
        for (pairs, says) in [
            (vec![("hostedzoneid", "Z1")], "go together"),
            (vec![("fullname", "db.example")], "go together"),
            (vec![("ttl", "10"), ("ip", "10.1.0.10")], "ttl needs hostedzoneid"),
            (vec![("hostedzoneid", "z-1"), ("fullname", "db.example")], "hostedzoneid:"),
            (vec![("hostedzoneid", "Z1"), ("fullname", "a..b")], "fullname:"),
            (vec![("hostedzoneid", "Z1"), ("fullname", "db.example"), ("ip", "db")], "ip:"),
            (vec![("hostedzoneid", "Z1"), ("fullname", "db.example"), ("ttl", "-1")], "ttl:"),
        ] {
            let err = parse(&vars(&pairs)).unwrap_err();
            assert!(err.contains(says) && !err.contains('\n'), "{pairs:?}: {err}");
        }
    }
}
