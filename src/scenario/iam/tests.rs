use super::*;
use crate::config::Config;
use crate::scenario::Scenario;

fn scope(region: &str) -> Scope {
    Scope { region: region.into(), account: "111111111111".into(), vpc: Some("vpc-1".into()) }
}

fn perms_in(toml: &str, scope: &Scope) -> Vec<Permission> {
    let c = Config::parse("t.toml", toml).unwrap();
    let res = c.instances.values().next().unwrap();
    merge(Scenario::for_resources(res).iter().flat_map(|s| s.permissions(scope)))
}

fn perms(toml: &str) -> Vec<Permission> {
    perms_in(toml, &Scope::anywhere())
}

fn actions(p: &[Permission]) -> Vec<&str> {
    p.iter().map(|p| p.action).collect()
}

fn find<'a>(p: &'a [Permission], action: &str) -> Vec<&'a Permission> {
    p.iter().filter(|p| p.action == action).collect()
}

#[test]
fn each_scenario_asks_for_what_it_calls() {
    let p = perms("[instance.A]\nroutes = [\"10.1.0.10/32\"]\nelastic_ips = [\"eipalloc-1\"]\n");
    assert_eq!(
        actions(&p),
        [
            "ec2:AssociateAddress",
            "ec2:AssociateAddress",
            "ec2:DescribeAddresses",
            "ec2:DescribeRouteTables",
            "ec2:ReplaceRoute"
        ]
    );
    assert_eq!(p[0].resources, ["arn:aws:ec2:*:*:elastic-ip/eipalloc-1"]);
    assert_eq!(p[1].resources, ["arn:aws:ec2:*:*:network-interface/*"]);
    let p = perms("[instance.A]\nroutes = [\"10.1.0.10/32\"]\nroute_tables = [\"rtb-1\", \"rtb-2\"]\n");
    assert_eq!(actions(&p), ["ec2:CreateRoute", "ec2:DescribeRouteTables", "ec2:ReplaceRoute"]);
    assert_eq!(p[2].resources, ["arn:aws:ec2:*:*:route-table/rtb-1", "arn:aws:ec2:*:*:route-table/rtb-2"]);
    assert!(p[2].conditions.is_empty());
    let p = perms("[instance.A]\nprivate_ips = [\"10.0.2.100\"]\nrelease = true\n");
    assert_eq!(
        actions(&p),
        ["ec2:AssignPrivateIpAddresses", "ec2:DescribeNetworkInterfaces", "ec2:UnassignPrivateIpAddresses"]
    );
}

#[test]
fn discovered_tables_and_moved_addresses_stay_in_the_nodes_vpc() {
    let p = perms_in(
        "[instance.A]\nroutes = [\"10.1.0.10/32\"]\nipv6_addresses = [\"2600:1f18::100\"]\n",
        &scope("eu-west-1"),
    );
    let vpc = Condition {
        op: "ArnEquals",
        key: "ec2:Vpc".into(),
        values: vec!["arn:aws:ec2:eu-west-1:111111111111:vpc/vpc-1".into()],
    };
    for action in ["ec2:ReplaceRoute", "ec2:AssignIpv6Addresses", "ec2:UnassignIpv6Addresses"] {
        let [one] = find(&p, action)[..] else { panic!("{action}: {p:?}") };
        assert_eq!(one.conditions, std::slice::from_ref(&vpc), "{action}");
    }
    // With region or account unknown the VPC ARN has a wildcard: ArnLike.
    let p = perms("[instance.A]\nroutes = [\"10.1.0.10/32\"]\n");
    assert_eq!(find(&p, "ec2:ReplaceRoute")[0].conditions[0].op, "ArnLike");
}

#[test]
fn tag_selected_tables_are_written_only_where_every_tag_matches() {
    let p = perms("[instance.A]\nroutes = [\"10.1.0.10/32\"]\nroute_table_tags = { Name = \"private-*\", Env = \"prod\" }\n");
    for action in ["ec2:ReplaceRoute", "ec2:CreateRoute"] {
        let [one] = find(&p, action)[..] else { panic!("{action}: {p:?}") };
        let keys: Vec<(&str, &str, &str)> =
            one.conditions.iter().map(|c| (c.op, c.key.as_str(), c.values[0].as_str())).collect();
        assert_eq!(
            keys,
            [
                ("StringLike", "ec2:ResourceTag/Env", "prod"),
                ("StringLike", "ec2:ResourceTag/Name", "private-*")
            ]
        );
    }
}

#[test]
fn an_elastic_ip_named_by_address_is_matched_by_that_address() {
    let p = perms("[instance.A]\nelastic_ips = [\"198.51.100.1\"]\nrelease = true\n");
    let eip = find(&p, "ec2:DisassociateAddress")
        .into_iter()
        .find(|p| p.resources[0].contains("elastic-ip"))
        .unwrap();
    assert_eq!(eip.resources, ["arn:aws:ec2:*:*:elastic-ip/*"]);
    assert_eq!(eip.conditions[0].key, "ec2:PublicIpAddress");
    assert_eq!(eip.conditions[0].values, ["198.51.100.1"]);
}

#[test]
fn every_arn_is_in_the_regions_partition() {
    for (region, partition) in [
        ("us-gov-west-1", "aws-us-gov"),
        ("cn-north-1", "aws-cn"),
        ("us-iso-east-1", "aws-iso"),
        ("us-isob-east-1", "aws-iso-b"),
        ("eu-west-1", "aws"),
    ] {
        assert_eq!(super::partition(region), partition);
        let p = perms_in(
            "[instance.A]\nroutes = [\"10.1.0.10/32\"]\nelastic_ips = [\"eipalloc-1\"]\nprivate_ips = [\"10.0.2.100\"]\n",
            &scope(region),
        );
        let arns =
            p.iter().flat_map(|p| p.resources.iter().chain(p.conditions.iter().flat_map(|c| &c.values)));
        for arn in arns.filter(|a| a.starts_with("arn:")) {
            assert!(arn.starts_with(&format!("arn:{partition}:ec2:{region}:")), "{region}: {arn}");
        }
    }
}

#[test]
fn no_write_on_any_resource() {
    let p = perms(
        "[instance.A]\nroutes = [\"10.1.0.10/32\"]\nelastic_ips = [\"198.51.100.1\"]\nrelease = true\n\
         private_ips = [\"10.0.2.100\"]\nipv6_addresses = [\"2600:1f18::100\"]\n",
    );
    for p in p.iter().filter(|p| !p.action.starts_with("ec2:Describe")) {
        assert!(p.resources != ["*"], "{p:?}");
        // A wildcard ARN is always narrowed by a condition.
        assert!(p.resources.iter().all(|r| !r.ends_with("/*")) || !p.conditions.is_empty(), "{p:?}");
    }
}

#[test]
fn transit_gateway_sites_name_their_region_account_tables_and_roles() {
    let p = perms(
        "[instance.A]\nroutes = [\"10.1.0.10/32\"]\n\
         [[instance.A.sites]]\nregion = \"eu-west-1\"\nvpc_id = \"vpc-1\"\n\
         [[instance.A.sites]]\nregion = \"cn-north-1\"\nvpc_id = \"vpc-2\"\ntgw_route_tables = [\"tgw-rtb-1\"]\n\
         role_arn = \"arn:aws-cn:iam::222222222222:role/r\"\n",
    );
    let names = actions(&p);
    assert!(
        names.contains(&"ec2:CreateTransitGatewayRoute") && names.contains(&"sts:AssumeRole"),
        "{names:?}"
    );
    assert!(!names.contains(&"ec2:CreateRoute"), "{names:?}");
    // The node's own site: its credentials, its VPC.
    let own = find(&p, "ec2:ReplaceRoute").into_iter().find(|p| p.via.is_none()).unwrap();
    assert_eq!(own.conditions[0].values, ["arn:aws:ec2:eu-west-1:*:vpc/vpc-1"]);
    // The China site: written with the role's credentials, in aws-cn and the role's account.
    let role = Some("arn:aws-cn:iam::222222222222:role/r".to_string());
    let tgw = find(&p, "ec2:CreateTransitGatewayRoute")[0];
    assert_eq!(tgw.via, role);
    assert_eq!(
        tgw.resources,
        [
            "arn:aws-cn:ec2:cn-north-1:222222222222:transit-gateway-attachment/*",
            "arn:aws-cn:ec2:cn-north-1:222222222222:transit-gateway-route-table/tgw-rtb-1"
        ]
    );
    let assume = find(&p, "sts:AssumeRole")[0];
    assert_eq!((assume.via.as_ref(), &assume.resources), (None, &vec![role.clone().unwrap()]));
}

#[test]
fn a_section_role_makes_its_calls_in_its_region_and_account() {
    let text = "[instance.A]\nroutes = [\"10.1.0.10/32\"]\nregion = \"cn-north-1\"\n\
                role_arn = \"arn:aws-cn:iam::222222222222:role/vip\"\n";
    let c = Config::parse("t.toml", text).unwrap();
    let res = c.instance("A").unwrap();
    let p = merge(for_vip(&Scenario::for_resources(res), &scope("us-east-1"), &res.access));
    let role = Some("arn:aws-cn:iam::222222222222:role/vip".to_string());
    let [assume] = find(&p, "sts:AssumeRole")[..] else { panic!("{p:#?}") };
    assert_eq!((assume.via.as_ref(), &assume.resources), (None, &vec![role.clone().unwrap()]), "the node's");
    let [write] = find(&p, "ec2:ReplaceRoute")[..] else { panic!("{p:#?}") };
    assert_eq!(write.via, role, "made as the role");
    assert_eq!(write.resources, ["arn:aws-cn:ec2:cn-north-1:222222222222:route-table/*"]);
    assert!(p.iter().all(|p| p.action == "sts:AssumeRole" || p.via == role), "{p:#?}");
    // Without access: the node's own, in the scope's region and account.
    let plain = Config::parse("t.toml", "[instance.A]\nroutes = [\"10.1.0.10/32\"]\n").unwrap();
    let res = plain.instance("A").unwrap();
    let p = for_vip(&Scenario::for_resources(res), &scope("us-east-1"), &res.access);
    assert!(p.iter().all(|p| p.via.is_none()) && find(&p, "sts:AssumeRole").is_empty());
    assert_eq!(
        find(&p, "ec2:ReplaceRoute")[0].resources,
        ["arn:aws:ec2:us-east-1:111111111111:route-table/*"]
    );
}

#[test]
fn each_record_is_granted_to_the_role_it_is_reached_through() {
    // One zone, one record through a role and one as the node itself: both get their grant.
    let text = "[instance.A]\ndns_records = [\
                { zone = \"Z1\", name = \"a.example\", type = \"A\", role_arn = \"arn:aws:iam::222222222222:role/dns\" },\
                { zone = \"Z1\", name = \"b.example\", type = \"A\" }]\n";
    let p = perms(text);
    let role = Some("arn:aws:iam::222222222222:role/dns".to_string());
    let changes = find(&p, "route53:ChangeResourceRecordSets");
    let names = |via: &Option<String>| -> Vec<String> {
        let c = changes.iter().find(|c| &c.via == via).unwrap_or_else(|| panic!("{via:?}: {p:#?}"));
        c.conditions.iter().find(|k| k.key.ends_with("NormalizedRecordNames")).unwrap().values.clone()
    };
    assert_eq!(names(&role), ["a.example"], "the role's record only");
    assert_eq!(names(&None), ["b.example"], "the node's own grant for the record without role_arn");
    assert!(find(&p, "route53:ListResourceRecordSets").iter().any(|l| l.via.is_none()), "{p:#?}");
}
