"""HTTP_PROXY / HTTPS_PROXY / NO_PROXY as the AWS CLI takes them (issue 27, item 13): AWS
calls go through the environment's proxy, IMDS never does, NO_PROXY exempts, and a proxy
that is down is a clear one-line error naming it, exit 1, nothing changed. The proxy is a
real forward proxy on loopback that counts what passes through it (moto is plain http on
127.0.0.1, so the proxy sees absolute-URI requests; an https endpoint is a CONNECT)."""

import urllib.parse

import pytest

from harness.forward_proxy import start_forward_proxy
from harness.runner import run_vip
from harness.scenario import snapshot
from test_bad_input import closed_port


@pytest.fixture
def fwd():
    p = start_forward_proxy()
    yield p
    p.stop()


def authority(url):
    return urllib.parse.urlsplit(url).netloc


def master(binary, tmp_path, figure1, imds, moto, env):
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[instance.VI_1]\nroutes = ["10.1.0.10/32"]\nelastic_ips = ["{figure1["eip"]["allocation_id"]}"]\n')
    return run_vip(binary, ["--config", cfg, "--timeout", "6", "notify", "INSTANCE", "VI_1", "MASTER"], imds, moto,
                   extra_env=env)


def on(ec2, figure1):
    snap = snapshot(ec2, figure1)
    return {snap["routes"][figure1["rtb_a"]]["10.1.0.10/32"], snap["routes"][figure1["rtb_b"]]["10.1.0.10/32"],
            snap["eip"]}


@pytest.mark.parametrize("var", ["HTTP_PROXY", "http_proxy"])
def test_a_master_goes_through_the_proxy_and_imds_never_does(binary, moto, ec2, figure1, imds_node2, tmp_path, fwd,
                                                             var):
    r = master(binary, tmp_path, figure1, imds_node2, moto, {var: fwd.url})
    assert r.returncode == 0, r
    assert on(ec2, figure1) == {figure1["node2"]["eni_id"]}
    seen = fwd.seen
    # DescribeRouteTables, DescribeAddresses, 2 x ReplaceRoute, AssociateAddress, read back.
    assert seen.get(authority(moto.url), 0) >= 5, seen
    assert authority(imds_node2.url) not in seen, f"IMDS went through the proxy: {seen}"
    assert imds_node2.stats()["get_requests"] > 0, "the node asked IMDS (directly)"


def test_no_proxy_exempts_the_endpoint(binary, moto, ec2, figure1, imds_node2, tmp_path, fwd):
    r = master(binary, tmp_path, figure1, imds_node2, moto, {"HTTP_PROXY": fwd.url, "NO_PROXY": "127.0.0.1"})
    assert r.returncode == 0, r
    assert on(ec2, figure1) == {figure1["node2"]["eni_id"]}
    assert fwd.seen == {} and fwd.connects == {}, (fwd.seen, fwd.connects)


def test_an_https_endpoint_is_a_connect_through_https_proxy(binary, moto, ec2, figure1, imds_node2, tmp_path, fwd):
    """moto speaks no TLS, so the run fails after the tunnel: what counts is the CONNECT."""
    https = "https://" + authority(moto.url)
    env = {"HTTPS_PROXY": fwd.url, "AWS_ENDPOINT_URL_EC2": https, "AWS_ENDPOINT_URL_STS": https}
    r = master(binary, tmp_path, figure1, imds_node2, moto, env)
    assert r.returncode == 1, r
    assert fwd.connects.get(authority(moto.url), 0) >= 1, (fwd.connects, r)
    assert fwd.seen == {}, "the http IMDS endpoint is never proxied"
    assert on(ec2, figure1) == {figure1["node1"]["eni_id"]}


def test_a_proxy_that_is_down_is_named_and_nothing_changes(binary, moto, ec2, figure1, imds_node2, tmp_path):
    down = f"http://127.0.0.1:{closed_port()}"
    before = snapshot(ec2, figure1)
    r = master(binary, tmp_path, figure1, imds_node2, moto, {"HTTP_PROXY": down})
    assert r.returncode == 1, r
    errors = [line for line in r.stderr.splitlines() if "ERROR" in line or "error" in line.lower()]
    assert any(f"HTTP_PROXY={down}" in line for line in errors), r.stderr
    assert snapshot(ec2, figure1) == before
    assert r.elapsed < 10, r
