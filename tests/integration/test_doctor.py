"""`ec2-vip doctor`: a correct set-up passes (exit 0); each broken one gives its FAIL line
and exit 1; and it changes nothing (DryRun, honoured by the extended moto)."""

import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from harness.fault_proxy import start_proxy
from harness.imds_fake import start_imds
from harness.moto import ec2_client
from harness.runner import run_vip
from harness.scenario import VIP, node_json, seed_figure1, snapshot

REGION = "us-east-1"


@pytest.fixture
def lab(moto_ext_session, tmp_path):
    moto_ext_session.reset(seed=1)
    ec2 = ec2_client(moto_ext_session.url, REGION)
    seed = seed_figure1(ec2)
    for n in ("node1", "node2"):
        ec2.modify_network_interface_attribute(NetworkInterfaceId=seed[n]["eni_id"],
                                               SourceDestCheck={"Value": False})
    imds = start_imds(node_json(seed, "node2", REGION), log_requests=False)
    cfg = tmp_path / "ec2-vip.toml"
    cfg.write_text(f'[instance.VI_1]\nroutes = ["{VIP}"]\nelastic_ips = ["{seed["eip"]["allocation_id"]}"]\n')
    yield ec2, seed, imds, moto_ext_session, cfg
    imds.stop()


def doctor(binary, lab, *extra, moto=None, kconf="/nonexistent/keepalived.conf", env=None):
    ec2, seed, imds, server, cfg = lab
    before = snapshot(ec2, seed)
    r = run_vip(binary, ["--config", cfg, "doctor", "--keepalived-conf", kconf, *extra], imds, moto or server,
                extra_env=env)
    assert snapshot(ec2, seed) == before, "doctor changed something"
    return r


def lines(r, level):
    return [line for line in r.stdout.splitlines() if line.startswith(level)]


def test_a_correct_set_up_passes(binary, lab):
    r = doctor(binary, lab)
    assert r.returncode == 0, r
    assert not lines(r, "FAIL"), r.stdout
    ok = "\n".join(lines(r, "ok"))
    for want in ("imds:", "credentials:", "config:", "source-dest-check: off",
                 f"ec2:ReplaceRoute on {lab[1]['rtb_a']} allowed (DryRun)", "ec2:AssociateAddress on",
                 f"ec2:DescribeInstanceStatus on {lab[1]['node2']['instance_id']} allowed (DryRun)"):
        assert want in ok, r.stdout
    assert ok.count("ec2:ReplaceRoute on") == 2, r.stdout  # both private tables
    assert "keepalived" in "\n".join(lines(r, "warn")), r.stdout  # no keepalived.conf here
    js = doctor(binary, lab, "--json")
    assert js.returncode == 0, js
    checks = json.loads(js.stdout)
    assert {c["level"] for c in checks} <= {"ok", "warn"} and len(checks) == len(r.stdout.splitlines())


def test_source_dest_check_on_fails(binary, lab):
    ec2, seed = lab[0], lab[1]
    eni = seed["node2"]["eni_id"]
    ec2.modify_network_interface_attribute(NetworkInterfaceId=eni, SourceDestCheck={"Value": True})
    r = doctor(binary, lab)
    assert r.returncode == 1, r
    [fail] = lines(r, "FAIL")
    assert "source-dest-check" in fail and eni in fail and "--no-source-dest-check" in fail, fail


def test_a_private_table_without_the_route_fails(binary, lab):
    ec2, seed = lab[0], lab[1]
    ec2.delete_route(RouteTableId=seed["rtb_b"], DestinationCidrBlock=VIP)
    r = doctor(binary, lab)
    assert r.returncode == 1, r
    [fail] = lines(r, "FAIL")
    assert seed["rtb_b"] in fail and "has no route for 10.1.0.10/32" in fail and "create-route" in fail, fail


def doctor_denied(binary, lab, action):
    """doctor with EC2 (the fault proxy before moto) denying `action`, DryRun too."""
    proxy = start_proxy(lab[3].url, throttle=False, deny_actions=[action])
    try:
        r = doctor(binary, lab, moto=proxy)
    finally:
        proxy.stop()
    assert r.returncode == 1, r
    return r


def test_a_denied_action_is_named(binary, lab):
    r = doctor_denied(binary, lab, "ReplaceRoute")
    fails = lines(r, "FAIL")
    assert len(fails) == 2 and all("ec2:ReplaceRoute on rtb-" in f and "denied" in f and "iam-policy" in f for f in fails), r.stdout
    assert "ec2:AssociateAddress on" in r.stdout and "allowed" in r.stdout


def test_a_denied_split_brain_read_is_named(binary, lab):
    r = doctor_denied(binary, lab, "DescribeInstanceStatus")
    [fail] = lines(r, "FAIL")
    assert f"ec2:DescribeInstanceStatus on {lab[1]['node2']['instance_id']} denied" in fail, r.stdout
    assert "iam-policy" in fail, fail


def test_imds_unreachable_fails_with_the_hop_limit_hint(binary, lab):
    ec2, seed, imds, server, cfg = lab
    r = run_vip(binary, ["--config", cfg, "--timeout", "2", "doctor", "--keepalived-conf", "/nonexistent"],
                "http://127.0.0.1:9", server)
    assert r.returncode == 1, r
    assert any("imds" in f and "hop-limit" in f for f in lines(r, "FAIL")), r.stdout


def test_moto_ext_honours_dry_run_on_routes(lab):
    ec2, seed = lab[0], lab[1]
    before = snapshot(ec2, seed)
    with pytest.raises(Exception, match="DryRunOperation"):
        ec2.replace_route(RouteTableId=seed["rtb_a"], DestinationCidrBlock=VIP,
                          NetworkInterfaceId=seed["node2"]["eni_id"], DryRun=True)
    assert snapshot(ec2, seed) == before


KEEPALIVED = """global_defs {{
    enable_script_security
    script_user root
}}
vrrp_instance {name} {{
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority 100
    unicast_src_ip 10.0.4.10
    unicast_peer {{
        10.0.2.10
    }}
    notify "{bin} --syslog --config {cfg} notify"
}}
"""


@pytest.fixture
def root_owned_bin():
    """A root-owned directory (keepalived's script security) holding an `ec2-vip`."""
    if os.geteuid() != 0:
        pytest.skip("keepalived's script checks need a root-owned path: run as root")
    d = Path(tempfile.mkdtemp(prefix="ec2vip-doctor-", dir="/run"))
    d.chmod(0o755)
    exe = d / "ec2-vip"
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    yield exe
    shutil.rmtree(d, ignore_errors=True)


def test_keepalived_conf_that_matches_passes(binary, lab, root_owned_bin, tmp_path):
    conf = tmp_path / "keepalived.conf"
    conf.write_text(KEEPALIVED.format(name="VI_1", bin=root_owned_bin, cfg=lab[4]))
    r = doctor(binary, lab, kconf=conf)
    assert r.returncode == 0, r.stdout
    assert not lines(r, "FAIL") and str(root_owned_bin) in r.stdout, r.stdout


def test_a_section_keepalived_does_not_use_fails(binary, lab, root_owned_bin, tmp_path):
    conf = tmp_path / "keepalived.conf"
    conf.write_text(KEEPALIVED.format(name="VI_2", bin=root_owned_bin, cfg=lab[4]))
    r = doctor(binary, lab, kconf=conf)
    assert r.returncode == 1, r
    fails = "\n".join(lines(r, "FAIL"))
    assert "VI_2" in fails and "[instance.VI_1]" in fails, r.stdout


def test_keepalived_without_unicast_or_script_security_fails(binary, lab, tmp_path):
    conf = tmp_path / "keepalived.conf"
    text = KEEPALIVED.format(name="VI_1", bin="/usr/local/sbin/ec2-vip", cfg=lab[4])
    text = text.replace("    enable_script_security\n", "")
    text = text.replace("    unicast_peer {\n        10.0.2.10\n    }\n", "")
    conf.write_text(text)
    r = doctor(binary, lab, kconf=conf)
    assert r.returncode == 1, r
    fails = "\n".join(lines(r, "FAIL"))
    assert "enable_script_security" in fails and "multicast" in fails, r.stdout


def test_fixes_name_the_package_binary_path(binary, lab, tmp_path):
    """doctor's fixes name /usr/sbin/ec2-vip, where the .deb installs the binary (they said
    /usr/local/sbin, a path the package never uses)."""
    conf = tmp_path / "keepalived.conf"
    text = KEEPALIVED.format(name="VI_1", bin="/usr/sbin/ec2-vip", cfg=lab[4])
    conf.write_text(text.replace(f'    notify "/usr/sbin/ec2-vip --syslog --config {lab[4]} notify"\n', ""))
    r = doctor(binary, lab, kconf=conf)
    assert r.returncode == 1, r
    fixes = [line for line in r.stdout.splitlines() if 'notify "' in line]
    assert len(fixes) >= 2, r.stdout  # the section's fix and "nothing calls ec2-vip"'s
    # with --syslog: doctor warns about a hook that logs nowhere, so its own fix logs
    assert all('notify "/usr/sbin/ec2-vip --syslog notify"' in line for line in fixes), r.stdout
    assert "/usr/local/sbin" not in r.stdout, r.stdout
