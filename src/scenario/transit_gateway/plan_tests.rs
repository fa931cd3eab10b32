use super::*;

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

fn tgw(id: &str) -> RouteTarget {
    RouteTarget::Other { kind: "transit-gateway", id: id.into() }
}

fn table(id: &str, target: Option<RouteTarget>, listed: bool) -> SiteTable {
    SiteTable {
        id: id.into(),
        routes: target.map(|t| (net("10.1.0.10/32"), t)).into_iter().collect(),
        listed,
    }
}

fn tgw_table(id: &str, att: Option<&str>) -> TgwRouteTable {
    let mut routes = vec![TgwRoute {
        destination: net("10.9.0.0/16"),
        attachment_id: Some("att-x".into()),
        is_static: true,
    }];
    if let Some(a) = att {
        routes.push(TgwRoute {
            destination: net("10.1.0.10/32"),
            attachment_id: Some(a.into()),
            is_static: true,
        });
    }
    TgwRouteTable { id: id.into(), routes, listed: false }
}

/// Node B (VPC B, us-west-2) was active; node A (VPC A, us-east-1) takes over.
fn world() -> (Vec<SiteView>, Vec<TgwView>) {
    let sites = vec![
        SiteView {
            site: 0,
            region: "us-east-1".into(),
            vpc_id: "vpc-a".into(),
            tgw_id: "tgw-a".into(),
            vpc_attachment_id: "att-vpc-a".into(),
            tables: vec![table("rtb-a1", Some(tgw("tgw-a")), false), table("rtb-a2", None, false)],
        },
        SiteView {
            site: 1,
            region: "us-west-2".into(),
            vpc_id: "vpc-b".into(),
            tgw_id: "tgw-b".into(),
            vpc_attachment_id: "att-vpc-b".into(),
            tables: vec![table("rtb-b1", Some(RouteTarget::NetworkInterface("eni-b".into())), false)],
        },
        SiteView {
            site: 2,
            region: "us-west-2".into(),
            vpc_id: "vpc-c".into(),
            tgw_id: "tgw-b".into(),
            vpc_attachment_id: "att-vpc-c".into(),
            tables: vec![table("rtb-c1", Some(tgw("tgw-b")), false)],
        },
    ];
    let tgws = vec![
        TgwView {
            site: 0,
            region: "us-east-1".into(),
            tgw_id: "tgw-a".into(),
            tables: vec![tgw_table("tgw-rtb-a", Some("att-peer-a"))],
            peerings: vec![("att-peer-a".into(), "tgw-b".into())],
        },
        TgwView {
            site: 1,
            region: "us-west-2".into(),
            tgw_id: "tgw-b".into(),
            tables: vec![tgw_table("tgw-rtb-b", Some("att-vpc-b"))],
            peerings: vec![("att-peer-b".into(), "tgw-a".into())],
        },
        // Site C shares TGW B: it must be planned once.
        TgwView {
            site: 2,
            region: "us-west-2".into(),
            tgw_id: "tgw-b".into(),
            tables: vec![tgw_table("tgw-rtb-b", Some("att-vpc-b"))],
            peerings: vec![("att-peer-b".into(), "tgw-a".into())],
        },
    ];
    (sites, tgws)
}

#[test]
fn failover_to_a_routes_every_vpc_and_tgw_toward_a() {
    let (sites, tgws) = world();
    let plan = plan_tgw(&sites, &tgws, &[net("10.1.0.10/32")], "vpc-a", "eni-a").unwrap();
    let vpc: Vec<_> = plan.vpc.iter().map(|s| (s.table_id.as_str(), s.desired.id(), s.op)).collect();
    assert_eq!(
        vpc,
        vec![
            ("rtb-a1", "eni-a", Op::Replace),
            ("rtb-b1", "tgw-b", Op::Replace),
            ("rtb-c1", "tgw-b", Op::Keep)
        ]
    );
    let tg: Vec<_> = plan.tgw.iter().map(|s| (s.table_id.as_str(), s.attachment_id.as_str(), s.op)).collect();
    assert_eq!(tg, vec![("tgw-rtb-a", "att-vpc-a", Op::Replace), ("tgw-rtb-b", "att-peer-b", Op::Replace)]);
    assert!(plan.problems.is_empty(), "{:?}", plan.problems);
    assert_eq!(plan.changes(), 4);
}

#[test]
fn a_shared_tgw_is_planned_through_the_site_that_can_see_it() {
    let (sites, mut tgws) = world();
    // Site B's account sees TGW B (owned by site C's account) but none of its tables.
    tgws[1].tables.clear();
    tgws[1].peerings.clear();
    let plan = plan_tgw(&sites, &tgws, &[net("10.1.0.10/32")], "vpc-a", "eni-a").unwrap();
    let b: Vec<_> = plan.tgw.iter().filter(|s| s.tgw_id == "tgw-b").collect();
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].site, 2, "written with the client of the site that sees the table");
    assert!(plan.problems.is_empty(), "{:?}", plan.problems);
}

#[test]
fn second_run_changes_nothing() {
    let (mut sites, mut tgws) = world();
    sites[0].tables[0] = table("rtb-a1", Some(RouteTarget::NetworkInterface("eni-a".into())), false);
    sites[1].tables[0] = table("rtb-b1", Some(tgw("tgw-b")), false);
    tgws[0].tables = vec![tgw_table("tgw-rtb-a", Some("att-vpc-a"))];
    tgws[1].tables = vec![tgw_table("tgw-rtb-b", Some("att-peer-b"))];
    let plan = plan_tgw(&sites, &tgws, &[net("10.1.0.10/32")], "vpc-a", "eni-a").unwrap();
    assert_eq!(plan.changes(), 0);
}

#[test]
fn listed_tables_get_missing_routes_created_others_are_left() {
    let (mut sites, mut tgws) = world();
    sites[0].tables[1].listed = true;
    tgws[0].tables.push(TgwRouteTable { id: "tgw-rtb-a2".into(), routes: vec![], listed: true });
    let plan = plan_tgw(&sites, &tgws, &[net("10.1.0.10/32")], "vpc-a", "eni-a").unwrap();
    assert!(plan.vpc.iter().any(|s| s.table_id == "rtb-a2" && s.op == Op::Create));
    assert!(plan
        .tgw
        .iter()
        .any(|s| s.table_id == "tgw-rtb-a2" && s.op == Op::Create && s.attachment_id == "att-vpc-a"));
    assert!(
        !plan.tgw.iter().any(|s| s.destination == net("10.9.0.0/16")),
        "other destinations never planned"
    );
}

#[test]
fn foreign_targets_missing_peering_and_unknown_vpc_are_reported() {
    let (mut sites, mut tgws) = world();
    sites[1].tables[0] =
        table("rtb-b1", Some(RouteTarget::Other { kind: "gateway", id: "igw-1".into() }), false);
    tgws[1].peerings.clear();
    tgws[2].peerings.clear();
    let plan = plan_tgw(&sites, &tgws, &[net("10.1.0.10/32")], "vpc-a", "eni-a").unwrap();
    assert!(plan.problems.iter().any(|p| p.plan_line().contains("igw-1")), "{:?}", plan.problems);
    assert!(
        plan.problems.iter().any(|p| p.plan_line().contains("no peering attachment")),
        "{:?}",
        plan.problems
    );
    assert!(!plan.vpc.iter().any(|s| s.table_id == "rtb-b1"));
    assert!(plan_tgw(&sites, &tgws, &[net("10.1.0.10/32")], "vpc-z", "eni-a").unwrap_err().contains("vpc-z"));
}
