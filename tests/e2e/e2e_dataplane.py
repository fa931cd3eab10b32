"""An emulated VPC data plane for the e2e lab, and a client that measures it.

    client namespace <prefix>-c: eth0 10.200.0.20/24 on the lab's bridge
      route  10.1.0.10/32 via <lab IP of the node whose ENI the VIP route targets>
      nft    ip daddr 203.0.113.10 tcp dport 80 dnat to <lab IP of the node whose
             private IP the VIP's Elastic IP is associated with>

`Poller` (a thread in the switch namespace, next to moto) reads DescribeRouteTables
(private table B, the client's table) and DescribeAddresses (the VIP's EIP) every
`INTERVAL` and rewrites the client's route / DNAT rule when the target changes, with
timestamps. The client plays both the VPC router and the internet gateway's 1:1 NAT: the
NAT runs in its own OUTPUT hook (a packet to the public IP leaves already rewritten, and
replies are un-NATed by conntrack). 203.0.113.10 (TEST-NET-3) stands in for the EIP's
public IP: moto hands out 127.x addresses, which never leave a namespace's loopback.
The nodes' lab IPs stand in for their private IPs (`PRIVATE_TO_NODE`).

`Client` (an asyncio loop in a thread in the client namespace) starts one HTTP GET per
path every `EVERY` s, whatever the earlier ones do (each has `TIMEOUT` s), and records
(start, end, path, answering node or None, error). The answering node is HAProxy's
X-Served-By header.
"""

import asyncio
import subprocess
import threading
import time

from harness.moto import ec2_client
from harness.scenario import VIP, route_target

from e2e_net import in_netns, ip, tool

CLIENT_IP = "10.200.0.20"
PUBLIC_IP = "203.0.113.10"  # stands in for the EIP's public address
VIP_HOST = VIP.split("/")[0]
PATHS = {"route": VIP_HOST, "eip": PUBLIC_IP}
INTERVAL = 0.05  # the poller: at most this long between two reads of EC2
EVERY = 0.02  # the client: one request per path this often
TIMEOUT = 0.2  # ... each given up after this long
NFT_TABLE = "ec2vip_eip"


class Change:
    """The poller moved one path's target: seen in EC2 at `seen`, applied at `applied`;
    `prev_read` is when the previous read (which still showed the old target) began."""

    def __init__(self, path, node, prev_read, seen, applied):
        self.path, self.node = path, node
        self.prev_read, self.seen, self.applied = prev_read, seen, applied


class Poller(threading.Thread):
    def __init__(self, sw_ns, client_ns, moto_url, region, rtb, allocation_id, eni_to_node,
                 private_to_node, node_ips):
        super().__init__(name="vpc-dataplane", daemon=True)
        self.sw_ns, self.client_ns = sw_ns, client_ns
        self.moto_url, self.region = moto_url, region
        self.rtb, self.allocation_id = rtb, allocation_id
        self.eni_to_node, self.private_to_node = eni_to_node, private_to_node
        self.node_ips = node_ips
        self.current = {"route": None, "eip": None}
        self.changes = []  # [Change]
        self.reads = []  # (start, end) of every read of EC2
        self.errors = []
        self._halt = threading.Event()
        self.ready = threading.Event()

    def setup_client(self):
        """The client's NAT table (empty chain until the EIP's owner is known)."""
        _nft(self.client_ns, f"add table ip {NFT_TABLE}\n"
             f"add chain ip {NFT_TABLE} out {{ type nat hook output priority -100 ; }}\n")
        # Routing happens before the OUTPUT hook: the public IP needs a route to exist.
        ip("-n", self.client_ns, "route", "replace", f"{PUBLIC_IP}/32", "dev", "eth0")

    def read(self, ec2):
        [table] = ec2.describe_route_tables(RouteTableIds=[self.rtb])["RouteTables"]
        eni = next((route_target(r) for r in table["Routes"]
                    if r.get("DestinationCidrBlock") == VIP), None)
        [addr] = ec2.describe_addresses(AllocationIds=[self.allocation_id])["Addresses"]
        return {"route": self.eni_to_node.get(eni),
                "eip": self.private_to_node.get(addr.get("PrivateIpAddress") or None)}

    def apply(self, path, node):
        if path == "route":
            if node is None:
                ip("-n", self.client_ns, "route", "del", VIP, check=False)
            else:
                ip("-n", self.client_ns, "route", "replace", VIP, "via", self.node_ips[node],
                   "dev", "eth0")
        else:  # one nft transaction: never a moment without a rule when there is an owner
            rule = (f"add rule ip {NFT_TABLE} out ip daddr {PUBLIC_IP} tcp dport 80 "
                    f"dnat to {self.node_ips[node]}\n" if node else "")
            _nft(self.client_ns, f"flush chain ip {NFT_TABLE} out\n{rule}")

    def run(self):
        with in_netns(self.sw_ns):  # this thread's sockets reach moto on the bridge
            ec2 = ec2_client(self.moto_url, self.region)
            prev = None
            while not self._halt.is_set():
                start = time.time()
                try:
                    seen = self.read(ec2)
                except Exception as err:  # moto busy or stopping: try again next tick
                    self.errors.append((start, repr(err)))
                    seen = None
                end = time.time()
                self.reads.append((start, end))
                for path, node in (seen or {}).items():
                    if node != self.current[path]:
                        self.apply(path, node)
                        self.current[path] = node
                        self.changes.append(Change(path, node, prev or start, end, time.time()))
                if seen is not None:
                    prev = start
                    self.ready.set()
                self._halt.wait(max(0.0, start + INTERVAL - time.time()))

    def stop(self):
        self._halt.set()
        if self.is_alive():
            self.join(timeout=5)


def _nft(ns, script):
    proc = subprocess.run([tool("ip"), "netns", "exec", ns, tool("nft"), "-f", "-"],
                          input=script, capture_output=True, text=True, timeout=10)
    if proc.returncode != 0:
        raise RuntimeError(f"nft in {ns}: rc={proc.returncode} {proc.stderr.strip()}")


class Request:
    __slots__ = ("start", "end", "path", "node", "error")

    def __init__(self, start, end, path, node, error):
        self.start, self.end, self.path, self.node, self.error = start, end, path, node, error


class Client(threading.Thread):
    """HTTP GET / through every path of PATHS every EVERY s, each on a new connection."""

    def __init__(self, client_ns):
        super().__init__(name="vip-client", daemon=True)
        self.ns = client_ns
        self.requests = []  # [Request], appended as they finish
        self._halt = threading.Event()

    async def _one(self, path, host):
        start = time.time()
        node = error = None
        writer = None
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(host, 80), TIMEOUT)
            writer.write(b"GET / HTTP/1.0\r\nHost: vip\r\nConnection: close\r\n\r\n")
            left = max(0.001, start + TIMEOUT - time.time())
            head = (await asyncio.wait_for(reader.read(), left)).split(b"\r\n\r\n", 1)[0]
            lines = head.decode("latin-1").split("\r\n")
            if lines[0].split()[:2][1:] != ["200"] or not lines[0].startswith("HTTP/1."):
                error = f"status {lines[0]!r}"
            else:
                node = next((v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])
                             if k.lower() == "x-served-by"), None)
                error = None if node else "no X-Served-By"
        except (TimeoutError, asyncio.TimeoutError):
            error = "timeout"
        except OSError as err:  # refused (no HAProxy on the VIP), reset, unreachable
            error = type(err).__name__
        finally:
            if writer is not None:
                writer.close()
        self.requests.append(Request(start, time.time(), path, node, error))

    async def _main(self):
        tasks = set()
        due = time.monotonic()
        while not self._halt.is_set():
            for path, host in PATHS.items():
                task = asyncio.create_task(self._one(path, host))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            due += EVERY
            await asyncio.sleep(max(0.0, due - time.monotonic()))
        if tasks:
            await asyncio.wait(tasks, timeout=TIMEOUT + 1)

    def run(self):
        with in_netns(self.ns):  # every socket the loop opens lives in the client namespace
            asyncio.run(self._main())

    def stop(self):
        self._halt.set()
        if self.is_alive():
            self.join(timeout=5)

    def window(self, path, t0, t1=None):
        return sorted((r for r in list(self.requests)
                       if r.path == path and r.start >= t0 and (t1 is None or r.start <= t1)),
                      key=lambda r: r.start)
