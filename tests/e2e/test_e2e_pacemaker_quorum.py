"""A real 3-node Pacemaker + corosync cluster with quorum (no `two_node`) moves the VIP
through ec2-vip's OCF agent when the active node is cut off from the other two.

The active node is cut off while its cluster stack keeps running (a partition, not a
crash): first its cable is unplugged at the switch, later (on the same cluster) only its
corosync traffic is dropped, so that it still reaches EC2. It alone has one vote of three:
it loses quorum and, with `no-quorum-policy=stop`, stops the resource (its eth0 loses the
VIP's address; it writes EC2 no more, beyond letting go of the Elastic IP still associated
with it). The two others keep quorum and start the resource on one of them: both private
tables' VIP route and the Elastic IP point at that node's ENI and stay there. Then the cut
is undone: the node rejoins, stickiness keeps the VIP where it is, and nothing in EC2
flaps. What a keepalived pair cannot do: the side that cannot see the others gives the VIP
up instead of fighting for it. Cases run in order on one cluster.
"""

import re
import signal
import subprocess
import threading
import time
from datetime import datetime

import pytest

from harness.scenario import VIP

TIMES = {}
WRITES = re.compile(r"via (ReplaceRoute|CreateRoute|AssociateAddress|DisassociateAddress)")
FINISHED = re.compile(r"vip (start|stop) \(call \d+, PID \d+\) exited with status (\d+)")
HOLD = 3.0  # how long the outcome must stay put (longer than a monitor interval)


class Owners(threading.Thread):
    """Who EC2 says owns the VIP (both routes + the EIP, else None), sampled every 50 ms
    from the switch's namespace with a client of its own: [(monotonic time, owner), ...]
    at each change."""

    def __init__(self, pcmk):
        super().__init__(daemon=True)
        self.pcmk, self.changes, self.halt, self.error = pcmk, [], threading.Event(), None

    def run(self):
        from harness.moto import ec2_client
        from harness.scenario import snapshot
        from e2e_cluster import REGION
        from e2e_net import in_netns

        p = self.pcmk
        try:
            with in_netns(p.lab.sw):
                ec2 = ec2_client(p.moto.url, REGION)
                while not self.halt.is_set():
                    owner = p.owner(snapshot(ec2, p.seed))
                    if not self.changes or self.changes[-1][1] != owner:
                        self.changes.append((time.monotonic(), owner))
                    self.halt.wait(0.05)
        except Exception as err:  # the test reads it: a dead sampler must not look like calm
            self.error = err

    def since(self, t0):
        """The owners seen from t0 on, the one at t0 first."""
        assert self.error is None and self.is_alive(), f"the EC2 owner sampler died: {self.error}"
        before = [o for t, o in self.changes if t < t0][-1:]
        return before + [o for t, o in self.changes if t >= t0]

    def stop(self):
        self.halt.set()
        self.join(5)


@pytest.fixture(scope="module")
def pcmk3(e2e_installed, e2e_venv, tmp_path_factory):
    from e2e_pacemaker import PacemakerCluster, missing

    reason = missing()
    if reason:
        pytest.skip(reason)
    binary, _ = e2e_installed
    work = tmp_path_factory.mktemp("e2e-pacemaker-quorum")
    old_term = signal.signal(signal.SIGTERM, lambda s, f: (_ for _ in ()).throw(KeyboardInterrupt()))
    c = PacemakerCluster(work, binary, e2e_venv, nodes=3)
    owners = None
    try:
        t0 = time.monotonic()
        c.setup()
        c.wait_online(list(c.hosts.values()))
        TIMES["cluster formed (3 nodes online, DC elected)"] = time.monotonic() - t0
        c.crm("a", "configure", "primitive", "vip", "ocf:ec2-vip:ec2-vip",
              "params", "ip=" + VIP.split("/")[0], f"elastic_ips={c.seed['eip']['allocation_id']}",
              "timeout=10",
              "op", "start", "timeout=30s", "op", "stop", "timeout=30s",
              "op", "monitor", "interval=2s", "timeout=20s")
        c.owners = owners = Owners(c)
        owners.start()
        yield c
    finally:
        if owners is not None:
            owners.stop()
        c.close()
        signal.signal(signal.SIGTERM, old_term)
        print(f"\nPacemaker 3-node e2e logs: {work}")


def log_size(pcmk, node):
    log = pcmk.nodes[node].dir / "var/log/pacemaker/pacemaker.log"
    return log.stat().st_size if log.exists() else 0


def log_since(pcmk, node, offset):
    """What `node`'s Pacemaker logged (its agent runs' output included) after `offset`."""
    with open(pcmk.nodes[node].dir / "var/log/pacemaker/pacemaker.log", errors="replace") as f:
        f.seek(offset)
        return f.read()


def logged_at(text, pattern):
    """Wall-clock time of the first line of a Pacemaker log text matching `pattern`, or None."""
    m = re.search(r"^(\w{3} +\d+ [\d:.]+) .*" + pattern, text, re.M)
    if m is None:
        return None
    return datetime.strptime(f"{datetime.now().year} {m.group(1)}", "%Y %b %d %H:%M:%S.%f").timestamp()


def wait_for(what, cond, pcmk, timeout):
    """Poll cond() every 0.1 s until it is truthy; its value and the seconds it took."""
    t0 = time.monotonic()
    while not (got := cond()):
        if time.monotonic() - t0 > timeout:
            raise AssertionError(f"{what}: not after {timeout:.0f} s\n{pcmk.diagnostics()}")
        time.sleep(0.1)
    return got, time.monotonic() - t0


def test_pcmk3_quorate_cluster_starts_the_vip(pcmk3):
    node, _ = wait_for("vip started", pcmk3.where, pcmk3, 30)
    pcmk3.wait_owner(node, time.monotonic(), "started")
    pcmk3.wait_local(node)
    assert all(pcmk3.quorate(n) for n in pcmk3.nodes), "a node of the full cluster sees no quorum"


# Two ways to cut the active node off (heal undoes them):
# - "link": its cable unplugged at the switch; it reaches neither its peers nor EC2.
# - "cluster": all UDP dropped in its namespace (corosync's knet); EC2 (TCP) still answers,
#   so its stop does write: it lets the Elastic IP go while still associated with it
#   (DisassociateAddress of its own association, never anything the majority set).
CUTS = {"link": ("cable unplugged", set()), "cluster": ("corosync traffic dropped", {"DisassociateAddress"})}
NFT_CUT = """table inet e2e_partition {
    chain in { type filter hook input priority 0; policy accept; meta l4proto udp drop; }
    chain out { type filter hook output priority 0; policy accept; meta l4proto udp drop; }
}
"""


def cut(pcmk, node, how, off):
    if how == "link":
        pcmk.lab.set_link(node, not off)
        return
    from e2e_net import tool

    cmd = ["-f", "-"] if off else ["delete", "table", "inet", "e2e_partition"]
    subprocess.run([tool("ip"), "netns", "exec", pcmk.lab.ns[node], tool("nft"), *cmd],
                   input=NFT_CUT if off else None, text=True, check=True, timeout=10)


def partition(pcmk, how):
    """Cut the active node off; the majority must take the VIP and keep it, the cut-off node
    must lose quorum, stop the resource and write EC2 no more (beyond letting its own go)."""
    iso = pcmk.where()
    majority = [n for n in pcmk.nodes if n != iso]
    pcmk.wait_owner(iso, time.monotonic(), "before the partition")
    pcmk.wait_local(iso)
    what, may_write = CUTS[how]
    offset = log_size(pcmk, iso)
    offsets = {n: log_size(pcmk, n) for n in majority}
    wall, t0 = time.time(), time.monotonic()
    cut(pcmk, iso, how, off=True)  # a partition: iso's cluster stack keeps running

    def new_owner():
        owner = pcmk.owner(pcmk.snapshot())
        return owner if owner in majority else None

    new, moved = wait_for("the majority takes the VIP", new_owner, pcmk, 45)
    TIMES[f"{what} -> routes + EIP on a majority node"] = moved
    seen = log_since(pcmk, new, offsets[new])  # the parts, from the new node's Pacemaker log
    lost = logged_at(seen, rf"pacemaker-controld.*Node {pcmk.hosts[iso]} state is now lost")
    started = logged_at(seen, r"vip start \(call \d+, PID \d+\) exited with status 0")
    if lost and started:
        TIMES[f"  {what}: membership change (the new node's Pacemaker: {pcmk.hosts[iso]} lost)"] = lost - wall
        TIMES[f"  {what}: then Pacemaker + the agent's start (start exited)"] = started - lost
    assert pcmk.where(node=new, expect=new) == new
    assert pcmk.quorate(new) is True, f"the majority ({majority}) has no quorum"
    wait_for(f"{iso} loses quorum", lambda: pcmk.quorate(iso) is False, pcmk, 30)
    TIMES[f"{what} -> the cut-off node sees no quorum (poll)"] = time.monotonic() - t0

    def stopped():
        done = FINISHED.findall(log_since(pcmk, iso, offset))
        return done if ("stop", "0") in done else None

    wait_for(f"{iso} stops the resource", stopped, pcmk, 40)
    TIMES[f"{what} -> the cut-off node's stop exited 0 (poll)"] = time.monotonic() - t0
    assert not pcmk.lab.has_addr(iso, VIP), f"{iso} still carries {VIP} after its stop"
    assert pcmk.where(node=iso) is None, f"{iso}'s Pacemaker still runs the VIP"
    pcmk.wait_local(new, alone=True)
    time.sleep(HOLD)  # the majority keeps serving; iso stays down
    assert pcmk.owner(pcmk.snapshot()) == new
    trail = pcmk.owners.since(t0)  # iso, maybe a gap (None: the EIP let go first), new
    assert trail[0] == iso and trail[-1] == new and set(trail[1:-1]) <= {None}, \
        f"EC2's owner flapped: {trail}"
    after = log_since(pcmk, iso, offset)
    assert FINISHED.findall(after) == [("stop", "0")], f"{iso}'s agent runs: {FINISHED.findall(after)}"
    assert set(WRITES.findall(after)) <= may_write, f"{iso} wrote EC2 without quorum: {WRITES.findall(after)}"
    return iso, new


def heal(pcmk, how, iso, new):
    """Undo the cut; the node rejoins, the VIP stays on `new` and EC2 does not move."""
    what = CUTS[how][0]
    offset = log_size(pcmk, iso)
    t0 = time.monotonic()
    cut(pcmk, iso, how, off=False)
    pcmk.wait_online(list(pcmk.hosts.values()), timeout=45, via=iso)
    wait_for(f"{iso} quorate again", lambda: pcmk.quorate(iso) is True, pcmk, 30)
    TIMES[f"{what}, undone -> the node rejoined, quorate (poll)"] = time.monotonic() - t0
    time.sleep(HOLD)  # stickiness: no move back, no stop/start on new
    for n in pcmk.nodes:
        assert pcmk.where(node=n) == new, f"{n} sees the VIP on {pcmk.where(node=n)}, want {new}"
    assert pcmk.owners.since(t0) == [new], f"EC2's owner flapped after the heal: {pcmk.owners.since(t0)}"
    pcmk.wait_local(new, alone=True)
    after = log_since(pcmk, iso, offset)
    assert not FINISHED.findall(after) and not WRITES.findall(after), \
        f"the rejoined {iso} ran the agent: {FINISHED.findall(after)} {WRITES.findall(after)}"


def test_pcmk3_unplugged_active_node_loses_quorum_and_the_majority_takes_the_vip(pcmk3):
    pcmk3.t_partition = time.monotonic()
    pcmk3.cut_off = partition(pcmk3, "link")


def test_pcmk3_plugged_back_node_does_not_take_the_vip_back(pcmk3):
    heal(pcmk3, "link", *pcmk3.cut_off)


def test_pcmk3_cut_off_node_that_still_reaches_ec2_gives_up_and_stays_away(pcmk3):
    """The cluster network alone fails: the cut-off node could write EC2 and must not."""
    from e2e_net import tool

    if tool("nft") is None:
        pytest.skip("the corosync-only partition needs `nft` (apt-get install -y nftables)")
    iso, new = partition(pcmk3, "cluster")
    heal(pcmk3, "cluster", iso, new)


def test_pcmk3_report(pcmk3, capsys):
    with capsys.disabled():
        print("\nPacemaker + corosync (3 nodes, quorum, ec2-vip OCF agent) timings:")
        for what, secs in TIMES.items():
            print(f"  {what}: {secs:.2f} s")
        t0 = getattr(pcmk3, "t_partition", None)
        if t0 is not None:
            seen = ", ".join(f"{t - t0:+.2f} s {o}" for t, o in pcmk3.owners.changes)
            print(f"  EC2 owner (both VIP routes + EIP) at each change, from the first cut: {seen}")
