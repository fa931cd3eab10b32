"""IPv6 address scenario: figure 1's node1 and a peer in its subnet (node3) move an IPv6
address between their ENIs. EC2 has no reassignment for IPv6 (moto extended to refuse an
address in use, harness/moto_ext_eni.py), so ec2-vip unassigns it there and assigns it here;
it must never end on both."""

import ipaddress
import json

import pytest

from harness.imds_fake import start_imds
from harness.moto import ec2_client
from harness.runner import run_vip
from harness.scenario import _instance, node_json, seed_figure1

REGION = "us-east-1"


@pytest.fixture
def v6pair(moto_ext_session):
    moto_ext_session.reset(seed=1)
    ec2 = ec2_client(moto_ext_session.url, REGION)
    seed = seed_figure1(ec2)
    node1 = seed["node1"]
    vpc6 = ec2.associate_vpc_cidr_block(VpcId=seed["vpc_id"], AmazonProvidedIpv6CidrBlock=True)
    vpc6 = ipaddress.ip_network(vpc6["Ipv6CidrBlockAssociation"]["Ipv6CidrBlock"])
    sub6 = str(next(vpc6.subnets(new_prefix=64)))
    ec2.associate_subnet_cidr_block(SubnetId=node1["subnet_id"], Ipv6CidrBlock=sub6)
    seed["node3"] = _instance(ec2, node1["subnet_id"], node1["az"], "10.0.2.30", "node3")
    for n in ("node1", "node3"):
        seed[n]["subnet_ipv6_cidr"] = sub6
    vip = str(ipaddress.ip_network(sub6)[0x100])
    ec2.assign_ipv6_addresses(NetworkInterfaceId=node1["eni_id"], Ipv6Addresses=[vip])
    imds = {n: start_imds(node_json(seed, n, REGION), log_requests=False) for n in ("node1", "node3")}
    yield ec2, seed, imds, moto_ext_session, vip, sub6
    for s in imds.values():
        s.stop()


def holders(ec2, seed, ip):
    enis = ec2.describe_network_interfaces(
        Filters=[{"Name": "subnet-id", "Values": [seed["node1"]["subnet_id"]]}])["NetworkInterfaces"]
    return sorted(e["NetworkInterfaceId"] for e in enis
                  if any(a["Ipv6Address"] == ip for a in e.get("Ipv6Addresses", [])))


def test_ipv6_address_moves_over_and_back_never_on_both(binary, v6pair, tmp_path):
    ec2, seed, imds, moto, vip, _ = v6pair
    n1, n3 = seed["node1"]["eni_id"], seed["node3"]["eni_id"]
    s3 = {"EC2_VIP_STATE_DIR": tmp_path / "n3"}
    r = run_vip(binary, ["master", "--ipv6-address", vip], imds["node3"], moto, s3)
    assert r.returncode == 0 and "1 changed" in r.stderr, r
    assert holders(ec2, seed, vip) == [n3]
    st = json.loads(run_vip(binary, ["status", "--ipv6-address", vip, "--json"], imds["node3"], moto).stdout)
    assert st[0]["ipv6_addresses"] == [{"address": vip, "network_interface_id": n3, "this_node": True}], st
    late = run_vip(binary, ["backup", "--ipv6-address", vip, "--release"], imds["node1"], moto,
                   {"EC2_VIP_STATE_DIR": tmp_path / "n1"})
    assert late.returncode == 0 and holders(ec2, seed, vip) == [n3], "a late BACKUP takes nothing"
    back = run_vip(binary, ["master", "--ipv6-address", vip], imds["node1"], moto,
                   {"EC2_VIP_STATE_DIR": tmp_path / "n1"})
    assert back.returncode == 0 and holders(ec2, seed, vip) == [n1], back


def test_failed_assign_after_unassign_is_reported_precisely(binary, v6pair, tmp_path):
    """The address is unassigned from node1 but the assign here is refused: the run says the
    address is on no ENI now (exit 1)."""
    from harness.fault_proxy import start_proxy
    ec2, seed, imds, moto, vip, _ = v6pair
    proxy = start_proxy(moto.url, throttle=False)
    try:
        proxy.configure(error_rate=1.0, error_status=500, fault_actions=["AssignIpv6Addresses"])
        r = run_vip(binary, ["--max-attempts", "1", "master", "--ipv6-address", vip], imds["node3"], proxy)
    finally:
        proxy.stop()
    assert r.returncode == 1 and "on no ENI now" in r.stderr and seed["node1"]["eni_id"] in r.stderr, r
    assert holders(ec2, seed, vip) == []


def test_ipv6_address_outside_the_subnet_is_bad_input(binary, v6pair):
    ec2, seed, imds, moto, vip, sub6 = v6pair
    outside = "2001:db8::100"
    r = run_vip(binary, ["master", "--ipv6-address", outside], imds["node3"], moto)
    assert r.returncode == 2 and "outside the IPv6 CIDR blocks" in r.stderr and sub6 in r.stderr, r
    assert holders(ec2, seed, vip) == [seed["node1"]["eni_id"]]
