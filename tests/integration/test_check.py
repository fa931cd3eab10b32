"""check / check --repair: local recovery of routes and Elastic IPs changed behind our back."""

import pytest

from harness.runner import run_vip
from harness.scenario import VIP

# Also run under an eventually consistent EC2 (stale reads for a while after each write).
pytestmark = pytest.mark.eventually_consistent


def test_check_reports_drift_and_repair_puts_it_back(binary, moto, ec2, figure1, imds_node2, tmp_path):
    eip = figure1["eip"]["allocation_id"]
    node1, node2 = figure1["node1"]["eni_id"], figure1["node2"]["eni_id"]
    state = {"EC2_VIP_STATE_DIR": tmp_path / "state"}
    res = ["--route", VIP, "--eip", eip]
    assert run_vip(binary, ["master", *res], imds_node2, moto, state).returncode == 0
    ok = run_vip(binary, ["check", *res], imds_node2, moto, state)
    assert ok.returncode == 0 and "ok:" in ok.stdout, ok

    # Someone points table A back at node1 and moves the EIP away.
    ec2.replace_route(RouteTableId=figure1["rtb_a"], DestinationCidrBlock=VIP, NetworkInterfaceId=node1)
    ec2.associate_address(AllocationId=eip, NetworkInterfaceId=node1, AllowReassociation=True)
    drift = run_vip(binary, ["check", *res], imds_node2, moto, state)
    assert drift.returncode == 1, drift
    lines = drift.stdout.splitlines()
    assert len(lines) == 2, lines
    assert any(figure1["rtb_a"] in l and node1 in l for l in lines), lines
    assert any(eip in l and node1 in l for l in lines), lines
    assert figure1["rtb_b"] not in drift.stdout

    fixed = run_vip(binary, ["check", "--repair", *res], imds_node2, moto, state)
    assert fixed.returncode == 0, fixed
    assert fixed.stdout.count("repaired:") == 2, fixed.stdout
    tables = {t["RouteTableId"]: t for t in ec2.describe_route_tables()["RouteTables"]}
    for rtb in (figure1["rtb_a"], figure1["rtb_b"]):
        [r] = [r for r in tables[rtb]["Routes"] if r.get("DestinationCidrBlock") == VIP]
        assert r["NetworkInterfaceId"] == node2
    [a] = ec2.describe_addresses(AllocationIds=[eip])["Addresses"]
    assert a["NetworkInterfaceId"] == node2
    assert run_vip(binary, ["check", *res], imds_node2, moto, state).returncode == 0


def test_check_skips_where_the_last_transition_was_not_master(binary, moto, figure1, imds_node1, tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[instance.VI_1]\nroutes = ["{VIP}"]\n')
    state = {"EC2_VIP_STATE_DIR": tmp_path / "node2-state"}
    # node1 owns the routes; pretend keepalived made it BACKUP: check must not flag or steal.
    assert run_vip(binary, ["--config", cfg, "notify", "INSTANCE", "VI_1", "BACKUP"], imds_node1, moto,
                   state).returncode == 0
    # The routes point at node1 (this node!) but also under --repair nothing may move.
    r = run_vip(binary, ["--config", cfg, "check", "--repair", "--instance", "VI_1"], imds_node1, moto, state)
    assert r.returncode == 0 and "skipped: this node is BACKUP" in r.stdout, r


def test_check_bad_input_is_exit_2(binary, moto, figure1, imds_node2):
    r = run_vip(binary, ["check", "--route", "10.0.2.5/32"], imds_node2, moto)
    assert r.returncode == 2, r
    r = run_vip(binary, ["check", "--eip", "eipalloc-00000000000000000"], imds_node2, moto)
    assert r.returncode == 2, r


@pytest.mark.parametrize("state", ["BACKUP", "FAULT", "STOP"])
def test_check_on_a_non_master_record_asks_nobody(binary, moto, figure1, imds_node1, tmp_path, state):
    """A standby's check answers from its transition record: no IMDS request, no EC2 call,
    so an IMDS outage cannot turn it FAULT through `--unknown-exit 3`."""
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[instance.VI_1]\nroutes = ["{VIP}"]\n')
    env = {"EC2_VIP_STATE_DIR": tmp_path / "state"}
    notify = ["--config", cfg, "notify", "INSTANCE", "VI_1", state]
    assert run_vip(binary, notify, imds_node1, moto, env).returncode == 0
    check = ["--config", cfg, "--timeout", "3", "check", "--instance", "VI_1", "--unknown-exit", "3"]
    imds_node1.state.reset()
    r = run_vip(binary, check, imds_node1, moto, env)
    assert r.returncode == 0 and f"skipped: this node is {state}" in r.stdout, r
    stats = imds_node1.stats()
    assert (stats["token_requests"], stats["get_requests"]) == (0, 0), stats

    # IMDS down and no EC2 endpoint listening: still the record's answer, at once.
    imds_node1.set_mode("down")
    r = run_vip(binary, check, imds_node1, "http://127.0.0.1:9", env)
    assert r.returncode == 0 and f"skipped: this node is {state}" in r.stdout, r
    assert r.elapsed < 1.0, r
