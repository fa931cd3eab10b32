"""An eventually consistent EC2 (the fault proxy's stale_window in front of moto): a fast
failback must not end with the VIP on the peer and exit 0, and a run superseded while it
reads back must let the next transition go at once."""

import subprocess
import threading
import time

import pytest

from harness.fault_proxy import start_proxy
from harness.runner import run_vip, vip_env
from harness.scenario import VIP, snapshot

pytestmark = pytest.mark.parametrize("consistency", ["stale"], indirect=True)


def vip_config(tmp_path, eip):
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[instance.VI_1]\nroutes = ["{VIP}"]\nelastic_ips = ["{eip}"]\n')
    return cfg


def notify(binary, cfg, imds, ec2_url, state, role, *extra):
    args = ["--config", cfg, *extra, "notify", "INSTANCE", "VI_1", role]
    return run_vip(binary, args, imds, ec2_url, {"EC2_VIP_STATE_DIR": state})


def where(ec2, seed):
    snap = snapshot(ec2, seed)
    return {snap["routes"][seed["rtb_a"]][VIP], snap["routes"][seed["rtb_b"]][VIP], snap["eip"]}


def test_fast_failback_ends_on_node1_within_the_window(binary, moto, ec2, figure1, imds_node1, imds_node2, tmp_path):
    n1, n2 = figure1["node1"]["eni_id"], figure1["node2"]["eni_id"]
    cfg = vip_config(tmp_path, figure1["eip"]["allocation_id"])
    s1, s2 = tmp_path / "node1-state", tmp_path / "node2-state"
    # node1 MASTER (everything is already its own), node2 MASTER, node1 back: a second or two.
    assert notify(binary, cfg, imds_node1, moto, s1, "MASTER").returncode == 0
    env = vip_env(imds_node2, moto, str(tmp_path), {"EC2_VIP_STATE_DIR": s2})
    node2 = subprocess.Popen([str(binary), "--config", str(cfg), "--timeout", "5", "notify", "INSTANCE", "VI_1",
                              "MASTER"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        end = time.monotonic() + 10
        while where(ec2, figure1) != {n2}:
            assert time.monotonic() < end and node2.poll() is None, "node2 never took the VIP"
            time.sleep(0.02)
        # keepalived on node1: BACKUP (node2 won), then MASTER again at once.
        assert notify(binary, cfg, imds_node1, moto, s1, "BACKUP").returncode == 0
        back = notify(binary, cfg, imds_node1, moto, s1, "MASTER")
    finally:
        node2.wait(timeout=10)
    assert back.returncode == 0, back
    assert moto.proxy.stats()["stale_served"] > 0, "node1 was answered from before node2's writes"
    assert where(ec2, figure1) == {n1}, (back, snapshot(ec2, figure1))
    assert back.elapsed < moto.window + 1.0, back
    assert "written anyway" in back.stderr, back


def test_a_superseded_read_back_lets_the_next_transition_go_at_once(binary, moto, ec2, figure1, imds_node2, tmp_path):
    """node2's MASTER reads back a route that node1 took again meanwhile (a flap): once
    keepalived records node2's next transitions, that run stops waiting and frees the lock."""
    n1, n2 = figure1["node1"]["eni_id"], figure1["node2"]["eni_id"]
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[instance.VI_1]\nroutes = ["{VIP}"]\n')
    state = tmp_path / "node2-state"
    slow = start_proxy(moto.moto.url, throttle=False, latency=0.15)
    try:
        env = vip_env(imds_node2, slow, str(tmp_path), {"EC2_VIP_STATE_DIR": state})
        first = subprocess.Popen([str(binary), "--config", str(cfg), "--timeout", "20", "notify", "INSTANCE",
                                  "VI_1", "MASTER"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        out = {}
        threading.Thread(target=lambda: out.update(zip(("stdout", "stderr"), first.communicate())), daemon=True).start()
        # As soon as node2's ReplaceRoute lands, node1 takes the route back (straight to moto).
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            targets = [r.get("NetworkInterfaceId") for t in ec2.describe_route_tables(RouteTableIds=[figure1["rtb_a"]])["RouteTables"]
                       for r in t["Routes"] if r.get("DestinationCidrBlock") == VIP]
            if targets == [n2]:
                break
            time.sleep(0.01)
        else:
            pytest.fail(f"node2's write never landed: {out}")
        for rtb in (figure1["rtb_a"], figure1["rtb_b"]):
            ec2.replace_route(RouteTableId=rtb, DestinationCidrBlock=VIP, NetworkInterfaceId=n1)
        time.sleep(0.5)
        assert first.poll() is None, "the first run is still reading back"
        assert notify(binary, cfg, imds_node2, moto, state, "BACKUP").returncode == 0
        again = notify(binary, cfg, imds_node2, moto, state, "MASTER")
        first.wait(timeout=20)
    finally:
        slow.stop()
    assert again.returncode == 0, again
    assert again.elapsed < 3.0, f"waited {again.elapsed:.1f} s for the superseded run's lock: {again}"
    assert "superseded" in out.get("stderr", ""), out

