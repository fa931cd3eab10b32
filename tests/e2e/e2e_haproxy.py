"""The e2e lab as an HAProxy pair that a client reaches through an emulated VPC.

Each node runs Debian's haproxy with examples/keepalived/haproxy-pair/haproxy.cfg in front
of a small backend (`python3 -m http.server` on the node's 127.0.0.1:8080), and keepalived
with that directory's keepalived.conf: track_script check-haproxy, advert_int 1, ec2-vip
as notify hook (or, variant "watch", its notify_fifo line enabled and `ec2-vip watch`).
The test fills in the lab's addresses and paths; every other line is the example's.
A client namespace reaches the VIP route and the Elastic IP through e2e_dataplane.py.

`run_case(name)` injects one of CASES into node a (the MASTER), waits for keepalived, EC2
and the client to settle on the new master, and returns one row per path (e2e_outage.py).
"""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from e2e_cluster import REGION, Cluster
from harness.scenario import VIP

from e2e_dataplane import CLIENT_IP, NFT_TABLE, PATHS, TIMEOUT, Client, Poller
from e2e_keepalived import PRIORITY, Node, reap
from e2e_net import NODE_IPS, in_netns, ip, tool
from e2e_outage import (dataplane_applied, master_timeline, measure, recovered_at, settled,
                        write_time)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "keepalived" / "haproxy-pair"
CHECK = "check-haproxy"
BACKEND_PORT = 8080
CASES = ("keepalived SIGKILL", "preempt back", "haproxy killed", "link down", "node crash")
SETTLE = 1.0  # the client must see the new master alone for this long
RECOVER_TIMEOUT = 15.0  # generous: the goal (detection + 0.5 s) is the report's business


def render(path, subs):
    """The example file with each `old` replaced by `new`; every `old` must be there."""
    text = Path(path).read_text()
    for old, new in subs.items():
        assert text.count(old) == 1, f"{path}: expected {old!r} once (the test edits it)"
        text = text.replace(old, new)
    return text


def missing():
    """Why the traffic cases cannot run here (beyond the lab's own needs), or None."""
    for name, pkg in (("haproxy", "haproxy"), ("nft", "nftables")):
        if tool(name) is None:
            return f"traffic e2e needs `{name}` (apt-get install -y {pkg})"
    return None


class HaproxyNode(Node):
    def __init__(self, name, ns, work, binary, stamp, moto_url, seed, variant, toml_text=None):
        super().__init__(name, ns, work, binary, stamp, moto_url, seed, variant, toml_text)
        peer = next(n for n in NODE_IPS if n != name)
        hook = " ".join([str(binary), *self.vip_args, "notify"]) if variant == "notify" \
            else "/bin/true"  # watch: the generic notify only stamps the time
        subs = {
            "priority 150": f"priority {PRIORITY[name]}",
            "unicast_src_ip 10.0.2.10": f"unicast_src_ip {NODE_IPS[name]}",
            "        10.0.4.10\n": f"        {NODE_IPS[peer]}\n",
            'script "/usr/local/sbin/check-haproxy"': f'script "{Path(binary).parent / CHECK}"',
            'notify "/usr/sbin/ec2-vip --syslog notify"':
                f'notify "{stamp} {self.notify_log} {hook}"',
        }
        if variant == "watch":
            subs["# notify_fifo /run/keepalived-notify.fifo"] = f"notify_fifo {self.fifo}"
        self.conf.write_text(render(EXAMPLES / "keepalived.conf", subs))
        self.haproxy_cfg = self.dir / "haproxy.cfg"
        self.haproxy_cfg.write_text(render(EXAMPLES / "haproxy.cfg", {
            "bind 10.0.2.10:80": f"bind {NODE_IPS[name]}:80",  # the lab IP: "private IP"
            "X-Served-By node1": f"X-Served-By {name}"}))
        self.www = self.dir / "www"
        self.www.mkdir()
        (self.www / "index.html").write_text(f"backend of node {name}\n")
        self.haproxy = self.backend = None

    def _spawn(self, argv, log):
        with open(self.dir / log, "a") as out:
            return subprocess.Popen(self._in_ns(argv), stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=subprocess.STDOUT, cwd=self.dir,
                                    start_new_session=True)

    def start_backend(self):
        self.backend = self._spawn([sys.executable, "-m", "http.server", str(BACKEND_PORT),
                                    "--bind", "127.0.0.1", "--directory", str(self.www)],
                                   "backend.log")

    def allow_vip_bind(self):
        """net.ipv4.ip_nonlocal_bind = 1 in this node's namespace only (haproxy.cfg binds
        the VIP also while the node is BACKUP)."""
        with in_netns(self.ns), open("/proc/sys/net/ipv4/ip_nonlocal_bind", "w") as f:
            f.write("1\n")

    def start_haproxy(self):
        # `ip netns exec` and `env` exec: the Popen's pid is haproxy's own.
        self.haproxy = self._spawn([tool("haproxy"), "-db", "-f", str(self.haproxy_cfg)],
                                   "haproxy.log")

    def haproxy_running(self):
        return self.haproxy is not None and self.haproxy.poll() is None

    def kill_haproxy(self):
        self.haproxy.kill()
        self.haproxy.wait(timeout=5)

    def healthy(self):
        """keepalived's own check, run in this node's namespace."""
        return subprocess.run(self._in_ns([str(Path(self.binary).parent / CHECK)]),
                              capture_output=True, timeout=5).returncode == 0

    def crash_keepalived(self, with_watcher=True):
        """SIGKILL keepalived's VRRP child and parent: no priority-0 advert, stale VIP.
        with_watcher: also SIGKILL `ec2-vip watch` (variant watch), as if it were bound to
        keepalived's lifetime; one left running keeps reconciling as MASTER (see
        test_e2e_traffic.py's last case)."""
        os.kill(self.vrrp_pid(), signal.SIGKILL)
        self.proc.kill()
        self.wait_stopped()
        if with_watcher and self.watcher is not None:
            self.watcher_down = True
            self.watcher.kill()
            self.watcher.wait(timeout=5)

    watcher_down = False

    def start_watch(self):
        self.fifo.unlink(missing_ok=True)  # a restart: keepalived is down, nobody holds it
        super().start_watch()
        self.watcher_down = False

    def check_watcher(self):
        if not self.watcher_down:
            super().check_watcher()

    def terminate(self):
        super().terminate()
        for proc in (self.haproxy, self.backend):
            if proc is not None and proc.poll() is None:
                proc.terminate()

    def stop(self):
        super().stop()
        reap(self.haproxy, self.backend)


class TrafficCluster(Cluster):
    NODE = HaproxyNode
    LABEL = "haproxy pair: "

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.poller = self.client = None
        self.traffic = []  # measure() rows

    def toml_text(self):
        return render(EXAMPLES / "ec2-vip.toml",
                      {"eipalloc-0123456789abcdef0": self.seed["eip"]["allocation_id"]})

    def setup(self):
        shutil.copy(EXAMPLES / CHECK, Path(self.binary).parent / CHECK)  # root-owned dir
        os.chmod(Path(self.binary).parent / CHECK, 0o755)
        super().setup()
        client_ns = self.lab.add_host("c", CLIENT_IP)
        private = {self.seed[fig]["private_ip"]: n for n, fig in self.SEED_NODE.items()}
        self.poller = Poller(self.lab.sw, client_ns, self.moto.url, REGION, self.seed["rtb_b"],
                             self.seed["eip"]["allocation_id"],
                             {eni: n for n, eni in self.eni.items()}, private, NODE_IPS)
        self.poller.setup_client()
        self.poller.start()
        if not self.poller.ready.wait(15):
            raise RuntimeError(f"data-plane poller never read EC2: {self.poller.errors[-3:]}")
        for node in self.nodes.values():
            node.allow_vip_bind()
            node.start_backend()
            node.start_haproxy()
        deadline = time.monotonic() + 15
        while not all(n.healthy() for n in self.nodes.values()):
            if time.monotonic() > deadline:
                raise RuntimeError("HAProxy not healthy on both nodes\n" + self.diagnostics())
            time.sleep(0.1)
        self.client = Client(client_ns)
        self.client.start()

    def dump(self):
        """The client's requests and the poller's changes, for the logs' directory."""
        with open(self.work / "client.tsv", "w") as f:
            f.write("start\tend\tpath\tnode\terror\n")
            for r in sorted(self.client.requests, key=lambda r: r.start):
                f.write(f"{r.start:.3f}\t{r.end:.3f}\t{r.path}\t{r.node or '-'}\t{r.error or ''}\n")
        with open(self.work / "dataplane.tsv", "w") as f:
            f.write("path\tnode\tprev_read\tseen\tapplied\n")
            for c in self.poller.changes:
                f.write(f"{c.path}\t{c.node}\t{c.prev_read:.3f}\t{c.seen:.3f}\t{c.applied:.3f}\n")

    def close(self):
        try:
            if self.client is not None and self.poller is not None:
                self.client.stop()
                self.dump()
            for part in (self.client, self.poller):
                if part is not None:
                    try:
                        part.stop()
                    except Exception as err:  # teardown goes on
                        print(f"e2e teardown: {type(part).__name__}: {err!r}")
            self.client = self.poller = None
        finally:
            super().close()

    def restore(self):
        for node in self.nodes.values():
            if not node.haproxy_running():
                node.start_haproxy()
            if node.watcher_down:
                node.start_watch()
        return super().restore()

    # --- the client's view ------------------------------------------------------
    def wait_client(self, expect, since, hold=SETTLE, timeout=RECOVER_TIMEOUT):
        """Wait until, on every path, the requests of the last `hold` s were all answered
        by `expect`; the time that began, per path."""
        deadline = time.time() + timeout
        while True:
            now = time.time()
            back = {p: recovered_at(settled(self.client, p, since, now), expect, hold)
                    for p in PATHS}
            if all(back.values()):
                return back
            if now > deadline:
                raise AssertionError(
                    f"client did not settle on {expect} within {timeout:.0f} s: {back}; "
                    f"poller targets {self.poller.current}\n" + self._client_tail(since)
                    + self.diagnostics())
            time.sleep(0.1)

    def _client_tail(self, since):
        lines = []
        for p in PATHS:
            for r in self.client.window(p, since)[-8:]:
                lines.append(f"  {p} {r.start:.3f} {r.node or '-'} {r.error or ''}")
        return "client, last requests:\n" + "\n".join(lines) + "\n"

    def first_election(self):
        t = time.time()
        for node in self.nodes.values():
            node.start()
        self.converge("initial election", "a", t)
        self.wait_client("a", t)

    # --- the cases ----------------------------------------------------------------
    def run_case(self, name):
        a = self.nodes["a"]
        if name == "preempt back":
            if a.running():  # keepalived SIGKILL did not run first
                self.restore()
                a.crash_keepalived()
                self.converge(None, "b", time.time())
            self.wait_client("b", time.time() - SETTLE)
            if a.watcher_down:
                a.start_watch()  # started before keepalived, as its unit is
            t, expect = a.start(), "a"
        else:
            self.restore()
            self.wait_client("a", time.time() - 2 * SETTLE)  # the restore's outage is over
            faults = {
                "keepalived SIGKILL": a.crash_keepalived,
                "haproxy killed": a.kill_haproxy,
                "link down": lambda: self.lab.set_link("a", False),
                "node crash": lambda: (a.kill_haproxy(), a.crash_keepalived()),
            }
            t, expect = time.time(), "b"
            faults[name]()
        master_run = self.converge(name, expect, t)
        self.wait_client(expect, t)
        end = time.time() - TIMEOUT - 0.05
        timeline = master_timeline(self.nodes)
        node = self.nodes[expect]
        rows = []
        for path in PATHS:
            t_write = write_time(node.vip_log, path, self.seed["rtb_b"],
                                 self.seed["eip"]["allocation_id"], self.eni[expect],
                                 master_run.start)
            applied = dataplane_applied(self.poller, path, expect, (t_write or t) - 0.1)
            rows.append(measure(name, self.variant, path, self.client.window(path, t, end),
                                timeline, t, master_run, expect, t_write, applied))
        self.traffic.extend(rows)
        return rows

    def data_plane_points_at(self, expect):
        """The client's route and DNAT as the kernel has them now (not the poller's idea)."""
        route = ip("-n", self.client.ns, "-o", "route", "show", VIP)
        nat = subprocess.run([tool("ip"), "netns", "exec", self.client.ns, tool("nft"), "list",
                              "chain", "ip", NFT_TABLE, "out"], capture_output=True, text=True,
                             timeout=10).stdout
        want = NODE_IPS[expect]
        return f"via {want} " in route and f"dnat to {want}" in nat

    def poller_stats(self):
        """(median, max) s between two reads of EC2 by the poller, median read duration."""
        reads = list(self.poller.reads)
        gaps = sorted(b[0] - a[0] for a, b in zip(reads, reads[1:]))
        took = sorted(e - s for s, e in reads)
        if not gaps:
            return None
        return gaps[len(gaps) // 2], gaps[-1], took[len(took) // 2]
