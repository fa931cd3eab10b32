"""Benchmark cases with long-running `ec2-vip watch` processes (the bench's other cases run
one-shot commands):

- split brain: VRRP between the nodes blocked, so both keepalived say MASTER and both
  watchers reconcile every second; count how often route table A and the Elastic IP change
  hands in a window (default 30 s) and when the last change was;
- fleet: N watchers (default 50) at --interval 1, each MASTER of another cluster's VIP
  (figure 1's 10.1.0.20/32), share the account's Describe bucket (100 burst, 20/s) behind
  the fault proxy; then one failover of 10.1.0.10/32 runs among them: its time, exit code,
  and the throttled answers the account got meanwhile.

Everything talks to 127.0.0.1 only; every process is stopped at the end.
"""

import os
import subprocess
import tempfile
import time
from pathlib import Path

from harness.imds_fake import start_imds
from harness.moto import ec2_client
from harness.runner import run_vip, vip_env
from harness.scenario import OTHER_CLUSTER_VIP, VIP, node_json

REGION = "us-east-1"


class Watcher:
    """One `ec2-vip watch` with its own FIFO, state dir and log."""

    def __init__(self, binary, cfg, imds_url, ec2_url, home):
        home.mkdir(parents=True)
        self.fifo, self.log = home / "notify.fifo", home / "watch.log"
        os.mkfifo(self.fifo, 0o600)
        env = vip_env(imds_url, ec2_url, str(home), {"EC2_VIP_STATE_DIR": home / "state"})
        argv = [str(binary), "--config", str(cfg), "--log-file", str(self.log), "watch",
                "--fifo", str(self.fifo), "--interval", "1"]
        self.proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.fd = os.open(self.fifo, os.O_RDWR)

    def ready(self):
        return self.log.exists() and "watching" in self.log.read_text()

    def master(self):
        os.write(self.fd, b'INSTANCE "VI_1" MASTER 150\n')

    def stop(self):
        os.close(self.fd)
        self.proc.kill()
        self.proc.wait()


def wait_ready(watchers, timeout=60):
    end = time.monotonic() + timeout
    while not all(w.ready() for w in watchers):
        if time.monotonic() > end:
            raise RuntimeError("watchers did not start")
        time.sleep(0.2)


def holders(ec2, seed):
    tables = {t["RouteTableId"]: t for t in ec2.describe_route_tables()["RouteTables"]}
    [route] = [r for r in tables[seed["rtb_a"]]["Routes"] if r.get("DestinationCidrBlock") == VIP]
    [a] = ec2.describe_addresses(AllocationIds=[seed["eip"]["allocation_id"]])["Addresses"]
    return route.get("NetworkInterfaceId"), a.get("NetworkInterfaceId") or None


def split_brain(binary, moto_url, ec2_url, seed, seconds=30.0):
    """Two watchers both MASTER; returns route/EIP flip counts and last flip times."""
    ec2 = ec2_client(moto_url, REGION)
    work = Path(tempfile.mkdtemp(prefix="ec2vip-split-"))
    cfg = work / "c.toml"
    cfg.write_text(f'[instance.VI_1]\nroutes = ["{VIP}"]\n'
                   f'elastic_ips = ["{seed["eip"]["allocation_id"]}"]\n')
    imds = [start_imds(node_json(seed, n, REGION), log_requests=False) for n in ("node1", "node2")]
    watchers = []
    try:
        watchers = [Watcher(binary, cfg, i.url, ec2_url, work / f"node{k + 1}")
                    for k, i in enumerate(imds)]
        wait_ready(watchers)
        for w in watchers:
            w.master()
        start, seen = time.monotonic(), [(0.0, holders(ec2, seed))]
        while time.monotonic() - start < seconds:
            now = holders(ec2, seed)
            if now != seen[-1][1]:
                seen.append((time.monotonic() - start, now))
            time.sleep(0.1)
    finally:
        for w in watchers:
            w.stop()
        for i in imds:
            i.stop()
    out = {}
    for k, name in ((0, "route"), (1, "eip")):
        flips = [t for i, (t, h) in enumerate(seen) if i and h[k] != seen[i - 1][1][k]]
        out[name] = (len(flips), max(flips) if flips else 0.0)
    out["holder"] = seen[-1][1]
    return out


def fleet(binary, moto_url, proxy, seed, n=50, settle=15.0, timeout=30.0):
    """n watchers reconciling another VIP every second, then one failover among them."""
    work = Path(tempfile.mkdtemp(prefix="ec2vip-fleet-"))
    cfg = work / "c.toml"
    cfg.write_text(f'[instance.VI_1]\nroutes = ["{OTHER_CLUSTER_VIP}"]\n')
    node1 = start_imds(node_json(seed, "node1", REGION), log_requests=False)
    node2 = start_imds(node_json(seed, "node2", REGION), log_requests=False)
    watchers = []
    try:
        watchers = [Watcher(binary, cfg, node1.url, proxy.url, work / f"w{i}") for i in range(n)]
        wait_ready(watchers)
        for w in watchers:
            w.master()
        start = proxy.stats()
        time.sleep(settle)  # long enough to empty the Describe bucket at the fleet's rate
        before = proxy.stats()
        res = run_vip(binary, ["master", "--route", VIP, "--timeout", str(timeout)], node2, proxy.url,
                      timeout=timeout + 30)
        after = proxy.stats()
    finally:
        for w in watchers:
            w.stop()
        node1.stop()
        node2.stop()
    def describes(st):
        return sum(v for k, v in st["requests"].items() if k.startswith("Describe"))
    return {
        "watchers": n, "elapsed": res.elapsed, "returncode": res.returncode,
        "settle": settle, "describe_rate": (describes(before) - describes(start)) / settle,
        "throttled_settle": before["throttled"] - start["throttled"],
        "throttled": after["throttled"] - before["throttled"],
    }
