"""The OCF contract under faults (README, "The OCF contract"): for each class of fault, the
exit code of every action that Pacemaker acts on. A stop is 0 whenever nothing of this
node's is held or can be held (a failed stop fences the node); a probe is 0 only where
this node really holds the resource (two probes saying 0 make a dual-active resource).

Each row is (fault, action, expected code). The rows are walked one by one against moto,
the IMDSv2 fake and the fault proxy; README's table is this list, with what ClusterLabs'
aws-vpc-move-ip and awseip (resource-agents 4.12) answer in the same case."""

import os

import pytest

from harness.scenario import VIP
from test_ocf import (CONFIGURED, GENERIC, INSTALLED, NOT_RUNNING, SUCCESS, agent, eip_eni,  # noqa: F401
                      home, vip_targets)
from harness.route53_zone import NAME, record, upsert

ARGS = 2
DEAD = "http://127.0.0.1:9"  # discard port: nothing listens

# (fault, action, code). action "probe" is monitor with CRM_meta_interval=0.
ROWS = [
    ("config-bad-value", "validate-all", CONFIGURED), ("config-bad-value", "start", CONFIGURED),
    ("config-bad-value", "monitor", CONFIGURED), ("config-bad-value", "stop", SUCCESS),
    ("config-syntax", "validate-all", CONFIGURED), ("config-syntax", "start", CONFIGURED),
    ("config-syntax", "stop", SUCCESS),
    ("config-untrusted", "validate-all", CONFIGURED), ("config-untrusted", "start", CONFIGURED),
    ("config-untrusted", "stop", SUCCESS),
    ("config-missing", "validate-all", INSTALLED), ("config-missing", "start", INSTALLED),
    ("config-missing", "probe", NOT_RUNNING), ("config-missing", "stop", SUCCESS),
    ("param-unknown", "validate-all", CONFIGURED), ("param-unknown", "start", CONFIGURED),
    ("param-unknown", "stop", SUCCESS),
    ("param-bad-value", "validate-all", CONFIGURED), ("param-bad-value", "start", CONFIGURED),
    ("param-bad-value", "stop", SUCCESS),
    ("eip-deleted", "start", CONFIGURED), ("eip-deleted", "probe", NOT_RUNNING),
    ("eip-deleted", "stop", SUCCESS),
    ("interface-missing", "start", ARGS), ("interface-missing", "probe", NOT_RUNNING),
    ("interface-missing", "stop", SUCCESS),
    ("imds-down", "validate-all", SUCCESS), ("imds-down", "start", GENERIC),
    ("imds-down", "probe", NOT_RUNNING), ("imds-down", "stop", SUCCESS),
    ("ec2-unreachable", "start", GENERIC), ("ec2-unreachable", "probe", NOT_RUNNING),
    ("ec2-unreachable", "stop", SUCCESS),
    ("throttled", "start", GENERIC), ("throttled", "stop", SUCCESS),
    ("access-denied", "start", GENERIC), ("access-denied", "stop", SUCCESS),
    ("no-record-routes-here", "probe", NOT_RUNNING),
    ("record-from-another-boot", "probe", NOT_RUNNING),
    ("fixed-dns-value-elsewhere", "probe", NOT_RUNNING),
    ("imds-down", "meta-data", SUCCESS), ("config-syntax", "meta-data", SUCCESS),
]


def setup(fault, home, figure1, ec2, proxy, imds):
    """(params, imds endpoint, EC2 endpoint) for `fault`; the cloud arranged for it."""
    state = home / "state"
    routes = {"ip": "10.1.0.10", "routing_table": f"{figure1['rtb_a']},{figure1['rtb_b']}",
              "local_address": "false", "state_dir": state, "timeout": 3}
    eip = figure1["eip"]["allocation_id"]
    cfg = home / "ec2-vip.toml"
    section = {"config": cfg, "instance": "VI_1", "state_dir": state}
    if fault.startswith("config-"):
        text = {"config-bad-value": f'[instance.VI_1]\nroutes = ["{VIP}"]\nrelease = 1\n',
                "config-syntax": '[instance.VI_1\nroutes = ["10.1.0.10/32"]\n',
                "config-untrusted": f'[instance.VI_1]\nroutes = ["{VIP}"]\n'}.get(fault)
        if text is not None:
            cfg.write_text(text)
            os.chmod(cfg, 0o666 if fault == "config-untrusted" else 0o644)
        return section, imds, proxy
    if fault == "param-unknown":
        return {**routes, "route": "10.1.0.10"}, imds, proxy
    if fault == "param-bad-value":
        return {**routes, "ip": "10.1.0.10/24"}, imds, proxy
    if fault == "eip-deleted":
        # An id EC2 does not know (released): InvalidAllocationID.NotFound, as moto answers it.
        gone = "eipalloc-0000000000deadbee"
        return {"allocation_id": gone, "release": "true", "state_dir": state, "timeout": 3}, imds, proxy
    if fault == "interface-missing":
        return {**routes, "local_address": "true", "interface": "eth7"}, imds, proxy
    if fault == "imds-down":
        return routes, DEAD, proxy
    if fault == "ec2-unreachable":
        return {**routes, "allocation_id": eip, "release": "true"}, imds, DEAD
    if fault == "throttled":
        proxy.configure(throttle=True, action_buckets={"ReplaceRoute": [0, 0.001],
                                                       "DisassociateAddress": [0, 0.001]})
        return {**routes, "allocation_id": eip, "release": "true"}, imds, proxy
    if fault == "access-denied":
        proxy.configure(deny_actions=["ReplaceRoute", "AssociateAddress", "DisassociateAddress"])
        return {**routes, "allocation_id": eip, "release": "true"}, imds, proxy
    if fault in ("no-record-routes-here", "record-from-another-boot"):
        me = figure1["node2"]["eni_id"]
        for rtb in (figure1["rtb_a"], figure1["rtb_b"]):
            ec2.replace_route(RouteTableId=rtb, DestinationCidrBlock=VIP, NetworkInterfaceId=me)
        if fault == "record-from-another-boot":
            state.mkdir(mode=0o700, exist_ok=True)
            (state / "vip.state").write_text("00000000-0000-0000-0000-000000000000 1 1 0 MASTER\n")
            os.chmod(state / "vip.state", 0o600)
        return routes, imds, proxy
    raise AssertionError(f"no setup for {fault}")


def run_row(binary, fault, action, home, figure1, ec2, proxy, imds):
    params, imds_ep, ec2_ep = setup(fault, home, figure1, ec2, proxy, imds)
    extra = {"CRM_meta_interval": 0} if action == "probe" else {}
    verb = "monitor" if action == "probe" else action
    return agent(binary, verb, imds_ep, ec2_ep, home, {**params, **extra})


@pytest.mark.parametrize("fault,action,code", ROWS, ids=[f"{f}-{a}" for f, a, _ in ROWS])
def test_contract_row(binary, moto, ec2, figure1, imds_node2, home, proxy, fault, action, code):
    if fault == "fixed-dns-value-elsewhere":
        pytest.skip("walked with Route 53 below")
    rc, took, err = run_row(binary, fault, action, home, figure1, ec2, proxy, imds_node2)
    assert rc == code, f"{fault} {action}: rc {rc}, want {code}; {err}"
    if action == "stop" or rc != SUCCESS:
        # Every bad input or fault: one line at most per problem, no traceback, no secret.
        assert "Traceback" not in err and "SECRET" not in err.upper().replace("SECRETS", ""), err
    assert took < 30, f"{fault} {action} took {took:.1f} s"


def test_a_failed_start_changes_nothing_and_its_stop_succeeds(binary, moto, ec2, figure1, imds_node2, home,
                                                               proxy):
    """Pacemaker runs stop after every failed start: a typo'd interface must not fence."""
    before = vip_targets(ec2, figure1)
    params, imds, ep = setup("interface-missing", home, figure1, ec2, proxy, imds_node2)
    rc, _, err = agent(binary, "start", imds, ep, home, params)
    assert rc == ARGS and "eth7" in err, err
    rc, _, err = agent(binary, "stop", imds, ep, home, params)
    assert rc == SUCCESS, err
    assert agent(binary, "monitor", imds, ep, home, params)[0] == NOT_RUNNING
    # Bad input changes nothing: the interface is checked before any write.
    assert vip_targets(ec2, figure1) == before


def test_a_probe_with_a_fixed_dns_value_is_not_running_where_not_started(binary, moto, r53, zone, figure1,
                                                                          imds_node1, imds_node2, home):
    """ip=10.9.9.9 reads the same whoever wrote it: the node that started the resource says
    running, the other one not (it said 0 too: a dual-active resource)."""
    params = {"ip": "10.9.9.9", "hostedzoneid": zone, "fullname": NAME.rstrip("."), "local_address": "false"}
    one = {**params, "state_dir": home / "n1"}
    two = {**params, "state_dir": home / "n2"}
    assert agent(binary, "start", imds_node1, moto, home, one)[0] == SUCCESS
    assert record(r53, zone)[0] == ["10.9.9.9"]
    rc, _, err = agent(binary, "monitor", imds_node1, moto, home, {**one, "CRM_meta_interval": 0})
    assert rc == SUCCESS, err
    rc, _, err = agent(binary, "monitor", imds_node2, moto, home, {**two, "CRM_meta_interval": 0})
    assert rc == NOT_RUNNING, err
    upsert(r53, zone, "10.9.9.9", ttl=10)  # unchanged value: still not node2's
    assert agent(binary, "monitor", imds_node2, moto, home, {**two, "CRM_meta_interval": 0})[0] == NOT_RUNNING
