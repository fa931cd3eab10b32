"""Per-section `region`, `profile`, `role_arn` (issue 21, "What to build", second bullet):
a section's EC2 calls go to its region, with its shared-config profile's credentials, as
its role (STS AssumeRole). moto keeps resources per account (an assumed role's keys act in
the role's account) and per region, so each test builds the node's VPC where only the
section's own settings reach it, and shows the same section without them failing."""

from harness.imds_fake import start_imds
from harness.runner import run_vip
from harness.scenario import VIP, node_json, routes_of, seed_figure1
from harness.tgw_scenario import MAIN_ACCOUNT

import pytest

OTHER = "222222222222"
ROLE = f"arn:aws:iam::{OTHER}:role/vip-tables"


def section(extra=""):
    return f'[instance.VI_1]\nroutes = ["{VIP}"]\n{extra}\n[instance.VI_2]\nroutes = ["10.1.0.30/32"]\n'


def notify(binary, cfg, imds, moto, env=None):
    return run_vip(binary, ["--config", cfg, "notify", "INSTANCE", "VI_1", "MASTER", "100"], imds, moto,
                   extra_env=env)


def vip_tables(ec2, seed):
    return {t: routes_of(ec2, seed[t]).get(VIP) for t in ("rtb_a", "rtb_b")}


@pytest.fixture
def other_account(tgw_clients, tmp_path):
    """Figure 1 in account OTHER only (the node's own account holds nothing); the IMDS
    fake is node2 of it. Yields (its EC2 client, seed, imds, moto URL, config path)."""
    ec2 = tgw_clients.ec2("us-east-1", OTHER)
    assert tgw_clients.account_of(OTHER) == OTHER
    seed = seed_figure1(ec2)
    imds = start_imds(node_json(seed, "node2"), log_requests=False)
    yield ec2, seed, imds, tgw_clients.url, tmp_path / "ec2-vip.toml"
    imds.stop()


def test_a_route_table_in_another_account_is_reached_through_role_arn(binary, other_account):
    ec2, seed, imds, url, cfg = other_account
    before = vip_tables(ec2, seed)
    assert set(before.values()) == {seed["node1"]["eni_id"]}
    cfg.write_text(section())
    r = notify(binary, cfg, imds, url)
    assert r.returncode == 1 and "no route table" in r.stderr, r  # its own account has none
    assert vip_tables(ec2, seed) == before
    cfg.write_text(section(f'role_arn = "{ROLE}"\nexternal_id = "vip-1"'))
    r = notify(binary, cfg, imds, url)
    assert r.returncode == 0, r
    assert f"EC2 calls as {ROLE}" in r.stderr, r.stderr
    assert set(vip_tables(ec2, seed).values()) == {seed["node2"]["eni_id"]}


def test_a_profile_from_aws_config_file_is_used(binary, other_account, tmp_path):
    """The profile assumes the role itself (role_arn + credential_source): only its
    credentials reach the other account."""
    ec2, seed, imds, url, cfg = other_account
    aws_config = tmp_path / "aws-config"
    aws_config.write_text(f"[profile vip]\nrole_arn = {ROLE}\ncredential_source = Ec2InstanceMetadata\n")
    env = {"AWS_CONFIG_FILE": aws_config}
    cfg.write_text(section('profile = "vip"'))
    r = notify(binary, cfg, imds, url, env)
    assert r.returncode == 0, r
    assert set(vip_tables(ec2, seed).values()) == {seed["node2"]["eni_id"]}


def test_a_missing_profile_is_bad_input_and_changes_nothing(binary, other_account, tmp_path):
    ec2, seed, imds, url, cfg = other_account
    (tmp_path / "aws-config").write_text("[profile ops]\nregion = us-east-1\n")
    env = {"AWS_CONFIG_FILE": tmp_path / "aws-config"}
    cfg.write_text(section(f'profile = "nosuch"\nrole_arn = "{ROLE}"'))
    before = vip_tables(ec2, seed)
    r = notify(binary, cfg, imds, url, env)
    assert r.returncode == 2, r
    [line] = [x for x in r.stderr.splitlines() if " INFO " not in x]  # notify's arrival line apart
    assert "profile nosuch (config section): no such profile in" in line and "aws-config" in line, line
    assert vip_tables(ec2, seed) == before


def test_a_section_with_region_acts_in_that_region(binary, tgw_clients, tmp_path):
    """The node's VPC (figure 1) is in us-west-2; IMDS says the instance is in us-east-1."""
    ec2 = tgw_clients.ec2("us-west-2", MAIN_ACCOUNT)
    seed = seed_figure1(ec2)
    imds = start_imds(node_json(seed, "node2", region="us-east-1"), log_requests=False)
    try:
        cfg = tmp_path / "ec2-vip.toml"
        cfg.write_text(section())
        before = vip_tables(ec2, seed)
        r = notify(binary, cfg, imds, tgw_clients.url)
        assert r.returncode == 1, r  # us-east-1 holds none of it
        assert vip_tables(ec2, seed) == before
        cfg.write_text(section('region = "us-west-2"'))
        r = notify(binary, cfg, imds, tgw_clients.url)
        assert r.returncode == 0, r
        assert "(us-west-2)" in r.stderr and " WARN " not in r.stderr, r.stderr
        assert set(vip_tables(ec2, seed).values()) == {seed["node2"]["eni_id"]}
    finally:
        imds.stop()


def test_bad_access_values_set_the_section_aside(binary, other_account):
    ec2, seed, imds, url, cfg = other_account
    cfg.write_text(section('role_arn = "vip-tables"'))
    r = notify(binary, cfg, imds, url)
    assert r.returncode == 2, r
    assert f"{cfg}:3:12: [instance.VI_1] role_arn: \"vip-tables\" is not a role ARN" in r.stderr, r.stderr
    t = run_vip(binary, ["--config", cfg, "config-test"], imds, url)
    assert t.returncode == 2 and "role_arn" in t.stdout + t.stderr, t


def test_ocf_routing_table_role_reaches_the_other_account(binary, other_account, tmp_path):
    """ClusterLabs' aws-vpc-move-ip parameter, unsupported (ignored) before: now the role."""
    from test_ocf import SUCCESS, agent
    ec2, seed, imds, url, cfg = other_account
    home = tmp_path / "ocf"
    home.mkdir(mode=0o755)
    params = {"ip": VIP.split("/")[0], "local_address": "false", "routing_table_role": ROLE}
    rc, _, err = agent(binary, "start", imds, url, home, params)
    assert rc == SUCCESS, err
    assert set(vip_tables(ec2, seed).values()) == {seed["node2"]["eni_id"]}
    rc, _, err = agent(binary, "monitor", imds, url, home, params)
    assert rc == SUCCESS, err
