"""A real keepalived pair fails over, and ec2-vip moves figure 1's VIP routes (both
private tables) and the VIP's Elastic IP to the new master's ENI, and the Route 53 record
of the same config section (e2e_dns) to its private IP. Every case runs twice:
ec2-vip as keepalived's generic notify hook, and notify_fifo + `ec2-vip watch`.

Node a (figure 1's node1, priority 150) and node b (node2, priority 100), preempt on.
Every case ends in `converge`, which asserts through DescribeRouteTables,
DescribeAddresses and ListResourceRecordSets that EC2 and Route 53 agree with keepalived
and that nothing else moved.
The cases run in file order; each one first restores the normal state if needed.
"""

import os
import random
import signal
import time
from pathlib import Path

import pytest

from e2e_keepalived import EC2VIP_TIMEOUT


def test_initial_election(cluster):
    t = time.time()
    for node in cluster.nodes.values():
        node.start()
    cluster.converge("initial election", "a", t)


def test_sigterm_of_master(cluster):
    cluster.restore()
    t = time.time()
    cluster.nodes["a"].signal(signal.SIGTERM)
    cluster.converge("SIGTERM of master", "b", t)
    cluster.nodes["a"].wait_stopped()


def test_old_master_back_with_preempt(cluster):
    a = cluster.nodes["a"]
    if a.running():  # the previous case did not leave a stopped
        cluster.restore()
        cluster.stop_node("a", signal.SIGTERM)
        cluster.converge(None, "b", time.time())
    t = a.start()
    cluster.converge("old master back (preempt)", "a", t)


def test_crash_of_vrrp_child(cluster):
    cluster.restore()
    a = cluster.nodes["a"]
    t = time.time()
    a.kill_vrrp_child()  # with -R the parent exits too: nothing sends a priority-0 advert
    cluster.converge("crash (SIGKILL VRRP child)", "b", t)
    a.wait_stopped()
    t = a.start()
    cluster.converge("restart after crash (preempt)", "a", t)


def test_link_down_on_bridge(cluster):
    cluster.restore()
    t = time.time()
    cluster.lab.set_link("a", False)
    cluster.converge("link down (bridge side)", "b", t)
    t = time.time()
    cluster.lab.set_link("a", True)
    cluster.converge("link up again (preempt)", "a", t)


def test_track_script_failure(cluster):
    cluster.restore()
    a = cluster.nodes["a"]
    t = time.time()
    a.set_healthy(False)  # vrrp_script `test -e FILE` fails: a goes FAULT
    cluster.converge("track_script fails", "b", t)
    t = time.time()
    a.set_healthy(True)
    cluster.converge("track_script recovers (preempt)", "a", t)


def _flap(cluster, rng, final):
    """Unplug/break node a and put it back, at random sub-second intervals; `final`
    says who must be master at the end. Returns the time of the last change."""
    lab, a = cluster.lab, cluster.nodes["a"]
    faults = {
        "link": (lambda: lab.set_link("a", False), lambda: lab.set_link("a", True)),
        "track": (lambda: a.set_healthy(False), lambda: a.set_healthy(True)),
    }
    for i in range(int(os.environ.get("E2E_FLAPS") or 4)):
        if i:
            time.sleep(rng.uniform(0.15, 0.8))
        breaks, heals = faults[rng.choice(sorted(faults))]
        breaks()
        time.sleep(rng.uniform(0.15, 0.8))
        t = time.time()
        heals()
    if final == "b":
        time.sleep(rng.uniform(0.15, 0.8))
        t = time.time()
        faults[rng.choice(sorted(faults))][0]()
    return t  # the last change: converge() starts polling right away


def _flap_seed():
    seed = int(os.environ.get("E2E_FLAP_SEED") or random.randrange(1 << 30))
    print(f"flap seed: {seed} (E2E_FLAP_SEED={seed} repeats it)")
    return seed


def test_burst_of_flaps_ends_on_backup(cluster):
    cluster.restore()
    rng = random.Random(_flap_seed())
    start = time.time()
    t = _flap(cluster, rng, "b")
    # Only the final master may own the VIP, and nothing late may take it back: wait
    # for every hook (one cut off by the link going down gives up after its --timeout).
    cluster.converge("flap burst, final master b", "b", t, hold=2.0, new_master=False,
                     since=start, timeout=EC2VIP_TIMEOUT + 10)


def test_burst_of_flaps_ends_on_old_master(cluster):
    cluster.restore()
    rng = random.Random(_flap_seed())
    start = time.time()
    t = _flap(cluster, rng, "a")
    cluster.converge("flap burst, final master a", "a", t, hold=2.0, new_master=False,
                     since=start, timeout=EC2VIP_TIMEOUT + 10)


def test_the_watcher_runs_the_units_exec_start_line(cluster):
    """Every watch-variant case here runs the shipped unit's ExecStart line (what
    /etc/default/ec2-vip adds appended where its variables are): the process the cluster
    fails over with is that line, --syslog and the unit's --timeout 30 included, overridden
    by the later --timeout of EC2VIP_ARGS."""
    if cluster.variant != "watch":
        pytest.skip("notify_fifo + watch only")
    for node in cluster.nodes.values():
        node.check_watcher()
        cmdline = Path(f"/proc/{node.watcher.pid}/cmdline").read_text().split("\0")[:-1]
        assert cmdline == node.watch_argv, cmdline
        assert cmdline[:6] == [str(node.binary), "--syslog", "--config", str(node.toml), "--timeout", "30"]
        assert cmdline[cmdline.index("watch"):cmdline.index("watch") + 5] == [
            "watch", "--fifo", str(node.fifo), "--interval", "10"], cmdline
        assert "watching" in node.vip_log.read_text(), node.diagnostics()


def test_keepalived_restart_makes_a_new_fifo(cluster):
    """keepalived creates its notify_fifo when it is missing at start (and the FIFO goes
    away with it: keepalived unlinks one it created, systemd removes a RuntimeDirectory on
    stop). Across such restarts the running watcher must follow the FIFO at the path
    (before: it kept reading the orphaned one and the next MASTER moved nothing).
    keepalived 2.2.7 here left the FIFO it created in place on SIGTERM, so the test removes
    it while keepalived is stopped."""
    if cluster.variant != "watch":
        pytest.skip("notify_fifo + watch only")
    cluster.restore()
    a = cluster.nodes["a"]
    seen = {os.stat(a.fifo).st_ino}
    for n in (1, 2):
        t = time.time()
        a.signal(signal.SIGTERM)
        cluster.converge(f"keepalived stopped ({n})", "b", t)
        a.wait_stopped()
        a.fifo.unlink(missing_ok=True)
        t = a.start()  # keepalived makes the FIFO itself; a takes MASTER back (preempt)
        cluster.converge(f"keepalived made a new FIFO ({n})", "a", t)
        ino = os.stat(a.fifo).st_ino
        assert ino not in seen, "keepalived made a new FIFO"
        seen.add(ino)
    a.check_watcher()
    log = a.vip_log.read_text()
    assert log.count("re-created (keepalived restarted?); reopened") == 2, a.diagnostics()
