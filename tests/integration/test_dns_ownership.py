"""Route 53: who owns a record (issue 27, items 5-10). A fixed value names no node, so no
BACKUP deletes it; command-line records have keys of their own; an UPSERT still PENDING is
reported as written and propagating, not waited for under the lock; two MASTERs of a
DNS-only section settle instead of fighting; `public` is the section's Elastic IP."""

import json
import os
import time

import pytest

from harness.route53_zone import NAME, record, upsert
from harness.runner import run_vip, start_watch
from harness.imds_fake import start_imds
from harness.scenario import VIP, node_json
from test_ocf import SUCCESS, agent, home, vip_targets  # noqa: F401 (home: the fixture)

OTHER = "other.internal.example."


def spec(zid, *rest, name=NAME):
    return ",".join([zid, name, "A", *rest])


def test_command_line_records_have_keys_of_their_own(binary, r53, zone, figure1, imds_node2, tmp_path):
    # Item 6: every DNS-only command-line run shared one key (cli-cbf29ce484222325): a
    # BACKUP of another record made `check` of this one say BACKUP.
    upsert(r53, zone, figure1["node1"]["private_ip"], name=OTHER)
    state = {"EC2_VIP_STATE_DIR": tmp_path / "state"}
    url = r53.meta.endpoint_url
    mine = spec(zone)
    assert run_vip(binary, ["master", "--dns-record", mine], imds_node2, url, state).returncode == 0
    assert run_vip(binary, ["backup", "--dns-record", spec(zone, name=OTHER)], imds_node2, url,
                   state).returncode == 0
    r = run_vip(binary, ["check", "--dns-record", mine], imds_node2, url, state)
    assert r.returncode == 0 and "ok:" in r.stdout and "BACKUP" not in r.stdout, r
    keys = sorted(p.name for p in (tmp_path / "state").iterdir())
    assert "cli-cbf29ce484222325" not in " ".join(keys), keys


def test_iam_policy_grants_each_record_its_own_role(binary, zone, imds_node2, tmp_path):
    # Item 10: a zone with one record through role_arn and one without: the second is the
    # node's own to change (it was given to the first record's role).
    role = "arn:aws:iam::222222222222:role/dns"
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[instance.VI_1]\ndns_records = [{{ zone = "{zone}", name = "{OTHER}", type = "A", '
                   f'role_arn = "{role}" }}, {{ zone = "{zone}", name = "{NAME}", type = "A" }}]\n')
    r = run_vip(binary, ["--config", cfg, "iam-policy", "--account", "111111111111"], imds_node2,
                "http://127.0.0.1:9")
    assert r.returncode == 0, r
    [change] = [s for s in json.loads(r.stdout)["Statement"] if s["Action"] == ["route53:ChangeResourceRecordSets"]]
    names = change["Condition"]["ForAllValues:StringEquals"]["route53:ChangeResourceRecordSetsNormalizedRecordNames"]
    assert names == NAME.rstrip("."), change
    theirs = run_vip(binary, ["--config", cfg, "iam-policy", "--role", role], imds_node2, "http://127.0.0.1:9")
    [change] = [s for s in json.loads(theirs.stdout)["Statement"] if s["Action"] == ["route53:ChangeResourceRecordSets"]]
    names = change["Condition"]["ForAllValues:StringEquals"]["route53:ChangeResourceRecordSetsNormalizedRecordNames"]
    assert names == OTHER.rstrip("."), change


FIXED = "10.9.9.9"


def test_release_with_a_fixed_value_is_refused_and_never_deletes(binary, r53, zone, figure1, imds_node1,
                                                                  imds_node2, home, tmp_path):
    # Item 5: a fixed value is the same on every node; with release the old master's BACKUP
    # deleted the record the new master had just written.
    url = r53.meta.endpoint_url
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[instance.VI_1]\ndns_records = [{{ zone = "{zone}", name = "{NAME}", type = "A", '
                   f'value = "{FIXED}" }}]\nrelease = true\n')
    cfg.chmod(0o644)
    t = run_vip(binary, ["--config", cfg, "config-test"], imds_node2, url)
    assert t.returncode == 2 and "dns_records[0].value" in t.stdout + t.stderr, t
    n = run_vip(binary, ["--config", cfg, "notify", "INSTANCE", "VI_1", "BACKUP"], imds_node2, url)
    assert n.returncode == 2 and "fixed address" in n.stderr, n
    upsert(r53, zone, FIXED)
    c = run_vip(binary, ["backup", "--release", "--dns-record", spec(zone, FIXED)], imds_node1, url)
    assert c.returncode == 2 and "fixed address" in c.stderr, c
    assert record(r53, zone) == ([FIXED], 60)


def test_an_old_masters_stop_never_deletes_a_fixed_value(binary, r53, zone, imds_node1, imds_node2, home):
    # The OCF agent (aws-vpc-route53's ip= with release=true): node2 starts and writes the
    # record; node1, the old master, stops: the record stays.
    url = r53.meta.endpoint_url
    params = {"hostedzoneid": zone, "fullname": NAME, "ip": FIXED, "release": "true",
              "state_dir": home / "state"}
    rc, _, err = agent(binary, "start", imds_node2, url, home, params)
    assert rc == SUCCESS and record(r53, zone) == ([FIXED], 10), err
    params["state_dir"] = home / "state1"
    rc, _, err = agent(binary, "stop", imds_node1, url, home, params)
    assert rc == SUCCESS, err
    assert record(r53, zone) == ([FIXED], 10), "node1's stop deleted node2's record"


def test_a_pending_change_is_written_and_propagating_not_waited_for(binary, r53, zone, figure1, imds_node2,
                                                                    proxy):
    # Item 7: the run waited for INSYNC holding the lock until its deadline, then said
    # "0 changed, 1 failed" although Route 53 had accepted the UPSERT.
    proxy.configure(route53_pending=30)
    r = run_vip(binary, ["--timeout", "8", "master", "--dns-record", spec(zone)], imds_node2, proxy)
    assert r.returncode == 0, r
    assert r.elapsed < 4, r
    assert "1 changed (1 written, propagating)" in r.stderr and "PENDING" in r.stderr, r
    assert record(r53, zone) == ([figure1["node2"]["private_ip"]], 60)
    assert proxy.stats()["requests"].get("GetChange", 0) == 0, proxy.stats()["requests"]


def test_watch_never_holds_another_instance_behind_a_dns_propagation(binary, ec2, r53, zone, figure1,
                                                                     imds_node2, proxy, tmp_path):
    # Item 7: in `watch`, VI_RT's ReplaceRoute waited behind VI_DNS's wait for INSYNC.
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[instance.VI_DNS]\ndns_records = [{{ zone = "{zone}", name = "{NAME}", type = "A" }}]\n'
                   f'[instance.VI_RT]\nroutes = ["{VIP}"]\n')
    proxy.configure(route53_pending=30)
    proc, fd, log = start_watch(binary, cfg, imds_node2, proxy.url, tmp_path / "home")
    try:
        start = time.monotonic()
        os.write(fd, b'INSTANCE "VI_DNS" MASTER 150\nINSTANCE "VI_RT" MASTER 150\n')
        node2 = figure1["node2"]["eni_id"]
        while vip_targets(ec2, figure1) != [node2, node2]:
            assert time.monotonic() - start < 30 and proc.poll() is None, log.read_text()
            time.sleep(0.05)
        waited = time.monotonic() - start
        print(f"VI_RT's routes moved {waited:.1f} s after the two MASTER lines")
        assert waited < 3, (waited, log.read_text())
        assert record(r53, zone) == ([figure1["node2"]["private_ip"]], 60)
    finally:
        os.close(fd)
        proc.kill()
        proc.wait()


def eip_eni(ec2, allocation_id):
    [a] = ec2.describe_addresses(AllocationIds=[allocation_id])["Addresses"]
    return a.get("NetworkInterfaceId")


def test_public_names_the_sections_elastic_ip_and_never_stops_the_failover(binary, ec2, r53, zone, figure1,
                                                                          imds_node2):
    # Item 9: on a node without a public IPv4 of its own, `public` aborted the failover
    # (rc 2, the Elastic IP not moved); the record is to name the Elastic IP.
    url = r53.meta.endpoint_url
    eip = figure1["eip"]
    r = run_vip(binary, ["master", "--eip", eip["allocation_id"], "--dns-record", spec(zone, "public")],
                imds_node2, url)
    assert r.returncode == 0, r
    assert eip_eni(ec2, eip["allocation_id"]) == figure1["node2"]["eni_id"]
    assert record(r53, zone) == ([eip["public_ip"]], 60)
    # No Elastic IP and no public IPv4: that record is blocked (exit 1), the route moves.
    node2 = figure1["node2"]["eni_id"]
    r = run_vip(binary, ["master", "--route", VIP, "--dns-record", spec(zone, "public", name=OTHER)],
                imds_node2, url)
    assert r.returncode == 1 and "has no public IPv4 address" in r.stderr, r
    assert vip_targets(ec2, figure1) == [node2, node2], r
    assert record(r53, zone, name=OTHER) is None


def test_public_with_an_elastic_ip_is_not_the_nodes_own_public_ip(binary, ec2, r53, zone, figure1):
    node = node_json(figure1, "node2", "us-east-1")
    node["interfaces"][0]["public_ipv4s"] = ["198.51.100.20"]
    imds = start_imds(node)
    eip = figure1["eip"]
    try:
        r = run_vip(binary, ["master", "--eip", eip["allocation_id"], "--dns-record", spec(zone, "public")],
                    imds, r53.meta.endpoint_url)
    finally:
        imds.stop()
    assert r.returncode == 0, r
    assert record(r53, zone) == ([eip["public_ip"]], 60), "the Elastic IP, which follows the MASTER"


SPLIT_WINDOW = 16.0  # seconds both MASTER watchers run
SETTLED = 10.0  # no change after this


def test_two_master_watchers_of_a_dns_only_section_settle(binary, r53, zone, figure1, imds_node1, imds_node2,
                                                          proxy, tmp_path):
    # Item 8: settlement kept only ENI and instance holders, so two MASTER watchers of a
    # DNS-only section rewrote the record every second (28 changes in 30 s).
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[instance.VI_1]\ndns_records = [{{ zone = "{zone}", name = "{NAME}", type = "A" }}]\n')
    nodes = {n: start_watch(binary, cfg, imds, proxy.url, tmp_path / n)
             for n, imds in (("node1", imds_node1), ("node2", imds_node2))}
    try:
        proxy.reset()
        for _, fd, _ in nodes.values():
            os.write(fd, b'INSTANCE "VI_1" MASTER 150\n')
        start, seen, settled = time.monotonic(), [], None
        count = lambda: proxy.stats()["requests"].get("ChangeResourceRecordSets", 0)  # noqa: E731
        while time.monotonic() - start < SPLIT_WINDOW:
            now = record(r53, zone)
            if not seen or seen[-1][1] != now:
                seen.append((round(time.monotonic() - start, 1), now))
            if settled is None and time.monotonic() - start >= SETTLED:
                settled = count()
            time.sleep(0.1)
        changes = count()
        print(f"{changes} ChangeResourceRecordSets in {SPLIT_WINDOW:.0f} s ({changes - settled} after "
              f"{SETTLED:.0f} s); record flips: {seen}")
        assert changes == settled and all(t < SETTLED for t, _ in seen), (changes, settled, seen)
        ips = {n: figure1[n]["private_ip"] for n in ("node1", "node2")}
        winner = min(ips, key=lambda n: tuple(int(x) for x in ips[n].split(".")))
        assert seen[-1][1] == ([ips[winner]], 60), seen
        loser = "node2" if winner == "node1" else "node1"
        text = nodes[loser][2].read_text()
        assert "split brain" in text and "yields for" in text, text
    finally:
        for proc, fd, _ in nodes.values():
            os.close(fd)
            proc.kill()
            proc.wait()
