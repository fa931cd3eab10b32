"""Route Table scenario against moto: the built binary, an IMDSv2 fake per node."""

import pytest

import json

from harness.runner import run_vip
from harness.scenario import OTHER_CLUSTER_VIP, VIP, changes, snapshot

# Also run under an eventually consistent EC2 (stale reads for a while after each write).
pytestmark = pytest.mark.eventually_consistent


def moved_routes(seed, to_eni):
    return {
        ("route", seed["rtb_a"], VIP): (seed["node1"]["eni_id"], to_eni),
        ("route", seed["rtb_b"], VIP): (seed["node1"]["eni_id"], to_eni),
    }


def test_master_moves_both_private_tables_and_nothing_else(binary, moto, ec2, figure1, imds_node2):
    before = snapshot(ec2, figure1)
    r = run_vip(binary, ["master", "--route", VIP], imds_node2, moto)
    assert r.returncode == 0, r
    after = snapshot(ec2, figure1)
    assert changes(before, after) == moved_routes(figure1, figure1["node2"]["eni_id"])
    # The other cluster's route in table B and the other VPC's VIP route stayed put.
    assert after["routes"][figure1["rtb_b"]][OTHER_CLUSTER_VIP] == figure1["node1"]["eni_id"]
    assert after["routes"][figure1["other_rtb"]][VIP] == figure1["other_eni"]
    assert "2 changed" in r.stderr
    # IMDSv2: the binary asked for a token before reading metadata.
    assert imds_node2.stats()["token_requests"] >= 1

    second = run_vip(binary, ["master", "--route", VIP], imds_node2, moto)
    assert second.returncode == 0, second
    assert "0 changed, 2 already right" in second.stderr
    assert changes(after, snapshot(ec2, figure1)) == {}


def test_fail_over_and_back(binary, moto, ec2, figure1, imds_node1, imds_node2):
    start = snapshot(ec2, figure1)
    assert run_vip(binary, ["master", "--route", VIP], imds_node2, moto).returncode == 0
    assert run_vip(binary, ["master", "--route", VIP], imds_node1, moto).returncode == 0
    assert changes(start, snapshot(ec2, figure1)) == {}


def test_backup_leaves_routes_to_the_new_master(binary, moto, ec2, figure1, imds_node1):
    before = snapshot(ec2, figure1)
    for state in ("backup", "fault", "stop"):
        r = run_vip(binary, [state, "--route", VIP], imds_node1, moto)
        assert r.returncode == 0, r
        assert "nothing to do" in r.stderr
    assert changes(before, snapshot(ec2, figure1)) == {}
    assert imds_node1.stats()["get_requests"] == 0, "backup without --release needs no identity"


def test_dry_run_prints_the_plan_and_changes_nothing(binary, moto, ec2, figure1, imds_node2):
    before = snapshot(ec2, figure1)
    r = run_vip(binary, ["--dry-run", "master", "--route", VIP], imds_node2, moto)
    assert r.returncode == 0, r
    lines = r.stdout.splitlines()
    assert len(lines) == 2
    for rtb in (figure1["rtb_a"], figure1["rtb_b"]):
        assert any(rtb in l and "ReplaceRoute" in l and figure1["node2"]["eni_id"] in l for l in lines), lines
    assert changes(before, snapshot(ec2, figure1)) == {}


def test_notify_takes_resources_from_the_config(binary, moto, ec2, figure1, imds_node2, tmp_path):
    cfg = tmp_path / "ec2-vip.toml"
    cfg.write_text(f'[instance.VI_1]\nroutes = ["{VIP}"]\n')
    log = tmp_path / "ec2-vip.log"
    before = snapshot(ec2, figure1)
    r = run_vip(binary, ["--config", cfg, "--log-file", log, "notify", "INSTANCE", "VI_1", "MASTER", "150"],
                imds_node2, moto)
    assert r.returncode == 0, r
    assert changes(before, snapshot(ec2, figure1)) == moved_routes(figure1, figure1["node2"]["eni_id"])
    text = log.read_text()
    assert "VI_1 MASTER run=" in text and figure1["rtb_a"] in text and "replaced" in text, text

    unknown = run_vip(binary, ["--config", cfg, "notify", "INSTANCE", "VI_9", "MASTER", "150"], imds_node2, moto)
    assert unknown.returncode == 2 and "[instance.VI_9]" in unknown.stderr, unknown
    bad_state = run_vip(binary, ["--config", cfg, "notify", "INSTANCE", "VI_1", "DELETED"], imds_node2, moto)
    assert bad_state.returncode == 2 and "STATE must be" in bad_state.stderr, bad_state


def test_eni_of_a_second_interface(binary, moto, ec2, figure1, imds_node2):
    eni2 = figure1["node2"]["eni2_id"]
    before = snapshot(ec2, figure1)
    r = run_vip(binary, ["master", "--route", VIP, "--eni", eni2], imds_node2, moto)
    assert r.returncode == 0, r
    assert changes(before, snapshot(ec2, figure1)) == moved_routes(figure1, eni2)
    foreign = run_vip(binary, ["master", "--route", VIP, "--eni", figure1["node1"]["eni_id"]], imds_node2, moto)
    assert foreign.returncode == 2 and "not attached" in foreign.stderr, foreign


def test_status_reports_where_routes_point(binary, moto, figure1, imds_node1, imds_node2):
    run_vip(binary, ["master", "--route", VIP], imds_node2, moto)
    r = run_vip(binary, ["status", "--route", VIP, "--json"], imds_node2, moto)
    assert r.returncode == 0, r
    [st] = json.loads(r.stdout)
    assert st["network_interface_id"] == figure1["node2"]["eni_id"]
    assert sorted(x["route_table_id"] for x in st["routes"]) == sorted([figure1["rtb_a"], figure1["rtb_b"]])
    assert all(x["this_node"] for x in st["routes"])
    other = json.loads(run_vip(binary, ["status", "--route", VIP, "--json"], imds_node1, moto).stdout)[0]
    assert not any(x["this_node"] for x in other["routes"])


def test_route_to_a_gateway_is_not_ours(binary, moto, ec2, figure1, imds_node2):
    """A VIP route someone pointed at the internet gateway is reported, never repointed."""
    ec2.replace_route(RouteTableId=figure1["rtb_a"], DestinationCidrBlock=VIP, GatewayId=figure1["igw_id"])
    before = snapshot(ec2, figure1)
    r = run_vip(binary, ["master", "--route", VIP], imds_node2, moto)
    assert r.returncode == 1, r
    assert figure1["rtb_a"] in r.stderr and figure1["igw_id"] in r.stderr
    assert changes(before, snapshot(ec2, figure1)) == {
        ("route", figure1["rtb_b"], VIP): (figure1["node1"]["eni_id"], figure1["node2"]["eni_id"]),
    }
