"""Secondary private IP scenario: a pair in one subnet (figure 1's node1 and a peer, node3,
in node1's subnet) moves 10.0.2.100 between their ENIs, against moto extended with EC2's
AssignPrivateIpAddresses semantics (harness/moto_ext_eni.py)."""

import json

import pytest

from harness.runner import run_vip

REGION = "us-east-1"
VIP = "10.0.2.100"


def holders(ec2, seed, ip=VIP):
    enis = ec2.describe_network_interfaces(
        Filters=[{"Name": "subnet-id", "Values": [seed["node1"]["subnet_id"]]}])["NetworkInterfaces"]
    return sorted(e["NetworkInterfaceId"] for e in enis
                  if any(p["PrivateIpAddress"] == ip for p in e["PrivateIpAddresses"]))


def test_secondary_ip_follows_master_over_and_back(binary, pair, tmp_path):
    ec2, seed, imds, moto = pair
    n1, n3 = seed["node1"]["eni_id"], seed["node3"]["eni_id"]
    state = {"EC2_VIP_STATE_DIR": tmp_path / "n3"}
    dry = run_vip(binary, ["--dry-run", "master", "--private-ip", VIP], imds["node3"], moto, state)
    assert dry.returncode == 0 and "AssignPrivateIpAddresses" in dry.stdout and n1 in dry.stdout, dry
    assert holders(ec2, seed) == [n1], "dry run changes nothing"
    r = run_vip(binary, ["master", "--private-ip", VIP], imds["node3"], moto, state)
    assert r.returncode == 0 and "1 changed" in r.stderr, r
    assert holders(ec2, seed) == [n3], "on the new master only"
    st = json.loads(run_vip(binary, ["status", "--private-ip", VIP, "--json"], imds["node3"], moto).stdout)
    assert st[0]["private_ips"] == [{"address": VIP, "network_interface_id": n3, "this_node": True}], st
    again = run_vip(binary, ["master", "--private-ip", VIP], imds["node3"], moto, state)
    assert again.returncode == 0 and "0 changed, 1 already right" in again.stderr, again
    back = run_vip(binary, ["master", "--private-ip", VIP], imds["node1"], moto,
                   {"EC2_VIP_STATE_DIR": tmp_path / "n1"})
    assert back.returncode == 0 and holders(ec2, seed) == [n1], back


def test_release_only_while_still_ours_and_repair(binary, pair, tmp_path):
    ec2, seed, imds, moto = pair
    n1, n3 = seed["node1"]["eni_id"], seed["node3"]["eni_id"]
    s1, s3 = {"EC2_VIP_STATE_DIR": tmp_path / "n1"}, {"EC2_VIP_STATE_DIR": tmp_path / "n3"}
    assert run_vip(binary, ["master", "--private-ip", VIP], imds["node3"], moto, s3).returncode == 0
    late = run_vip(binary, ["backup", "--private-ip", VIP, "--release"], imds["node1"], moto, s1)
    assert late.returncode == 0 and "not this node" in late.stderr, late
    assert holders(ec2, seed) == [n3], "a late BACKUP never takes it from the new master"
    # Someone moves it back to node1: check sees it, --repair puts it back.
    ec2.assign_private_ip_addresses(NetworkInterfaceId=n1, PrivateIpAddresses=[VIP], AllowReassignment=True)
    drift = run_vip(binary, ["check", "--private-ip", VIP], imds["node3"], moto, s3)
    assert drift.returncode == 1 and n1 in drift.stdout, drift
    fixed = run_vip(binary, ["check", "--private-ip", VIP, "--repair"], imds["node3"], moto, s3)
    assert fixed.returncode == 0 and holders(ec2, seed) == [n3], fixed
    rel = run_vip(binary, ["backup", "--private-ip", VIP, "--release"], imds["node3"], moto, s3)
    assert rel.returncode == 0 and holders(ec2, seed) == [], rel


def test_address_outside_the_subnet_is_bad_input(binary, pair, tmp_path):
    ec2, seed, imds, moto = pair
    r = run_vip(binary, ["master", "--private-ip", "10.0.4.100"], imds["node3"], moto)
    assert r.returncode == 2 and "outside subnet" in r.stderr and "route-table scenario" in r.stderr, r
    assert holders(ec2, seed, "10.0.4.100") == [] and holders(ec2, seed) == [seed["node1"]["eni_id"]]
    bad = run_vip(binary, ["master", "--private-ip", "10.0.2.300"], imds["node3"], moto)
    assert bad.returncode == 2, bad


def test_moto_extension_moves_the_address_and_refuses_without_reassignment(pair):
    ec2, seed, _, _ = pair
    n1, n3 = seed["node1"]["eni_id"], seed["node3"]["eni_id"]
    with pytest.raises(Exception, match="PrivateIpAddressInUse"):
        ec2.assign_private_ip_addresses(NetworkInterfaceId=n3, PrivateIpAddresses=[VIP])
    ec2.assign_private_ip_addresses(NetworkInterfaceId=n3, PrivateIpAddresses=[VIP], AllowReassignment=True)
    assert holders(ec2, seed) == [n3]


def test_elastic_ip_bound_to_the_secondary_ip_moves_with_it(binary, pair, tmp_path):
    """The frontend pattern: EIP -> 10.0.2.100 -> the MASTER's ENI. The address moves first,
    then the Elastic IP onto it (moto refuses an association with an address not on the ENI)."""
    ec2, seed, imds, moto = pair
    n1, n3 = seed["node1"]["eni_id"], seed["node3"]["eni_id"]
    alloc = seed["eip"]["allocation_id"]
    ec2.associate_address(AllocationId=alloc, NetworkInterfaceId=n1, PrivateIpAddress=VIP, AllowReassociation=True)
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[instance.VI_3]\nprivate_ips = ["{VIP}"]\n'
                   f'elastic_ips = [{{ id = "{alloc}", private_ip = "{VIP}" }}]\n')

    def eip():
        [a] = ec2.describe_addresses(AllocationIds=[alloc])["Addresses"]
        return a.get("NetworkInterfaceId"), a.get("PrivateIpAddress")

    for node, eni in (("node3", n3), ("node1", n1)):
        env = {"EC2_VIP_STATE_DIR": tmp_path / node}
        r = run_vip(binary, ["--config", cfg, "notify", "INSTANCE", "VI_3", "MASTER"], imds[node], moto, env)
        assert r.returncode == 0 and "2 changed" in r.stderr, r
        assert holders(ec2, seed) == [eni] and eip() == (eni, VIP), (node, eip())
        again = run_vip(binary, ["--config", cfg, "notify", "INSTANCE", "VI_3", "MASTER"], imds[node], moto, env)
        assert again.returncode == 0 and "0 changed, 2 already right" in again.stderr, again
    bad = tmp_path / "bad.toml"
    bad.write_text(f'[instance.VI_3]\nelastic_ips = [{{ id = "{alloc}", private_ip = "10.0.2.99" }}]\n')
    r = run_vip(binary, ["--config", bad, "notify", "INSTANCE", "VI_3", "MASTER"], imds["node3"], moto)
    assert r.returncode == 2 and "10.0.2.99" in r.stderr, r
