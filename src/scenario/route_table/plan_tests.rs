use super::*;
use crate::model::Route;

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

fn eni(id: &str) -> RouteTarget {
    RouteTarget::NetworkInterface(id.into())
}

fn table(id: &str, routes: &[(&str, RouteTarget)]) -> RouteTable {
    RouteTable {
        id: id.into(),
        vpc_id: "vpc-1".into(),
        routes: routes.iter().map(|(d, t)| Route { destination: net(d), target: t.clone() }).collect(),
    }
}

fn writes(steps: &[Step]) -> Vec<(&str, IpNet)> {
    steps
        .iter()
        .filter_map(|s| match &s.write {
            Some(crate::scenario::Write::RouteTable(w)) => Some((w.table_id.as_str(), w.destination)),
            _ => None,
        })
        .collect()
}

/// The guide's local-recovery example: table A and B hold 10.1.0.10/32 on the old ENI,
/// B also holds 10.1.0.20/32 of another cluster, which must not be touched.
#[test]
fn guide_example_replaces_only_the_vip_routes() {
    let tables = [
        table("rtb-a", &[("10.1.0.10/32", eni("eni-89abcdef"))]),
        table("rtb-b", &[("10.1.0.10/32", eni("eni-89abcdef")), ("10.1.0.20/32", eni("eni-89abcdef"))]),
    ];
    let steps = plan_routes(&tables, &[net("10.1.0.10/32")], "vpc-1", "eni-01234567", false);
    assert_eq!(writes(&steps), vec![("rtb-a", net("10.1.0.10/32")), ("rtb-b", net("10.1.0.10/32"))]);
    assert_eq!(steps.len(), 2, "10.1.0.20/32 is never part of the plan");
    assert_eq!(
        steps[0].plan_line(),
        "route 10.1.0.10/32 in rtb-a: eni-89abcdef -> eni-01234567 (replace) via ReplaceRoute"
    );
}

#[test]
fn routes_already_on_our_eni_are_kept_others_replaced_unknown_left_alone() {
    let tables = [
        table("rtb-a", &[("10.1.0.10/32", eni("eni-me"))]),
        table("rtb-b", &[("10.1.0.10/32", RouteTarget::Instance("i-old".into()))]),
        table("rtb-c", &[("10.1.0.10/32", RouteTarget::Unknown)]),
    ];
    let steps = plan_routes(&tables, &[net("10.1.0.10/32")], "vpc-1", "eni-me", false);
    assert!(steps[0].is_keep() && steps[0].drift_line().is_none());
    assert_eq!(steps[1].action, Action::Write { verb: "replace", call: "ReplaceRoute" });
    assert!(matches!(steps[2].action, Action::NotOwned(_)), "fail closed: {:?}", steps[2]);
    assert_eq!(writes(&steps), vec![("rtb-b", net("10.1.0.10/32"))]);
}

#[test]
fn gateway_routes_are_not_owned() {
    let igw = RouteTarget::Other { kind: "gateway", id: "igw-1".into() };
    let tables = [table("rtb-a", &[("10.1.0.10/32", igw)])];
    let steps = plan_routes(&tables, &[net("10.1.0.10/32")], "vpc-1", "eni-me", false);
    assert!(matches!(steps[0].action, Action::NotOwned(_)));
    assert_eq!(steps[0].current.as_deref(), Some("igw-1"));
    assert!(writes(&steps).is_empty());
    assert!(steps[0].drift_line().unwrap().contains("igw-1"));
}

#[test]
fn missing_destinations_are_reported() {
    let tables = [table("rtb-a", &[("10.1.0.10/32", eni("eni-old"))])];
    let steps = plan_routes(&tables, &[net("10.1.0.10/32"), net("10.9.9.9/32")], "vpc-1", "eni-me", false);
    assert_eq!(steps.len(), 2);
    assert_eq!(
        steps[1].action,
        Action::Missing("no route table in vpc-1 holds a route for 10.9.9.9/32".into())
    );
    assert_eq!(writes(&steps).len(), 1);
}

#[test]
fn vip_inside_vpc_is_detected() {
    let vpc = [net("10.0.0.0/16"), net("100.64.0.0/16")];
    assert!(inside_vpc(&[net("10.1.0.10/32")], &vpc).is_none());
    assert_eq!(inside_vpc(&[net("10.0.2.9/32")], &vpc).unwrap().1, net("10.0.0.0/16"));
    assert_eq!(inside_vpc(&[net("100.0.0.0/8")], &vpc).unwrap().1, net("100.64.0.0/16"));
    assert!(inside_vpc(&[net("fd00::1/128")], &vpc).is_none());
}

#[test]
fn chosen_tables_get_a_missing_vip_route_created() {
    let tables = [
        table("rtb-a", &[("10.1.0.10/32", eni("eni-old"))]),
        table("rtb-c", &[("0.0.0.0/0", eni("eni-nat"))]),
    ];
    let steps = plan_routes(&tables, &[net("10.1.0.10/32")], "vpc-1", "eni-me", true);
    assert_eq!(steps.len(), 2, "{steps:?}");
    assert_eq!(steps[1].action, Action::Write { verb: "create", call: "CreateRoute" });
    assert_eq!(steps[1].plan_line(), "route 10.1.0.10/32 in rtb-c: none -> eni-me (create) via CreateRoute");
    assert!(plan_routes(&[], &[net("10.1.0.10/32")], "vpc-1", "eni-me", true)[0]
        .drift_line()
        .unwrap()
        .contains("no route table"));
}
