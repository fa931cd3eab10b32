"""A Pacemaker + corosync cluster in the e2e lab, with ec2-vip's OCF agent as the VIP: two
nodes (`two_node`), or three with quorum (`PacemakerCluster(..., nodes=3)`).

The network, moto, the IMDSv2 fakes and figure 1 are the keepalived lab's (`Cluster`,
`e2e_net.Lab`); each node is its network namespace plus a mount and UTS namespace of its
own (a holder process), with private copies of corosync's and Pacemaker's directories, a
fresh /run and /dev/shm, ec2-vip's agent as the only OCF provider and the binary in /usr/local/sbin. Commands run "on" a
node through `nsenter -t HOLDER -n -m -u`.
"""

import os
import re
import shutil
import signal
import subprocess
import time
import xml.etree.ElementTree as ET

from e2e_cluster import Cluster, _quietly
from e2e_net import NODE_IPS, THIRD_NODE_IP, Lab, tool

HOSTS = {"a": "pcmk-a", "b": "pcmk-b"}  # the 2-node cluster's; any node's: host()
AGENT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "ocf", "ec2-vip")
TOOLS = ("cibadmin", "crmadmin", "corosync", "pacemakerd", "crm", "crm_mon", "corosync-cfgtool", "nsenter", "unshare")
ENV_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def host(node):
    """The cluster node name (and hostname) of lab node `node`."""
    return f"pcmk-{node}"


COROSYNC_TOTEM = """totem {
    version: 2
    cluster_name: ec2vip-e2e
    transport: knet
    crypto_cipher: none
    crypto_hash: none
    token: 3000
}
"""
COROSYNC_NODE = """    node {
        ring0_addr: %s
        name: %s
        nodeid: %d
    }
"""
COROSYNC_REST = """logging {
    to_logfile: yes
    logfile: /var/log/corosync/corosync.log
    to_stderr: no
    to_syslog: no
    timestamp: on
}
"""


def corosync_conf(ips):
    """corosync.conf for the nodes of `ips` (lab node -> address): votequorum, `two_node`
    only for a pair (with three, the side holding two votes is quorate, the other stops).
    Beyond a pair, knet's path MTU discovery runs every 2 s (default 30 s): a link back
    after a partition carries nothing until it has run, which took up to 31 s here."""
    nodes = "".join(COROSYNC_NODE % (addr, host(n), i) for i, (n, addr) in enumerate(ips.items(), 1))
    pair = len(ips) == 2
    two_node = "    two_node: 1\n" if pair else ""
    totem = COROSYNC_TOTEM if pair else COROSYNC_TOTEM.replace("}", "    knet_pmtud_interval: 2\n}", 1)
    return (totem + "nodelist {\n" + nodes + "}\nquorum {\n    provider: corosync_votequorum\n"
            + two_node + "}\n" + COROSYNC_REST)


# What a node's empty CIB (`cibadmin --empty`, this Pacemaker's feature set) starts with:
# no fencing device here, a short DC election (default 20 s), a partition without quorum
# stops its resources (the default, said), resources stay where they run.
CRM_CONFIG = """<crm_config>
      <cluster_property_set id="cib-bootstrap-options">
        <nvpair id="opt-stonith" name="stonith-enabled" value="false"/>
        <nvpair id="opt-dc-deadtime" name="dc-deadtime" value="2s"/>
        <nvpair id="opt-no-quorum-policy" name="no-quorum-policy" value="stop"/>
      </cluster_property_set>
    </crm_config>"""
RSC_DEFAULTS = """<constraints/>
    <rsc_defaults>
      <meta_attributes id="rsc-options">
        <nvpair id="rsc-stickiness" name="resource-stickiness" value="100"/>
      </meta_attributes>
    </rsc_defaults>"""


def initial_cib():
    empty = subprocess.run([tool("cibadmin"), "--empty"], capture_output=True, text=True, check=True).stdout
    return empty.replace("<crm_config/>", CRM_CONFIG, 1).replace("<constraints/>", RSC_DEFAULTS, 1)


# The holder: the node's mount + UTS namespace, kept alive; it reaps what it adopts.
HOLDER = """set -e
W=$1
mount -t tmpfs -o mode=755 tmpfs /run
mkdir -p /run/crm /run/lock
chown hacluster:haclient /run/crm
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
for d in etc/corosync var/lib/corosync var/lib/pacemaker var/log/pacemaker var/log/corosync var/log/crmsh; do
    mount --bind "$W/$d" "/$d"
done
mount --bind "$W/hosts" /etc/hosts
mount --bind "$W/resource.d" /usr/lib/ocf/resource.d
mount --bind "$W/sbin" /usr/local/sbin
hostname "$2"
touch "$W/ready"
trap 'exit 0' TERM
while :; do sleep 1 & wait $! || true; done
"""


def missing():
    """Why this machine cannot run the Pacemaker cases, or None."""
    for name in TOOLS:
        if tool(name) is None:
            return f"Pacemaker e2e needs `{name}` (apt-get install -y pacemaker corosync crmsh pacemaker-cli-utils)"
    return None


class PcmkNode:
    """One cluster node: its holder, corosync and pacemakerd."""

    def __init__(self, name, netns, work, moto_url, ips=None):
        self.name, self.netns, self.host = name, netns, host(name)
        self.ips = dict(ips or NODE_IPS)  # the cluster's nodes: lab node -> address
        self.dir = work / f"node-{name}"
        self.moto_url = moto_url
        self.holder = self.corosync = self.pacemakerd = None

    def prepare(self, binary):
        d = self.dir
        for sub in ("etc/corosync", "var/lib/corosync", "var/log/corosync", "var/log/crmsh"):
            (d / sub).mkdir(parents=True, exist_ok=True)
        for sub in ("cib", "pengine", "blackbox", "cores"):
            (d / "var/lib/pacemaker" / sub).mkdir(parents=True, exist_ok=True)
        (d / "var/log/pacemaker/bundles").mkdir(parents=True, exist_ok=True)
        (d / "etc/corosync/corosync.conf").write_text(corosync_conf(self.ips))
        for old in (d / "var/lib/pacemaker/cib").iterdir():  # a reboot: the DC's CIB wins
            old.unlink()
        (d / "ready").unlink(missing_ok=True)
        (d / "var/lib/pacemaker/cib/cib.xml").write_text(initial_cib())
        subprocess.run(["chown", "-R", "hacluster:haclient", str(d / "var/lib/pacemaker"),
                        str(d / "var/log/pacemaker"), str(d / "var/log/crmsh")], check=True)
        (d / "var/lib/pacemaker/cib/cib.xml").chmod(0o600)
        hosts = "127.0.0.1 localhost\n" + "".join(f"{a} {host(n)}\n" for n, a in self.ips.items())
        (d / "hosts").write_text(hosts)
        agent_dir = d / "resource.d" / "ec2-vip"
        agent_dir.mkdir(parents=True, exist_ok=True)
        shutil.copy(AGENT, agent_dir / "ec2-vip")
        (agent_dir / "ec2-vip").chmod(0o755)
        (d / "sbin").mkdir(exist_ok=True)  # /usr/local/sbin on the node: ec2-vip on PATH
        shutil.copy(binary, d / "sbin" / "ec2-vip")
        script = d / "holder.sh"
        script.write_text(HOLDER)
        self.holder = subprocess.Popen(
            [tool("ip"), "netns", "exec", self.netns, tool("unshare"), "--mount", "--uts",
             "--propagation", "private", "/bin/sh", str(script), str(d), self.host],
            stdin=subprocess.DEVNULL, stdout=open(d / "holder.log", "w"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while not (d / "ready").exists():
            if self.holder.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"node {self.name}: holder failed: {(d / 'holder.log').read_text()}")
            time.sleep(0.02)

    def env(self):
        # Pacemaker hands its environment to the agent: EC2 is moto on the lab's bridge.
        return {"PATH": ENV_PATH, "HOME": "/root", "LANG": "C.UTF-8",
                "AWS_ENDPOINT_URL_EC2": self.moto_url, "PCMK_logfile": "/var/log/pacemaker/pacemaker.log"}

    def argv(self, *cmd):
        return [tool("nsenter"), "-t", str(self.holder.pid), "-n", "-m", "-u", *cmd]

    def run(self, *cmd, check=True, timeout=60):
        p = subprocess.run(self.argv(*cmd), env=self.env(), capture_output=True, text=True,
                           timeout=timeout, cwd="/")
        if check and p.returncode != 0:
            raise RuntimeError(f"{self.host}: {' '.join(cmd)}: rc={p.returncode} {p.stdout} {p.stderr}")
        return p

    def spawn(self, *cmd, log):
        return subprocess.Popen(self.argv(*cmd), env=self.env(), cwd="/", stdin=subprocess.DEVNULL,
                                stdout=open(self.dir / log, "a"), stderr=subprocess.STDOUT)

    def start_corosync(self):
        self.corosync = self.spawn(tool("corosync"), "-f", log="corosync.out")

    def wait_corosync(self, timeout=15):
        deadline = time.monotonic() + timeout
        while self.run(tool("corosync-cfgtool"), "-s", check=False).returncode != 0:
            if self.corosync.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{self.host}: corosync did not come up\n{self.diagnostics()}")
            time.sleep(0.1)

    def start_pacemaker(self):
        self.pacemakerd = self.spawn(tool("pacemakerd"), "-f", log="pacemakerd.out")

    def crash(self):
        """SIGKILL everything in the node (pacemakerd first, or it respawns its children),
        the holder too: its /run and mount namespace are gone, as after a power cut."""
        from e2e_net import ip

        if self.pacemakerd is not None and self.pacemakerd.poll() is None:
            self.pacemakerd.kill()
        for pid in ip("netns", "pids", self.netns, check=False).split():
            try:
                os.kill(int(pid), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass
        for p in (self.pacemakerd, self.corosync, self.holder):
            if p is not None:
                p.wait(10)

    def boot(self, binary):
        """Start again after crash(): new holder, corosync, pacemakerd."""
        self.prepare(binary)
        self.start_corosync()
        self.wait_corosync()
        self.start_pacemaker()

    def kill_corosync(self):
        """The active node loses corosync: pacemakerd and its children go with it."""
        self.corosync.send_signal(signal.SIGKILL)
        self.corosync.wait(10)

    def running(self):
        return self.pacemakerd is not None and self.pacemakerd.poll() is None

    def terminate(self):
        for p in (self.pacemakerd, self.corosync):
            if p is not None and p.poll() is None:
                p.terminate()

    def stop(self):
        for p in (self.pacemakerd, self.corosync):
            if p is not None:
                try:
                    p.wait(20)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(5)
        if self.holder is not None and self.holder.poll() is None:
            self.holder.terminate()
            self.holder.wait(5)

    def diagnostics(self):
        log = self.dir / "var/log/pacemaker/pacemaker.log"
        tail = log.read_text(errors="replace").splitlines()[-40:] if log.exists() else []
        lines = [l for l in tail if "ec2-vip" in l or "error" in l.lower() or "vip" in l]
        return f"--- {self.host} pacemaker.log (ec2-vip / errors, last 40 lines) ---\n" + "\n".join(lines) + "\n"


class PacemakerCluster(Cluster):
    """Figure 1's VIP routes and Elastic IP follow Pacemaker's placement of one ec2-vip resource.
    nodes=3: a third node, c, is figure 1's node1's peer node3 (its own instance and ENI in
    node1's subnet), and there is no `two_node`: quorum is two votes of three."""

    def __init__(self, work, binary, venv, nodes=2):
        super().__init__("pacemaker", work, binary, None, venv, [])
        if nodes not in (2, 3):
            raise ValueError(f"a lab of {nodes} Pacemaker nodes: only 2 or 3")
        if nodes == 3:
            self.lab = Lab({**NODE_IPS, **THIRD_NODE_IP})
            self.SEED_NODE = {**self.SEED_NODE, "c": "node3"}
        self.hosts = {n: host(n) for n in self.lab.ips}

    def seed_ec2(self):
        from harness.scenario import _instance, seed_figure1

        seed = seed_figure1(self.ec2)
        if "c" in self.SEED_NODE:
            node1 = seed["node1"]
            seed["node3"] = _instance(self.ec2, node1["subnet_id"], node1["az"], "10.0.2.30", "node3")
        return seed

    def setup(self):
        self.lab.build()
        from harness.imds_fake import start_imds
        from harness.moto import ec2_client, start_moto
        from harness.scenario import node_json
        from e2e_cluster import REGION
        from e2e_net import IMDS_IP, SWITCH_IP, in_netns

        with in_netns(self.lab.sw):
            self.moto = start_moto(str(self.venv), log_path=str(self.work / "moto.log"),
                                   region=REGION, host=SWITCH_IP)
            self.ec2 = ec2_client(self.moto.url, REGION)
            self.seed = self.seed_ec2()
        self.baseline = self.snapshot()
        self.eni = {n: self.seed[self.SEED_NODE[n]]["eni_id"] for n in self.SEED_NODE}
        for node, ns in self.lab.ns.items():
            with in_netns(ns):
                self.imds.append(start_imds(node_json(self.seed, self.SEED_NODE[node], REGION),
                                            host=IMDS_IP, port=80, log_requests=False))
        for node, ns in self.lab.ns.items():
            self.nodes[node] = PcmkNode(node, ns, self.work, self.moto.url, self.lab.ips)
            self.nodes[node].prepare(self.binary)
        for n in self.nodes.values():  # all at once: the election waits for them
            n.start_corosync()
        for n in self.nodes.values():
            n.wait_corosync()
            n.start_pacemaker()

    def close(self):
        for node in self.nodes.values():
            _quietly(node.terminate)
        super().close()

    def crm(self, node, *args, check=True):
        return self.nodes[node].run(tool("crm"), *args, check=check)

    def status(self, node="a"):
        """(online node names, standby node names, {resource: [hosts it runs on]})."""
        p = self.nodes[node].run(tool("crm_mon"), "--one-shot", "--output-as=xml", check=False)
        if p.returncode != 0:
            return set(), set(), {}
        root = ET.fromstring(p.stdout)
        online = {n.get("name") for n in root.iter("node") if n.get("online") == "true"}
        standby = {n.get("name") for n in root.iter("node") if n.get("standby") == "true"}
        running = {}
        for r in root.iter("resource"):
            if r.get("role") == "Started":
                running[r.get("id")] = [n.get("name") for n in r.iter("node")]
        return online, standby, running

    def quorate(self, node):
        """Whether `node`'s partition has quorum, as its Pacemaker sees it (None: no DC yet)."""
        p = self.nodes[node].run(tool("crm_mon"), "--one-shot", "--output-as=xml", check=False)
        dc = ET.fromstring(p.stdout).find("summary/current_dc") if p.returncode == 0 else None
        if dc is None or dc.get("present") != "true":
            return None
        return dc.get("with_quorum") == "true"

    def wait_online(self, names, timeout=60, via="a"):
        """Until `via` sees `names` online and a DC."""
        deadline = time.monotonic() + timeout
        while True:
            online = self.status(via)[0] if self.nodes[via].running() else set()
            if set(names) <= online and self.nodes[via].run(tool("crmadmin"), "-D", check=False).returncode == 0:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"cluster not formed: online={online}\n{self.diagnostics()}")
            time.sleep(0.2)

    def where(self, rsc="vip", node="a", expect=None, timeout=10.0):
        """The node Pacemaker runs `rsc` on (asking `node`); with expect, once it is that one
        (a start EC2 already shows may not be confirmed yet)."""
        deadline = time.monotonic() + timeout
        while True:
            hosts = self.status(node)[2].get(rsc, [])
            found = next((n for n, h in self.hosts.items() if hosts == [h]), None)
            if expect is None or found == expect or time.monotonic() > deadline:
                return found
            time.sleep(0.1)

    def wait_owner(self, expect, t0, what, timeout=30.0):
        """Poll EC2 until both VIP routes and the EIP point at node `expect`; seconds since t0."""
        deadline = time.monotonic() + timeout
        while True:
            snap = self.snapshot()
            self.check_untouched(snap)
            if self.owner(snap) == expect:
                return time.monotonic() - t0
            if time.monotonic() > deadline:
                raise AssertionError(f"{what}: EC2 does not point at {expect} after {timeout:.0f} s: "
                                     f"owner={self.owner(snap)}\n{self.diagnostics()}")
            time.sleep(0.05)

    def agent_times(self):
        """{action: [ms, ...]} of the ec2-vip resource, from pacemaker-execd's log lines."""
        out = {}
        pattern = re.compile(r"vip (\w+) \(call \d+, PID \d+\) exited with status 0 \(execution time (\d+)ms")
        for node in self.nodes.values():
            log = node.dir / "var/log/pacemaker/pacemaker.log"
            for m in pattern.finditer(log.read_text(errors="replace") if log.exists() else ""):
                out.setdefault(m.group(1), []).append(int(m.group(2)))
        return out

    def wait_local(self, node, alone=True, timeout=10.0):
        """Wait until `node`'s eth0 carries the VIP (aws-vpc-move-ip's local address) and,
        with alone, the other node's does not."""
        from harness.scenario import VIP

        deadline = time.monotonic() + timeout
        while True:
            on = {n for n in self.nodes if self.lab.has_addr(n, VIP)}
            if node in on and (not alone or on == {node}):
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"local VIP address on {sorted(on)}, want {node}\n{self.diagnostics()}")
            time.sleep(0.05)
