"""One row per scenario: a failover from node1 to node2, its API calls, and its round-trip
floor, computed from the scenario's dependency chain:

  route tables     describe -> ReplaceRoute (all at once) -> read back                 3
  Elastic IP       describe (the address and what is on the ENI at once) -> associate
                   -> read back                                                          3
  Transit Gateway  attachments + VPC tables -> TGW tables + peerings -> TGW routes
                   -> every write at once -> read back of what was written               5
  warm watch       route tables through `ec2-vip watch` (identity and clients kept from
                   before the MASTER line), timed until the tables show node2, i.e.
                   before the watcher's own read back: describe -> ReplaceRoute         2
  secondary IP     describe the subnet's ENIs -> AssignPrivateIpAddresses -> read back   3
  IPv6 address     describe the subnet's ENIs -> UnassignIpv6Addresses there ->
                   AssignIpv6Addresses here (EC2 has no reassignment) -> read back      4
  stale failback   node1 MASTER again right after a BACKUP, while EC2 (the proxy's 2 s
                   stale_window) still answers "already node1" for the 2 tables and the
                   Elastic IP: describe -> every write anyway (reassert) -> read back   3
  Route 53 record  ListResourceRecordSets -> ChangeResourceRecordSets -> read back      3
                   (moto answers INSYNC at once, so no GetChange)
  ... INSYNC       the same with the proxy's route53_pending: the change reads PENDING
  after P s        for P s; floor = P + the ChangeResourceRecordSets, the GetChange that
                   sees INSYNC, and the two reads                                       4

floor seconds = round trips x the added latency + "moto busy" (time some request was inside
moto, which serves one at a time) + any wait the service imposes (Route 53's PENDING). Route tables and the Elastic IP run on the bench's moto;
the Transit Gateway layouts on the extended moto (tests/harness/moto_ext.py) behind a
proxy of their own.
"""

import datetime
import ipaddress
import os
import re
import statistics
import tempfile
import time
from pathlib import Path

from harness.imds_fake import start_imds
from harness.moto import ec2_client
from harness.route53_zone import NAME, private_zone, record, route53_client, upsert
from harness.runner import run_vip, vip_env
from harness.scenario import VIP, _instance, node_json, seed_figure1
from harness.tgw_one_region import seed_one_region
from harness.tgw_scenario import Clients, changes, seed_two_regions, set_active, tgw_snapshot, vip_changes
from harness.tgw_scenario import node_json as tgw_node_json

REGION = "us-east-1"
FLOORS = {"route tables": 3, "Elastic IP": 3, "secondary private IP": 3, "IPv6 address": 4, "Transit Gateway, one region": 5,
          "Transit Gateway, two regions": 5, "route tables, warm watch": 2,
          "fast failback, reads 2 s stale": 3, "Route 53 record": 3}
ROUTE53_PENDING_TRIPS = 4  # the Route 53 row with the proxy's route53_pending: + one GetChange
STALE_WINDOW = 2.0


class Row:
    """trips: round trips of the dependency chain [FLOORS[name]]; wait: seconds the service
    makes every client wait on top (a PENDING Route 53 change)."""

    def __init__(self, name, times, calls, busy, ok, trips=None, wait=0.0):
        self.name, self.times, self.calls, self.busy, self.ok = name, times, calls, busy, ok
        self.trips = FLOORS.get(name) if trips is None else trips
        self.wait = wait

    def floor(self, latency):
        return self.trips * latency + self.busy + self.wait


def _finish(proxy):
    """API calls and moto-busy seconds of the run just done (proxy counters)."""
    st = proxy.stats()
    return st["total"], st.get("upstream_busy", 0.0)


def _measure(name, reps, proxy, prepare, run, check):
    """reps runs: prepare(rep); counters reset; run(rep) -> VipResult; check() -> bool."""
    times, calls, busy, ok = [], [], [], True
    for rep in range(reps):
        prepare(rep)
        proxy.reset()
        r = run(rep)
        n, b = _finish(proxy)
        ok &= r.returncode == 0 and check()
        times.append(r.elapsed)
        calls.append(n)
        busy.append(b)
    return Row(name, times, statistics.median(calls), statistics.median(busy), ok)


def elastic_ip(binary, moto_url, proxy, seed, reps):
    ec2 = ec2_client(moto_url, REGION)
    alloc = seed["eip"]["allocation_id"]
    imds = start_imds(node_json(seed, "node2", REGION), log_requests=False)
    def prepare(_):
        ec2.associate_address(AllocationId=alloc, NetworkInterfaceId=seed["node1"]["eni_id"], AllowReassociation=True)

    def check():
        [a] = ec2.describe_addresses(AllocationIds=[alloc])["Addresses"]
        return a.get("NetworkInterfaceId") == seed["node2"]["eni_id"]

    try:
        return _measure("Elastic IP", reps, proxy, prepare,
                        lambda _: run_vip(binary, ["master", "--eip", alloc], imds, proxy.url), check)
    finally:
        imds.stop()


def stale_failback(binary, moto_url, proxy, seed, reps):
    """node1 -> node2 -> node1 within the stale window: node1's reads still say "already
    node1" (its own answers from before node2's writes); it must end with everything on node1."""
    ec2 = ec2_client(moto_url, REGION)
    writer = ec2_client(proxy.url, REGION)  # node2's writes through the proxy open the window
    alloc, n1, n2 = seed["eip"]["allocation_id"], seed["node1"]["eni_id"], seed["node2"]["eni_id"]
    imds = start_imds(node_json(seed, "node1", REGION), log_requests=False)
    home = Path(tempfile.mkdtemp(prefix="ec2vip-bench-stale-"))
    cfg = home / "c.toml"
    cfg.write_text(f'[instance.VI_1]\nroutes = ["{VIP}"]\nelastic_ips = ["{alloc}"]\n')
    tables = (seed["rtb_a"], seed["rtb_b"])

    def notify(state):
        return run_vip(binary, ["--config", cfg, "notify", "INSTANCE", "VI_1", state], imds, proxy.url,
                       {"EC2_VIP_STATE_DIR": home / "state"})

    def move(client, eni):
        for rtb in tables:
            client.replace_route(RouteTableId=rtb, DestinationCidrBlock=VIP, NetworkInterfaceId=eni)
        client.associate_address(AllocationId=alloc, NetworkInterfaceId=eni, AllowReassociation=True)

    def prepare(_):
        time.sleep(STALE_WINDOW)  # the previous rep's window closes
        move(ec2, n1)
        assert notify("MASTER").returncode == 0  # node1's own answers: everything on node1
        assert notify("BACKUP").returncode == 0
        move(writer, n2)                         # node2 takes it all: the window opens

    def check():
        routes = [r.get("NetworkInterfaceId") for t in ec2.describe_route_tables(RouteTableIds=list(tables))["RouteTables"]
                  for r in t["Routes"] if r.get("DestinationCidrBlock") == VIP]
        [a] = ec2.describe_addresses(AllocationIds=[alloc])["Addresses"]
        return routes == [n1, n1] and a.get("NetworkInterfaceId") == n1

    proxy.configure(stale_window=STALE_WINDOW, stale_keys=["ASIAIMDSFAKE"])
    try:
        return _measure("fast failback, reads 2 s stale", reps, proxy, prepare, lambda _: notify("MASTER"), check)
    finally:
        proxy.configure(stale_window=0.0)
        imds.stop()


def transit_gateway(binary, moto_url, proxy, reps, two_regions):
    clients = Clients(moto_url)
    seed = seed_two_regions(clients) if two_regions else seed_one_region(clients)
    work = Path(tempfile.mkdtemp(prefix="ec2vip-bench-tgw-"))
    cfg = work / "tgw.toml"
    lines = ["[instance.VI_1]", f'routes = ["{seed["vip"]}"]']
    for s in seed["sites"]:
        lines += ["[[instance.VI_1.sites]]", f'region = "{s["region"]}"', f'vpc_id = "{s["vpc_id"]}"']
    cfg.write_text("\n".join(lines) + "\n")
    imds = start_imds(tgw_node_json(seed, "node2"), log_requests=False)
    want = vip_changes(seed, "node1", "node2")
    before = {}

    def prepare(_):
        set_active(clients, seed, "node1")
        before["snap"] = tgw_snapshot(clients, seed)

    def run(rep):
        args = ["--config", cfg, "--state-dir", work / f"state{rep}", "notify", "INSTANCE", "VI_1", "MASTER"]
        return run_vip(binary, args, imds, proxy.url)

    name = "Transit Gateway, two regions" if two_regions else "Transit Gateway, one region"
    try:
        return _measure(name, reps, proxy, prepare, run,
                        lambda: changes(before["snap"], tgw_snapshot(clients, seed)) == want)
    finally:
        imds.stop()


def warm_watch(binary, moto_url, proxy, seed, tables, reps):
    """MASTER through a running watcher: from writing the line to both tables read at node2."""
    ec2 = ec2_client(moto_url, REGION)
    node1, node2 = seed["node1"]["eni_id"], seed["node2"]["eni_id"]
    work = Path(tempfile.mkdtemp(prefix="ec2vip-bench-watch-"))
    cfg, fifo, log = work / "c.toml", work / "notify.fifo", work / "watch.log"
    cfg.write_text(f'[instance.VI_1]\nroutes = ["{VIP}"]\n')
    os.mkfifo(fifo, 0o600)
    imds = start_imds(node_json(seed, "node2", REGION), log_requests=False)
    env = vip_env(imds, proxy, str(work), {"EC2_VIP_STATE_DIR": work / "state"})
    import subprocess
    proc = subprocess.Popen([str(binary), "--config", str(cfg), "--log-file", str(log), "watch", "--fifo",
                             str(fifo), "--interval", "0"], env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    fd = os.open(fifo, os.O_RDWR)

    def at(eni):
        found = {t["RouteTableId"]: t for t in ec2.describe_route_tables()["RouteTables"]}
        return all(any(r.get("DestinationCidrBlock") == VIP and r.get("NetworkInterfaceId") == eni
                       for r in found[t]["Routes"]) for t in tables)

    times, calls, busy, ok = [], [], [], True
    try:
        end = time.monotonic() + 30
        while not (log.exists() and "watching" in log.read_text()) and time.monotonic() < end:
            time.sleep(0.05)
        for _ in range(reps):
            os.write(fd, b'INSTANCE "VI_1" BACKUP 100\n')
            time.sleep(0.5)
            for t in tables:
                ec2.replace_route(RouteTableId=t, DestinationCidrBlock=VIP, NetworkInterfaceId=node1)
            proxy.reset()
            start = time.monotonic()
            os.write(fd, b'INSTANCE "VI_1" MASTER 150\n')
            while not at(node2) and time.monotonic() - start < 30:
                time.sleep(0.005)
            elapsed = time.monotonic() - start
            time.sleep(0.3)  # the read back finishes
            n, b = _finish(proxy)
            ok &= at(node2)
            times.append(elapsed)
            calls.append(n)
            busy.append(b)
    finally:
        os.close(fd)
        proc.kill()
        proc.wait()
        imds.stop()
    return Row("route tables, warm watch", times, statistics.median(calls), statistics.median(busy), ok)


def private_ip(binary, moto_url, proxy, reps, address="10.0.2.100"):
    """figure 1's node1 and a peer in its subnet (node3) move a secondary private IP."""
    ec2 = ec2_client(moto_url, REGION)
    seed = seed_figure1(ec2)
    node1 = seed["node1"]
    [subnet] = ec2.describe_subnets(SubnetIds=[node1["subnet_id"]])["Subnets"]
    seed["node3"] = _instance(ec2, node1["subnet_id"], node1["az"], "10.0.2.30", "node3")
    seed["node3"]["subnet_cidr"] = subnet["CidrBlock"]
    imds = start_imds(node_json(seed, "node3", REGION), log_requests=False)
    def prepare(_):
        ec2.assign_private_ip_addresses(NetworkInterfaceId=node1["eni_id"], PrivateIpAddresses=[address],
                                        AllowReassignment=True)

    def check():
        enis = ec2.describe_network_interfaces(NetworkInterfaceIds=[seed["node3"]["eni_id"]])
        return address in [p["PrivateIpAddress"] for p in enis["NetworkInterfaces"][0]["PrivateIpAddresses"]]

    try:
        return _measure("secondary private IP", reps, proxy, prepare,
                        lambda _: run_vip(binary, ["master", "--private-ip", address], imds, proxy.url), check)
    finally:
        imds.stop()


def ipv6_address(binary, moto_url, proxy, reps):
    """figure 1's node1 and a peer in its subnet (node3) move an IPv6 address."""
    ec2 = ec2_client(moto_url, REGION)
    seed = seed_figure1(ec2)
    node1 = seed["node1"]
    vpc6 = ec2.associate_vpc_cidr_block(VpcId=seed["vpc_id"], AmazonProvidedIpv6CidrBlock=True)
    sub6 = str(next(ipaddress.ip_network(vpc6["Ipv6CidrBlockAssociation"]["Ipv6CidrBlock"]).subnets(new_prefix=64)))
    ec2.associate_subnet_cidr_block(SubnetId=node1["subnet_id"], Ipv6CidrBlock=sub6)
    seed["node3"] = _instance(ec2, node1["subnet_id"], node1["az"], "10.0.2.30", "node3")
    seed["node3"]["subnet_ipv6_cidr"] = sub6
    address = str(ipaddress.ip_network(sub6)[0x100])
    imds = start_imds(node_json(seed, "node3", REGION), log_requests=False)
    n3 = seed["node3"]["eni_id"]

    def prepare(_):
        ec2.unassign_ipv6_addresses(NetworkInterfaceId=n3, Ipv6Addresses=[address])
        ec2.assign_ipv6_addresses(NetworkInterfaceId=node1["eni_id"], Ipv6Addresses=[address])

    def check():
        enis = ec2.describe_network_interfaces(NetworkInterfaceIds=[n3, node1["eni_id"]])["NetworkInterfaces"]
        return {e["NetworkInterfaceId"] for e in enis
                if any(a["Ipv6Address"] == address for a in e.get("Ipv6Addresses", []))} == {n3}

    try:
        return _measure("IPv6 address", reps, proxy, prepare,
                        lambda _: run_vip(binary, ["master", "--ipv6-address", address], imds, proxy.url), check)
    finally:
        imds.stop()


RECORD_TTL = 10
_LOG_TIME = re.compile(r"^(\S+Z) ")


def _log_time(log, marker):
    """Epoch seconds of the first line of ec2-vip's --log-file holding `marker`, or None."""
    for line in log.read_text().splitlines():
        m = _LOG_TIME.match(line)
        if m and marker in line:
            return datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%fZ").timestamp()
    return None


def route53(binary, moto_url, proxy, seed, reps, pending=0.0, timeout=30.0):
    """A Route 53 record in a private zone of figure 1's VPC moves from node1's private IP to
    node2's: `ec2-vip master --dns-record ZONE,NAME,A,local,10`. With `pending` > 0 the proxy
    answers PENDING for that long after the change (moto: INSYNC at once). The row also has,
    per run, .insync: seconds from ec2-vip's plan line (just before ChangeResourceRecordSets)
    to its "(upserted)" line (the write done: INSYNC seen), and .get_change: GetChange calls."""
    r53 = route53_client(moto_url)
    if "r53_zone" not in seed:
        seed["r53_zone"] = private_zone(r53, seed["vpc_id"], ref=f"ec2-vip-bench-{time.time()}")
    zone, node1, node2 = seed["r53_zone"], seed["node1"]["private_ip"], seed["node2"]["private_ip"]
    imds = start_imds(node_json(seed, "node2", REGION), log_requests=False)
    work = Path(tempfile.mkdtemp(prefix="ec2vip-bench-r53-"))
    name = "Route 53 record" + (f", INSYNC after {pending:g} s" if pending else "")
    insync, get_change = [], []

    def run(rep):
        args = ["--log-file", work / f"{rep}.log", "--timeout", f"{max(timeout, pending + 10):g}",
                "master", "--dns-record", f"{zone},{NAME},A,local,{RECORD_TTL}"]
        return run_vip(binary, args, imds, proxy.url)

    def check():
        log = work / f"{len(insync)}.log"
        start, done = _log_time(log, "plan: dns"), _log_time(log, "(upserted)")
        insync.append(done - start if start and done else float("nan"))
        get_change.append(proxy.stats()["requests"].get("GetChange", 0))
        return record(r53, zone) == ([node2], RECORD_TTL)

    proxy.configure(route53_pending=pending)
    try:
        row = _measure(name, reps, proxy, lambda _: upsert(r53, zone, node1), run, check)
    finally:
        proxy.configure(route53_pending=0.0)
        imds.stop()
    if pending:
        row.trips, row.wait = ROUTE53_PENDING_TRIPS, pending
    row.insync, row.get_change, row.pending = insync, get_change, pending
    return row
