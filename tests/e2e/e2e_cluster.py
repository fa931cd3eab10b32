"""The lab as one object: namespaces, moto on the bridge, an IMDSv2 fake per node,
figure 1 seeded, two keepalived nodes; and `converge`, which waits for keepalived and
EC2 to agree and records how long EC2 took."""

import time

from harness.imds_fake import start_imds
from harness.moto import ec2_client, start_moto
from harness.scenario import OTHER_CLUSTER_VIP, VIP, changes, node_json, seed_figure1, snapshot

from e2e_keepalived import VIP_ADDR, Node
from e2e_net import IMDS_IP, SWITCH_IP, Lab, in_netns

REGION = "us-east-1"
SEED_NODE = {"a": "node1", "b": "node2"}  # keepalived node -> figure 1 instance
POLL = 0.05


class Cluster:
    """Figure 1: both private tables' VIP route and the EIP follow keepalived's MASTER.
    Subclasses change the EC2 side: EXTENDED (moto_ext), SEED_NODE, seed_ec2, toml_text,
    point_at, owner, check_untouched."""

    EXTENDED = False
    SEED_NODE = SEED_NODE
    LABEL = ""  # before each case name in the table
    NODE = Node  # one keepalived node (e2e_haproxy.py: with HAProxy in front of a backend)

    def __init__(self, variant, work, binary, stamp, venv, rows):
        self.variant = variant  # "notify" (generic notify hook) or "watch" (notify_fifo)
        self.work, self.binary, self.stamp, self.venv = work, binary, stamp, venv
        self.rows = rows
        self.lab = Lab()
        self.moto = None
        self.imds = []
        self.nodes = {}

    # --- setup / teardown -------------------------------------------------------
    def setup(self):
        self.lab.build()
        with in_netns(self.lab.sw):  # moto's process and our EC2 sockets live there
            self.moto = start_moto(str(self.venv), log_path=str(self.work / "moto.log"),
                                   region=REGION, host=SWITCH_IP, extended=self.EXTENDED)
            self.ec2 = ec2_client(self.moto.url, REGION)
            self.seed = self.seed_ec2()
        self.baseline = self.snapshot()
        self.eni = {n: self.seed[self.SEED_NODE[n]]["eni_id"] for n in self.SEED_NODE}
        self.point_at("b")  # so the initial election has something to move
        for node, ns in self.lab.ns.items():
            with in_netns(ns):  # the fake's socket stays in the node's namespace
                self.imds.append(start_imds(node_json(self.seed, self.SEED_NODE[node], REGION),
                                            host=IMDS_IP, port=80, log_requests=False))
        for node, ns in self.lab.ns.items():
            self.nodes[node] = self.NODE(node, ns, self.work, self.binary, self.stamp,
                                    self.moto.url, self.seed, self.variant, self.toml_text())
            self.nodes[node].check_config()
            if self.variant == "watch":
                self.nodes[node].start_watch()

    def close(self):
        for node in self.nodes.values():
            _quietly(node.terminate)  # both at once: each takes ~1 s to stop
        for node in self.nodes.values():
            _quietly(node.stop)
        for srv in self.imds:
            _quietly(srv.stop)
        self.imds = []
        if self.moto is not None:
            _quietly(self.moto.stop)
            self.moto = None
        self.lab.close()  # kills anything left inside (notify hooks), deletes namespaces

    # --- EC2 side ---------------------------------------------------------------
    def seed_ec2(self):
        return seed_figure1(self.ec2)

    def toml_text(self):
        return None  # Node's default: the VIP route and the EIP

    def snapshot(self):
        with in_netns(self.lab.sw):
            return snapshot(self.ec2, self.seed)

    def point_at(self, node):
        """Move the VIP's routes and EIP behind keepalived's back (test setup only)."""
        eni = self.eni[node]
        with in_netns(self.lab.sw):
            for rtb in (self.seed["rtb_a"], self.seed["rtb_b"]):
                self.ec2.replace_route(RouteTableId=rtb, DestinationCidrBlock=VIP,
                                       NetworkInterfaceId=eni)
            self.ec2.associate_address(AllocationId=self.seed["eip"]["allocation_id"],
                                       NetworkInterfaceId=eni, AllowReassociation=True)

    def owner(self, snap):
        """The node both private tables' VIP route and the EIP point at, else None."""
        rt = snap["routes"]
        targets = {rt[self.seed["rtb_a"]].get(VIP), rt[self.seed["rtb_b"]].get(VIP), snap["eip"]}
        for node, eni in self.eni.items():
            if targets == {eni}:
                return node
        return None

    def check_untouched(self, snap):
        """Only the VIP's two private routes and its EIP may ever differ from the seed."""
        allowed = {("route", self.seed["rtb_a"], VIP), ("route", self.seed["rtb_b"], VIP),
                   ("address", self.seed["eip"]["allocation_id"])}
        extra = {k: v for k, v in changes(self.baseline, snap).items() if k not in allowed}
        assert not extra, f"ec2-vip changed resources it does not own: {extra}"
        other = snap["routes"][self.seed["rtb_b"]][OTHER_CLUSTER_VIP]
        assert other == self.seed["node1"]["eni_id"], f"{OTHER_CLUSTER_VIP} moved to {other}"

    # --- keepalived side --------------------------------------------------------
    def masters(self):
        """Nodes whose keepalived runs and holds the VIP (a crashed one may keep it)."""
        return [n for n, node in self.nodes.items()
                if node.running() and self.lab.has_addr(n, VIP_ADDR)]

    def in_flight(self):
        return [(n, r.state, r.pid) for n, node in self.nodes.items()
                for r in node.runs() if r.in_flight()]

    def restore(self):
        """Both nodes running, plugged in and healthy; a master and EC2 pointing at it."""
        for name, node in self.nodes.items():
            self.lab.set_link(name, True)
            node.set_healthy(True)
        for name, node in self.nodes.items():
            self.lab.wait_carrier(name, True)
            if not node.running():
                node.wait_stopped()
                node.start()
        return self.converge(None, "a", time.time())

    def stop_node(self, name, sig):
        node = self.nodes[name]
        node.signal(sig)
        node.wait_stopped()

    # --- the measurement ----------------------------------------------------------
    def converge(self, case, expect, t_event, hold=0.5, timeout=15.0, new_master=True,
                 since=None):
        """Wait until `expect` alone is keepalived's MASTER, EC2 points at it, no notify
        hook still runs, and that has held for `hold` s. Record a row unless case is None.
        new_master: keepalived must have run a MASTER notify on `expect` after t_event
        (a flap burst may end with the master it already had). since: when the case
        began, for counting its notify runs [default: t_event].
        """
        first_poll = time.time()
        deadline = first_poll + timeout
        ok_since = None
        while True:
            for node in self.nodes.values():
                node.check_watcher()
            now = time.time()
            snap = self.snapshot()
            self.check_untouched(snap)
            if self.owner(snap) == expect:
                ok_since = ok_since or now
            else:
                ok_since = None
            masters, busy = self.masters(), self.in_flight()
            if masters == [expect] and ok_since and not busy and now - ok_since >= hold:
                break
            if now > deadline:
                raise AssertionError(
                    f"{case or 'restore'}: after {timeout:.0f} s keepalived masters={masters}, "
                    f"EC2 owner={self.owner(snap)} (want {expect}), hooks running={busy}\n"
                    f"routes: { {k: v.get(VIP) for k, v in snap['routes'].items()} } "
                    f"eip: {snap['eip']}\n" + self.diagnostics())
            time.sleep(POLL)
        runs = self.nodes[expect].runs()
        masters_runs = [r for r in runs if r.state == "MASTER"
                        and (r.start >= t_event - 0.05 or not new_master)]
        if case is None and not masters_runs:
            return None  # restore found everything already in place
        assert masters_runs, (f"{case}: node {expect} is MASTER but keepalived ran no MASTER "
                              f"notify after the event\n" + self.diagnostics())
        last = masters_runs[-1]
        assert last.rc == 0, (f"{case}: the last MASTER hook on {expect} exited {last.rc}\n"
                              + self.diagnostics())
        if case is not None:
            self.rows.append({
                "case": self.LABEL + case, "variant": self.variant, "master": expect,
                "detect": last.start - t_event,
                "hook": last.end - last.start if self.variant == "notify" else None,
                # EC2 may already have been right when polling began (after a burst)
                "converge": max(0.0, ok_since - max(last.start, first_poll)),
                "hooks": sum(1 for n in self.nodes.values() for r in n.runs()
                             if r.start >= (since or t_event) - 0.05),
            })
        return last

    def diagnostics(self):
        return "".join(n.diagnostics() for n in self.nodes.values())


def _quietly(fn):
    try:
        fn()
    except Exception as err:  # teardown goes on; the first failure is already reported
        print(f"e2e teardown: {fn}: {err}")


def format_table(rows):
    head = ("case", "via", "master", "event->MASTER", "hook run", "MASTER->EC2", "notifies")
    lines = [f"{head[0]:<32} {head[1]:<6} {head[2]:>6} {head[3]:>14} {head[4]:>9} "
             f"{head[5]:>12} {head[6]:>8}"]
    for r in rows:
        detect = f"{r['detect']:>13.3f}s" if r["detect"] >= 0 else f"{'(before)':>14}"
        hook = f"{r['hook']:>8.3f}s" if r["hook"] is not None else f"{'-':>9}"
        lines.append(f"{r['case']:<32} {r['variant']:<6} {r['master']:>6} {detect} {hook} "
                     f"{r['converge']:>11.3f}s {r['hooks']:>8}")
    lines += [
        "event->MASTER: fault injected -> keepalived ran the new master's notify "
        "((before): a flap burst ended on a master that was already MASTER, and a MASTER->EC2 "
        "of 0.000 there means EC2 was already right when the burst ended);",
        "hook run: that notify's ec2-vip run; MASTER->EC2: that notify -> DescribeRouteTables "
        "and DescribeAddresses show both VIP routes and the EIP on the new master (keepalived "
        "lab: and ListResourceRecordSets the Route 53 record naming its private IP; secondary IP "
        "rows: DescribeNetworkInterfaces shows the address on its ENI alone; polled "
        f"every {POLL * 1000:.0f} ms); notifies: transitions on both nodes during the case;",
        "via notify: ec2-vip is the generic notify hook; via watch: notify_fifo + ec2-vip watch",
    ]
    return lines
