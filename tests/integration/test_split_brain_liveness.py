"""Split brain, the loser's liveness ask about the winner: DescribeInstanceStatus by id with
IncludeAllInstances. An id EC2 does not know (InvalidInstanceID.NotFound) is a gone winner;
every other error keeps the hold-off (never a takeover on an API error). The nodes talk to
moto through the fault proxy, which answers what moto cannot: an id EC2 has forgotten."""

import json
import os
import time

import pytest

from harness.runner import run_vip
from harness.scenario import VIP
from test_split_brain import holders, settle, watch_pair

NOT_FOUND = [400, "InvalidInstanceID.NotFound"]


@pytest.fixture
def pair(binary, moto, proxy, figure1, imds_node1, imds_node2, tmp_path):
    # test_split_brain's pair, with the nodes' EC2 endpoint behind the fault proxy.
    yield from watch_pair(binary, proxy, figure1, imds_node1, imds_node2, tmp_path)


def kill_winner(pair, winner):
    proc, _, _ = pair[winner]
    proc.kill()  # the winner's watcher no longer fights back
    proc.wait()


def wait_for(pred, seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.1)
    return False


def test_moto_answers_describe_instance_status_like_ec2(ec2, figure1):
    """What the tests below rely on (moto 5.2.5): ids, stopped and terminated instances with
    IncludeAllInstances, and InvalidInstanceID.NotFound for an unknown id."""
    ids = [figure1[n]["instance_id"] for n in ("node1", "node2")]
    ec2.stop_instances(InstanceIds=[ids[0]])
    ec2.terminate_instances(InstanceIds=[ids[1]])
    for i, state in zip(ids, ("stopped", "terminated")):
        r = ec2.describe_instance_status(InstanceIds=[i], IncludeAllInstances=True)
        assert [s["InstanceState"]["Name"] for s in r["InstanceStatuses"]] == [state]
        assert ec2.describe_instance_status(InstanceIds=[i])["InstanceStatuses"] == [], "running only"
    with pytest.raises(Exception) as e:
        ec2.describe_instance_status(InstanceIds=["i-0123456789abcdef0"], IncludeAllInstances=True)
    assert e.value.response["Error"]["Code"] == "InvalidInstanceID.NotFound"


def test_a_terminated_winner_is_replaced_within_one_interval(pair, ec2, figure1, proxy, binary, imds_node1,
                                                             moto, tmp_path):
    winner, loser = settle(pair, ec2, figure1)
    kill_winner(pair, winner)
    ec2.terminate_instances(InstanceIds=[figure1[winner]["instance_id"]])
    mine = figure1[loser]["eni_id"]
    assert wait_for(lambda: holders(ec2, figure1) == (mine, mine), 3.0), "waited out the hold-off"
    gone = [line for line in pair[loser][2].read_text().splitlines() if "is gone" in line]
    assert len(gone) == 1 and f"instance {figure1[winner]['instance_id']} is terminated" in gone[0], gone
    asked = proxy.stats()["requests"]
    assert asked.get("DescribeInstanceStatus", 0) >= 1 and "DescribeInstances" not in asked, asked
    # iam-policy allows every call the pair made, the liveness ask in its SplitBrain statement.
    r = run_vip(binary, ["--config", tmp_path / "c.toml", "iam-policy"], imds_node1, moto)
    assert r.returncode == 0, r
    statements = {st["Sid"]: set(st["Action"]) for st in json.loads(r.stdout)["Statement"]}
    assert "ec2:DescribeInstanceStatus" in statements["SplitBrain"], statements
    assert {"ec2:" + a for a in asked} <= set().union(*statements.values()), (asked, statements)


def test_an_instance_ec2_no_longer_knows_is_gone(pair, ec2, figure1, proxy):
    winner, loser = settle(pair, ec2, figure1)
    kill_winner(pair, winner)
    # Real EC2 forgets a terminated instance after a while; moto never does.
    proxy.configure(answer_actions={"DescribeInstanceStatus": NOT_FOUND})
    mine = figure1[loser]["eni_id"]
    assert wait_for(lambda: holders(ec2, figure1) == (mine, mine), 3.0), pair[loser][2].read_text()
    gone = [line for line in pair[loser][2].read_text().splitlines() if "is gone" in line]
    assert len(gone) == 1 and f"instance {figure1[winner]['instance_id']} no longer exists" in gone[0], gone


@pytest.mark.parametrize("answer", [[400, "InvalidInstanceID.Malformed"], [403, "UnauthorizedOperation"]])
def test_any_other_error_keeps_the_hold_off(pair, ec2, figure1, proxy, answer):
    winner, loser = settle(pair, ec2, figure1)
    settled = holders(ec2, figure1)
    kill_winner(pair, winner)
    proxy.configure(answer_actions={"DescribeInstanceStatus": answer})
    ec2.stop_instances(InstanceIds=[figure1[winner]["instance_id"]])  # dead, but EC2 cannot say
    asked = proxy.stats()["requests"].get("DescribeInstanceStatus", 0)
    # Two asks at least (a yielding loser reconciles about every 3 s here), none a takeover.
    assert not wait_for(lambda: holders(ec2, figure1) != settled, 7.0), "took over on an API error"
    assert proxy.stats()["requests"].get("DescribeInstanceStatus", 0) >= asked + 2, proxy.stats()
    text = pair[loser][2].read_text()
    assert "is gone" not in text, text
    line = [x for x in text.splitlines() if "cannot tell whether" in x][-1]
    assert "DescribeInstanceStatus" in line and figure1[winner]["instance_id"] in line and answer[1] in line, line


def test_a_section_roles_account_without_the_instances_is_not_evidence(binary, moto, proxy, ec2, figure1, imds_node1,
                                                                        imds_node2, tmp_path):
    """A section's role_arn may point to the account that owns the tables and addresses but
    not the instances (a shared VPC): the role's DescribeInstanceStatus says NotFound for a
    live winner. The liveness ask goes again with the node's own credentials, where the peer
    is (issue 27, item 10). Emulated: the role (moto's AssumeRole, keys of its own) is
    answered NotFound, the nodes' own IMDS keys the truth."""
    from harness.tgw_scenario import MAIN_ACCOUNT
    from test_split_brain import start_watcher
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[instance.VI_1]\nroutes = ["{VIP}"]\nelastic_ips = ["{figure1["eip"]["allocation_id"]}"]\n'
                   f'role_arn = "arn:aws:iam::{MAIN_ACCOUNT}:role/vip-tables"\n')
    nodes = {n: start_watcher(binary, cfg, imds, proxy, tmp_path / n)
             for n, imds in (("node1", imds_node1), ("node2", imds_node2))}
    try:
        winner, loser = settle(nodes, ec2, figure1)
        settled = holders(ec2, figure1)
        proxy.configure(answer_actions={"DescribeInstanceStatus": NOT_FOUND}, answer_except_keys=["ASIAIMDSFAKE"])
        kill_winner(nodes, winner)  # alive (its instance runs), it just stopped fighting back
        asked = proxy.stats()["requests"].get("DescribeInstanceStatus", 0)
        assert not wait_for(lambda: holders(ec2, figure1) != settled, 7.0), "took a live winner's VIP"
        assert proxy.stats()["requests"].get("DescribeInstanceStatus", 0) >= asked + 4, proxy.stats()
        assert "is gone" not in nodes[loser][2].read_text()
        # Gone for real: the node's own account says so, and the loser takes over.
        ec2.terminate_instances(InstanceIds=[figure1[winner]["instance_id"]])
        mine = figure1[loser]["eni_id"]
        assert wait_for(lambda: holders(ec2, figure1) == (mine, mine), 6.0), nodes[loser][2].read_text()
        gone = [x for x in nodes[loser][2].read_text().splitlines() if "is gone" in x]
        assert gone and f"instance {figure1[winner]['instance_id']} is terminated" in gone[0], gone
    finally:
        for proc, fd, _ in nodes.values():
            os.close(fd)
            if proc.poll() is None:
                proc.kill()
                proc.wait()
