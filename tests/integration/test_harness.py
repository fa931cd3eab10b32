"""Tests of the harness itself: the IMDSv2 fake, moto seeding, snapshots, run_vip."""

import http.client
import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from urllib.parse import urlparse

import pytest

from harness.imds_fake import start_imds
from harness.runner import run_vip
from harness.scenario import OTHER_CLUSTER_VIP, VIP, changes, node_json, routes_of, snapshot

HARNESS = os.path.join(os.path.dirname(__file__), "..", "harness")

NODE = {
    "instance_id": "i-0123456789abcdef0",
    "region": "eu-west-3",
    "availability_zone": "eu-west-3b",
    "role": "ec2-vip-role",
    "interfaces": [
        {"mac": "0e:11:22:33:44:01", "interface_id": "eni-0000000000000aaa1",
         "vpc_id": "vpc-0000000000000aaa1", "subnet_id": "subnet-0000000000000aaa1",
         "vpc_ipv4_cidr_blocks": ["10.0.0.0/16", "10.9.0.0/16"],
         "local_ipv4s": ["10.0.2.15", "10.0.2.16"], "device_number": 0},
        {"mac": "0e:11:22:33:44:02", "interface_id": "eni-0000000000000aaa2",
         "vpc_id": "vpc-0000000000000aaa1", "subnet_id": "subnet-0000000000000aaa1",
         "vpc_ipv4_cidr_blocks": ["10.0.0.0/16"], "local_ipv4s": ["10.0.2.20"],
         "device_number": 1, "ipv6s": ["2600:1f18::15"],
         "vpc_ipv6_cidr_blocks": ["2600:1f18::/56"]},
    ],
}


def request(url, method, path, headers=None, body=None, timeout=5):
    """One request on a fresh connection: (status, headers, text)."""
    parsed = urlparse(url)
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.headers, resp.read().decode()
    finally:
        conn.close()


def token(url, ttl=60):
    status, _, text = request(url, "PUT", "/latest/api/token",
                              {"X-aws-ec2-metadata-token-ttl-seconds": str(ttl)})
    assert status == 200
    return text


def get(url, path, tok):
    return request(url, "GET", path, {"X-aws-ec2-metadata-token": tok})


@pytest.fixture
def imds():
    server = start_imds(NODE, log_requests=False)
    yield server
    server.stop()


# --- IMDSv2 fake -------------------------------------------------------------

def test_get_without_or_with_bad_token_is_401(imds):
    assert request(imds.url, "GET", "/latest/meta-data/instance-id")[0] == 401
    assert get(imds.url, "/latest/meta-data/instance-id", "not-a-token")[0] == 401


def test_token_response_carries_ttl_header(imds):
    status, headers, text = request(imds.url, "PUT", "/latest/api/token",
                                    {"X-aws-ec2-metadata-token-ttl-seconds": "21600"})
    assert status == 200 and len(text) >= 32
    assert headers["x-aws-ec2-metadata-token-ttl-seconds"] == "21600"
    assert headers["Content-Type"] == "text/plain"


@pytest.mark.parametrize("ttl", [None, "0", "21601", "abc", "-5"])
def test_token_needs_valid_ttl(imds, ttl):
    headers = {} if ttl is None else {"X-aws-ec2-metadata-token-ttl-seconds": ttl}
    assert request(imds.url, "PUT", "/latest/api/token", headers)[0] == 400


def test_token_refused_through_a_proxy(imds):
    status = request(imds.url, "PUT", "/latest/api/token",
                     {"X-aws-ec2-metadata-token-ttl-seconds": "60",
                      "X-Forwarded-For": "127.0.0.1"})[0]
    assert status == 403


def test_token_expires(imds):
    tok = token(imds.url, ttl=1)
    assert get(imds.url, "/latest/meta-data/instance-id", tok)[0] == 200
    time.sleep(1.2)
    assert get(imds.url, "/latest/meta-data/instance-id", tok)[0] == 401


def test_node_paths(imds):
    tok = token(imds.url)
    macs = "/latest/meta-data/network/interfaces/macs/"
    eth0 = macs + "0e:11:22:33:44:01/"
    expected = {
        "/latest/meta-data/instance-id": "i-0123456789abcdef0",
        "/latest/meta-data/placement/region": "eu-west-3",
        "/latest/meta-data/placement/availability-zone": "eu-west-3b",
        "/latest/meta-data/mac": "0e:11:22:33:44:01",
        "/latest/meta-data/local-ipv4": "10.0.2.15",
        macs: "0e:11:22:33:44:01/\n0e:11:22:33:44:02/",
        eth0 + "interface-id": "eni-0000000000000aaa1",
        eth0 + "vpc-id": "vpc-0000000000000aaa1",
        eth0 + "subnet-id": "subnet-0000000000000aaa1",
        eth0 + "device-number": "0",
        eth0 + "local-ipv4s": "10.0.2.15\n10.0.2.16",
        eth0 + "vpc-ipv4-cidr-block": "10.0.0.0/16",
        eth0 + "vpc-ipv4-cidr-blocks": "10.0.0.0/16\n10.9.0.0/16",
        macs + "0e:11:22:33:44:02/device-number": "1",
        macs + "0e:11:22:33:44:02/ipv6s": "2600:1f18::15",
        macs + "0e:11:22:33:44:02/vpc-ipv6-cidr-blocks": "2600:1f18::/56",
        "/latest/meta-data/iam/security-credentials/": "ec2-vip-role",
        "/latest/meta-data/placement/region/": "eu-west-3",  # trailing slash ignored
    }
    for path, text in expected.items():
        assert get(imds.url, path, tok)[::2] == (200, text), path
    for path in (eth0 + "ipv6s", eth0 + "vpc-ipv6-cidr-blocks", macs + "0e:00:00:00:00:99/",
                 "/latest/meta-data/nope", "/latest/meta-data/instance-id/x"):
        assert get(imds.url, path, tok)[0] == 404, path


def test_credentials_and_identity_documents(imds):
    tok = token(imds.url)
    status, _, text = get(imds.url, "/latest/meta-data/iam/security-credentials/ec2-vip-role",
                          tok)
    creds = json.loads(text)
    assert status == 200 and creds["Code"] == "Success" and creds["Type"] == "AWS-HMAC"
    assert creds["AccessKeyId"] and creds["SecretAccessKey"] and creds["Token"]
    expiry = datetime.strptime(creds["Expiration"], "%Y-%m-%dT%H:%M:%SZ")
    left = expiry.replace(tzinfo=timezone.utc) - datetime.now(timezone.utc)
    assert timedelta(hours=5, minutes=59) < left <= timedelta(hours=6)

    info = json.loads(get(imds.url, "/latest/meta-data/iam/info", tok)[2])
    assert info["InstanceProfileArn"].endswith(":instance-profile/ec2-vip-role")
    doc = json.loads(get(imds.url, "/latest/dynamic/instance-identity/document", tok)[2])
    assert doc["instanceId"] == "i-0123456789abcdef0" and doc["region"] == "eu-west-3"
    assert doc["availabilityZone"] == "eu-west-3b" and doc["accountId"] == "123456789012"
    assert doc["privateIp"] == "10.0.2.15"


def test_botocore_reads_credentials_and_region(imds):
    # An independent SDK client as a compatibility check of the wire format.
    from botocore.utils import InstanceMetadataFetcher, InstanceMetadataRegionFetcher
    config = {"ec2_metadata_service_endpoint": imds.url + "/"}
    creds = InstanceMetadataFetcher(timeout=2, num_attempts=1, config=config).retrieve_iam_role_credentials()
    assert creds["role_name"] == "ec2-vip-role" and creds["access_key"].startswith("ASIA")
    region = InstanceMetadataRegionFetcher(timeout=2, num_attempts=1, config=config).retrieve_region()
    assert region == "eu-west-3"


def test_fault_modes_and_stats(imds):
    tok = token(imds.url)

    def set_mode(mode, delay=None):
        body = json.dumps({"mode": mode} if delay is None else {"mode": mode, "delay": delay})
        assert request(imds.url, "POST", "/_fake/mode", body=body)[0] == 200

    set_mode("unauthorized")
    assert get(imds.url, "/latest/meta-data/instance-id", tok)[0] == 401
    assert request(imds.url, "PUT", "/latest/api/token",
                   {"X-aws-ec2-metadata-token-ttl-seconds": "60"})[0] == 401

    set_mode("down")
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        get(imds.url, "/latest/meta-data/instance-id", tok)

    set_mode("slow", 0.5)
    start = time.monotonic()
    assert get(imds.url, "/latest/meta-data/instance-id", tok)[0] == 200
    assert time.monotonic() - start >= 0.5
    with pytest.raises(TimeoutError):  # a client with a short read timeout gives up
        request(imds.url, "GET", "/latest/meta-data/instance-id",
                {"X-aws-ec2-metadata-token": tok}, timeout=0.2)

    set_mode("ok")
    assert get(imds.url, "/latest/meta-data/instance-id", tok)[0] == 200
    stats = json.loads(request(imds.url, "GET", "/_fake/stats")[2])
    assert stats["token_requests"] == 2 and stats["get_requests"] == 5
    assert stats["mode"] == "ok"
    assert request(imds.url, "POST", "/_fake/mode", body='{"mode": "bogus"}')[0] == 400


def test_standalone_cli(tmp_path):
    node_file = tmp_path / "node.json"
    node_file.write_text(json.dumps(NODE))
    proc = subprocess.Popen(
        [sys.executable, os.path.join(HARNESS, "imds_fake.py"), "--node", str(node_file),
         "--mode", "unauthorized"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("listening on http://127.0.0.1:")
        url = line.split()[-1]
        assert request(url, "GET", "/latest/meta-data/instance-id")[0] == 401
        request(url, "POST", "/_fake/mode", body='{"mode": "ok"}')
        assert get(url, "/latest/meta-data/instance-id", token(url))[2] == NODE["instance_id"]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=5) == 0
        assert proc.stdout.read() == ""  # exactly one line on stdout
        assert "GET /latest/meta-data/instance-id" in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


# --- moto + figure 1 ------------------------------------------------------------

def test_figure1_route_tables(ec2, figure1):
    f = figure1
    n1 = f["node1"]["eni_id"]
    assert routes_of(ec2, f["public_rtb"]) == {"10.0.0.0/16": "local", "0.0.0.0/0": f["igw_id"]}
    assert routes_of(ec2, f["rtb_a"]) == {
        "10.0.0.0/16": "local", "0.0.0.0/0": f["nat_eni"], VIP: n1}
    assert routes_of(ec2, f["rtb_b"]) == {
        "10.0.0.0/16": "local", "0.0.0.0/0": f["nat_eni_b"], VIP: n1, OTHER_CLUSTER_VIP: n1}
    assert routes_of(ec2, f["other_rtb"]) == {"10.50.0.0/16": "local", VIP: f["other_eni"]}

    # Subnet associations, through a filter moto implements.
    def tables_of(subnet):
        return [t["RouteTableId"] for t in ec2.describe_route_tables(Filters=[
            {"Name": "association.subnet-id", "Values": [subnet]}])["RouteTables"]]
    sub = f["subnets"]
    assert tables_of(sub["public_a"]) == tables_of(sub["public_b"]) == [f["public_rtb"]]
    assert tables_of(sub["private_a"]) == [f["rtb_a"]]
    assert tables_of(sub["private_b"]) == [f["rtb_b"]]

    # The VIP is routed in exactly three tables, one of them in the other VPC.
    vip_tables = ec2.describe_route_tables(Filters=[
        {"Name": "route.destination-cidr-block", "Values": [VIP]}])["RouteTables"]
    assert sorted(t["RouteTableId"] for t in vip_tables) == sorted(
        [f["rtb_a"], f["rtb_b"], f["other_rtb"]])


def test_figure1_nodes_enis_and_eip(ec2, figure1):
    f = figure1
    for name, subnet, az in (("node1", "private_a", "us-east-1a"),
                             ("node2", "private_b", "us-east-1b")):
        node = f[name]
        assert node["subnet_id"] == f["subnets"][subnet] and node["az"] == az
        eni = ec2.describe_network_interfaces(Filters=[
            {"Name": "mac-address", "Values": [node["mac"]]}])["NetworkInterfaces"]
        assert [e["NetworkInterfaceId"] for e in eni] == [node["eni_id"]]
        assert eni[0]["SourceDestCheck"] is False
        assert eni[0]["PrivateIpAddress"] == node["private_ip"]
        attached = ec2.describe_network_interfaces(Filters=[
            {"Name": "attachment.instance-id", "Values": [node["instance_id"]]}])
        assert {e["NetworkInterfaceId"] for e in attached["NetworkInterfaces"]} == {
            node["eni_id"], node["eni2_id"]}

    addr = ec2.describe_addresses(AllocationIds=[f["eip"]["allocation_id"]])["Addresses"][0]
    assert addr["NetworkInterfaceId"] == f["node1"]["eni_id"]
    assert addr["PublicIp"] == f["eip"]["public_ip"] and addr["Domain"] == "vpc"


def test_node_json_matches_seed(figure1):
    node = node_json(figure1, "node2")
    assert node["instance_id"] == figure1["node2"]["instance_id"]
    assert node["availability_zone"] == "us-east-1b" and node["region"] == "us-east-1"
    primary, eth1 = node["interfaces"]
    assert primary["interface_id"] == figure1["node2"]["eni_id"]
    assert primary["local_ipv4s"] == ["10.0.4.10"] and eth1["device_number"] == 1
    assert primary["vpc_ipv4_cidr_blocks"] == ["10.0.0.0/16"]


def test_imds_fixture_serves_the_seeded_node(figure1, imds_node1, imds_node2):
    for imds, name in ((imds_node1, "node1"), (imds_node2, "node2")):
        tok = token(imds.url)
        assert get(imds.url, "/latest/meta-data/mac", tok)[2] == figure1[name]["mac"]
        assert get(imds.url, "/latest/meta-data/instance-id", tok)[2] == \
            figure1[name]["instance_id"]


def test_snapshot_changes_show_exactly_what_moved(ec2, figure1):
    f = figure1
    before = snapshot(ec2, f)
    assert before["eip"] == f["node1"]["eni_id"]
    assert set(before["routes"]) >= {f["main_rtb"], f["public_rtb"], f["rtb_a"],
                                     f["rtb_b"], f["other_rtb"]}
    n1, n2 = f["node1"]["eni_id"], f["node2"]["eni_id"]
    ec2.replace_route(RouteTableId=f["rtb_a"], DestinationCidrBlock=VIP,
                      NetworkInterfaceId=n2)
    ec2.associate_address(AllocationId=f["eip"]["allocation_id"], NetworkInterfaceId=n2,
                          AllowReassociation=True)
    after = snapshot(ec2, f)
    assert after["eip"] == n2
    assert changes(before, after) == {
        ("route", f["rtb_a"], VIP): (n1, n2),
        ("address", f["eip"]["allocation_id"]): (n1, n2),
    }


def test_moto_is_reset_and_ids_repeat(ec2, figure1, moto):
    from harness.scenario import seed_figure1
    moto.reset(seed=1)
    assert seed_figure1(ec2) == figure1  # same seed, same ids
    vpcs = ec2.describe_vpcs()["Vpcs"]
    assert len([v for v in vpcs if not v["IsDefault"]]) == 2


# --- run_vip ----------------------------------------------------------------------

def test_run_vip_gives_a_clean_environment(tmp_path, imds, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIASHOULDNOTLEAK")
    monkeypatch.setenv("AWS_REGION", "us-west-2")
    fake_bin = tmp_path / "fake-vip"
    fake_bin.write_text(f"#!{sys.executable}\nimport json, os, sys\n"
                        "print(json.dumps({'env': dict(os.environ), 'argv': sys.argv[1:]}))\n")
    fake_bin.chmod(0o755)
    res = run_vip(fake_bin, ["master", 7], imds, "http://127.0.0.1:1",
                  extra_env={"RUST_LOG": "debug"})
    assert res.returncode == 0, res
    out = json.loads(res.stdout)
    env = out["env"]
    assert out["argv"] == ["master", "7"]
    assert env["AWS_ENDPOINT_URL_EC2"] == "http://127.0.0.1:1"
    assert env["AWS_EC2_METADATA_SERVICE_ENDPOINT"] == imds.url
    assert env["RUST_LOG"] == "debug" and env["PATH"] == os.environ["PATH"]
    assert "AWS_ACCESS_KEY_ID" not in env and "AWS_REGION" not in env
    assert env["HOME"] != os.environ.get("HOME") and not os.path.exists(env["HOME"])
    assert 0 < res.elapsed < 30
