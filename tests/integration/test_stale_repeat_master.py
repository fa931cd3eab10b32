"""A repeat MASTER under stale reads (issue 27, item 11): node1 recorded no BACKUP since its
last MASTER (keepalived re-sending MASTER, a split brain healing, an operator's `master`),
yet the peer wrote a second ago and node1's reads still show the time before. The fault
proxy makes node1's reads stale (its key only); the peer's are not."""

import time

import pytest

from harness.fault_proxy import start_proxy
from harness.runner import run_vip
from harness.scenario import VIP, snapshot
from test_stale_reads import notify, vip_config, where

WINDOW = 2.0


def routes(ec2, seed):
    snap = snapshot(ec2, seed)
    return {snap["routes"][seed["rtb_a"]][VIP], snap["routes"][seed["rtb_b"]][VIP]}


def node_key(seed, node):
    """The access key the IMDS fake hands `node` (harness.imds_fake): its callers' prefix."""
    return "ASIAIMDSFAKE" + seed[node]["instance_id"].replace("-", "").upper()[-12:]


@pytest.mark.parametrize("with_eip", [True, False], ids=["routes+eip", "routes"])
def test_a_repeat_master_with_no_backup_between_is_not_fooled(binary, moto, ec2, figure1, imds_node1, imds_node2,
                                                              tmp_path, with_eip):
    """Issue 27, item 11, its exact sequence: node1 MASTER, node2 MASTER (writes), a second
    later node2 BACKUP and node1 MASTER again, node1's reads stale (its key only). node1
    recorded no BACKUP in between (keepalived re-sending MASTER, a split brain healing, an
    operator's `master`): its plan reads "already node1's" for both tables and the Elastic
    IP, and must not keep them on that word. Routes: written anyway (ReplaceRoute to the
    same ENI is free), at once; an Elastic IP (a remap is billed): read again after the window."""
    n1, n2 = figure1["node1"]["eni_id"], figure1["node2"]["eni_id"]
    cfg = vip_config(tmp_path, figure1["eip"]["allocation_id"])
    if not with_eip:
        cfg.write_text(f'[instance.VI_1]\nroutes = ["{VIP}"]\n')
    s1, s2 = tmp_path / "node1-state", tmp_path / "node2-state"
    proxy = start_proxy(moto.url, throttle=False, stale_window=WINDOW, stale_keys=[node_key(figure1, "node1")])
    try:
        first = notify(binary, cfg, imds_node1, proxy, s1, "MASTER")
        assert first.returncode == 0 and routes(ec2, figure1) == {n1}, first
        took = notify(binary, cfg, imds_node2, proxy, s2, "MASTER")
        assert took.returncode == 0 and routes(ec2, figure1) == {n2}, took
        time.sleep(1.0)
        assert notify(binary, cfg, imds_node2, proxy, s2, "BACKUP").returncode == 0
        back = notify(binary, cfg, imds_node1, proxy, s1, "MASTER")
        served = proxy.stats()["stale_served"]
    finally:
        proxy.stop()
    assert back.returncode == 0, back
    assert served > 0, "node1 was answered from before node2's writes"
    assert where(ec2, figure1) == {n1} if with_eip else routes(ec2, figure1) == {n1}, (back, snapshot(ec2, figure1))
    if with_eip:
        assert "reading again" in back.stderr and "3 changed" in back.stderr, back
        assert back.elapsed < 2 * WINDOW + 2.0, back
    else:
        assert "written anyway" in back.stderr and "0 changed, 2 already right" in back.stderr, back
        assert back.elapsed < WINDOW, f"no wait for what a free write makes sure of: {back.elapsed:.1f} s"


def test_a_repeat_master_rereads_a_private_ip_after_the_window(binary, pair, tmp_path):
    """No free write makes sure of a secondary private IP: a MASTER that reads it as already
    its own reads again once the window has passed (node1 stale, its key only)."""
    ec2, seed, imds, moto_ext = pair
    n1, n3 = seed["node1"]["eni_id"], seed["node3"]["eni_id"]
    ip = "10.0.2.100"
    s1, s3 = {"EC2_VIP_STATE_DIR": tmp_path / "n1"}, {"EC2_VIP_STATE_DIR": tmp_path / "n3"}

    def holders():
        enis = ec2.describe_network_interfaces(
            Filters=[{"Name": "subnet-id", "Values": [seed["node1"]["subnet_id"]]}])["NetworkInterfaces"]
        return sorted(e["NetworkInterfaceId"] for e in enis if any(p["PrivateIpAddress"] == ip
                                                                    for p in e["PrivateIpAddresses"]))
    proxy = start_proxy(moto_ext.url, throttle=False, stale_window=WINDOW, stale_keys=[node_key(seed, "node1")])
    try:
        assert run_vip(binary, ["master", "--private-ip", ip], imds["node1"], proxy, s1).returncode == 0
        assert run_vip(binary, ["master", "--private-ip", ip], imds["node3"], proxy, s3).returncode == 0
        assert holders() == [n3]
        time.sleep(1.0)
        back = run_vip(binary, ["master", "--private-ip", ip], imds["node1"], proxy, s1)
        served = proxy.stats()["stale_served"]
    finally:
        proxy.stop()
    assert back.returncode == 0 and served > 0, back
    assert holders() == [n1], back
    # One window before the second read, up to one more while its own write's read back is stale.
    assert "reading again" in back.stderr and "1 changed" in back.stderr, back
    assert back.elapsed < 2 * WINDOW + 2.0, back
