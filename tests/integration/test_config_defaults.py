"""Top-level config defaults (issue 21, "What to build", second bullet): `region`,
`timeout`, `syslog` / `log_file` / `log_format` apply to a run whose command line does not
set them; the command line wins. A config that cannot be used still says why on stderr."""

import json

from harness.runner import run_vip
from harness.scenario import VIP, snapshot
from test_doctor import lab  # noqa: F401  (the fixture)

NOTIFY = ["notify", "INSTANCE", "VI_1", "MASTER", "100"]


def with_top(cfg, top):
    """The lab's config with `top` lines above its sections."""
    body = cfg.read_text().split("[instance.", 1)[1]
    cfg.write_text(f"{top}\n[instance.{body}")


def test_the_config_says_where_to_log_and_the_command_line_wins(binary, lab, tmp_path):
    ec2, seed, imds, server, cfg = lab
    log, other = tmp_path / "vip.log", tmp_path / "other.log"
    with_top(cfg, f'log_file = "{log}"\nlog_format = "json"')
    r = run_vip(binary, ["--config", cfg, *NOTIFY], imds, server)
    assert r.returncode == 0, r
    lines = [json.loads(x) for x in log.read_text().splitlines()]
    assert any(x["instance"] == "VI_1" and x["transition"] == "MASTER" for x in lines), lines
    assert json.loads(r.stderr.splitlines()[0])["level"], "stderr is JSON too"
    n = len(lines)
    r = run_vip(binary, ["--config", cfg, "--log-file", other, "--log-format", "text", *NOTIFY], imds, server)
    assert r.returncode == 0, r
    assert len(log.read_text().splitlines()) == n, "the command line's --log-file wins"
    text = other.read_text()
    assert " INFO " in text and not text.startswith("{"), "--log-format text wins: " + text
    # The same holds for commands that read the config but are not hooks.
    r = run_vip(binary, ["--config", cfg, "status"], imds, server)
    assert r.returncode == 0 and len(log.read_text().splitlines()) > n, r


def test_the_config_timeout_is_the_deadline_unless_given(binary, lab):
    ec2, seed, imds, server, cfg = lab
    with_top(cfg, "timeout = 7.5")
    r = run_vip(binary, ["--config", cfg, "-v", *NOTIFY], imds, server)
    assert r.returncode == 0 and "deadline 7.5s" in r.stderr, r.stderr
    r = run_vip(binary, ["--config", cfg, "-v", "--timeout", "9", *NOTIFY], imds, server)
    assert "deadline 9s" in r.stderr, r.stderr
    r = run_vip(binary, ["--config", "/nonexistent.toml", "-v", "master", "--route", VIP], imds, server)
    assert r.returncode == 0 and "deadline 30s" in r.stderr, r.stderr


def test_the_config_region_comes_after_the_command_line_and_environment(binary, lab):
    ec2, seed, imds, server, cfg = lab
    cfg.write_text(f'region = "us-west-2"\n[instance.VI_1]\nroutes = ["{VIP}"]\n')
    before = snapshot(ec2, seed)
    r = run_vip(binary, ["--config", cfg, "--timeout", "5", *NOTIFY], imds, server)
    assert r.returncode == 1, r  # us-west-2 holds no table of this VPC
    assert "the config's region=us-west-2 differs from this instance's region us-east-1" in r.stderr, r.stderr
    assert snapshot(ec2, seed) == before
    r = run_vip(binary, ["--config", cfg, "--region", "us-east-1", *NOTIFY], imds, server)
    assert r.returncode == 0 and " WARN " not in r.stderr, r
    r = run_vip(binary, ["--config", cfg, *NOTIFY], imds, server, extra_env={"AWS_REGION": "us-east-1"})
    assert r.returncode == 0 and " WARN " not in r.stderr, r


def test_a_bad_config_is_reported_on_stderr_though_its_logging_cannot_apply(binary, lab, tmp_path):
    ec2, seed, imds, server, cfg = lab
    log = tmp_path / "vip.log"
    with_top(cfg, f'log_file = "{log}"\nsyslog = true\ntimeout = "5m"')
    before = snapshot(ec2, seed)
    r = run_vip(binary, ["--config", cfg, *NOTIFY], imds, server)
    assert r.returncode == 2, r
    assert f'{cfg}:3:11: timeout: "5m" is not a number of seconds' in r.stderr, r.stderr
    assert not log.exists() and snapshot(ec2, seed) == before
    # A log file the config names but that is refused (a symlink): one line, exit 2.
    target = tmp_path / "elsewhere.log"
    target.write_text("")
    log.symlink_to(target)
    with_top(cfg, f'log_file = "{log}"')
    r = run_vip(binary, ["--config", cfg, *NOTIFY], imds, server)
    assert r.returncode == 2, r
    [line] = r.stderr.splitlines()
    assert line.startswith(f"ec2-vip: {cfg}: log_file: ") and "a symbolic link; refused" in line, line
    assert snapshot(ec2, seed) == before
