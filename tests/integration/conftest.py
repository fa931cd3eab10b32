"""Fixtures: moto as EC2, the IMDSv2 fake per node, figure 1 seeded, the binary."""

import ipaddress
import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))  # makes `harness` importable for tests too

from harness.fault_proxy import start_proxy  # noqa: E402
from harness.imds_fake import start_imds  # noqa: E402
from harness.moto import ec2_client, start_moto  # noqa: E402
from harness.route53_zone import private_zone, route53_client, upsert  # noqa: E402
from harness.runner import run_vip  # noqa: E402,F401  (re-exported for tests)
from harness.scenario import _instance, node_json, seed_figure1  # noqa: E402
from harness.tgw_scenario import Clients  # noqa: E402

# A proxy set where the suite runs must not reach the tests' own clients (boto3 honours it),
# moto, or the fakes: every server here is on loopback. The binary's children get no proxy
# variable either (harness.runner.vip_env keeps only PATH and the locale) unless a test
# sets one (test_http_proxy.py).
for _var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
    os.environ.pop(_var, None)
    os.environ.pop(_var.lower(), None)

REGION = "us-east-1"
MOTO_SEED = 1  # same seed every test: repeatable ids
SECONDARY_IP = "10.0.2.100"  # the secondary private IP scenario's VIP (node1's subnet)


@pytest.fixture(scope="session")
def venv():
    path = Path(os.environ.get("EC2VIP_VENV") or REPO / ".venv")
    if not (path / "bin" / "moto_server").exists():
        pytest.skip(f"no moto_server in {path} (set EC2VIP_VENV to a venv with moto[server])")
    return path


@pytest.fixture(scope="session")
def moto_session(venv, tmp_path_factory):
    log = tmp_path_factory.getbasetemp() / "moto.log"
    server = start_moto(str(venv), log_path=str(log), region=REGION)
    yield server
    server.stop()


STALE_WINDOW = 2.0  # seconds of stale Describe answers after each write (real EC2: "a while")


class StaleEc2:
    """moto behind the fault proxy in its eventually consistent mode: what the nodes (the
    binary, with the IMDS fake's keys) are handed as their EC2 endpoint. The test's own
    boto3 client still talks to moto directly and reads the truth."""

    def __init__(self, moto_server, window):
        self.moto = moto_server
        self.proxy = start_proxy(moto_server.url, throttle=False, stale_window=window,
                                 stale_keys=["ASIAIMDSFAKE"])
        self.url = self.proxy.url
        self.window = window

    def __getattr__(self, name):  # reset(), data(), ... as on the moto server
        return getattr(self.moto, name)


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "eventually_consistent: also run the test with EC2 reads stale for "
        f"{STALE_WINDOW} s after every write (moto behind the fault proxy's stale_window)")


def pytest_generate_tests(metafunc):
    if "moto" in metafunc.fixturenames and metafunc.definition.get_closest_marker("eventually_consistent"):
        metafunc.parametrize("consistency", ["consistent", "stale"], indirect=True)


@pytest.fixture
def consistency(request):
    """"stale" where a test is marked eventually_consistent (its second run), else "consistent"."""
    return getattr(request, "param", "consistent")


@pytest.fixture
def moto(moto_session, consistency):
    """The session's moto server, wiped (and its id generator reseeded) for this test; for
    a test's "stale" run, the nodes' endpoint is an eventually consistent EC2 before it."""
    moto_session.reset(seed=MOTO_SEED)
    if consistency == "consistent":
        yield moto_session
        return
    stale = StaleEc2(moto_session, STALE_WINDOW)
    yield stale
    stale.proxy.stop()


@pytest.fixture(scope="session")
def moto_ext_session(venv, tmp_path_factory):
    """moto plus the Transit Gateway calls it lacks (harness/moto_ext.py)."""
    log = tmp_path_factory.getbasetemp() / "moto_ext.log"
    server = start_moto(str(venv), log_path=str(log), region=REGION, extended=True)
    yield server
    server.stop()


@pytest.fixture
def tgw_clients(moto_ext_session):
    """Clients (per region and account) on the extended moto, wiped for this test. A new
    Clients after every reset: a reset forgets the keys AssumeRole issued."""
    moto_ext_session.reset(seed=MOTO_SEED)
    return Clients(moto_ext_session.url)


@pytest.fixture
def ec2(moto):
    """The test's own client: moto itself (the truth, and writes that open no stale window)."""
    return ec2_client(getattr(moto, "moto", moto).url, REGION)


@pytest.fixture
def figure1(ec2):
    return seed_figure1(ec2)


def _imds_for(seed, name):
    server = start_imds(node_json(seed, name, REGION))
    server.node_name = name
    return server


@pytest.fixture
def imds_node1(figure1):
    server = _imds_for(figure1, "node1")
    yield server
    server.stop()


@pytest.fixture
def imds_node2(figure1):
    server = _imds_for(figure1, "node2")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def binary():
    path = Path(os.environ.get("EC2VIP_BIN") or REPO / "target" / "debug" / "ec2-vip")
    if not os.access(path, os.X_OK):
        pytest.skip(f"ec2-vip binary not found at {path}: run `cargo build` "
                    "or set EC2VIP_BIN")
    return path


@pytest.fixture
def pair(moto_ext_session, tmp_path):
    """figure 1 plus node3 in node1's subnet; SECONDARY_IP on node1 (extended moto)."""
    moto_ext_session.reset(seed=1)
    ec2 = ec2_client(moto_ext_session.url, REGION)
    seed = seed_figure1(ec2)
    node1 = seed["node1"]
    [subnet] = ec2.describe_subnets(SubnetIds=[node1["subnet_id"]])["Subnets"]
    seed["node3"] = _instance(ec2, node1["subnet_id"], node1["az"], "10.0.2.30", "node3")
    for n in ("node1", "node3"):
        seed[n]["subnet_cidr"] = subnet["CidrBlock"]
    ec2.assign_private_ip_addresses(NetworkInterfaceId=node1["eni_id"], PrivateIpAddresses=[SECONDARY_IP])
    imds = {n: start_imds(node_json(seed, n, REGION), log_requests=False) for n in ("node1", "node3")}
    yield ec2, seed, imds, moto_ext_session
    for s in imds.values():
        s.stop()


@pytest.fixture
def v6pair(moto_ext_session):
    """figure 1 with IPv6: node3 in node1's subnet; an IPv6 VIP on node1 (extended moto)."""
    moto_ext_session.reset(seed=1)
    ec2 = ec2_client(moto_ext_session.url, REGION)
    seed = seed_figure1(ec2)
    node1 = seed["node1"]
    vpc6 = ec2.associate_vpc_cidr_block(VpcId=seed["vpc_id"], AmazonProvidedIpv6CidrBlock=True)
    vpc6 = ipaddress.ip_network(vpc6["Ipv6CidrBlockAssociation"]["Ipv6CidrBlock"])
    sub6 = str(next(vpc6.subnets(new_prefix=64)))
    ec2.associate_subnet_cidr_block(SubnetId=node1["subnet_id"], Ipv6CidrBlock=sub6)
    seed["node3"] = _instance(ec2, node1["subnet_id"], node1["az"], "10.0.2.30", "node3")
    for n in ("node1", "node3"):
        seed[n]["subnet_ipv6_cidr"] = sub6
    vip = str(ipaddress.ip_network(sub6)[0x100])
    ec2.assign_ipv6_addresses(NetworkInterfaceId=node1["eni_id"], Ipv6Addresses=[vip])
    imds = {n: start_imds(node_json(seed, n, REGION), log_requests=False) for n in ("node1", "node3")}
    yield ec2, seed, imds, moto_ext_session, vip, sub6
    for s in imds.values():
        s.stop()


@pytest.fixture
def r53(moto):
    """A boto3 Route 53 client on moto."""
    return route53_client(moto.url)


@pytest.fixture
def zone(r53, figure1):
    """A private hosted zone of figure1's VPC whose record names node1 (TTL 60)."""
    zid = private_zone(r53, figure1["vpc_id"])
    upsert(r53, zid, figure1["node1"]["private_ip"])
    return zid


@pytest.fixture
def proxy(moto):
    """The fault proxy in front of this test's moto, no throttling unless configured; its
    counters and faults are the test's own (test_fault_proxy's own fixture throttles)."""
    p = start_proxy(moto.url, throttle=False)
    yield p
    p.stop()
