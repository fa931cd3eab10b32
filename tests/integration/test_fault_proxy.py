"""Tests of the fault-injecting proxy itself (tests/harness/fault_proxy.py)."""

import http.client
import json
import os
import statistics
import subprocess
import sys
import time
from urllib.parse import urlparse

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from harness.fault_proxy import start_proxy
from harness.proxy_state import ProxyState, TokenBucket
from harness.moto import DUMMY_KEY, DUMMY_SECRET

from conftest import REGION

PROXY_SCRIPT = os.path.join(os.path.dirname(__file__), "..", "harness", "fault_proxy.py")
FORM = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
DESCRIBE_VPCS = "Action=DescribeVpcs&Version=2016-11-15"


def client(url):
    """boto3 EC2 with retries really disabled (total_max_attempts=1: one attempt)."""
    return boto3.client(
        "ec2", region_name=REGION, endpoint_url=url,
        aws_access_key_id=DUMMY_KEY, aws_secret_access_key=DUMMY_SECRET,
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"},
                      connect_timeout=2, read_timeout=10),
    )


def raw_post(url, body, timeout=5):
    """One POST on a fresh connection: (status, text)."""
    parsed = urlparse(url)
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=timeout)
    try:
        conn.request("POST", "/", body=body, headers=FORM)
        resp = conn.getresponse()
        return resp.status, resp.read().decode()
    finally:
        conn.close()


def control(url, method, path, payload=None):
    parsed = urlparse(url)
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=5)
    try:
        body = json.dumps(payload).encode() if payload is not None else None
        conn.request(method, path, body=body)
        resp = conn.getresponse()
        return resp.status, resp.read().decode()
    finally:
        conn.close()


@pytest.fixture
def proxy(moto):
    server = start_proxy(moto.url)
    yield server
    server.stop()


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def takes(state, action, n):
    """How many of n back-to-back requests for `action` pass the bucket."""
    return sum(state.decide(action) == "forward" for _ in range(n))


# --- token buckets: pure math, fake clock ----------------------------------------------

def test_bucket_refills_at_its_rate_and_caps_at_its_size():
    bucket = TokenBucket(50, 5, now=0.0)
    assert sum(bucket.take(0.0) for _ in range(60)) == 50
    assert not bucket.take(0.1)          # 0.5 token: not enough
    assert bucket.take(0.2)              # 1 token after 0.2 s at 5/s
    assert not bucket.take(0.2)
    assert sum(bucket.take(1.2) for _ in range(10)) == 5   # 1 s later: 5 more
    assert bucket.level(1000.0) == 50    # never above its size


def test_ec2_default_buckets_per_action():
    clock = FakeClock()
    state = ProxyState(clock=clock)
    assert takes(state, "ReplaceRoute", 60) == 50               # mutating: 50 burst
    assert takes(state, "AssociateAddress", 60) == 50           # its own bucket
    assert takes(state, "DescribeRouteTables", 120) == 100      # Describe*: 100 burst
    clock.now += 1.0
    assert takes(state, "ReplaceRoute", 20) == 5                # 5/s
    assert takes(state, "DescribeRouteTables", 40) == 20        # 20/s
    clock.now += 90.0                                           # (500-50)/5 s worth
    assert takes(state, "ReplaceRoute", 500) == 50              # capped at the burst
    stats = state.stats()
    assert stats["throttled_by_action"] == {
        "ReplaceRoute": 10 + 15 + 450, "AssociateAddress": 10, "DescribeRouteTables": 40}
    assert stats["requests"]["ReplaceRoute"] == 580


def test_throttled_requests_take_no_token_and_sizes_are_configurable():
    clock = FakeClock()
    state = ProxyState(clock=clock, mutating_bucket=(3, 1.0),
                       action_buckets={"DescribeVpcs": (1, 0.5)})
    assert takes(state, "ReplaceRoute", 10) == 3
    clock.now += 1.0
    assert takes(state, "ReplaceRoute", 10) == 1   # the 7 throttled ones cost nothing
    assert takes(state, "DescribeVpcs", 3) == 1
    clock.now += 2.0
    assert takes(state, "DescribeVpcs", 3) == 1
    state.reset()                                   # refills every bucket
    assert takes(state, "ReplaceRoute", 10) == 3
    state.configure(throttle=False)
    assert takes(state, "ReplaceRoute", 100) == 100


def test_fraction_faults_hit_about_that_fraction():
    state = ProxyState(throttle=False, error_rate=0.25, seed=7)
    fates = [state.decide("ReplaceRoute") for _ in range(2000)]
    assert 400 <= fates.count("error") <= 600
    assert state.stats()["faults"]["error"] == fates.count("error")


def test_unknown_setting_is_refused():
    with pytest.raises(ValueError, match="unknown setting"):
        ProxyState(latncy=0.1)
    with pytest.raises(ValueError):
        ProxyState(error_status=404)


def test_loopback_only():
    with pytest.raises(ValueError, match="loopback"):
        start_proxy("http://127.0.0.1:9", host="0.0.0.0")
    with pytest.raises(ValueError, match="loopback"):
        start_proxy("http://10.0.0.1:80")


# --- in front of moto --------------------------------------------------------------------

def test_forwards_and_counts(proxy):
    ec2 = client(proxy.url)
    assert ec2.describe_vpcs()["Vpcs"]
    ec2.create_vpc(CidrBlock="10.9.0.0/16")
    stats = proxy.stats()
    assert stats["requests"] == {"DescribeVpcs": 1, "CreateVpc": 1}
    assert stats["forwarded"] == 2 and stats["throttled"] == 0


def test_upstream_busy_counts_time_inside_moto_not_added_latency(proxy):
    proxy.configure(latency=0.2)
    ec2 = client(proxy.url)
    start = time.monotonic()
    for _ in range(3):
        ec2.describe_vpcs()
    wall = time.monotonic() - start
    busy = proxy.stats()["upstream_busy"]
    assert 0 < busy < wall - 0.55, (busy, wall)   # the 3 x 0.2 s of latency is not in it
    proxy.reset()
    assert proxy.stats()["upstream_busy"] == 0


def test_throttled_answer_parses_as_request_limit_exceeded(proxy):
    proxy.configure(action_buckets={"DescribeVpcs": [2, 0.001]})
    ec2 = client(proxy.url)
    ec2.describe_vpcs()
    ec2.describe_vpcs()
    with pytest.raises(ClientError) as err:
        ec2.describe_vpcs()
    error = err.value.response
    assert error["Error"]["Code"] == "RequestLimitExceeded"
    assert error["Error"]["Message"] == "Request limit exceeded."
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 503
    assert error["ResponseMetadata"]["RequestId"]
    ec2.describe_subnets()                          # other actions are not affected
    stats = proxy.stats()
    assert stats["requests"]["DescribeVpcs"] == 3   # no retry behind our back
    assert stats["throttled"] == 1 and stats["forwarded"] == 3


def test_latency_is_added_per_request(proxy):
    ec2 = client(proxy.url)

    def median_call():
        times = []
        for _ in range(5):
            start = time.monotonic()
            ec2.describe_vpcs()
            times.append(time.monotonic() - start)
        return statistics.median(times)

    base = median_call()
    proxy.configure(latency=0.2)
    slow = median_call()
    assert 0.18 <= slow - base <= 0.5, (base, slow)


@pytest.mark.parametrize("status,code", [(500, "InternalError"), (503, "Unavailable")])
def test_next_n_requests_answer_5xx(proxy, status, code):
    proxy.configure(error_next=2, error_status=status)
    ec2 = client(proxy.url)
    for _ in range(2):
        with pytest.raises(ClientError) as err:
            ec2.describe_vpcs()
        assert err.value.response["Error"]["Code"] == code
        assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    ec2.describe_vpcs()
    stats = proxy.stats()
    assert stats["faults"]["error"] == 2 and stats["forwarded"] == 1


def test_faults_can_target_one_action(proxy):
    proxy.configure(error_next=1, fault_actions=["ReplaceRoute"])
    ec2 = client(proxy.url)
    ec2.describe_vpcs()                             # untouched, fault still pending
    assert proxy.stats()["config"]["error_next"] == 1
    with pytest.raises(ClientError) as err:
        ec2.replace_route(RouteTableId="rtb-0", DestinationCidrBlock="10.1.0.10/32",
                          NetworkInterfaceId="eni-0")
    assert err.value.response["Error"]["Code"] == "Unavailable"


def test_connection_reset(proxy):
    proxy.configure(reset_next=1)
    with pytest.raises(ConnectionResetError):
        raw_post(proxy.url, DESCRIBE_VPCS)
    assert proxy.stats()["faults"]["reset"] == 1
    client(proxy.url).describe_vpcs()               # the next one goes through


def test_hang_never_answers_until_stop(moto):
    proxy = start_proxy(moto.url, hang_next=1)
    try:
        start = time.monotonic()
        with pytest.raises(TimeoutError):
            raw_post(proxy.url, DESCRIBE_VPCS, timeout=0.5)
        assert time.monotonic() - start >= 0.5
        assert proxy.stats()["faults"]["hang"] == 1
        client(proxy.url).describe_vpcs()
        # A request hanging right now does not hold up stop().
        proxy.configure(hang_next=1)
        parsed = urlparse(proxy.url)
        conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=10)
        conn.request("POST", "/", body=DESCRIBE_VPCS, headers=FORM)
        time.sleep(0.2)
    finally:
        start = time.monotonic()
        proxy.stop()
    assert time.monotonic() - start < 2
    with pytest.raises((http.client.RemoteDisconnected, ConnectionResetError)):
        conn.getresponse()
    conn.close()


def test_hang_seconds_closes_without_an_answer(proxy):
    proxy.configure(hang_next=1, hang_seconds=0.3)
    start = time.monotonic()
    with pytest.raises(http.client.RemoteDisconnected):
        raw_post(proxy.url, DESCRIBE_VPCS, timeout=5)
    assert 0.3 <= time.monotonic() - start < 2


def test_moto_api_passes_untouched(proxy):
    proxy.configure(error_next=5)
    status, _ = control(proxy.url, "POST", "/moto-api/reset")
    assert status == 200
    stats = proxy.stats()
    assert stats["total"] == 0 and stats["faults"]["error"] == 0


def test_script_mode_with_http_control(moto):
    proc = subprocess.Popen(
        [sys.executable, PROXY_SCRIPT, "--upstream", moto.url, "--latency", "0.01"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("listening on http://127.0.0.1:"), line
        url = line.split()[-1]
        status, text = control(url, "POST", "/_proxy/config",
                               {"error_next": 1, "error_status": 500})
        assert status == 200 and json.loads(text)["config"]["error_next"] == 1
        ec2 = client(url)
        with pytest.raises(ClientError) as err:
            ec2.describe_vpcs()
        assert err.value.response["Error"]["Code"] == "InternalError"
        ec2.describe_vpcs()
        stats = json.loads(control(url, "GET", "/_proxy/stats")[1])
        assert stats["requests"] == {"DescribeVpcs": 2}
        assert stats["faults"]["error"] == 1 and stats["config"]["latency"] == 0.01
        assert control(url, "POST", "/_proxy/config", {"nope": 1})[0] == 400
        assert json.loads(control(url, "POST", "/_proxy/reset")[1])["total"] == 0
    finally:
        proc.terminate()
        assert proc.wait(timeout=5) == 0
