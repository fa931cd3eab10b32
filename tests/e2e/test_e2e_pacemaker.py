"""A real 2-node Pacemaker + corosync cluster moves the VIP through ec2-vip's OCF agent.

One resource (`ocf:ec2-vip:ec2-vip`, aws-vpc-move-ip's `ip` plus the VIP's Elastic IP): both
private tables' VIP route, the Elastic IP and the VIP's address on eth0 (as aws-vpc-move-ip
keeps it) must follow the node Pacemaker runs it on, on
standby and failback, after route drift (the monitor notices, the cluster repairs), and
when the active node's corosync is killed. Cases run in order on one cluster.
"""

import re
import signal
import time

import pytest

from harness.scenario import VIP

TIMES = {}


@pytest.fixture(scope="module")
def pcmk(e2e_installed, e2e_venv, tmp_path_factory):
    from e2e_pacemaker import PacemakerCluster, missing

    reason = missing()
    if reason:
        pytest.skip(reason)
    binary, _ = e2e_installed  # the agent finds it on PATH, as installed from the .deb
    work = tmp_path_factory.mktemp("e2e-pacemaker")
    old_term = signal.signal(signal.SIGTERM, lambda s, f: (_ for _ in ()).throw(KeyboardInterrupt()))
    c = PacemakerCluster(work, binary, e2e_venv)
    try:
        t0 = time.monotonic()
        c.setup()
        c.wait_online(["pcmk-a", "pcmk-b"])
        TIMES["cluster formed (both nodes online, DC elected)"] = time.monotonic() - t0
        c.configured = time.monotonic()
        c.crm("a", "configure", "primitive", "vip", "ocf:ec2-vip:ec2-vip",
              "params", "ip=" + VIP.split("/")[0], f"elastic_ips={c.seed['eip']['allocation_id']}",
              "timeout=10",
              "op", "start", "timeout=30s", "op", "stop", "timeout=30s",
              "op", "monitor", "interval=2s", "timeout=20s")
        yield c
    finally:
        c.close()
        signal.signal(signal.SIGTERM, old_term)
        print(f"\nPacemaker e2e logs: {work}")


def other(node):
    return "b" if node == "a" else "a"


def active(pcmk, timeout=30):
    """The node Pacemaker runs the VIP on, once EC2 agrees."""
    deadline = time.monotonic() + timeout
    while (node := pcmk.where()) is None:
        assert time.monotonic() < deadline, "vip not started\n" + pcmk.diagnostics()
        time.sleep(0.1)
    pcmk.wait_owner(node, time.monotonic(), "started")
    pcmk.wait_local(node)
    return node


def test_pcmk_start_points_the_vip_at_the_active_node(pcmk):
    node = active(pcmk)
    TIMES["crm configure primitive -> EC2 points at the active node"] = time.monotonic() - pcmk.configured
    assert pcmk.where(expect=node) == node


def test_pcmk_standby_moves_the_vip_and_failback(pcmk):
    from e2e_pacemaker import HOSTS

    first = active(pcmk)
    t0 = time.monotonic()
    pcmk.crm(first, "node", "standby", HOSTS[first])
    crm_s = time.monotonic() - t0
    TIMES["crm node standby -> routes + EIP moved"] = pcmk.wait_owner(other(first), t0, "standby")
    TIMES["  of which the crm command itself (crmsh start-up, CIB update)"] = crm_s
    assert pcmk.where(expect=other(first)) == other(first)
    pcmk.wait_local(other(first))  # stop removed it on the standby node, start added it
    pcmk.crm(first, "node", "online", HOSTS[first])
    # Stickiness keeps it where it is; failback is a move by the operator.
    time.sleep(1)
    assert pcmk.where(expect=other(first)) == other(first)
    t0 = time.monotonic()
    pcmk.crm(first, "resource", "move", "vip", HOSTS[first])
    TIMES["crm resource move (failback) -> moved back"] = pcmk.wait_owner(first, t0, "failback")
    pcmk.crm(first, "resource", "clear", "vip")
    assert pcmk.where(expect=first) == first
    pcmk.wait_local(first)


def test_pcmk_monitor_notices_route_drift_and_the_cluster_repairs_it(pcmk):
    from e2e_net import in_netns

    node = active(pcmk)
    t0 = time.monotonic()
    with in_netns(pcmk.lab.sw):  # someone points table A's VIP route at the other node
        pcmk.ec2.replace_route(RouteTableId=pcmk.seed["rtb_a"], DestinationCidrBlock=VIP,
                               NetworkInterfaceId=pcmk.eni[other(node)])
    snap = pcmk.snapshot()
    assert snap["routes"][pcmk.seed["rtb_a"]][VIP] == pcmk.eni[other(node)]
    TIMES["route drift -> repaired by the cluster (monitor every 2 s)"] = pcmk.wait_owner(node, t0, "drift")
    fails = pcmk.nodes[node].run("crm_mon", "--one-shot", "--output-as=xml").stdout
    assert 'task="monitor"' in fails and "vip" in fails, "no failed monitor recorded:\n" + fails
    pcmk.crm(node, "resource", "cleanup", "vip")


def failures(pcmk, node):
    """[(resource, task, node, exit code)] of crm_mon's failed operations."""
    import xml.etree.ElementTree as ET

    xml = pcmk.nodes[node].run("crm_mon", "--one-shot", "--output-as=xml").stdout
    return [(f.get("op_key", "").rsplit("_", 2)[0], f.get("task"), f.get("node"), f.get("exitcode"))
            for f in ET.fromstring(xml).iter("failure")]


def test_pcmk_faulty_resources_end_stopped_without_a_stop_failure(pcmk):
    """Issue 27's real-cluster rows: a typo'd `interface` and a deleted Elastic IP. Every
    failed start is followed by a stop; each stop must be 0 (a failed stop fences the node),
    so both resources end stopped, the VIP untouched, no stop failure, no fencing asked."""
    node = active(pcmk)
    ops = ["op", "start", "timeout=20s", "op", "stop", "timeout=20s", "op", "monitor", "interval=5s",
           "timeout=20s"]
    pcmk.crm(node, "configure", "primitive", "bad-if", "ocf:ec2-vip:ec2-vip", "params", "ip=10.1.0.77",
             "interface=eth7", "timeout=5", *ops)
    pcmk.crm(node, "configure", "primitive", "bad-eip", "ocf:ec2-vip:ec2-vip", "params",
             "elastic_ips=eipalloc-0000000000deadbee", "release=true", "timeout=5", *ops)
    t0, deadline = time.monotonic(), time.monotonic() + 45
    # The interface: 2 (hard, this node) on each node in turn; the Elastic IP: 6 (fatal) once.
    want = {("bad-if", n) for n in pcmk.hosts.values()}
    while True:
        seen = failures(pcmk, node)
        started = {r for r in ("bad-if", "bad-eip") if pcmk.status(node)[2].get(r)}
        failed = {(r, n) for r, task, n, _ in seen if task == "start"}
        if want <= failed and any(r == "bad-eip" for r, _ in failed) and not started:
            break
        assert time.monotonic() < deadline, f"failures={seen} started={started}\n{pcmk.diagnostics()}"
        time.sleep(0.5)
    TIMES["typo'd interface + deleted EIP: failed start on both nodes, stopped"] = time.monotonic() - t0
    codes = {(r, task, code) for r, task, _, code in seen}
    assert ("bad-if", "start", "2") in codes and ("bad-eip", "start", "6") in codes, seen
    assert not [f for f in seen if f[1] == "stop"], f"a stop failed (the node would be fenced): {seen}"
    logs = "".join((n.dir / "var/log/pacemaker/pacemaker.log").read_text(errors="replace")
                   for n in pcmk.nodes.values())
    # What the scheduler and the controller say when a node is to be fenced (stonith is off in
    # this lab: a failed stop would show above as a failure and here as the node's fencing).
    fence = re.compile(r"will be fenced|Scheduling node \S+ for fencing|Requesting fencing|wants to fence")
    asked = [line for line in logs.splitlines() if fence.search(line)]
    assert not asked, "\n".join(asked)
    assert pcmk.where(expect=node) == node  # the VIP stayed where it was
    pcmk.wait_owner(node, time.monotonic(), "beside faulty resources")
    for r in ("bad-if", "bad-eip"):
        pcmk.crm(node, "resource", "stop", r)
    pcmk.crm(node, "configure", "delete", "bad-if", "bad-eip")
    pcmk.crm(node, "resource", "cleanup")


def test_pcmk_corosync_killed_on_the_active_node(pcmk):
    node = active(pcmk)
    survivor = other(node)
    t0 = time.monotonic()
    pcmk.nodes[node].kill_corosync()
    pcmk.cut_off = node
    TIMES["corosync SIGKILL on the active node -> moved"] = pcmk.wait_owner(survivor, t0, "corosync killed",
                                                                             timeout=45)
    assert pcmk.where(node=survivor, expect=survivor) == survivor
    pcmk.wait_local(survivor, alone=False)  # no fencing here: the cut-off node keeps its copy


def test_pcmk_rejoin_after_reboot_then_the_active_node_crashes(pcmk, e2e_installed):
    """The node cut off above is rebooted (no fencing here: we do what fencing would) and
    rejoins; the VIP stays (stickiness). Then the active node crashes (cable and processes)."""
    from e2e_pacemaker import HOSTS

    back = pcmk.cut_off
    active_node = other(back)
    pcmk.nodes[back].crash()
    pcmk.lab.del_addr(back, VIP)  # a reboot clears the interface
    pcmk.nodes[back].boot(e2e_installed[0])
    pcmk.wait_online([HOSTS[back], HOSTS[active_node]])
    time.sleep(3)  # its probe and a few monitors of the active node
    assert pcmk.where(node=active_node) == active_node
    pcmk.wait_owner(active_node, time.monotonic(), "rejoined")
    pcmk.wait_local(active_node)
    t0 = time.monotonic()
    pcmk.lab.set_link(active_node, False)
    pcmk.nodes[active_node].crash()
    TIMES["active node crashed (cable + processes) -> moved"] = pcmk.wait_owner(back, t0, "crash", timeout=45)
    assert pcmk.where(node=back, expect=back) == back
    pcmk.wait_local(back, alone=False)


def test_pcmk_report(pcmk, capsys):
    ran = pcmk.agent_times()
    assert ran.get("start") and ran.get("stop"), f"no agent runs in pacemaker-execd's log: {ran}"
    with capsys.disabled():
        print("\nPacemaker + corosync (2 nodes, ec2-vip OCF agent) timings:")
        for what, secs in TIMES.items():
            print(f"  {what}: {secs:.2f} s")
        for action, ms in sorted(ran.items()):
            print(f"  agent {action} (pacemaker-execd): {len(ms)} runs, {min(ms)}-{max(ms)} ms")
