"""Route 53 scenario against moto's Route 53 (same server and port as EC2), through the
fault proxy where calls are counted, throttled at Route 53's 5 requests/s, or changes are
held PENDING (moto reports every change INSYNC at once)."""

import json
import os
import time

import pytest

from harness.fault_proxy import start_proxy
from harness.route53_rest import route53_action
from harness.route53_zone import NAME, record, upsert
from harness.imds_fake import start_imds
from harness.runner import run_vip, start_watch
from harness.scenario import node_json
from harness.tgw_scenario import Clients

PUBLIC_IP = "198.51.100.20"
OTHER_ACCOUNT = "222222222222"


def calls(proxy):
    return {a: n for a, n in proxy.stats()["requests"].items() if n}


def spec(zid, *rest):
    return ",".join([zid, NAME, "A", *rest])


def test_failover_moves_the_record_and_failback_moves_it_back(binary, r53, zone, figure1, imds_node1,
                                                              imds_node2, proxy):
    node1, node2 = figure1["node1"]["private_ip"], figure1["node2"]["private_ip"]
    r = run_vip(binary, ["master", "--dns-record", spec(zone, "local", "10")], imds_node2, proxy)
    assert r.returncode == 0, r
    assert record(r53, zone) == ([node2], 10)
    assert f"dns A {NAME} in {zone}: {node1} (TTL 60) -> {node2} (upsert) via ChangeResourceRecordSets" in r.stderr
    # One read, one change (moto: INSYNC at once, so no GetChange), one read back.
    assert calls(proxy) == {"ListResourceRecordSets": 2, "ChangeResourceRecordSets": 1}, calls(proxy)

    proxy.reset()
    again = run_vip(binary, ["master", "--dns-record", spec(zone, "local", "10")], imds_node2, proxy)
    assert again.returncode == 0 and "already names this node" in again.stderr, again
    assert calls(proxy) == {"ListResourceRecordSets": 1}, "a record already right is not rewritten"

    back = run_vip(binary, ["master", "--dns-record", spec(zone, "local", "10")], imds_node1, proxy)
    assert back.returncode == 0, back
    assert record(r53, zone) == ([node1], 10)


def test_a_pending_change_is_reported_propagating_not_waited_for(binary, r53, zone, figure1, imds_node2,
                                                                 proxy):
    # Route 53 answers PENDING; the run does not hold the lock until INSYNC (see
    # test_dns_ownership.py for the other instances and the exit code).
    proxy.configure(route53_pending=1.5)
    r = run_vip(binary, ["master", "--dns-record", spec(zone)], imds_node2, proxy)
    assert r.returncode == 0 and r.elapsed < 1.4, r
    assert "written, propagating" in r.stderr, r
    assert "GetChange" not in calls(proxy), calls(proxy)
    assert record(r53, zone) == ([figure1["node2"]["private_ip"]], 60)


def test_throttled_route53_requests_are_retried(binary, r53, zone, figure1, imds_node2, moto):
    # Route 53's one bucket per account: here 1 request, refilled at 2/s.
    p = start_proxy(moto.url, throttle=True, route53_bucket=[1, 2.0])
    try:
        r = run_vip(binary, ["master", "--dns-record", spec(zone)], imds_node2, p)
        stats = p.stats()
    finally:
        p.stop()
    assert r.returncode == 0, r
    assert stats["throttled"] >= 1, stats
    assert record(r53, zone) == ([figure1["node2"]["private_ip"]], 60)


def test_release_deletes_only_a_record_that_still_names_this_node(binary, r53, zone, figure1, imds_node1,
                                                                  imds_node2, proxy):
    node1 = figure1["node1"]["private_ip"]
    kept = run_vip(binary, ["backup", "--dns-record", spec(zone)], imds_node1, proxy)
    assert kept.returncode == 0 and record(r53, zone) == ([node1], 60), kept
    late = run_vip(binary, ["backup", "--release", "--dns-record", spec(zone)], imds_node2, proxy)
    assert late.returncode == 0 and "names another node" in late.stderr, late
    assert record(r53, zone) == ([node1], 60)
    r = run_vip(binary, ["stop", "--release", "--dns-record", spec(zone)], imds_node1, proxy)
    assert r.returncode == 0, r
    assert record(r53, zone) is None


def test_check_repairs_a_record_changed_behind_our_back(binary, r53, zone, figure1, imds_node2, tmp_path):
    node1, node2 = figure1["node1"]["private_ip"], figure1["node2"]["private_ip"]
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[instance.VI_1]\ndns_records = [{{ zone = "{zone}", name = "{NAME}", type = "A" }}]\n')
    state = {"EC2_VIP_STATE_DIR": tmp_path / "state"}
    base = ["--config", cfg, "--consistency-window", "0.2"]
    assert run_vip(binary, [*base, "notify", "INSTANCE", "VI_1", "MASTER"], imds_node2,
                   r53.meta.endpoint_url, state).returncode == 0
    assert record(r53, zone) == ([node2], 60)
    upsert(r53, zone, node1)
    drift = run_vip(binary, [*base, "check", "--instance", "VI_1"], imds_node2, r53.meta.endpoint_url, state)
    assert drift.returncode == 1, drift
    assert f"dns A {NAME} in {zone} is {node1}, not {node2}" in drift.stdout, drift
    dry = run_vip(binary, [*base, "--dry-run", "check", "--repair", "--instance", "VI_1"], imds_node2,
                  r53.meta.endpoint_url, state)
    assert dry.returncode == 1 and "ChangeResourceRecordSets" in dry.stdout, dry
    assert record(r53, zone) == ([node1], 60), dry
    fixed = run_vip(binary, [*base, "check", "--repair", "--instance", "VI_1"], imds_node2,
                    r53.meta.endpoint_url, state)
    assert fixed.returncode == 0, fixed
    assert record(r53, zone) == ([node2], 60)


def test_dry_run_writes_nothing(binary, r53, zone, figure1, imds_node2, proxy):
    r = run_vip(binary, ["--dry-run", "master", "--dns-record", spec(zone)], imds_node2, proxy)
    assert r.returncode == 0, r
    assert f"dns A {NAME} in {zone}: {figure1['node1']['private_ip']} -> " in r.stdout, r
    assert "ChangeResourceRecordSets" not in calls(proxy), calls(proxy)
    assert record(r53, zone) == ([figure1["node1"]["private_ip"]], 60)


def test_status_shows_the_record_and_whom_it_names(binary, r53, zone, figure1, imds_node1, imds_node2):
    url = r53.meta.endpoint_url
    r = run_vip(binary, ["status", "--json", "--dns-record", spec(zone)], imds_node1, url)
    assert r.returncode == 0, r
    [st] = json.loads(r.stdout)
    assert st["schema"] == 1
    assert st["dns_records"] == [{"zone": zone, "name": NAME, "type": "A", "value": figure1["node1"]["private_ip"],
                                  "wanted": figure1["node1"]["private_ip"], "this_node": True}]
    text = run_vip(binary, ["status", "--dns-record", spec(zone)], imds_node2, url)
    assert text.returncode == 0, text
    [line] = [l for l in text.stdout.splitlines() if l.startswith("dns")]
    assert NAME in line and figure1["node1"]["private_ip"] in line and line.endswith("other"), line


def test_public_value_names_the_enis_public_ipv4(binary, r53, zone, figure1):
    node = node_json(figure1, "node2", "us-east-1")
    node["interfaces"][0]["public_ipv4s"] = [PUBLIC_IP]
    imds = start_imds(node)
    try:
        r = run_vip(binary, ["master", "--dns-record", spec(zone, "public")], imds, r53.meta.endpoint_url)
    finally:
        imds.stop()
    assert r.returncode == 0, r
    assert record(r53, zone) == ([PUBLIC_IP], 60)


def test_no_public_ipv4_is_blocked_and_unknown_zone_is_bad_input(binary, r53, zone, figure1, imds_node2):
    url = r53.meta.endpoint_url
    # Not bad input: the record cannot name this node, the rest of a failover still moves
    # (test_dns_ownership.py).
    r = run_vip(binary, ["master", "--dns-record", spec(zone, "public")], imds_node2, url)
    assert r.returncode == 1 and "has no public IPv4 address" in r.stderr, r
    r = run_vip(binary, ["master", "--dns-record", spec("ZNOSUCHZONE0")], imds_node2, url)
    assert r.returncode == 2 and "ZNOSUCHZONE0" in r.stderr, r
    assert record(r53, zone) == ([figure1["node1"]["private_ip"]], 60)


@pytest.mark.parametrize("entry, where, words", [
    ('{ zone = "Z1", name = "db.example", type = "CNAME" }', "dns_records[0].type", "A or AAAA"),
    ('{ zone = "Z1", name = "db.example", type = "AAAA", value = "public" }', "dns_records[0].value", "IPv6"),
    ('{ zone = "Z1", name = "db.example", type = "AAAA", value = "10.0.0.1" }', "dns_records[0].value", "IPv6"),
    ('{ zone = "hz-1", name = "db.example", type = "A" }', "dns_records[0].zone", "hosted zone id"),
    ('{ zone = "Z1", name = "db..example", type = "A" }', "dns_records[0].name", "DNS name"),
    ('{ zone = "Z1", name = "db.example", type = "A", ttl = -5 }', "dns_records[0].ttl", "TTL"),
    ('{ zone = "Z1", name = "db.example", type = "A", weight = 5 }', "dns_records[0]", "weight"),
])
def test_bad_entries_are_rejected_with_located_errors(binary, tmp_path, entry, where, words):
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[instance.VI_1]\ndns_records = [{entry}]\n')
    r = run_vip(binary, ["--config", cfg, "config-test"], "http://127.0.0.1:9", "http://127.0.0.1:9")
    assert r.returncode == 2, r
    assert f"{cfg}:2:" in r.stderr + r.stdout and "[instance.VI_1]" in r.stderr + r.stdout, r
    out = r.stderr + r.stdout
    assert where in out and words in out, out


def test_bad_cli_spec_is_a_usage_error(binary):
    r = run_vip(binary, ["master", "--dns-record", "Z1,db.example"], "http://127.0.0.1:9", "http://127.0.0.1:9")
    assert r.returncode == 2 and "ZONE,NAME,TYPE" in r.stderr, r


def test_after_a_recent_backup_a_record_already_right_is_reasserted(binary, r53, zone, figure1, imds_node2,
                                                                    proxy, tmp_path):
    node2 = figure1["node2"]["private_ip"]
    state = {"EC2_VIP_STATE_DIR": tmp_path / "state"}
    args = ["--consistency-window", "5", "--dns-record", spec(zone)]
    assert run_vip(binary, ["master", *args], imds_node2, proxy, state).returncode == 0
    assert run_vip(binary, ["backup", *args], imds_node2, proxy, state).returncode == 0
    proxy.reset()
    # The peer may have taken the record a moment ago and the read not show it yet: an
    # UPSERT of the same value costs nothing and makes sure.
    r = run_vip(binary, ["master", *args], imds_node2, proxy, state)
    assert r.returncode == 0, r
    assert f"{node2} -> {node2} (reassert) via ChangeResourceRecordSets" in r.stderr, r
    assert calls(proxy).get("ChangeResourceRecordSets") == 1, calls(proxy)
    assert record(r53, zone) == ([node2], 60)


def test_watch_repairs_a_record_while_master(binary, r53, zone, figure1, imds_node2, tmp_path):
    node1, node2 = figure1["node1"]["private_ip"], figure1["node2"]["private_ip"]
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[instance.VI_1]\ndns_records = [{{ zone = "{zone}", name = "{NAME}", type = "A" }}]\n')
    proc, fd, log = start_watch(binary, cfg, imds_node2, r53.meta.endpoint_url, tmp_path / "home", interval="0.5")

    def wait_until(value, what):
        end = time.monotonic() + 15
        while record(r53, zone) != value:
            assert time.monotonic() < end and proc.poll() is None, (what, log.read_text())
            time.sleep(0.1)
    try:
        os.write(fd, b'INSTANCE "VI_1" MASTER 150\n')
        wait_until(([node2], 60), "MASTER applied")
        upsert(r53, zone, node1)
        wait_until(([node2], 60), "drift repaired")
        assert "repair" in log.read_text(), log.read_text()
    finally:
        os.close(fd)
        proc.kill()
        proc.wait()


def test_iam_policy_grants_exactly_the_route53_calls_made(binary, r53, zone, figure1, imds_node2, proxy, tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[instance.VI_1]\ndns_records = [{{ zone = "{zone}", name = "{NAME}", type = "A" }}]\n'
                   'release = true\n')
    proxy.configure(route53_pending=0.5)
    state = {"EC2_VIP_STATE_DIR": tmp_path / "state"}
    for transition in ("MASTER", "STOP"):
        r = run_vip(binary, ["--config", cfg, "notify", "INSTANCE", "VI_1", transition], imds_node2, proxy, state)
        assert r.returncode == 0, r
    assert record(r53, zone) is None, "released"
    made = {"route53:" + a for a in calls(proxy)}
    r = run_vip(binary, ["--config", cfg, "iam-policy", "--account", "111111111111"], imds_node2, proxy)
    assert r.returncode == 0, r
    granted = {a for st in json.loads(r.stdout)["Statement"] for a in st["Action"] if a.startswith("route53:")}
    # Granted: the calls made, plus GetHostedZone, which `doctor` alone reads (the zone's
    # name, private or public; test_doctor_dns.py).
    assert made == {"route53:ListResourceRecordSets", "route53:ChangeResourceRecordSets"}, made
    assert granted == made | {"route53:GetHostedZone"}, granted
    [change] = [st for st in json.loads(r.stdout)["Statement"] if st["Action"] == ["route53:ChangeResourceRecordSets"]]
    assert change["Resource"] == f"arn:aws:route53:::hostedzone/{zone}"
    cond = change["Condition"]["ForAllValues:StringEquals"]
    assert cond["route53:ChangeResourceRecordSetsNormalizedRecordNames"] == NAME.rstrip(".")
    assert cond["route53:ChangeResourceRecordSetsRecordTypes"] == "A"
    assert cond["route53:ChangeResourceRecordSetsActions"] == ["DELETE", "UPSERT"]


def test_a_zone_in_another_account_is_reached_through_role_arn(binary, moto, figure1, imds_node2, tmp_path):
    other = Clients(moto.url)
    r53_other = other.client("route53", "us-east-1", account=OTHER_ACCOUNT)
    z = r53_other.create_hosted_zone(Name="internal.example.", CallerReference="ec2-vip-test-other")
    zid = z["HostedZone"]["Id"].split("/")[-1]
    upsert(r53_other, zid, figure1["node1"]["private_ip"])
    role = other.role_arn(OTHER_ACCOUNT)
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[instance.VI_1]\ndns_records = [{{ zone = "{zid}", name = "{NAME}", type = "A", '
                   f'role_arn = "{role}", external_id = "x" }}]\n')
    r = run_vip(binary, ["--config", cfg, "notify", "INSTANCE", "VI_1", "MASTER"], imds_node2, moto,
                {"EC2_VIP_STATE_DIR": tmp_path / "state"})
    assert r.returncode == 0, r
    assert record(r53_other, zid) == ([figure1["node2"]["private_ip"]], 60)
    # The node's own account has no such zone: without the role the record is bad input.
    cfg.write_text(f'[instance.VI_1]\ndns_records = [{{ zone = "{zid}", name = "{NAME}", type = "A" }}]\n')
    mine = run_vip(binary, ["--config", cfg, "notify", "INSTANCE", "VI_1", "MASTER"], imds_node2, moto,
                   {"EC2_VIP_STATE_DIR": tmp_path / "state2"})
    assert mine.returncode == 2 and zid in mine.stderr, mine

    cfg.write_text(f'[instance.VI_1]\ndns_records = [{{ zone = "{zid}", name = "{NAME}", type = "A", '
                   f'role_arn = "{role}" }}]\n')
    node = run_vip(binary, ["--config", cfg, "iam-policy", "--account", "111111111111"], imds_node2, moto)
    assert node.returncode == 0, node
    actions = {a for st in json.loads(node.stdout)["Statement"] for a in st["Action"]}
    assert "sts:AssumeRole" in actions and not any(a.startswith("route53:") for a in actions), node.stdout
    theirs = run_vip(binary, ["--config", cfg, "iam-policy", "--role", role], imds_node2, moto)
    assert theirs.returncode == 0, theirs
    actions = {a for st in json.loads(theirs.stdout)["Statement"] for a in st["Action"]}
    assert actions == {"route53:ChangeResourceRecordSets", "route53:ListResourceRecordSets",
                       "route53:GetHostedZone"}, theirs.stdout


def test_the_fault_proxy_names_route53_operations():
    assert route53_action("POST", "/2013-04-01/hostedzone/Z1/rrset/") == "ChangeResourceRecordSets"
    assert route53_action("GET", "/2013-04-01/hostedzone/Z1/rrset?name=db.&type=A&maxitems=1") == \
        "ListResourceRecordSets"
    assert route53_action("GET", "/2013-04-01/change/C123") == "GetChange"
    assert route53_action("GET", "/2013-04-01/hostedzone/Z1") == "GetHostedZone"
    assert route53_action("POST", "/") is None, "EC2's query API is not Route 53"
