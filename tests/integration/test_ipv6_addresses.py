"""IPv6 address scenario: figure 1's node1 and a peer in its subnet (node3) move an IPv6
address between their ENIs. EC2 has no reassignment for IPv6 (moto extended to refuse an
address in use, harness/moto_ext_eni.py), so ec2-vip unassigns it there and assigns it here;
it must never end on both."""

import json

from harness.runner import run_vip

REGION = "us-east-1"


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
