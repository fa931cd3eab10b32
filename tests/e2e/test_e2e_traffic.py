"""Traffic through the VIP while a keepalived + HAProxy pair fails over (issue #15).

A client sends HTTP requests every 20 ms through the VIP route and through the Elastic IP
of an emulated VPC data plane that follows moto (e2e_dataplane.py); HAProxy runs on both
nodes with the configs of examples/keepalived/haproxy-pair/ (e2e_haproxy.py). Every case
runs with ec2-vip as notify hook and with notify_fifo + `ec2-vip watch`.

Each case asserts outcomes only: keepalived's new MASTER holds the VIP and EC2 points both
VIP routes and the EIP at it, nothing else in EC2 moved (`converge`), the client's route
and NAT point at it, and the client is served by it alone again (`wait_client`). The
timings (outage against the goal of detection + 0.5 s) are the report's: bench/traffic.
"""

import time

import pytest

from e2e_haproxy import CASES


def _check(cluster, rows, expect):
    for r in rows:
        assert r["outage"] is not None, f"{r['case']} {r['path']}: the client never recovered"
        assert r["requests"] > 0, f"{r['case']} {r['path']}: the client sent nothing"
    assert cluster.data_plane_points_at(expect), "the client's route/NAT not on the new master"


def test_traffic_initial_election(traffic_cluster):
    traffic_cluster.first_election()
    assert traffic_cluster.data_plane_points_at("a")


@pytest.mark.parametrize("case", CASES)
def test_traffic_failover(traffic_cluster, case):
    rows = traffic_cluster.run_case(case)
    _check(traffic_cluster, rows, "a" if case == "preempt back" else "b")


# How long after a failover the VIP must stay on the new master: longer than one watch
# reconcile interval (10 s, jittered up to a quarter longer), counted from the kill.
NO_TAKEBACK = 13.0


def test_traffic_no_takeback_by_a_dead_keepalived(traffic_cluster):
    """keepalived SIGKILLed while `ec2-vip watch` keeps running (the shipped unit is only
    PartOf=keepalived.service): the VIP must stay on the new master. keepalived writes no
    STOP when killed; the watcher sees its VRRP pid file name no running keepalived
    (--keepalived-pid) and treats its instances as STOP instead of repairing them back."""
    c = traffic_cluster
    c.restore()
    c.wait_client("a", time.time() - 2)
    t = time.time()
    c.nodes["a"].crash_keepalived(with_watcher=False)
    c.converge("keepalived SIGKILL, watcher left", "b", t)
    while time.time() < t + NO_TAKEBACK:
        assert c.owner(c.snapshot()) == "b", "the VIP left the new master"
        time.sleep(0.2)
    c.wait_client("b", t)
    assert c.data_plane_points_at("b")
