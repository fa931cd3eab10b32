"""`ec2-vip iam-policy` passes an IAM linter and says what least privilege means here.

parliament (offline, `--include-community-auditors`) reports nothing at MEDIUM or above for
every shipped example config and for a config per scenario, in the commercial, China and
GovCloud partitions; and, checked here because parliament does not: no write on Resource
"*", no write on a wildcard ARN without a condition (Transit Gateway route tables excepted:
EC2 has no VPC key for them, so they are narrowed to the site's region and account), and
every ARN in the region's partition. The shipped example policies are this output
(`EC2VIP_REGEN_EXAMPLES=1` rewrites them).

parliament: `EC2VIP_PARLIAMENT`, else the `parliament` beside this Python (tests/requirements.txt
pins it); skipped with the reason when neither exists.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.runner import run_vip

REPO = Path(__file__).resolve().parents[2]
NO_IMDS = "http://127.0.0.1:9"  # nothing listens: no IMDS, and no EC2 either
VPC = "vpc-0123456789abcdef0"
ROLE = "arn:aws:iam::222222222222:role/ec2-vip"
EX = "examples/keepalived"

# The one MEDIUM finding allowed: sts:AssumeRole is how a node reaches a site in another
# account; parliament flags the action itself whatever it is scoped to. Allowed only when
# every AssumeRole names exact role ARNs (checked in `own_problems`).
ALLOWED = {("CREDENTIALS_EXPOSURE", ("sts:assumerole",))}

SITES = """
[[instance.VI_1.sites]]
region = "{r1}"
vpc_id = "vpc-0aaaaaaaaaaaaaaaa"
[[instance.VI_1.sites]]
region = "{r2}"
vpc_id = "vpc-0bbbbbbbbbbbbbbbb"
route_tables = ["rtb-0bbbbbbbbbbbbbbbb"]
tgw_route_tables = ["tgw-rtb-0bbbbbbbbbbbbbbbb"]
role_arn = "arn:{p}:iam::222222222222:role/ec2-vip"
external_id = "x"
"""

SCENARIOS = {
    "routes_discovered": 'routes = ["10.1.0.10/32", "fd00:ec2::10/128"]',
    "route_tables_by_id": 'routes = ["10.1.0.10/32"]\nroute_tables = ["rtb-0123456789abcdef0", "rtb-0123456789abcdef1"]',
    "route_table_tags": 'routes = ["10.1.0.10/32"]\nroute_table_tags = { Name = "private-*", Env = "prod?" }',
    "elastic_ips": 'elastic_ips = ["eipalloc-0123456789abcdef0", "198.51.100.1", '
                   '{ id = "eipalloc-0123456789abcdef1", private_ip = "10.0.2.100" }]\nrelease = true',
    "private_ips": 'private_ips = ["10.0.2.100"]\nrelease = true',
    "ipv6_addresses": 'ipv6_addresses = ["2600:1f18::100"]\nrelease = true',
    "transit_gateway_sites": 'routes = ["10.1.0.10/32"]\n' + SITES,
    "dns_records": 'dns_records = [{ zone = "Z0123456789ABCDEFGHIJ", name = "db.internal.example", type = "A" }, '
                   '{ zone = "Z0123456789ABCDEFGHIJ", name = "db6.internal.example", type = "AAAA", '
                   'value = "local" }, { zone = "Z9876543210ABCDEFGHIJ", name = "db.example.com", '
                   'type = "A", value = "public", ttl = 10 }]\nrelease = true',
    "section_role": 'routes = ["10.1.0.10/32"]\nelastic_ips = ["eipalloc-0123456789abcdef0"]\n'
                    'region = "{r2}"\nrole_arn = "arn:{p}:iam::222222222222:role/ec2-vip"\nexternal_id = "x"',
}
REGIONS = {  # region → its partition and a second region of it for a site
    "us-east-1": ("aws", "us-west-2"),
    "cn-north-1": ("aws-cn", "cn-northwest-1"),
    "us-gov-west-1": ("aws-us-gov", "us-gov-east-1"),
}

# Shipped policy file → (config, iam-policy arguments).
EXAMPLES = {
    f"{EX}/iam-policy.json": (f"{EX}/ec2-vip.toml", ["--vpc", VPC]),
    f"{EX}/transit-gateway/iam-policy-node-account.json": (f"{EX}/transit-gateway/ec2-vip.toml", []),
    f"{EX}/transit-gateway/iam-role-network-account.json": (f"{EX}/transit-gateway/ec2-vip.toml", ["--role", ROLE]),
}
# Example configs with no shipped policy: linted too.
LINTED_ONLY = {f"{EX}/haproxy-pair/ec2-vip.toml": ["--vpc", VPC]}


@pytest.fixture(scope="module")
def parliament():
    exe = Path(os.environ.get("EC2VIP_PARLIAMENT") or Path(sys.executable).parent / "parliament")
    if not exe.exists():
        pytest.skip(f"no parliament at {exe}: pip install the pinned one (tests/requirements.txt) "
                    "into the test venv, or set EC2VIP_PARLIAMENT")
    return exe


def iam_policy(binary, cfg, args, region=None):
    extra = {"AWS_REGION": region} if region else None
    r = run_vip(binary, ["--config", cfg, "iam-policy", *args], NO_IMDS, NO_IMDS, extra_env=extra)
    assert r.returncode == 0, r
    return r.stdout


def findings(parliament, text):
    """parliament's findings at MEDIUM or above, less the allowed ones."""
    r = subprocess.run([str(parliament), "--include-community-auditors", "--json", "--minimum_severity", "MEDIUM"],
                       input=text, capture_output=True, text=True, timeout=120)
    assert r.returncode in (0, 1) and not r.stderr.strip(), r
    found = [json.loads(line) for line in r.stdout.splitlines() if line.strip()]
    return [f for f in found
            if (f["issue"], tuple(f["location"].get("actions", ()))) not in ALLOWED]


def resources(st):
    return [st["Resource"]] if isinstance(st["Resource"], str) else st["Resource"]


def own_problems(doc, partition):
    """What parliament does not check: writes on "*", unconditioned wildcard writes, ARNs
    outside the partition, AssumeRole on anything but exact roles."""
    out = []
    for st in doc["Statement"]:
        acts, res = st["Action"], resources(st)
        # Reads: EC2's Describe*, Route 53's GetHostedZone and ListResourceRecordSets (on
        # the zone).
        writes = [a for a in acts if not a.split(":")[1].startswith(("Describe", "Get", "List"))]
        if "*" in res and writes:
            out.append(f"{st['Sid']}: {writes} on Resource *")
        wild = [r for r in res if r.endswith("/*") and "transit-gateway-" not in r]
        if writes and wild and not st.get("Condition"):
            out.append(f"{st['Sid']}: {writes} on {wild} with no condition")
        if "sts:AssumeRole" in acts and any("*" in r for r in res):
            out.append(f"{st['Sid']}: sts:AssumeRole on {res}")
        values = [v for c in st.get("Condition", {}).values() for v in c.values()]
        arns = [a for a in res + [x for v in values for x in ([v] if isinstance(v, str) else v)]
                if a.startswith("arn:")]
        out += [f"{st['Sid']}: {a} is not in {partition}" for a in arns if not a.startswith(f"arn:{partition}:")]
    return out


@pytest.mark.parametrize("region", REGIONS)
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_each_scenario_passes_the_linter(binary, parliament, scenario, region, tmp_path):
    partition, second = REGIONS[region]
    cfg = tmp_path / "c.toml"
    body = SCENARIOS[scenario].replace("{r1}", region).replace("{r2}", second).replace("{p}", partition)
    cfg.write_text(f"[instance.VI_1]\n{body}\n")
    with_role = "sites" in scenario or "role" in scenario
    roles = [["--role", f"arn:{partition}:iam::222222222222:role/ec2-vip"]] if with_role else []
    for args in [["--vpc", VPC, "--account", "111111111111"], *roles]:
        text = iam_policy(binary, cfg, args, region)
        assert findings(parliament, text) == [], (args, text)
        assert own_problems(json.loads(text), partition) == [], (args, text)


@pytest.mark.parametrize("cfg", [*EXAMPLES, *LINTED_ONLY])
def test_each_example_passes_the_linter(binary, parliament, cfg):
    config, args = EXAMPLES.get(cfg) or (cfg, LINTED_ONLY[cfg])
    text = iam_policy(binary, REPO / config, args)
    assert findings(parliament, text) == [], text
    assert own_problems(json.loads(text), "aws") == [], text


@pytest.mark.parametrize("shipped", EXAMPLES)
def test_the_shipped_policies_are_the_generated_ones(binary, shipped):
    config, args = EXAMPLES[shipped]
    text = iam_policy(binary, REPO / config, args)
    if os.environ.get("EC2VIP_REGEN_EXAMPLES") == "1":
        (REPO / shipped).write_text(text)
    assert json.loads((REPO / shipped).read_text()) == json.loads(text), (
        f"{shipped} drifted: EC2VIP_REGEN_EXAMPLES=1 pytest -k shipped rewrites it")


def test_a_site_role_in_another_partition_than_its_region_is_bad_input(binary, tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text("[instance.VI_1]\nroutes = [\"10.1.0.10/32\"]\n"
                   + SITES.format(r1="cn-north-1", r2="cn-northwest-1", p="aws"))
    r = run_vip(binary, ["--config", cfg, "iam-policy"], NO_IMDS, NO_IMDS)
    assert r.returncode == 2 and r.stdout == "", r
    assert "role_arn arn:aws:iam::222222222222:role/ec2-vip is in partition aws, region cn-northwest-1 in aws-cn" \
        in r.stderr, r


def test_a_section_role_is_the_roles_policy_and_the_nodes_assume_role(binary, tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('[instance.VI_1]\nroutes = ["10.1.0.10/32"]\nregion = "eu-west-1"\n'
                   f'role_arn = "{ROLE}"\n')
    node = json.loads(iam_policy(binary, cfg, ["--vpc", VPC, "--account", "111111111111"]))
    acts = {a for st in node["Statement"] for a in st["Action"]}
    assert "sts:AssumeRole" in acts and "ec2:ReplaceRoute" not in acts, node
    [assume] = [st for st in node["Statement"] if st["Action"] == ["sts:AssumeRole"]]
    assert assume["Resource"] == ROLE, node
    role = json.loads(iam_policy(binary, cfg, ["--vpc", VPC, "--role", ROLE]))
    [write] = [st for st in role["Statement"] if "ec2:ReplaceRoute" in st["Action"]]
    assert write["Resource"] == "arn:aws:ec2:eu-west-1:222222222222:route-table/*", role
    reads = {a for st in role["Statement"] if st["Resource"] == "*" for a in st["Action"]}
    assert {"ec2:DescribeRouteTables", "ec2:DescribeInstanceStatus"} <= reads, role  # split brain as the role
    cfg.write_text('[instance.VI_1]\nroutes = ["10.1.0.10/32"]\nregion = "cn-north-1"\n'
                   f'role_arn = "{ROLE}"\n')
    r = run_vip(binary, ["--config", cfg, "iam-policy", "--vpc", VPC], NO_IMDS, NO_IMDS)
    assert r.returncode == 2 and r.stdout == "", r
    assert f"[instance.VI_1]: role_arn {ROLE} is in partition aws, region cn-north-1 in aws-cn" in r.stderr, r


def test_without_vpc_or_imds_a_vpc_scoped_policy_is_bad_input(binary, tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('[instance.VI_1]\nroutes = ["10.1.0.10/32"]\n')
    r = run_vip(binary, ["--config", cfg, "iam-policy"], NO_IMDS, NO_IMDS)
    assert r.returncode == 2 and r.stdout == "", r
    assert "[instance.VI_1] writes only in the node's VPC" in r.stderr and "--vpc" in r.stderr, r
    # Chosen tables need no VPC: the same config with route_tables prints without IMDS.
    cfg.write_text('[instance.VI_1]\nroutes = ["10.1.0.10/32"]\nroute_tables = ["rtb-1"]\n')
    assert '"ec2:CreateRoute"' in iam_policy(binary, cfg, [])
