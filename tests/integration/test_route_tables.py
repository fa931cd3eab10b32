"""Route-table scenario with chosen tables: `route_tables` (ids; a missing VIP route is
created) and `route_table_tags`, by config and by --route-table."""

import time

import pytest

from harness.runner import run_vip
from harness.scenario import VIP, changes, snapshot

# Also run under an eventually consistent EC2 (stale reads for a while after each write).
pytestmark = pytest.mark.eventually_consistent


def config(tmp_path, line):
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[instance.VI_1]\nroutes = ["{VIP}"]\n{line}\n')
    return cfg


def master(binary, cfg, imds, moto, *extra):
    return run_vip(binary, ["--config", cfg, *extra, "notify", "INSTANCE", "VI_1", "MASTER"], imds, moto)


def test_listed_tables_only_and_a_missing_route_is_created(binary, moto, ec2, figure1, imds_node2, tmp_path):
    n1, n2 = figure1["node1"]["eni_id"], figure1["node2"]["eni_id"]
    before = snapshot(ec2, figure1)
    cfg = config(tmp_path, f'route_tables = ["{figure1["rtb_a"]}", "{figure1["public_rtb"]}"]')
    dry = master(binary, cfg, imds_node2, moto, "--dry-run")
    assert dry.returncode == 0 and "(create) via CreateRoute" in dry.stdout, dry
    r = master(binary, cfg, imds_node2, moto)
    assert r.returncode == 0 and "2 changed" in r.stderr, r
    tables = {t["RouteTableId"]: t for t in ec2.describe_route_tables()["RouteTables"]}
    created = [x for x in tables[figure1["public_rtb"]]["Routes"] if x.get("DestinationCidrBlock") == VIP]
    assert [x.get("NetworkInterfaceId") for x in created] == [n2]
    moved = changes(before, snapshot(ec2, figure1))
    assert moved[("route", figure1["rtb_a"], VIP)] == (n1, n2), moved
    assert ("route", figure1["rtb_b"], VIP) not in moved, "a table not listed is not touched"
    # Under an eventually consistent EC2 a repeat within the window may still read the old
    # routes; past it, a second MASTER finds everything right.
    time.sleep(getattr(moto, "window", 0))
    again = master(binary, cfg, imds_node2, moto)
    assert again.returncode == 0 and "0 changed, 2 already right" in again.stderr, again


def test_tables_chosen_by_tag(binary, moto, ec2, figure1, imds_node2, tmp_path):
    n1, n2 = figure1["node1"]["eni_id"], figure1["node2"]["eni_id"]
    before = snapshot(ec2, figure1)
    r = master(binary, config(tmp_path, 'route_table_tags = { Name = "private-a" }'), imds_node2, moto)
    assert r.returncode == 0, r
    assert changes(before, snapshot(ec2, figure1)) == {("route", figure1["rtb_a"], VIP): (n1, n2)}
    r = master(binary, config(tmp_path, 'route_table_tags = { Name = "private-*" }'), imds_node2, moto)
    assert r.returncode == 0 and "1 changed, 1 already right" in r.stderr, r
    r = run_vip(binary, ["check", "--route", VIP, "--route-table", figure1["rtb_b"]], imds_node2, moto)
    assert r.returncode == 0 and "ok:" in r.stdout, r


@pytest.mark.parametrize("which", ["unknown", "other_vpc"])
def test_a_table_that_is_not_ours_is_bad_input(binary, moto, ec2, figure1, imds_node2, tmp_path, which):
    rtb = "rtb-00000000000000000" if which == "unknown" else figure1["other_rtb"]
    before = snapshot(ec2, figure1)
    r = master(binary, config(tmp_path, f'route_tables = ["{figure1["rtb_a"]}", "{rtb}"]'), imds_node2, moto)
    assert r.returncode == 2 and rtb in r.stderr, r
    assert changes(before, snapshot(ec2, figure1)) == {}
    flag = run_vip(binary, ["master", "--route-table", rtb], imds_node2, moto)
    assert flag.returncode == 2 and "--route-table needs --route" in flag.stderr, flag
