"""The OCF resource agent (ocf/ec2-vip -> `ec2-vip ocf ACTION`) against moto + the IMDSv2 fake:
ClusterLabs' ocf-tester, and the agent's own start/stop/monitor semantics."""

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from harness.runner import vip_env
from harness.scenario import VIP

REPO = Path(__file__).resolve().parents[2]
AGENT = REPO / "ocf" / "ec2-vip"
OCF_TESTER = shutil.which("ocf-tester") or "/usr/sbin/ocf-tester"
SUCCESS, GENERIC, UNIMPLEMENTED, INSTALLED, CONFIGURED, NOT_RUNNING = 0, 1, 3, 5, 6, 7


def agent_env(binary, imds, moto, home, params, extra=None):
    env = vip_env(imds, moto, str(home), extra)
    env["OCF_ROOT"] = "/usr/lib/ocf"
    env["OCF_RESOURCE_INSTANCE"] = "vip"
    env["OCF_RESKEY_binary"] = str(binary)
    env.update({f"OCF_RESKEY_{k}": str(v) for k, v in params.items()})
    return env


def agent(binary, action, imds, moto, home, params, extra=None):
    """Run the shim with one action; returns (rc, seconds, stderr)."""
    env = agent_env(binary, imds, moto, home, params, extra)
    start = time.monotonic()
    p = subprocess.run([str(AGENT), action], env=env, capture_output=True, text=True, timeout=60,
                       stdin=subprocess.DEVNULL)
    return p.returncode, time.monotonic() - start, p.stderr


def vip_targets(ec2, figure1):
    tables = {t["RouteTableId"]: t for t in ec2.describe_route_tables()["RouteTables"]}
    out = []
    for rtb in (figure1["rtb_a"], figure1["rtb_b"]):
        [r] = [r for r in tables[rtb]["Routes"] if r.get("DestinationCidrBlock") == VIP]
        out.append(r.get("NetworkInterfaceId"))
    return out


def eip_eni(ec2, figure1):
    [a] = ec2.describe_addresses(AllocationIds=[figure1["eip"]["allocation_id"]])["Addresses"]
    return a.get("NetworkInterfaceId") or None  # moto says "" once disassociated


@pytest.fixture
def home(tmp_path):
    tmp_path.chmod(0o755)  # ocf-tester runs meta-data as nobody from here
    return tmp_path


def test_ocf_tester_passes(binary, moto, ec2, figure1, imds_node2, home):
    """Debian resource-agents' ocf-tester: meta-data against the DTD, validate-all, probes,
    start/stop twice, monitor after each, unknown actions -> 3; with ClusterLabs' names."""
    if not os.access(OCF_TESTER, os.X_OK) or not shutil.which("xmllint"):
        pytest.skip("ocf-tester or xmllint missing (apt-get install resource-agents libxml2-utils)")
    node1, node2 = figure1["node1"]["eni_id"], figure1["node2"]["eni_id"]
    eip = figure1["eip"]["allocation_id"]
    env = agent_env(binary, imds_node2, moto, home, {})
    env["PATH"] = f"{Path(binary).parent}:{env.get('PATH', '/usr/bin:/bin')}"
    args = [OCF_TESTER, "-n", "vip", "-o", "ip=10.1.0.10",
            "-o", f"routing_table={figure1['rtb_a']},{figure1['rtb_b']}",
            "-o", f"allocation_id={eip}", "-o", f"binary={binary}", "-o", "monapi=true",
            "-o", "local_address=false",  # never an address on this host's interfaces (e2e does that)
            "-o", f"state_dir={home / 'state'}", str(AGENT)]
    start = time.monotonic()
    p = subprocess.run(args, env=env, cwd=home, capture_output=True, text=True, timeout=300)
    took = time.monotonic() - start
    print(f"ocf-tester: {took:.1f} s\n{p.stdout}{p.stderr}")
    assert p.returncode == 0 and "passed all tests" in p.stdout, p.stdout + p.stderr
    # Its last steps: start, stop, stop. Routes stay for the next start; the EIP is let go.
    assert vip_targets(ec2, figure1) == [node2, node2]
    assert eip_eni(ec2, figure1) is None
    assert node1 not in vip_targets(ec2, figure1)


def test_start_monitor_stop_semantics(binary, moto, ec2, figure1, imds_node2, home):
    node1, node2 = figure1["node1"]["eni_id"], figure1["node2"]["eni_id"]
    eip = figure1["eip"]["allocation_id"]
    params = {"routes": VIP, "elastic_ips": eip, "state_dir": home / "state"}
    run = lambda action, **kw: agent(binary, action, imds_node2, moto, home, {**params, **kw})  # noqa: E731

    # Probe before anything: everything points at node1, so not running here.
    assert run("monitor", CRM_meta_interval=0)[0] == NOT_RUNNING
    rc, start_s, err = run("start")
    assert rc == SUCCESS, err
    assert vip_targets(ec2, figure1) == [node2, node2] and eip_eni(ec2, figure1) == node2
    rc, monitor_s, err = run("monitor", CRM_meta_interval=10000)
    assert rc == SUCCESS, err

    # Someone points table A back at node1: partial drift is a failure (the cluster recovers).
    ec2.replace_route(RouteTableId=figure1["rtb_a"], DestinationCidrBlock=VIP, NetworkInterfaceId=node1)
    rc, _, err = run("monitor")
    assert rc == GENERIC and figure1["rtb_a"] in err and "partial drift" in err, err
    # Everything elsewhere: not running.
    ec2.replace_route(RouteTableId=figure1["rtb_b"], DestinationCidrBlock=VIP, NetworkInterfaceId=node1)
    ec2.associate_address(AllocationId=eip, NetworkInterfaceId=node1, AllowReassociation=True)
    assert run("monitor")[0] == NOT_RUNNING
    # start again repairs all of it.
    assert run("start")[0] == SUCCESS
    assert vip_targets(ec2, figure1) == [node2, node2] and eip_eni(ec2, figure1) == node2

    rc, stop_s, err = run("stop")
    assert rc == SUCCESS, err
    # Routes stay for the next start; the Elastic IP is released (still on this node).
    assert vip_targets(ec2, figure1) == [node2, node2] and eip_eni(ec2, figure1) is None
    assert run("monitor")[0] == NOT_RUNNING
    assert run("stop")[0] == SUCCESS
    print(f"agent times: start {start_s:.3f} s, monitor {monitor_s:.3f} s, stop {stop_s:.3f} s")


def test_monitor_when_ec2_cannot_be_asked(binary, moto, ec2, figure1, imds_node2, home):
    """Unknown is not failed by default: the recorded state stands; unknown=failed changes it."""
    params = {"ip": "10.1.0.10", "local_address": "false", "state_dir": home / "state", "timeout": 2}
    dead = "http://127.0.0.1:9"  # discard port: nothing listens
    run = lambda action, ep=moto, **kw: agent(binary, action, imds_node2, ep, home, {**params, **kw})  # noqa: E731
    assert run("monitor", ep=dead, CRM_meta_interval=0)[0] == NOT_RUNNING  # no record: not ours
    assert run("start")[0] == SUCCESS
    rc, _, err = run("monitor", ep=dead)
    assert rc == SUCCESS and "cannot tell" in err, err
    rc, _, err = run("monitor", ep=dead, unknown="failed")
    assert rc == GENERIC, err
    assert run("monitor", ep=dead, unknown="stopped")[0] == NOT_RUNNING
    # A stop whose release cannot reach EC2 still succeeds (a failed stop means fencing).
    assert run("stop", ep=dead, elastic_ips=figure1["eip"]["allocation_id"])[0] == SUCCESS
    assert run("monitor", ep=dead)[0] == NOT_RUNNING


def test_bad_parameters_and_actions(binary, moto, figure1, imds_node2, home):
    run = lambda action, **kw: agent(binary, action, imds_node2, moto, home,  # noqa: E731
                                     {"state_dir": home / "state", **kw})
    rc, _, err = run("validate-all", ip="10.1.0.10/24")
    assert rc == CONFIGURED and "ip:" in err and len(err.strip().splitlines()) == 1, err
    rc, _, err = run("start", route="10.1.0.10")
    assert rc == CONFIGURED and "unknown parameter" in err, err
    assert run("promote", ip="10.1.0.10")[0] == UNIMPLEMENTED
    # A config file missing on this node: not installed here, so not running and stoppable.
    missing = {"config": home / "nope.toml", "instance": "VI_1"}
    assert run("start", **missing)[0] == INSTALLED
    assert run("monitor", **missing)[0] == NOT_RUNNING
    assert run("stop", **missing)[0] == SUCCESS
    # A VIP inside the VPC's CIDR is bad input: nothing changes, the cluster must not retry.
    rc, _, err = run("start", ip="10.0.2.5", local_address="false")
    assert rc == CONFIGURED and "10.0.2.5" in err, err


def test_config_section_with_the_agent(binary, moto, ec2, figure1, imds_node2, home):
    cfg = home / "ec2-vip.toml"
    cfg.write_text(f'[instance.VI_1]\nroutes = ["{VIP}"]\n')
    params = {"config": cfg, "instance": "VI_1", "state_dir": home / "state"}
    rc, _, err = agent(binary, "start", imds_node2, moto, home, params)
    assert rc == SUCCESS, err
    node2 = figure1["node2"]["eni_id"]
    assert vip_targets(ec2, figure1) == [node2, node2]
    assert agent(binary, "monitor", imds_node2, moto, home, params)[0] == SUCCESS


def example_resources():
    """(file, name, {param: value}) of every ocf:ec2-vip:ec2-vip resource in examples/pacemaker."""
    out = []
    for path in sorted((REPO / "examples" / "pacemaker").iterdir()):
        text = path.read_text().replace("\\\n", " ")
        for line in text.splitlines():
            words = line.split()
            if "ocf:ec2-vip:ec2-vip" not in words or words[0].startswith("#"):
                continue
            params = {}
            for w in words[words.index("ocf:ec2-vip:ec2-vip") + 1:]:
                if w in ("op", "meta", "--group"):
                    break
                if "=" in w:
                    k, v = w.split("=", 1)
                    params[k] = v
            out.append((path.name, words[words.index("ocf:ec2-vip:ec2-vip") - 1], params))
    return out


def test_pacemaker_examples_validate(binary, home):
    """Every agent resource in examples/pacemaker passes validate-all (the names are the agent's)."""
    found = example_resources()
    assert {f for f, _, _ in found} == {"route-table.crm", "elastic-ip.crm", "secondary-ip.crm", "pcs.sh",
                                        "dns-record.crm"}
    assert len(found) >= 7, found
    for file, name, params in found:
        if "config" in params:  # the example config, which has [instance.VI_1]
            params["config"] = REPO / "examples" / "keepalived" / "ec2-vip.toml"
        rc, _, err = agent(binary, "validate-all", "http://127.0.0.1:9", "http://127.0.0.1:9", home, params)
        assert rc == SUCCESS, f"{file} {name} {params}: {err}"


def test_shim_without_the_binary(home):
    """Not installed on this node: it cannot be running here, so monitor says 7 and stop
    succeeds; start and meta-data say 5 (OCF_ERR_INSTALLED)."""
    env = {"PATH": "/usr/bin:/bin", "OCF_RESOURCE_INSTANCE": "vip", "OCF_RESKEY_ip": "10.1.0.10",
           "OCF_RESKEY_binary": str(home / "no-such-ec2-vip")}
    codes = {}
    for action in ("monitor", "stop", "start"):
        p = subprocess.run(["/bin/sh", str(AGENT), action], env=env, capture_output=True, text=True, timeout=10)
        codes[action] = p.returncode
        assert "not found" in p.stderr, p.stderr
    if not os.path.exists("/usr/sbin/ec2-vip"):  # the shim's last resort
        assert codes == {"monitor": NOT_RUNNING, "stop": SUCCESS, "start": INSTALLED}, codes
