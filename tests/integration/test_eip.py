"""Elastic IP scenario against moto (DescribeAddresses is the truth there)."""

import pytest

from harness.runner import run_vip
from harness.scenario import VIP, changes, snapshot

# Also run under an eventually consistent EC2 (stale reads for a while after each write).
pytestmark = pytest.mark.eventually_consistent


def association(ec2, allocation_id):
    [a] = ec2.describe_addresses(AllocationIds=[allocation_id])["Addresses"]
    return a.get("NetworkInterfaceId") or None, a.get("AssociationId") or None  # moto: "" when unassociated


def test_master_takes_the_eip_and_a_second_run_does_not_remap(binary, moto, ec2, figure1, imds_node2):
    eip = figure1["eip"]["allocation_id"]
    before = snapshot(ec2, figure1)
    r = run_vip(binary, ["master", "--eip", eip], imds_node2, moto)
    assert r.returncode == 0, r
    assert changes(before, snapshot(ec2, figure1)) == {
        ("address", eip): (figure1["node1"]["eni_id"], figure1["node2"]["eni_id"]),
    }
    eni, assoc = association(ec2, eip)
    again = run_vip(binary, ["master", "--eip", eip], imds_node2, moto)
    assert again.returncode == 0, again
    assert association(ec2, eip) == (eni, assoc), "an EIP already here is not re-associated (billed)"
    assert "already associated with this node" in again.stderr


def test_eip_by_public_ip_together_with_routes(binary, moto, ec2, figure1, imds_node2):
    before = snapshot(ec2, figure1)
    r = run_vip(binary, ["master", "--route", VIP, "--eip", figure1["eip"]["public_ip"]], imds_node2, moto)
    assert r.returncode == 0, r
    moved = changes(before, snapshot(ec2, figure1))
    assert moved[("address", figure1["eip"]["allocation_id"])][1] == figure1["node2"]["eni_id"]
    assert len(moved) == 3  # two route tables and the EIP, nothing else (NAT EIPs stay)


def test_stale_backup_never_takes_the_eip_from_the_new_master(binary, moto, ec2, figure1, imds_node1, imds_node2):
    eip = figure1["eip"]["allocation_id"]
    assert run_vip(binary, ["master", "--eip", eip], imds_node2, moto).returncode == 0
    # node1's BACKUP notify arrives late, after node2 became MASTER.
    late = run_vip(binary, ["backup", "--eip", eip, "--release"], imds_node1, moto)
    assert late.returncode == 0, late
    assert "not this node" in late.stderr
    assert association(ec2, eip)[0] == figure1["node2"]["eni_id"]


def test_release_on_the_owner_disassociates(binary, moto, ec2, figure1, imds_node1):
    eip = figure1["eip"]["allocation_id"]
    before = snapshot(ec2, figure1)
    kept = run_vip(binary, ["backup", "--eip", eip], imds_node1, moto)
    assert kept.returncode == 0 and association(ec2, eip)[0] == figure1["node1"]["eni_id"], kept
    r = run_vip(binary, ["stop", "--eip", eip, "--release"], imds_node1, moto)
    assert r.returncode == 0, r
    assert changes(before, snapshot(ec2, figure1)) == {("address", eip): (figure1["node1"]["eni_id"], None)}


def test_release_from_config(binary, moto, ec2, figure1, imds_node1, tmp_path):
    eip = figure1["eip"]["allocation_id"]
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[instance.VG_1]\nelastic_ips = ["{eip}"]\nrelease = true\n')
    r = run_vip(binary, ["--config", cfg, "notify", "GROUP", "VG_1", "FAULT"], imds_node1, moto)
    assert r.returncode == 0, r
    assert association(ec2, eip) == (None, None)


def test_unknown_allocation_is_bad_input_and_changes_nothing(binary, moto, ec2, figure1, imds_node2):
    before = snapshot(ec2, figure1)
    r = run_vip(binary, ["master", "--route", VIP, "--eip", "eipalloc-0123456789abcdef0"], imds_node2, moto)
    assert r.returncode == 2, r
    assert "eipalloc-0123456789abcdef0" in r.stderr
    assert changes(before, snapshot(ec2, figure1)) == {}, "routes must not move when an input is bad"
    r = run_vip(binary, ["master", "--eip", "198.51.100.7"], imds_node2, moto)
    assert r.returncode == 2 and "198.51.100.7" in r.stderr, r


def test_foreign_eip_on_our_eni_is_never_displaced(binary, moto, ec2, figure1, imds_node2):
    """node2's only private IP already carries someone else's EIP: refuse, touch nothing."""
    foreign = ec2.allocate_address(Domain="vpc")["AllocationId"]
    ec2.associate_address(AllocationId=foreign, NetworkInterfaceId=figure1["node2"]["eni_id"])
    before = snapshot(ec2, figure1)
    eip = figure1["eip"]["allocation_id"]
    r = run_vip(binary, ["master", "--eip", eip, "--eni", figure1["node2"]["eni_id"]], imds_node2, moto)
    assert r.returncode == 1, r
    assert "no private IP left" in r.stderr
    assert changes(before, snapshot(ec2, figure1)) == {}
    assert association(ec2, foreign)[0] == figure1["node2"]["eni_id"]
