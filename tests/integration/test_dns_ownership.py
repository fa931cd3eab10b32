"""Route 53: who owns a record (issue 27, items 5-10). A fixed value names no node, so no
BACKUP deletes it; command-line records have keys of their own; an UPSERT still PENDING is
reported as written and propagating, not waited for under the lock; two MASTERs of a
DNS-only section settle instead of fighting; `public` is the section's Elastic IP."""

import json
import time

from harness.fault_proxy import start_proxy
from harness.route53_zone import NAME, record, upsert
from harness.runner import run_vip, start_watch

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
