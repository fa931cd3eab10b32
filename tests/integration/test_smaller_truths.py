"""Issue 21 item 8, each against moto and the IMDSv2 fake: --dry-run exits as the real run
would; master/backup take --instance NAME (a config section: its record and lock);
iam-policy --help lists only the options it reads; status --json carries `"schema": 1`,
the record key, the recorded state and a split-brain hold-off."""

import json
import subprocess
import time

from harness.imds_fake import start_imds
from harness.runner import run_vip
from harness.scenario import VIP, node_json, snapshot

ELSEWHERE = "10.1.0.99/32"  # no route table holds it: the real run cannot move it (exit 1)


def test_dry_run_exits_as_the_real_run_would(binary, moto, ec2, figure1, imds_node2, tmp_path):
    state = {"EC2_VIP_STATE_DIR": tmp_path / "state"}
    dry = run_vip(binary, ["--dry-run", "master", "--route", ELSEWHERE], imds_node2, moto, state)
    assert dry.returncode == 1 and "no route table" in dry.stdout.lower() + dry.stderr.lower(), dry
    assert "would be incomplete" in dry.stderr, dry
    real = run_vip(binary, ["master", "--route", ELSEWHERE], imds_node2, moto, state)
    assert real.returncode == dry.returncode == 1, real
    # A plan that can be carried out still exits 0, and changes nothing.
    before = snapshot(ec2, figure1)
    ok = run_vip(binary, ["--dry-run", "master", "--route", VIP], imds_node2, moto, state)
    assert ok.returncode == 0 and "via ReplaceRoute" in ok.stdout, ok
    assert snapshot(ec2, figure1) == before


def test_master_and_backup_take_a_config_section(binary, moto, ec2, figure1, imds_node2, tmp_path):
    cfg = tmp_path / "ec2-vip.toml"
    cfg.write_text(f'[instance.VI_1]\nroutes = ["{VIP}"]\n')
    state_dir = tmp_path / "state"
    state = {"EC2_VIP_STATE_DIR": state_dir}
    r = run_vip(binary, ["--config", cfg, "master", "--instance", "VI_1"], imds_node2, moto, state)
    assert r.returncode == 0, r
    eni = figure1["node2"]["eni_id"]
    tables = ec2.describe_route_tables(RouteTableIds=[figure1["rtb_a"], figure1["rtb_b"]])["RouteTables"]
    targets = {rt["RouteTableId"]: [x.get("NetworkInterfaceId") for x in rt["Routes"]
                                    if x.get("DestinationCidrBlock") == VIP] for rt in tables}
    assert all(t == [eni] for t in targets.values()), targets
    assert (state_dir / "VI_1.state").read_text().split()[-1] == "MASTER"  # the section's record
    chk = run_vip(binary, ["--config", cfg, "check", "--instance", "VI_1"], imds_node2, moto, state)
    assert chk.returncode == 0 and "ok: every resource points at this node" in chk.stdout, chk
    b = run_vip(binary, ["--config", cfg, "backup", "--instance", "VI_1"], imds_node2, moto, state)
    assert b.returncode == 0 and (state_dir / "VI_1.state").read_text().split()[-1] == "BACKUP", b
    bad = run_vip(binary, ["--config", cfg, "master", "--instance", "VI_9"], imds_node2, moto, state)
    assert bad.returncode == 2 and "[instance.VI_9]" in bad.stderr, bad
    both = run_vip(binary, ["--config", cfg, "master", "--instance", "VI_1", "--route", VIP], imds_node2, moto)
    assert both.returncode == 2 and "cannot be used with" in both.stderr, both


def test_iam_policy_help_lists_only_what_it_reads(binary):
    def help_of(*args):
        r = subprocess.run([str(binary), *args, "--help"], capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r
        return r.stdout
    policy = help_of("iam-policy")
    for ignored in ("--dry-run", "--on-event", "--event-timeout", "--state-dir", "--max-attempts",
                    "--consistency-window"):
        assert ignored not in policy, (ignored, policy)
    assert "--region" in policy and "--config" in policy and "--vpc" in policy, policy
    assert "--dry-run" in help_of("master") and "--on-event" in help_of("check")
    assert "--instance" in help_of("master") and "--instance" in help_of("backup")


def boot_seconds():
    return time.clock_gettime(time.CLOCK_BOOTTIME)


def test_status_json_has_a_schema_the_record_and_the_hold_off(binary, moto, figure1, imds_node2, tmp_path):
    cfg = tmp_path / "ec2-vip.toml"
    cfg.write_text(f'[instance.VI_1]\nroutes = ["{VIP}"]\n')
    state_dir = tmp_path / "state"
    state = {"EC2_VIP_STATE_DIR": state_dir}

    def status():
        r = run_vip(binary, ["--config", cfg, "status", "--json"], imds_node2, moto, state)
        assert r.returncode == 0, r
        [st] = json.loads(r.stdout)
        return st

    st = status()
    assert st["schema"] == 1 and st["name"] == "VI_1" and st["key"] == "VI_1", st
    assert st["recorded"] is None and st["hold_off"] is None, st
    r = run_vip(binary, ["--config", cfg, "notify", "INSTANCE", "VI_1", "MASTER", "150"], imds_node2, moto, state)
    assert r.returncode == 0, r
    st = status()
    assert st["recorded"]["state"] == "MASTER" and st["recorded"]["pid"] > 0 and st["hold_off"] is None, st
    # A split-brain memory yielding for 100 s more (ordering::Contest's file, for this record).
    boot, ticks, pid, seq, _ = (state_dir / "VI_1.state").read_text().split()
    until = boot_seconds() + 100
    (state_dir / "VI_1.contest").write_text(f"{boot} {ticks} {pid} {seq} -1 {until} 120 eni-0peer\n")
    st = status()
    assert st["hold_off"]["other"] == "eni-0peer" and 90 < st["hold_off"]["seconds_left"] <= 100, st
    text = run_vip(binary, ["--config", cfg, "status"], imds_node2, moto, state).stdout
    assert "last recorded MASTER" in text and "yielding to eni-0peer" in text, text


def test_status_from_another_subnet_says_the_address_is_on_the_peer(binary, pair):
    """node2 (figure 1's other subnet) asks where node1's secondary IP is: on node1's ENI,
    not "unassigned" (its subnet holds no ENI with it; the VPC does)."""
    ec2, seed, imds, moto = pair
    ip = "10.0.2.100"
    holder = seed["node1"]["eni_id"]
    assert any(p["PrivateIpAddress"] == ip for e in ec2.describe_network_interfaces(
        NetworkInterfaceIds=[holder])["NetworkInterfaces"] for p in e["PrivateIpAddresses"])
    node2 = start_imds(node_json(seed, "node2", "us-east-1"), log_requests=False)
    try:
        r = run_vip(binary, ["status", "--private-ip", ip, "--json"], node2, moto)
        text = run_vip(binary, ["status", "--private-ip", ip], node2, moto)
    finally:
        node2.stop()
    assert r.returncode == 0, r
    [st] = json.loads(r.stdout)
    assert st["private_ips"] == [{"address": ip, "network_interface_id": holder, "this_node": False}], st
    assert holder in text.stdout and "unassigned" not in text.stdout, text
