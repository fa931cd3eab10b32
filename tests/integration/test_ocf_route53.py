"""The OCF agent with aws-vpc-route53's parameters (hostedzoneid, fullname, ip, ttl) against
moto's Route 53: start makes the record name this node, monitor counts it, a drifted record
is not running (alone) or partial drift (beside a route), stop leaves the record unless
release=true; ocf-tester passes with these names."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from harness.route53_zone import NAME, record, upsert
from harness.scenario import VIP
from test_ocf import (AGENT, GENERIC, NOT_RUNNING, OCF_TESTER, SUCCESS, agent, agent_env,  # noqa: F401
                      home, vip_targets)  # (home: the fixture)


def test_start_monitor_stop_with_aws_vpc_route53_names(binary, moto, r53, zone, figure1, imds_node2, home):
    node1, node2 = figure1["node1"]["private_ip"], figure1["node2"]["private_ip"]
    params = {"hostedzoneid": zone, "fullname": NAME.rstrip("."), "state_dir": home / "state"}
    run = lambda action, **kw: agent(binary, action, imds_node2, moto, home, {**params, **kw})  # noqa: E731

    assert run("validate-all")[0] == SUCCESS
    assert run("monitor", CRM_meta_interval=0)[0] == NOT_RUNNING  # the record names node1
    rc, _, err = run("start")
    assert rc == SUCCESS, err
    assert record(r53, zone) == ([node2], 10), "ip defaults to local, ttl to 10, as aws-vpc-route53's"
    rc, _, err = run("monitor")
    assert rc == SUCCESS and "all 1 resource(s) point at this node" in err, err

    # The record drifts to node1: with nothing else, not running here.
    upsert(r53, zone, node1, ttl=10)
    rc, _, err = run("monitor")
    assert rc == NOT_RUNNING, err
    assert run("start")[0] == SUCCESS and record(r53, zone) == ([node2], 10)

    # Stop leaves the record (aws-vpc-route53 does); monitor after a stop: not running.
    rc, _, err = run("stop")
    assert rc == SUCCESS, err
    assert record(r53, zone) == ([node2], 10)
    assert run("monitor")[0] == NOT_RUNNING
    # With release=true, stop deletes it while it names this node.
    assert run("start", ttl=30)[0] == SUCCESS and record(r53, zone) == ([node2], 30)
    rc, _, err = run("stop", release="true", ttl=30)
    assert rc == SUCCESS, err
    assert record(r53, zone) is None


def test_a_drifted_record_beside_a_route_is_partial_drift(binary, moto, ec2, r53, zone, figure1, imds_node2,
                                                          home):
    node2 = figure1["node2"]
    params = {"hostedzoneid": zone, "fullname": NAME, "ip": "198.51.100.20", "routes": VIP,
              "state_dir": home / "state"}
    run = lambda action, **kw: agent(binary, action, imds_node2, moto, home, {**params, **kw})  # noqa: E731
    rc, _, err = run("start")
    assert rc == SUCCESS, err
    assert record(r53, zone) == (["198.51.100.20"], 10), "ip: the record's value, not a VIP route"
    assert vip_targets(ec2, figure1) == [node2["eni_id"]] * 2
    upsert(r53, zone, figure1["node1"]["private_ip"], ttl=10)
    rc, _, err = run("monitor")
    assert rc == GENERIC and "partial drift: 2 resource(s) point here, 1 do not" in err and NAME in err, err


def test_ocf_tester_passes_with_aws_vpc_route53_names(binary, moto, r53, zone, figure1, imds_node2, home):
    if not os.access(OCF_TESTER, os.X_OK) or not shutil.which("xmllint"):
        pytest.skip("ocf-tester or xmllint missing (apt-get install resource-agents libxml2-utils)")
    env = agent_env(binary, imds_node2, moto, home, {})
    env["PATH"] = f"{Path(binary).parent}:{env.get('PATH', '/usr/bin:/bin')}"
    args = [OCF_TESTER, "-n", "dns", "-o", f"hostedzoneid={zone}", "-o", f"fullname={NAME}",
            "-o", "ip=local", "-o", "ttl=10", "-o", f"binary={binary}", "-o", f"state_dir={home / 'state'}",
            str(AGENT)]
    p = subprocess.run(args, env=env, cwd=home, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0 and "passed all tests" in p.stdout, p.stdout + p.stderr
    assert record(r53, zone) == ([figure1["node2"]["private_ip"]], 10), "stopped: the record stays"
