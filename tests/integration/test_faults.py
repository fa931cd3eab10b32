"""Faults between ec2-vip and EC2 (a fault proxy in front of moto) and in IMDS: every run
either converges or fails within --timeout, exit 1, naming what did and did not move."""

import pytest

from harness.runner import run_vip
from harness.scenario import VIP, add_vip_tables, vip_targets


def all_on(ec2, figure1, eni):
    targets = vip_targets(ec2, figure1["vpc_id"])
    return all(t == eni for t in targets.values()), targets


@pytest.mark.parametrize("fault", [
    {"error_next": 3, "error_status": 500},
    {"error_next": 3, "error_status": 503},
    {"reset_next": 3},
    {"hang_next": 1, "hang_seconds": 30},
    {"latency": 0.3},
])
def test_transient_faults_are_retried_to_success(binary, moto, ec2, figure1, imds_node2, proxy, fault):
    proxy.configure(**fault)
    r = run_vip(binary, ["--timeout", "12", "master", "--route", VIP], imds_node2, proxy)
    assert r.returncode == 0, r
    assert all_on(ec2, figure1, figure1["node2"]["eni_id"])[0]
    assert r.elapsed < 12.5


def test_endpoint_that_hangs_fails_within_the_deadline(binary, moto, ec2, figure1, imds_node2, proxy):
    proxy.configure(hang_rate=1.0, hang_seconds=0)
    r = run_vip(binary, ["--timeout", "3", "master", "--route", VIP], imds_node2, proxy)
    assert r.returncode == 1, r
    assert r.elapsed < 4.0, r
    [line] = [l for l in r.stderr.splitlines() if "ERROR" in l]
    assert "DescribeRouteTables" in line
    assert all_on(ec2, figure1, figure1["node1"]["eni_id"])[0], "nothing moved"


def test_replace_route_refused_names_every_table(binary, moto, ec2, figure1, imds_node2, proxy):
    """ReplaceRoute keeps failing for every table: exit 1, each table named, nothing claimed."""
    proxy.configure(error_rate=1.0, error_status=500, fault_actions=["ReplaceRoute"])
    r = run_vip(binary, ["--timeout", "6", "--max-attempts", "2", "master", "--route", VIP], imds_node2, proxy)
    assert r.returncode == 1, r
    final = [l for l in r.stderr.splitlines() if "incomplete" in l][-1]
    assert "0 changed" in final and "2 failed" in final, final
    for rtb in (figure1["rtb_a"], figure1["rtb_b"]):
        assert rtb in final


def test_split_outcome_says_which_tables_moved(binary, moto, ec2, figure1, imds_node2, proxy):
    """One of two tables fails for good: the summary names the moved one and the failed one."""
    proxy.configure(error_next=1, error_status=500, fault_actions=["ReplaceRoute"])
    r = run_vip(binary, ["--timeout", "6", "--max-attempts", "1", "master", "--route", VIP], imds_node2, proxy)
    ok, targets = all_on(ec2, figure1, figure1["node2"]["eni_id"])
    assert r.returncode == 1, r
    final = [l for l in r.stderr.splitlines() if "incomplete" in l][-1]
    changed, failed = final.split(" failed: ", 1)
    moved = [t for t, e in targets.items() if e == figure1["node2"]["eni_id"]]
    stuck = [t for t, e in targets.items() if e == figure1["node1"]["eni_id"]]
    assert len(moved) == 1 and len(stuck) == 1, targets
    assert moved[0] in changed and moved[0] not in failed, final
    assert stuck[0] in failed and stuck[0] not in changed, final


def test_sixty_tables_behind_a_small_bucket_converge(binary, moto, ec2, figure1, imds_node2, proxy):
    add_vip_tables(ec2, figure1, 58)
    proxy.configure(throttle=True, mutating_bucket=[10, 10], describe_bucket=[20, 20])
    r = run_vip(binary, ["--timeout", "60", "master", "--route", VIP], imds_node2, proxy)
    assert r.returncode == 0, r
    ok, targets = all_on(ec2, figure1, figure1["node2"]["eni_id"])
    assert ok and len(targets) == 60
    stats = proxy.stats()
    assert stats["throttled"] > 0, "the bucket did throttle"
    assert stats["requests"]["ReplaceRoute"] - stats["throttled_by_action"].get("ReplaceRoute", 0) == 60


@pytest.mark.parametrize("mode", ["down", "unauthorized", "slow"])
def test_imds_faults_fail_within_the_deadline(binary, moto, ec2, figure1, imds_node2, mode):
    imds_node2.set_mode(mode, delay=30)
    r = run_vip(binary, ["--timeout", "3", "master", "--route", VIP], imds_node2, moto)
    assert r.returncode == 1, r
    assert r.elapsed < 4.0, r
    assert "instance metadata" in r.stderr
    assert all_on(ec2, figure1, figure1["node1"]["eni_id"])[0]


@pytest.mark.parametrize("how", ["drop", "reset", "500"])
def test_imds_failures_are_retried_within_the_deadline(binary, moto, ec2, figure1, imds_node2, how):
    """A dropped or reset IMDS connection, or a 500, is retried like an EC2 call: MASTER
    still moves the VIP."""
    imds_node2.fail_next(4, how)
    r = run_vip(binary, ["--timeout", "3", "master", "--route", VIP], imds_node2, moto)
    assert r.returncode == 0, r
    assert imds_node2.stats()["failed"] == 4
    assert all_on(ec2, figure1, figure1["node2"]["eni_id"])[0]


def test_imds_down_fails_at_the_deadline_naming_imds(binary, moto, ec2, figure1, imds_node2):
    imds_node2.set_mode("down")
    r = run_vip(binary, ["--timeout", "3", "master", "--route", VIP], imds_node2, moto)
    assert r.returncode == 1, r
    assert 2.5 < r.elapsed < 4.5, r
    assert "instance metadata" in r.stderr and "deadline" in r.stderr, r.stderr
    assert imds_node2.stats()["token_requests"] > 3, "retried, not given up after one attempt"
    assert all_on(ec2, figure1, figure1["node1"]["eni_id"])[0]
