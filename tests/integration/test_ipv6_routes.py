"""IPv6 VIP routes (/128) through the route-table scenario: figure 1 with an IPv6 CIDR on the
VPC and the VIP fd00:ec2::10/128 in both private tables, against extended moto (the IPv6
route filter, harness/moto_ext_ipv6.py)."""

import ipaddress

import pytest

from harness.imds_fake import start_imds
from harness.moto import ec2_client
from harness.runner import run_vip
from harness.scenario import node_json, seed_figure1

REGION = "us-east-1"
VIP6 = "fd00:ec2::10/128"


@pytest.fixture
def v6(moto_ext_session):
    moto_ext_session.reset(seed=1)
    ec2 = ec2_client(moto_ext_session.url, REGION)
    seed = seed_figure1(ec2)
    assoc = ec2.associate_vpc_cidr_block(VpcId=seed["vpc_id"], AmazonProvidedIpv6CidrBlock=True)
    seed["vpc_ipv6_cidr"] = assoc["Ipv6CidrBlockAssociation"]["Ipv6CidrBlock"]
    for rtb in (seed["rtb_a"], seed["rtb_b"]):
        ec2.create_route(RouteTableId=rtb, DestinationIpv6CidrBlock=VIP6,
                         NetworkInterfaceId=seed["node1"]["eni_id"])
    imds = {n: start_imds(node_json(seed, n, REGION), log_requests=False) for n in ("node1", "node2")}
    yield ec2, seed, imds, moto_ext_session
    for s in imds.values():
        s.stop()


def targets(ec2, seed, dest=VIP6):
    tables = {t["RouteTableId"]: t for t in ec2.describe_route_tables()["RouteTables"]}
    return [next((r.get("NetworkInterfaceId") for r in tables[t]["Routes"]
                  if r.get("DestinationIpv6CidrBlock") == dest), None) for t in (seed["rtb_a"], seed["rtb_b"])]


def test_ipv6_vip_route_moves_over_and_back(binary, v6, tmp_path):
    ec2, seed, imds, moto = v6
    n1, n2 = seed["node1"]["eni_id"], seed["node2"]["eni_id"]
    before = ec2.describe_route_tables()["RouteTables"]
    r = run_vip(binary, ["master", "--route", VIP6], imds["node2"], moto)
    assert r.returncode == 0 and "2 changed" in r.stderr, r
    assert targets(ec2, seed) == [n2, n2]
    ipv4 = {t["RouteTableId"]: [x for x in t["Routes"] if "DestinationIpv6CidrBlock" not in x] for t in before}
    after = {t["RouteTableId"]: [x for x in t["Routes"] if "DestinationIpv6CidrBlock" not in x]
             for t in ec2.describe_route_tables()["RouteTables"]}
    assert ipv4 == after, "no IPv4 route changed"
    back = run_vip(binary, ["master", "--route", "fd00:ec2::10"], imds["node1"], moto)
    assert back.returncode == 0 and targets(ec2, seed) == [n1, n1], back


def test_ipv6_vip_inside_the_vpc_ipv6_cidr_is_bad_input(binary, v6):
    ec2, seed, imds, moto = v6
    inside = ipaddress.ip_network(seed["vpc_ipv6_cidr"])[0x10]
    r = run_vip(binary, ["master", "--route", f"{inside}/128"], imds["node2"], moto)
    assert r.returncode == 2 and "overlaps" in r.stderr and seed["vpc_ipv6_cidr"].split("/")[0][:6] in r.stderr, r
    assert targets(ec2, seed) == [seed["node1"]["eni_id"]] * 2
