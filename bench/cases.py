"""The benchmark's pieces: seeding N tables, resetting them, the three ways to fail over.

Every approach moves the VIP route (10.1.0.10/32) of N route tables of figure 1's VPC
from node1's ENI to node2's ENI, talking to moto through the fault proxy. Seeding,
resetting and reading back talk to moto directly (never throttled, never delayed).
"""

import os
import statistics
import subprocess
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from harness.moto import DUMMY_KEY, DUMMY_SECRET, ec2_client
from harness.runner import run_vip
from harness.scenario import VIP, seed_figure1

REGION = "us-east-1"
WORKERS = 8  # seeding/reset threads against moto (each with its own client)


class Moto:
    """Direct (unproxied) access to moto, with one boto3 client per thread."""

    def __init__(self, url):
        self.url = url
        self._local = threading.local()

    @property
    def ec2(self):
        if not hasattr(self._local, "ec2"):
            self._local.ec2 = ec2_client(self.url, REGION)
        return self._local.ec2

    def parallel(self, fn, items):
        with ThreadPoolExecutor(WORKERS) as pool:
            return list(pool.map(fn, items))


def seed_tables(moto_server, n_tables):
    """Fresh figure 1 plus (n_tables - 2) private tables whose VIP route is on node1.

    Returns (seed, tables): the figure 1 ids and the ids of the n_tables tables of the
    VPC that hold the VIP route (rtb_a, rtb_b, then the extras).
    """
    moto_server.reset(seed=1)
    moto = Moto(moto_server.url)
    seed = seed_figure1(moto.ec2)
    node1_eni = seed["node1"]["eni_id"]

    def extra(i):
        ec2 = moto.ec2
        rtb = ec2.create_route_table(VpcId=seed["vpc_id"])["RouteTable"]["RouteTableId"]
        ec2.create_route(RouteTableId=rtb, DestinationCidrBlock=VIP,
                         NetworkInterfaceId=node1_eni)
        return rtb

    extras = moto.parallel(extra, range(max(0, n_tables - 2)))
    return seed, [seed["rtb_a"], seed["rtb_b"]] + extras


def point_tables_at(moto_url, tables, eni_id):
    """Directly in moto: every table's VIP route -> eni_id (the state before a failover)."""
    moto = Moto(moto_url)
    moto.parallel(lambda rtb: moto.ec2.replace_route(
        RouteTableId=rtb, DestinationCidrBlock=VIP, NetworkInterfaceId=eni_id), tables)


def read_back(moto_url, seed, tables, eni_id):
    """(tables whose VIP route is on eni_id, tables not, other VPC's VIP route untouched?)."""
    ec2 = ec2_client(moto_url, REGION)
    found = {}
    pages = ec2.get_paginator("describe_route_tables").paginate(Filters=[
        {"Name": "vpc-id", "Values": [seed["vpc_id"], seed["other_vpc_id"]]},
        {"Name": "route.destination-cidr-block", "Values": [VIP]}])
    for page in pages:
        for table in page["RouteTables"]:
            for route in table["Routes"]:
                if route.get("DestinationCidrBlock") == VIP:
                    found[table["RouteTableId"]] = route.get("NetworkInterfaceId")
    good = sum(found.get(t) == eni_id for t in tables)
    other_ok = found.get(seed["other_rtb"]) == seed["other_eni"]
    return good, len(tables) - good, other_ok


class Outcome:
    """One timed run of one approach."""

    def __init__(self, elapsed, returncode, log):
        self.elapsed, self.returncode, self.log = elapsed, returncode, log
        self.good = self.bad = 0
        self.other_ok = True
        self.stats = {}

    @property
    def ok(self):
        return self.returncode == 0 and self.bad == 0 and self.other_ok


# --- the three approaches -----------------------------------------------------------------

def run_ec2_vip(binary, imds, proxy_url, tables, eni_id, timeout, wrapper=()):
    """`ec2-vip master --route VIP` with the IMDS fake for node2 (harness.runner.run_vip)."""
    args = list(wrapper[1:]) + ([str(binary)] if wrapper else []) + [
        "master", "--route", VIP, "--timeout", str(timeout)]
    exe = wrapper[0] if wrapper else binary
    res = run_vip(exe, args, imds, proxy_url, timeout=timeout + 60)
    return Outcome(res.elapsed, res.returncode, res.stdout + res.stderr)


def aws_env(venv, home):
    """The aws CLI's environment: dummy keys, region, no config files, no IMDS probing."""
    env = {k: os.environ[k] for k in ("LANG", "LC_ALL", "TZ") if k in os.environ}
    env.update({
        "PATH": os.path.join(venv, "bin") + os.pathsep + os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": home,
        "AWS_ACCESS_KEY_ID": DUMMY_KEY,
        "AWS_SECRET_ACCESS_KEY": DUMMY_SECRET,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": os.path.join(home, "no-config"),
        "AWS_SHARED_CREDENTIALS_FILE": os.path.join(home, "no-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_PAGER": "",
    })
    return env


# The seed's notify script: one `aws ec2 replace-route` process per table.
CLI_SCRIPT = r"""
rc=0
for rtb in $TABLES; do
  aws ec2 replace-route --endpoint-url "$EP" --route-table-id "$rtb" \
    --destination-cidr-block "$VIP" --network-interface-id "$ENI" || rc=1
done
exit $rc
"""

# The Pacemaker agent's pattern: per table, describe, replace if needed, sleep 1.
PACEMAKER_LOOP = r"""
rc=0
for rtb in $TABLES; do
  cur=$(aws ec2 describe-route-tables --endpoint-url "$EP" --route-table-ids "$rtb" \
    --query "RouteTables[0].Routes[?DestinationCidrBlock=='$VIP'].NetworkInterfaceId" \
    --output text) || rc=1
  if [ "$cur" != "$ENI" ]; then
    aws ec2 replace-route --endpoint-url "$EP" --route-table-id "$rtb" \
      --destination-cidr-block "$VIP" --network-interface-id "$ENI" || rc=1
  fi
  sleep 1
done
exit $rc
"""


def run_shell(script, venv, proxy_url, tables, eni_id, timeout):
    """A bash loop calling the aws CLI from the venv, with --endpoint-url to the proxy."""
    home = tempfile.mkdtemp(prefix="bench-aws-home-")
    env = aws_env(venv, home)
    env.update({"EP": proxy_url, "TABLES": " ".join(tables), "VIP": VIP, "ENI": eni_id})
    start = time.monotonic()
    proc = subprocess.run(["bash", "-c", script], env=env, cwd=home, capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    elapsed = time.monotonic() - start
    return Outcome(elapsed, proc.returncode, proc.stdout + proc.stderr)


def run_cli_script(venv, proxy_url, tables, eni_id, timeout):
    return run_shell(CLI_SCRIPT, venv, proxy_url, tables, eni_id, timeout)


def run_pacemaker_loop(venv, proxy_url, tables, eni_id, timeout):
    return run_shell(PACEMAKER_LOOP, venv, proxy_url, tables, eni_id, timeout)


# --- the binary on its own ------------------------------------------------------------------

def round_trip_floor(proxy, tables, eni_id, reps=5):
    """Seconds a warmed-up client (boto3, connections open) needs for the minimum sequence
    of a checked failover through the proxy: DescribeRouteTables, every ReplaceRoute at
    once, DescribeRouteTables to read back. Median of `reps`; what no process can beat."""
    ec2 = ec2_client(proxy.url, REGION)
    filters = [{"Name": "route.destination-cidr-block", "Values": [VIP]}]
    ec2.describe_route_tables(Filters=filters)  # open a connection, load the model
    times = []
    with ThreadPoolExecutor(len(tables)) as pool:
        for _ in range(reps):
            proxy.reset()
            start = time.monotonic()
            ec2.describe_route_tables(Filters=filters)
            list(pool.map(lambda rtb: ec2.replace_route(
                RouteTableId=rtb, DestinationCidrBlock=VIP, NetworkInterfaceId=eni_id), tables))
            ec2.describe_route_tables(Filters=filters)
            times.append(time.monotonic() - start)
    return statistics.median(times)


def help_start_times(binary, n, help_flag=True):
    """Wall seconds of `binary --help` (spawn to exit), n times; help_flag=False runs it bare
    (the spawn baseline, with /bin/true)."""
    times = []
    for _ in range(n):
        start = time.monotonic()
        subprocess.run([str(binary)] + (["--help"] if help_flag else []), stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=True)
        times.append(time.monotonic() - start)
    return times


def time_v_wrapper():
    """['/usr/bin/time', '-v'] if GNU time is there, else ()."""
    exe = "/usr/bin/time"
    if os.access(exe, os.X_OK):
        probe = subprocess.run([exe, "-v", "true"], capture_output=True, text=True)
        if "Maximum resident set size" in probe.stderr:
            return (exe, "-v")
    return ()


def peak_rss_kib(outcome_log):
    """The 'Maximum resident set size (kbytes)' line of GNU time -v output."""
    for line in outcome_log.splitlines():
        if "Maximum resident set size" in line:
            return int(line.rsplit(":", 1)[1])
    return None


def peak_rss_wait4(binary, imds, proxy_url, timeout):
    """Fallback without GNU time: the child's own ru_maxrss from wait4 (KiB on Linux)."""
    from harness.runner import vip_env
    home = tempfile.mkdtemp(prefix="bench-rss-home-")
    proc = subprocess.Popen([str(binary), "master", "--route", VIP, "--timeout", str(timeout)],
                            env=vip_env(imds, proxy_url, home), cwd=home,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return usage.ru_maxrss, proc.returncode


def describe_binary(binary):
    """'debug build' / 'release build' (from the path), plus `file`'s verdict if present."""
    parts = str(binary).split(os.sep)
    kind = "debug build" if "debug" in parts else "release build" if "release" in parts \
        else "build profile unknown"
    try:
        info = subprocess.run(["file", "-b", str(binary)], capture_output=True, text=True,
                              timeout=10).stdout.strip()
        linkage = "static" if "statically linked" in info or "static-pie" in info else \
            "dynamic" if "dynamically linked" in info else "?"
        stripped = "stripped" if ", stripped" in info else "not stripped" \
            if "not stripped" in info else ""
        kind += f", {linkage}" + (f", {stripped}" if stripped else "")
    except (OSError, subprocess.TimeoutExpired):
        pass
    return kind
