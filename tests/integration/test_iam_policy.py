"""`ec2-vip iam-policy`: the actions it prints are exactly the EC2 calls the tool makes in
that scenario (a failover here, back, release, check), recorded through the fault proxy."""

import json

import pytest

from harness.fault_proxy import start_proxy
from harness.runner import run_vip
from harness.scenario import VIP

DOCTOR_ONLY = {"ec2:DescribeNetworkInterfaces"}
# Statements of what a failover, a release and a check without a contest never call.
NOT_FAILOVER = {"Doctor", "SplitBrain"}


def policy_actions(binary, cfg, imds, moto):
    r = run_vip(binary, ["--config", cfg, "iam-policy"], imds, moto)
    assert r.returncode == 0, r
    doc = json.loads(r.stdout)
    assert doc["Version"] == "2012-10-17"
    failover = set()
    for st in doc["Statement"]:
        assert st["Effect"] == "Allow" and st["Resource"], st
        if st["Sid"] not in NOT_FAILOVER:
            failover |= set(st["Action"])
    return failover, doc


def resources(statement):
    r = statement["Resource"]
    return [r] if isinstance(r, str) else r


def recorded(proxy):
    return {"ec2:" + a for a, n in proxy.stats()["requests"].items() if n}


def run_all(binary, cfg, steps, proxy, tmp_path):
    for args, imds in steps:
        r = run_vip(binary, ["--config", cfg, *args], imds, proxy,
                    extra_env={"EC2_VIP_STATE_DIR": tmp_path / f"state-{imds.node_name}"})
        assert r.returncode == 0, r


def proxied(url):
    return start_proxy(url, throttle=False)


def test_routes_and_a_released_elastic_ip(binary, moto, figure1, imds_node1, imds_node2, tmp_path):
    cfg = tmp_path / "c.toml"
    eip = figure1["eip"]["allocation_id"]
    cfg.write_text(f'[instance.VI_1]\nroutes = ["{VIP}"]\nelastic_ips = ["{eip}"]\nrelease = true\n')
    actions, doc = policy_actions(binary, cfg, imds_node2, moto)
    assert any(f"elastic-ip/{eip}" in r for st in doc["Statement"] for r in resources(st)), doc
    # No --vpc: the node's VPC (and region) came from IMDS; every wildcard write is in it.
    vpc_arn = f"arn:aws:ec2:us-east-1:*:vpc/{figure1['vpc_id']}"
    for st in doc["Statement"]:
        if any(r.endswith("/*") for r in resources(st)):
            assert st["Condition"] == {"ArnLike": {"ec2:Vpc": vpc_arn}}, st
    proxy = proxied(moto.url)
    try:
        notify = ["notify", "INSTANCE", "VI_1"]
        run_all(binary, cfg, [([*notify, "MASTER"], imds_node2), (["check"], imds_node2),
                              ([*notify, "BACKUP"], imds_node2)], proxy, tmp_path)
        assert recorded(proxy) == actions, (recorded(proxy), actions)
    finally:
        proxy.stop()


def test_chosen_tables_where_one_lacks_the_route(binary, moto, figure1, imds_node2, tmp_path):
    cfg = tmp_path / "c.toml"
    tables = [figure1["rtb_a"], figure1["public_rtb"]]  # the public table has no VIP route
    cfg.write_text(f'[instance.VI_1]\nroutes = ["{VIP}"]\nroute_tables = {json.dumps(tables)}\n')
    actions, doc = policy_actions(binary, cfg, imds_node2, moto)
    arns = [r for st in doc["Statement"] if "ec2:CreateRoute" in st["Action"] for r in resources(st)]
    assert sorted(a.rsplit("/", 1)[1] for a in arns) == sorted(tables), doc
    proxy = proxied(moto.url)
    try:
        run_all(binary, cfg, [(["notify", "INSTANCE", "VI_1", "MASTER"], imds_node2)], proxy, tmp_path)
        assert recorded(proxy) == actions, (recorded(proxy), actions)
    finally:
        proxy.stop()


@pytest.mark.parametrize("kind", ["private_ips", "ipv6_addresses"])
def test_addresses_moved_and_released(binary, kind, request, tmp_path):
    if kind == "private_ips":
        ec2, seed, imds, moto = request.getfixturevalue("pair")
        vip = "10.0.2.100"
    else:
        ec2, seed, imds, moto, vip, _ = request.getfixturevalue("v6pair")
    for name, server in imds.items():
        server.node_name = name
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[instance.VI_1]\n{kind} = ["{vip}"]\nrelease = true\n')
    actions, _ = policy_actions(binary, cfg, imds["node3"], moto)
    assert DOCTOR_ONLY <= actions  # these scenarios describe interfaces themselves
    proxy = proxied(moto.url)
    try:
        notify = ["notify", "INSTANCE", "VI_1"]
        run_all(binary, cfg, [([*notify, "MASTER"], imds["node3"]), ([*notify, "BACKUP"], imds["node3"])],
                proxy, tmp_path)
        assert recorded(proxy) == actions, (recorded(proxy), actions)
    finally:
        proxy.stop()
