"""The e2e lab's network: namespaces of its own, a bridge, two nodes (or more: `Lab(ips)`).

    sw (switch)                    node a                node b
    br0 10.200.0.1/24  --- vA ---  eth0 10.200.0.11/24
                       --- vB ---                        eth0 10.200.0.12/24
                                   lo 169.254.169.254    lo 169.254.169.254
    (a third node, c, for the 3-node Pacemaker cluster: vC, eth0 10.200.0.13/24)

Every link is created directly inside these namespaces (`ip -n NS link add ...
netns OTHER`), so no interface is ever created in, or moved through, the host's
namespace. `in_netns` switches only the calling thread (setns(2)): sockets and
child processes created inside keep that namespace after it returns.
"""

import ctypes
import os
import secrets
import shutil
import signal
import subprocess
import time
from contextlib import contextmanager

CLONE_NEWNET = 0x40000000
SUBNET_PREFIX = 24
SWITCH_IP = "10.200.0.1"
NODE_IPS = {"a": "10.200.0.11", "b": "10.200.0.12"}  # the pair every lab has
THIRD_NODE_IP = {"c": "10.200.0.13"}  # Lab({**NODE_IPS, **THIRD_NODE_IP}): three nodes
IMDS_IP = "169.254.169.254"

_libc = ctypes.CDLL(None, use_errno=True)


def tool(name):
    """Absolute path of a system tool, also when PATH lacks the sbin directories."""
    for path in (shutil.which(name), f"/usr/sbin/{name}", f"/sbin/{name}"):
        if path and os.access(path, os.X_OK):
            return path
    return None


def _setns(fd):
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


@contextmanager
def in_netns(name):
    """Run the body (this thread only) inside network namespace `name`."""
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(f"/run/netns/{name}", os.O_RDONLY)
    try:
        _setns(target)
        try:
            yield
        finally:
            _setns(home)
    finally:
        os.close(target)
        os.close(home)


def ip(*args, check=True):
    """Run `ip ARGS...`; raise with its stderr on failure."""
    proc = subprocess.run([tool("ip"), *args], capture_output=True, text=True, timeout=10)
    if check and proc.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: rc={proc.returncode} {proc.stderr.strip()}")
    return proc.stdout


class Lab:
    """Namespaces `<prefix>-sw` and `<prefix>-<node>` per node of `ips` (default a and b,
    NODE_IPS); `close()` undoes everything."""

    def __init__(self, ips=None):
        # Unique per run: pid plus random, short enough for any tool that shows it.
        self.prefix = f"e2v{os.getpid()}{secrets.token_hex(2)}"
        self.sw = f"{self.prefix}-sw"
        self.ips = dict(ips or NODE_IPS)
        self.ns = {node: f"{self.prefix}-{node}" for node in self.ips}
        self.created = []

    def _add_ns(self, name):
        ip("netns", "add", name)
        self.created.append(name)
        ip("-n", name, "link", "set", "lo", "up")

    def build(self):
        self._add_ns(self.sw)
        ip("-n", self.sw, "link", "add", "br0", "type", "bridge")
        ip("-n", self.sw, "addr", "add", f"{SWITCH_IP}/{SUBNET_PREFIX}", "dev", "br0")
        ip("-n", self.sw, "link", "set", "br0", "up")
        for node, ns in self.ns.items():
            self._add_ns(ns)
            port = self.port(node)
            ip("-n", self.sw, "link", "add", port, "type", "veth",
               "peer", "name", "eth0", "netns", ns)
            ip("-n", self.sw, "link", "set", port, "master", "br0")
            ip("-n", self.sw, "link", "set", port, "up")
            ip("-n", ns, "addr", "add", f"{self.ips[node]}/{SUBNET_PREFIX}", "dev", "eth0")
            ip("-n", ns, "link", "set", "eth0", "up")
            # The real default IMDS endpoint, on this node's own loopback.
            ip("-n", ns, "addr", "add", f"{IMDS_IP}/32", "dev", "lo")
        for node in self.ns:
            self.wait_carrier(node, True)

    def add_host(self, key, address):
        """One more namespace `<prefix>-<key>` on the bridge (eth0 `address`/24, port
        v<KEY>), not a keepalived node (e.g. the traffic test's client); its name."""
        ns = f"{self.prefix}-{key}"
        self._add_ns(ns)
        port = self.port(key)
        ip("-n", self.sw, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns)
        ip("-n", self.sw, "link", "set", port, "master", "br0")
        ip("-n", self.sw, "link", "set", port, "up")
        ip("-n", ns, "addr", "add", f"{address}/{SUBNET_PREFIX}", "dev", "eth0")
        ip("-n", ns, "link", "set", "eth0", "up")
        return ns

    @staticmethod
    def port(node):
        return f"v{node.upper()}"

    def set_link(self, node, up):
        """The bridge side of `node`'s cable: down = unplugged."""
        ip("-n", self.sw, "link", "set", self.port(node), "up" if up else "down")

    def wait_carrier(self, node, up, timeout=10.0):
        deadline = time.monotonic() + timeout
        while True:
            flags = ip("-n", self.ns[node], "-o", "link", "show", "dev", "eth0")
            if ("LOWER_UP" in flags) == up:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"eth0 of node {node}: carrier not {up}: {flags}")
            time.sleep(0.02)

    def has_addr(self, node, cidr):
        out = ip("-n", self.ns[node], "-o", "-4", "addr", "show", "dev", "eth0")
        return f" {cidr} " in out

    def del_addr(self, node, cidr):
        ip("-n", self.ns[node], "addr", "del", cidr, "dev", "eth0", check=False)

    def kill_all(self):
        """SIGKILL every process left in our namespaces (only ones this run started)."""
        for name in self.created:
            out = ip("netns", "pids", name, check=False)
            for pid in out.split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass

    def close(self):
        """Kill what runs inside, then delete the namespaces (with their links)."""
        self.kill_all()
        for name in reversed(self.created):
            ip("netns", "del", name, check=False)
        self.created = []
