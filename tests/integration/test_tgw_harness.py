"""Tests of the Transit Gateway harness: moto_ext (moto plus the TGW calls it lacks) and
the two-region seed, same-account and cross-account."""

import boto3
import pytest
from botocore.exceptions import ClientError

from harness.tgw_scenario import (
    BLACKHOLE, CIDRS, EAST, MAIN_ACCOUNT, OTHER_ACCOUNT, WEST, changes, node_json,
    seed_two_regions, set_active, tgw_snapshot, vip_changes, vip_targets,
)


@pytest.fixture
def clients(tgw_clients):  # conftest: a fresh Clients on the extended moto, state wiped
    return tgw_clients


@pytest.fixture
def seed(clients):
    return seed_two_regions(clients)


@pytest.fixture
def xseed(clients):
    return seed_two_regions(clients, cross_account=True)


def _code(excinfo):
    return excinfo.value.response["Error"]["Code"]


def _search(ec2, rtb_id, **filters):
    flt = [{"Name": k.replace("_", "-"), "Values": v} for k, v in filters.items()]
    return ec2.search_transit_gateway_routes(TransitGatewayRouteTableId=rtb_id,
                                             Filters=flt)["Routes"]


def _exact(ec2, rtb_id, dest):
    routes = ec2.search_transit_gateway_routes(
        TransitGatewayRouteTableId=rtb_id,
        Filters=[{"Name": "route-search.exact-match", "Values": [dest]}])["Routes"]
    assert len(routes) == 1, routes
    return routes[0]


def test_plain_moto_lacks_replace_tgw_route(moto):
    """The gap moto_ext fills (if moto ever implements it, revisit moto_ext)."""
    ec2 = boto3.client("ec2", region_name=EAST, endpoint_url=moto.url,
                       aws_access_key_id="x", aws_secret_access_key="x")
    tgw = ec2.create_transit_gateway()["TransitGateway"]
    rtb = tgw["Options"]["AssociationDefaultRouteTableId"]
    ec2.create_transit_gateway_route(TransitGatewayRouteTableId=rtb,
                                     DestinationCidrBlock="10.1.0.10/32", Blackhole=True)
    with pytest.raises(Exception):
        ec2.replace_transit_gateway_route(TransitGatewayRouteTableId=rtb,
                                          DestinationCidrBlock="10.1.0.10/32", Blackhole=True)


def test_launcher_is_moto_ext(moto_ext_session):
    assert moto_ext_session.proc.args[1:3] == ["-m", "harness.moto_ext"]
    assert moto_ext_session.port > 0 and moto_ext_session.alive()


def test_replace_tgw_route_is_visible_in_search(seed, clients):
    east, west = clients.ec2(EAST), clients.ec2(WEST)
    tgw_a, tgw_b = seed["tgws"]["a"], seed["tgws"]["b"]
    peering, vip = seed["peering_attachment_id"], seed["vip"]

    resp = east.replace_transit_gateway_route(
        TransitGatewayRouteTableId=tgw_a["rtb_id"], DestinationCidrBlock=vip,
        TransitGatewayAttachmentId=peering)["Route"]
    expected_a = [{"TransitGatewayAttachmentId": peering, "ResourceId": tgw_b["tgw_id"],
                   "ResourceType": "peering"}]
    assert resp["TransitGatewayAttachments"] == expected_a
    route = _exact(east, tgw_a["rtb_id"], vip)
    assert (route["TransitGatewayAttachments"], route["State"], route["Type"]) == (
        expected_a, "active", "static")

    att_b = seed["vpcs"]["b"]["attachment_id"]
    west.replace_transit_gateway_route(TransitGatewayRouteTableId=tgw_b["rtb_id"],
                                       DestinationCidrBlock=vip,
                                       TransitGatewayAttachmentId=att_b)
    assert _exact(west, tgw_b["rtb_id"], vip)["TransitGatewayAttachments"] == [{
        "TransitGatewayAttachmentId": att_b, "ResourceId": seed["vpcs"]["b"]["vpc_id"],
        "ResourceType": "vpc"}]

    # To blackhole and back; other destinations untouched.
    east.replace_transit_gateway_route(TransitGatewayRouteTableId=tgw_a["rtb_id"],
                                       DestinationCidrBlock=vip, Blackhole=True)
    hole = _exact(east, tgw_a["rtb_id"], vip)
    assert (hole["State"], hole["TransitGatewayAttachments"]) == ("blackhole", [])
    assert _exact(east, tgw_a["rtb_id"], seed["other_cluster_vip"])[
        "TransitGatewayAttachments"][0]["TransitGatewayAttachmentId"] == \
        seed["vpcs"]["a"]["attachment_id"]


def test_tgw_route_errors_are_ec2_errors(seed, clients):
    east, west = clients.ec2(EAST), clients.ec2(WEST)
    rtb_a, rtb_b = seed["tgws"]["a"]["rtb_id"], seed["tgws"]["b"]["rtb_id"]
    att_a, vip = seed["vpcs"]["a"]["attachment_id"], seed["vip"]
    before = tgw_snapshot(clients, seed)

    cases = [
        ("RouteAlreadyExists", east.create_transit_gateway_route,
         dict(TransitGatewayRouteTableId=rtb_a, DestinationCidrBlock=vip,
              TransitGatewayAttachmentId=att_a)),
        ("InvalidRoute.NotFound", east.replace_transit_gateway_route,
         dict(TransitGatewayRouteTableId=rtb_a, DestinationCidrBlock="10.1.0.99/32",
              TransitGatewayAttachmentId=att_a)),
        # TGW A's attachment is not an attachment of TGW B.
        ("InvalidTransitGatewayAttachmentID.NotFound", west.replace_transit_gateway_route,
         dict(TransitGatewayRouteTableId=rtb_b, DestinationCidrBlock=vip,
              TransitGatewayAttachmentId=att_a)),
        ("InvalidRouteTableID.NotFound", east.replace_transit_gateway_route,
         dict(TransitGatewayRouteTableId="tgw-rtb-00000000000000000",
              DestinationCidrBlock=vip, Blackhole=True)),
        ("DryRunOperation", east.replace_transit_gateway_route,
         dict(TransitGatewayRouteTableId=rtb_a, DestinationCidrBlock=vip, Blackhole=True,
              DryRun=True)),
        ("InvalidParameterValue", east.search_transit_gateway_routes,
         dict(TransitGatewayRouteTableId=rtb_a,
              Filters=[{"Name": "route.bogus", "Values": ["x"]}])),
        ("InvalidParameterValue", east.describe_transit_gateway_attachments,
         dict(Filters=[{"Name": "vpc-id", "Values": ["x"]}])),
        # VPC routes: a TGW of another region, an unknown TGW.
        ("InvalidTransitGatewayID.NotFound", west.replace_route,
         dict(RouteTableId=seed["vpcs"]["b"]["rtbs"][0], DestinationCidrBlock=vip,
              TransitGatewayId=seed["tgws"]["a"]["tgw_id"])),
        ("InvalidTransitGatewayID.NotFound", east.create_route,
         dict(RouteTableId=seed["vpcs"]["a"]["rtbs"][0], DestinationCidrBlock="10.8.0.0/16",
              TransitGatewayId="tgw-00000000000000000")),
    ]
    for code, call, kwargs in cases:
        with pytest.raises(ClientError) as excinfo:
            call(**kwargs)
        assert _code(excinfo) == code, (call, kwargs)
    assert changes(before, tgw_snapshot(clients, seed)) == {}


def test_search_filters_and_max_results(seed, clients):
    east = clients.ec2(EAST)
    rtb = seed["tgws"]["a"]["rtb_id"]
    dests = lambda routes: sorted(r["DestinationCidrBlock"] for r in routes)  # noqa: E731

    assert len(_search(east, rtb, type=["static"])) == 6
    assert dests(_search(east, rtb, state=["blackhole"])) == ["10.9.0.0/16"]
    assert dests(_search(east, rtb, **{"route-search.longest-prefix-match": ["10.2.7.7"]})) \
        == ["10.2.0.0/16"]
    assert dests(_search(east, rtb, **{"route-search.supernet-of-match": ["10.0.1.10/32"]})) \
        == ["10.0.0.0/16"]
    assert dests(_search(east, rtb, **{"route-search.subnet-of-match": ["10.1.0.0/16"]})) \
        == ["10.1.0.10/32", "10.1.0.20/32"]
    assert dests(_search(east, rtb, **{"attachment.resource-type": ["peering"]})) \
        == [CIDRS["b"], CIDRS["c"]]
    assert dests(_search(east, rtb, **{
        "attachment.transit-gateway-attachment-id": [seed["vpcs"]["a"]["attachment_id"]],
        "route-search.exact-match": [seed["vip"]]})) == [seed["vip"]]

    page = east.search_transit_gateway_routes(
        TransitGatewayRouteTableId=rtb, MaxResults=5,
        Filters=[{"Name": "type", "Values": ["static"]}])
    assert (len(page["Routes"]), page["AdditionalRoutesAvailable"]) == (5, True)


def test_attachments_discovered_from_each_side(seed, clients):
    east, west = clients.ec2(EAST), clients.ec2(WEST)
    tgw_a, tgw_b = seed["tgws"]["a"]["tgw_id"], seed["tgws"]["b"]["tgw_id"]

    def attachments(ec2, **filters):
        flt = [{"Name": k, "Values": [v]} for k, v in filters.items()]
        return ec2.describe_transit_gateway_attachments(
            Filters=flt)["TransitGatewayAttachments"]

    (vpc_a,) = attachments(east, **{"resource-id": seed["vpcs"]["a"]["vpc_id"],
                                    "resource-type": "vpc"})
    assert (vpc_a["TransitGatewayId"], vpc_a["TransitGatewayAttachmentId"]) == (
        tgw_a, seed["vpcs"]["a"]["attachment_id"])
    (from_a,) = attachments(east, **{"transit-gateway-id": tgw_a, "resource-type": "peering"})
    (from_b,) = attachments(west, **{"transit-gateway-id": tgw_b, "resource-type": "peering",
                                     "resource-id": tgw_a})
    assert from_a["TransitGatewayAttachmentId"] == from_b["TransitGatewayAttachmentId"] == \
        seed["peering_attachment_id"]
    assert (from_a["ResourceId"], from_b["ResourceId"]) == (tgw_b, tgw_a)
    assert from_a["State"] == from_b["State"] == "available"
    assert {a["ResourceId"] for a in attachments(west, **{"transit-gateway-id": tgw_b})} == {
        seed["vpcs"]["b"]["vpc_id"], seed["vpcs"]["c"]["vpc_id"], tgw_a}
    peerings = west.describe_transit_gateway_peering_attachments()[
        "TransitGatewayPeeringAttachments"]
    assert [p["TransitGatewayAttachmentId"] for p in peerings] == [seed["peering_attachment_id"]]
    tables = west.describe_transit_gateway_route_tables(
        Filters=[{"Name": "transit-gateway-id", "Values": [tgw_b]}])["TransitGatewayRouteTables"]
    assert [t["TransitGatewayRouteTableId"] for t in tables] == [seed["tgws"]["b"]["rtb_id"]]


def test_seed_routes_as_described(seed, clients):
    snap = tgw_snapshot(clients, seed)
    vpcs, tgws, vip = seed["vpcs"], seed["tgws"], seed["vip"]
    for (kind, table, dest), target in vip_targets(seed, "node1").items():
        assert snap["routes" if kind == "route" else "tgw_routes"][table][dest] == target
    assert len(vpcs["a"]["rtbs"]) == 2
    rtb_a1 = snap["routes"][vpcs["a"]["rtbs"][0]]
    assert rtb_a1[vip] == rtb_a1[seed["other_cluster_vip"]] == seed["node1"]["eni_id"]
    assert rtb_a1[CIDRS["b"]] == tgws["a"]["tgw_id"]
    assert snap["routes"][vpcs["c"]["rtbs"][0]][vip] == tgws["b"]["tgw_id"]
    assert vip not in snap["routes"][vpcs["a"]["main_rtb"]]
    table_a = snap["tgw_routes"][tgws["a"]["rtb_id"]]
    table_b = snap["tgw_routes"][tgws["b"]["rtb_id"]]
    assert table_a[vip] == vpcs["a"]["attachment_id"]
    assert table_b[vip] == seed["peering_attachment_id"]
    assert table_a["10.9.0.0/16"] == table_b["10.9.0.0/16"] == BLACKHOLE
    assert table_b[CIDRS["c"]] == vpcs["c"]["attachment_id"]
    assert set(snap["tgw_routes"]) == {tgws["a"]["rtb_id"], tgws["b"]["rtb_id"]}
    assert (seed["cross_account"], seed["role_arns"]) == (False, {})
    assert all("role_arn" not in site for site in seed["sites"])


@pytest.mark.parametrize("cross_account,other_vpcs", [
    (False, ("c",)), (True, ("c",)), (True, ("b", "c"))])
def test_failover_through_the_api_changes_only_vip_routes(clients, cross_account, other_vpcs):
    seed = seed_two_regions(clients, cross_account=cross_account, other_account_vpcs=other_vpcs)
    start = tgw_snapshot(clients, seed)
    set_active(clients, seed, "node2")
    assert changes(start, tgw_snapshot(clients, seed)) == vip_changes(seed, "node1", "node2")
    expected = {("route", seed["vpcs"]["b"]["rtbs"][0], seed["vip"]):
                (seed["tgws"]["b"]["tgw_id"], seed["node2"]["eni_id"])}
    assert expected.items() <= vip_changes(seed, "node1", "node2").items()
    # a1, a2, b, TGW A, TGW B (VPC C keeps pointing at TGW B)
    assert len(vip_changes(seed, "node1", "node2")) == 5
    set_active(clients, seed, "node1")
    assert changes(start, tgw_snapshot(clients, seed)) == {}


def test_cross_account_state_is_separate(xseed, clients):
    assert clients.account_of(OTHER_ACCOUNT) == OTHER_ACCOUNT
    assert clients.account_of(MAIN_ACCOUNT) == MAIN_ACCOUNT
    main_w, other_w = clients.ec2(WEST), clients.ec2(WEST, OTHER_ACCOUNT)
    vpcs, tgw_b = xseed["vpcs"], xseed["tgws"]["b"]
    role = f"arn:aws:iam::{OTHER_ACCOUNT}:role/ec2-vip-cross-account"
    assert xseed["role_arns"] == {OTHER_ACCOUNT: role}
    assert (vpcs["c"]["account"], vpcs["c"]["role_arn"], tgw_b["account"]) == (
        OTHER_ACCOUNT, role, OTHER_ACCOUNT)
    assert [s.get("role_arn") for s in xseed["sites"]] == [None, None, role]

    def vpc_ids(ec2):
        return {v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"]}

    assert vpcs["b"]["vpc_id"] in vpc_ids(main_w) and vpcs["c"]["vpc_id"] not in vpc_ids(main_w)
    assert vpcs["c"]["vpc_id"] in vpc_ids(other_w) and vpcs["b"]["vpc_id"] not in vpc_ids(other_w)
    assert vpc_ids(clients.ec2(EAST, OTHER_ACCOUNT)).isdisjoint(vpc_ids(clients.ec2(EAST)))
    assert main_w.describe_transit_gateways()["TransitGateways"] == []
    assert [t["OwnerId"] for t in other_w.describe_transit_gateways()["TransitGateways"]] == [
        OTHER_ACCOUNT]
    assert main_w.describe_transit_gateway_route_tables()["TransitGatewayRouteTables"] == []

    # VPC B's attachment to the shared TGW B: visible to both accounts.
    for ec2 in (main_w, other_w):
        (att,) = ec2.describe_transit_gateway_attachments(Filters=[
            {"Name": "resource-id", "Values": [vpcs["b"]["vpc_id"]]}])["TransitGatewayAttachments"]
        assert (att["TransitGatewayId"], att["TransitGatewayOwnerId"], att["ResourceOwnerId"]) == (
            tgw_b["tgw_id"], OTHER_ACCOUNT, MAIN_ACCOUNT)
    (peer,) = other_w.describe_transit_gateway_attachments(Filters=[
        {"Name": "resource-type", "Values": ["peering"]}])["TransitGatewayAttachments"]
    assert (peer["TransitGatewayId"], peer["ResourceId"], peer["TransitGatewayOwnerId"],
            peer["ResourceOwnerId"]) == (tgw_b["tgw_id"], xseed["tgws"]["a"]["tgw_id"],
                                         OTHER_ACCOUNT, MAIN_ACCOUNT)
    assert _exact(other_w, tgw_b["rtb_id"], xseed["vip"])["TransitGatewayAttachments"][0][
        "ResourceId"] == xseed["tgws"]["a"]["tgw_id"]
    snap = tgw_snapshot(clients, xseed)
    assert snap["where"][tgw_b["rtb_id"]] == (OTHER_ACCOUNT, WEST)
    assert snap["where"][vpcs["b"]["rtbs"][0]] == (MAIN_ACCOUNT, WEST)


def test_reset_forgets_assumed_role_keys(moto_ext_session, clients):
    creds = clients.credentials(OTHER_ACCOUNT)
    moto_ext_session.reset()
    sts = boto3.client("sts", region_name=EAST, endpoint_url=moto_ext_session.url,
                       aws_access_key_id=creds["AccessKeyId"],
                       aws_secret_access_key=creds["SecretAccessKey"],
                       aws_session_token=creds["SessionToken"])
    assert sts.get_caller_identity()["Account"] == MAIN_ACCOUNT


def test_node_json(seed):
    node = node_json(seed, "node2")
    (iface,) = node["interfaces"]
    assert (node["region"], node["availability_zone"], node["instance_id"]) == (
        WEST, "us-west-2a", seed["node2"]["instance_id"])
    assert (iface["vpc_id"], iface["vpc_ipv4_cidr_blocks"], iface["interface_id"],
            iface["local_ipv4s"]) == (seed["vpcs"]["b"]["vpc_id"], [CIDRS["b"]],
                                      seed["node2"]["eni_id"], ["10.2.1.10"])
    assert node_json(seed, "node1")["interfaces"][0]["vpc_id"] == seed["vpcs"]["a"]["vpc_id"]
