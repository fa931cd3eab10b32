"""Credentials and region said out loud: doctor names the credential source and the caller
ARN (STS GetCallerIdentity, served by moto); AWS_PROFILE naming no profile is bad input
(exit 2, one line, nothing changed); a region override that differs from the instance's
region (IMDS) is a warning; AWS_DEFAULT_REGION is honoured after AWS_REGION."""

from harness.runner import run_vip
from harness.scenario import VIP, snapshot
from test_doctor import doctor, lab, lines  # noqa: F401  (lab: the fixture)

SECRET = "SECRETFROMENVIRONMENT0000000000000000000"


def test_doctor_names_the_instance_role_and_the_caller(binary, lab):
    r = doctor(binary, lab)
    assert r.returncode == 0, r
    ok = "\n".join(lines(r, "ok"))
    assert "credentials: credentials resolve, from instance role ec2-vip-role via IMDS" in ok, r.stdout
    assert "caller: AWS says the caller is arn:aws:" in ok, r.stdout
    assert "region: us-east-1 (from IMDS)" in ok, r.stdout


def test_doctor_names_environment_credentials_and_never_prints_them(binary, lab):
    r = doctor(binary, lab, env={"AWS_ACCESS_KEY_ID": "AKIAENVIRONMENT00001",
                                 "AWS_SECRET_ACCESS_KEY": SECRET})
    assert r.returncode == 0, r
    assert "credentials resolve, from environment (AWS_ACCESS_KEY_ID)" in r.stdout, r.stdout
    assert SECRET not in r.stdout + r.stderr


def test_doctor_names_a_profile(binary, lab, tmp_path):
    creds = tmp_path / "credentials"
    creds.write_text(f"[ops]\naws_access_key_id = AKIAPROFILE000000001\naws_secret_access_key = {SECRET}\n")
    r = doctor(binary, lab, env={"AWS_PROFILE": "ops", "AWS_SHARED_CREDENTIALS_FILE": creds,
                                 "AWS_CONFIG_FILE": tmp_path / "none"})
    assert r.returncode == 0, r
    assert "credentials resolve, from profile ops" in r.stdout, r.stdout
    assert SECRET not in r.stdout + r.stderr


def test_a_profile_that_does_not_exist_is_bad_input(binary, lab, tmp_path):
    ec2, seed, imds, server, cfg = lab
    before = snapshot(ec2, seed)
    env = {"AWS_PROFILE": "nosuch", "AWS_CONFIG_FILE": tmp_path / "config"}
    (tmp_path / "config").write_text("[profile ops]\nregion = us-east-1\n")
    for args in (["master", "--route", VIP], ["--config", cfg, "notify", "INSTANCE", "VI_1", "MASTER"],
                 ["--config", cfg, "doctor"]):
        r = run_vip(binary, args, imds, server, extra_env=env)
        assert r.returncode == 2, r
        [line] = r.stderr.splitlines()
        assert "AWS_PROFILE=nosuch: no such profile" in line, line
    assert snapshot(ec2, seed) == before, "nothing changes"
    # The profile that exists is used (and has no keys: the chain goes on to the role).
    ok = run_vip(binary, ["master", "--route", VIP], imds, server, extra_env={**env, "AWS_PROFILE": "ops"})
    assert ok.returncode == 0, ok


def warnings(r):
    return [line for line in r.stderr.splitlines() if " WARN " in line]


def test_a_region_override_that_differs_is_a_warning(binary, lab):
    ec2, seed, imds, server, cfg = lab
    r = run_vip(binary, ["--timeout", "5", "master", "--route", VIP], imds, server,
                extra_env={"AWS_REGION": "us-west-2"})
    [w] = [line for line in warnings(r) if "region" in line]
    assert "AWS_REGION=us-west-2 differs from this instance's region us-east-1 (IMDS)" in w, r.stderr
    flag = run_vip(binary, ["--region", "eu-west-1", "--timeout", "5", "master", "--route", VIP], imds, server)
    [w] = [line for line in warnings(flag) if "region" in line]
    assert "--region=eu-west-1 differs" in w, flag.stderr
    same = run_vip(binary, ["master", "--route", VIP], imds, server, extra_env={"AWS_REGION": "us-east-1"})
    assert same.returncode == 0 and not warnings(same), same


def test_aws_default_region_is_honoured_after_aws_region(binary, lab):
    ec2, seed, imds, server, cfg = lab
    r = run_vip(binary, ["--timeout", "5", "master", "--route", VIP], imds, server,
                extra_env={"AWS_DEFAULT_REGION": "us-west-2"})
    assert any("AWS_DEFAULT_REGION=us-west-2 differs" in w for w in warnings(r)), r.stderr
    assert r.returncode == 1, r  # us-west-2 holds no route table of this VPC
    both = run_vip(binary, ["master", "--route", VIP], imds, server,
                   extra_env={"AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-west-2"})
    assert both.returncode == 0 and not warnings(both), both


def test_doctor_warns_about_a_region_override(binary, lab):
    r = doctor(binary, lab, env={"AWS_DEFAULT_REGION": "us-west-2"})
    [w] = [line for line in lines(r, "warn") if "region:" in line]
    assert "AWS_DEFAULT_REGION=us-west-2 differs" in w and "fix: unset AWS_DEFAULT_REGION" in w, r.stdout
