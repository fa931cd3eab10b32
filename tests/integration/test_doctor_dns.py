"""`ec2-vip doctor` on a section's `dns_records` against moto's Route 53: the zone exists
(GetHostedZone: name, private or public), the name lies inside it, the record can be read
(ListResourceRecordSets), a TTL above 60 s warns, a denial names the zone and the action,
and ChangeResourceRecordSets is said to be unprovable without a write. Changes nothing."""

import pytest

from harness.fault_proxy import start_proxy
from harness.route53_zone import NAME, private_zone, records, upsert
from harness.runner import run_vip
from harness.tgw_scenario import Clients


def public_zone(r53, name):
    z = r53.create_hosted_zone(Name=name, CallerReference=f"ec2-vip-{name}")
    return z["HostedZone"]["Id"].split("/")[-1]


@pytest.fixture
def zone(r53, figure1):
    """A private zone of figure1's VPC whose record names node1."""
    zid = private_zone(r53, figure1["vpc_id"])
    upsert(r53, zid, figure1["node1"]["private_ip"], ttl=10)
    return zid


def doctor(binary, tmp_path, imds, server, entries, r53, zid):
    cfg = tmp_path / "ec2-vip.toml"
    cfg.write_text("[instance.VI_1]\ndns_records = [\n" + ",\n".join(entries) + "\n]\n")
    before = records(r53, zid)
    r = run_vip(binary, ["--config", cfg, "doctor", "--keepalived-conf", "/nonexistent"], imds, server)
    assert records(r53, zid) == before, "doctor changed a record"
    return r


def entry(zid, name=NAME, ttl=10):
    return f'{{ zone = "{zid}", name = "{name}", type = "A", ttl = {ttl} }}'


def lines(r, level, check):
    return [line for line in r.stdout.splitlines() if line.startswith(level) and f"] {check}:" in line]


def test_a_good_entry_gives_ok_lines(binary, tmp_path, moto, r53, zone, figure1, imds_node2):
    public = public_zone(r53, "example.com.")
    r = doctor(binary, tmp_path, imds_node2, moto, [entry(zone), entry(public, "www.example.com")], r53, zone)
    assert r.returncode == 0, r
    [private_line, public_line] = lines(r, "ok", "dns-zone")
    vpc = figure1["vpc_id"]
    assert f"{zone} is internal.example. (private, associated with {vpc})" in private_line, r.stdout
    assert f"{public} is example.com. (public)" in public_line, r.stdout
    [now, missing] = lines(r, "ok", "dns-record")
    assert f"names {figure1['node1']['private_ip']} now" in now and "ListResourceRecordSets allowed" in now
    assert "www.example.com." in missing and "created on failover" in missing, r.stdout
    unprovable = lines(r, "warn", "permission")
    assert len(unprovable) == 2 and all(
        "route53:ChangeResourceRecordSets" in w and "no DryRun" in w and "ec2-vip iam-policy" in w
        for w in unprovable), r.stdout
    assert not lines(r, "warn", "dns-ttl") and "FAIL" not in r.stdout, r.stdout


def test_a_missing_zone_fails(binary, tmp_path, moto, r53, zone, imds_node2):
    r = doctor(binary, tmp_path, imds_node2, moto, [entry("Z0000000000MISSING"), entry(zone)], r53, zone)
    assert r.returncode == 1, r
    [fail] = lines(r, "FAIL", "dns-zone")
    assert "Z0000000000MISSING does not exist (NoSuchHostedZone)" in fail and "list-hosted-zones" in fail
    assert len(lines(r, "ok", "dns-zone")) == 1, "the other entry is still checked"


def test_a_name_outside_the_zone_fails(binary, tmp_path, moto, r53, zone, imds_node2):
    r = doctor(binary, tmp_path, imds_node2, moto, [entry(zone, "db.other.example")], r53, zone)
    assert r.returncode == 1, r
    [fail] = lines(r, "FAIL", "dns-record")
    assert "db.other.example. lies outside the zone internal.example." in fail and zone in fail, fail


def test_a_long_ttl_warns(binary, tmp_path, moto, r53, zone, imds_node2):
    r = doctor(binary, tmp_path, imds_node2, moto, [entry(zone, ttl=300)], r53, zone)
    assert r.returncode == 0, r
    [warn] = lines(r, "warn", "dns-ttl")
    assert "TTL 300 s" in warn and "ttl = 60 or less" in warn, warn


@pytest.mark.parametrize("action", ["GetHostedZone", "ListResourceRecordSets"])
def test_access_denied_names_the_zone_and_the_action(binary, tmp_path, moto, r53, zone, imds_node2, action):
    proxy = start_proxy(moto.url, throttle=False, deny_actions=[action])
    try:
        r = doctor(binary, tmp_path, imds_node2, proxy, [entry(zone)], r53, zone)
    finally:
        proxy.stop()
    assert r.returncode == 1, r
    [fail] = lines(r, "FAIL", "permission")
    assert f"route53:{action} on hostedzone/{zone} denied" in fail and "AccessDenied" in fail, fail
    assert "iam-policy" in fail, fail


def test_a_zone_in_another_account_is_checked_through_role_arn(binary, tmp_path, moto, r53, zone, imds_node2):
    other = Clients(moto.url)
    r53_other = other.client("route53", "us-east-1", account="222222222222")
    theirs = public_zone(r53_other, "partner.example.")
    role = other.role_arn("222222222222")
    with_role = f'{{ zone = "{theirs}", name = "db.partner.example", type = "A", role_arn = "{role}" }}'
    r = doctor(binary, tmp_path, imds_node2, moto, [with_role], r53, zone)
    assert r.returncode == 0, r
    [ok] = lines(r, "ok", "dns-zone")
    assert f"{theirs} is partner.example. (public)" in ok, r.stdout
    without = doctor(binary, tmp_path, imds_node2, moto, [entry(theirs, "db.partner.example")], r53, zone)
    assert without.returncode == 1 and f"hosted zone {theirs} does not exist" in without.stdout, without
