"""bench/pacemaker's lab: the e2e Pacemaker cluster (tests/e2e/e2e_pacemaker.py) plus what
ClusterLabs' agents need to run in it against moto.

On top of the e2e lab (2 nodes, moto on the bridge, an IMDSv2 fake per node, figure 1):
  - each node's eth0 carries its ENI's MAC (aws-vpc-move-ip looks the ENI up in IMDS by the
    interface's MAC);
  - the real `aws-vpc-move-ip` and `awseip` from resource-agents beside ec2-vip's agent in the
    node's OCF directory (the lab binds its own directory over /usr/lib/ocf/resource.d);
  - `awscli` = a wrapper running the aws CLI with --endpoint-url = moto and its own config and
    credentials files (profile `default`, the agents' default).
Agents are compared with the SAME parameters (AGENTS): ec2-vip accepts ClusterLabs' names.
"""

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "tests"))  # harness
sys.path.insert(0, str(REPO / "tests" / "e2e"))  # e2e_pacemaker and the lab under it

HEARTBEAT = Path("/usr/lib/ocf/resource.d/heartbeat")
REGION = "us-east-1"


def find_aws():
    """The aws CLI on PATH (a pyenv shim resolved to the program it runs), or None."""
    found = shutil.which("aws")
    if found is None:
        return None
    if "/shims/" in found and shutil.which("pyenv"):
        p = subprocess.run(["pyenv", "which", "aws"], capture_output=True, text=True)
        if p.returncode == 0 and p.stdout.strip():
            return p.stdout.strip()
    return os.path.realpath(found)


def aws_version(aws):
    p = subprocess.run([aws, "--version"], capture_output=True, text=True)
    return (p.stdout + p.stderr).strip().split(" ")[0]


class Agent:
    """One agent under test: its Pacemaker name, the file run inside the node, what it moves
    (`route`: both private tables' VIP route; `eip`: the Elastic IP) and its parameters."""

    def __init__(self, label, spec, path, kind, params):
        self.label, self.spec, self.path, self.kind, self.params = label, spec, path, kind, params

    def is_ec2vip(self):
        return self.spec.startswith("ocf:ec2-vip:")


def agents(seed, wrapper):
    vip = seed["vip"].split("/")[0]
    route = {"ip": vip, "routing_table": f"{seed['rtb_a']},{seed['rtb_b']}", "interface": "eth0",
             "lookup_type": "NetworkInterfaceId", "awscli": wrapper, "region": REGION}
    eip = {"elastic_ip": seed["eip"]["public_ip"], "allocation_id": seed["eip"]["allocation_id"],
           "awscli": wrapper}
    ours = ("ocf:ec2-vip:ec2-vip", "/usr/lib/ocf/resource.d/ec2-vip/ec2-vip")
    return [
        Agent("aws-vpc-move-ip", "ocf:heartbeat:aws-vpc-move-ip", str(HEARTBEAT / "aws-vpc-move-ip"), "route", route),
        Agent("ec2-vip (route)", *ours, "route", route),
        Agent("awseip", "ocf:heartbeat:awseip", str(HEARTBEAT / "awseip"), "eip", eip),
        Agent("ec2-vip (eip)", *ours, "eip", eip),
    ]


WRAPPER = """#!/bin/sh
# aws CLI against the bench's moto (bench/pacemaker); profile `default` from the files below.
AWS_CONFIG_FILE=%(dir)s/config AWS_SHARED_CREDENTIALS_FILE=%(dir)s/credentials \\
    exec %(aws)s --endpoint-url %(url)s "$@"
"""


class BenchLab:
    """The e2e PacemakerCluster with the incumbents installed beside ec2-vip's agent."""

    def __init__(self, work, binary, venv, aws):
        from e2e_pacemaker import PacemakerCluster

        self.work, self.binary, self.aws = Path(work), binary, aws
        self.c = PacemakerCluster(self.work, binary, venv)

    def setup(self):
        c = self.c
        c.setup()
        for name, node in c.nodes.items():  # the interface's MAC is the ENI's (IMDS lookup)
            mac = c.seed[c.SEED_NODE[name]]["mac"]
            subprocess.run(["ip", "-n", node.netns, "link", "set", "eth0", "address", mac], check=True)
        self.install_incumbents()
        c.wait_online(self.hosts())
        self.agents = agents(c.seed, self.wrapper)

    def install_incumbents(self):
        awsdir = self.work / "aws"
        awsdir.mkdir(exist_ok=True)
        (awsdir / "config").write_text(f"[default]\nregion = {REGION}\noutput = text\n")
        (awsdir / "credentials").write_text("[default]\naws_access_key_id = testing\n"
                                            "aws_secret_access_key = testing\n")
        self.wrapper = str(awsdir / "aws-moto")
        Path(self.wrapper).write_text(WRAPPER % {"dir": awsdir, "aws": self.aws, "url": self.c.moto.url})
        os.chmod(self.wrapper, 0o755)
        for node in self.c.nodes.values():  # bind-mounted over /usr/lib/ocf/resource.d there
            dst = node.dir / "resource.d" / "heartbeat"
            dst.mkdir(parents=True, exist_ok=True)
            for name in ("aws-vpc-move-ip", "awseip"):
                shutil.copy2(HEARTBEAT / name, dst / name)

    def close(self):
        self.c.close()

    def host(self, node):
        """Pacemaker's name of lab node `node` (its hostname)."""
        return self.c.nodes[node].host

    def hosts(self):
        return [n.host for n in self.c.nodes.values()]

    # --- direct agent runs inside a node ------------------------------------------------
    def run_agent(self, node, agent, action, interval_ms=0, instance="bench-vip", timeout=120):
        """(exit code, seconds) of one agent action run inside `node`, as pacemaker-execd
        would run it (OCF_* environment, the node's PATH and environment)."""
        n = self.c.nodes[node]
        env = dict(n.env())
        env.update({"OCF_ROOT": "/usr/lib/ocf", "OCF_RA_VERSION_MAJOR": "1", "OCF_RA_VERSION_MINOR": "1",
                    "OCF_RESOURCE_INSTANCE": instance, "OCF_RESOURCE_TYPE": agent.spec.split(":")[-1],
                    "OCF_RESOURCE_PROVIDER": agent.spec.split(":")[1],
                    "OCF_RESKEY_CRM_meta_interval": str(interval_ms),
                    "OCF_RESKEY_CRM_meta_timeout": "60000"})
        env.update({f"OCF_RESKEY_{k}": v for k, v in agent.params.items()})
        t0 = time.monotonic()
        p = subprocess.run(n.argv(agent.path, action), env=env, cwd="/", capture_output=True, text=True,
                           timeout=timeout)
        secs = time.monotonic() - t0
        self.last_output = p.stdout + p.stderr
        return p.returncode, secs

    # --- EC2 ----------------------------------------------------------------------------
    def points_at(self, kind, snap=None):
        """The node both VIP routes (kind route) or the EIP (kind eip) point at, else None."""
        c = self.c
        snap = snap or c.snapshot()
        if kind == "route":
            got = {snap["routes"][c.seed["rtb_a"]].get(c.seed["vip"]), snap["routes"][c.seed["rtb_b"]].get(c.seed["vip"])}
        else:
            got = {snap["eip"]}
        return next((n for n, eni in c.eni.items() if got == {eni}), None)

    def wait_points(self, kind, node, timeout=60.0):
        """time.time() of the first poll (every 50 ms) showing `kind` on `node`."""
        deadline = time.monotonic() + timeout
        while True:
            now = time.time()
            if self.points_at(kind) == node:
                return now
            if time.monotonic() > deadline:
                raise RuntimeError(f"{kind} not on node {node} after {timeout:.0f} s\n{self.c.diagnostics()}")
            time.sleep(0.05)

    def point_at(self, node):
        self.c.point_at(node)

    def drift_route(self, to_node):
        """Table A's VIP route to `to_node`'s ENI, behind every agent's back."""
        from e2e_net import in_netns

        with in_netns(self.c.lab.sw):
            self.c.ec2.replace_route(RouteTableId=self.c.seed["rtb_a"], DestinationCidrBlock=self.c.seed["vip"],
                                     NetworkInterfaceId=self.c.eni[to_node])


# --- Pacemaker's log ------------------------------------------------------------------------
STAMP = re.compile(r"^(\w{3} \d{1,2} \d{2}:\d{2}:\d{2}(?:\.\d+)?) ")


def log_lines(lab, node, since):
    """[(time.time(), line)] of `node`'s pacemaker.log at or after `since` (wall clock)."""
    path = lab.c.nodes[node].dir / "var/log/pacemaker/pacemaker.log"
    out = []
    year = time.localtime().tm_year
    for line in path.read_text(errors="replace").splitlines() if path.exists() else []:
        m = STAMP.match(line)
        if not m:
            continue
        stamp = m.group(1)
        whole, _, frac = stamp.partition(".")
        t = time.mktime(time.strptime(f"{year} {whole}", "%Y %b %d %H:%M:%S")) + (float("0." + frac) if frac else 0.0)
        if t >= since - 1.0:  # second-resolution stamps: keep the second it happened in
            out.append((t, line))
    return out


def first(lines, pattern, after):
    rx = re.compile(pattern)
    return next(((t, l) for t, l in lines if t >= after and rx.search(l)), (None, None))


def exec_result(lines, rsc, action, after):
    """(seconds, exit status) of pacemaker-execd's first `rsc action` that finished at or
    after `after`, else (None, None). execd writes "123ms" or "5.613s after being queued"."""
    rx = re.compile(rf"{rsc} {action} \(call \d+, PID \d+\) exited with status (\d+) "
                    r"\(execution time (\d+(?:\.\d+)?)(ms|s)")
    for t, l in lines:
        m = rx.search(l)
        if m and t >= after:
            secs = float(m.group(2)) / (1000.0 if m.group(3) == "ms" else 1.0)
            return secs, int(m.group(1))
    return None, None


def exec_ms(lines, rsc, action, after):
    """pacemaker-execd's execution time of `rsc action` finished at or after `after`, in s."""
    return exec_result(lines, rsc, action, after)[0]
