"""Bad input: a clear one-line error, the documented exit code, and nothing changed."""

import socket

from harness.runner import run_vip
from harness.scenario import VIP, changes, snapshot


def error_lines(stderr):
    return [l for l in stderr.splitlines() if "ERROR" in l or l.startswith("error")]


def test_bad_cidr_is_a_usage_error(binary, moto, ec2, figure1, imds_node2):
    before = snapshot(ec2, figure1)
    for bad in ("10.1.0.10/24", "10.1.0.300/32", "nonsense"):
        r = run_vip(binary, ["master", "--route", bad], imds_node2, moto)
        assert r.returncode == 2, r
        assert bad in r.stderr
    assert changes(before, snapshot(ec2, figure1)) == {}
    assert imds_node2.stats()["get_requests"] == 0


def test_vip_inside_the_vpc_is_bad_input(binary, moto, ec2, figure1, imds_node2):
    before = snapshot(ec2, figure1)
    r = run_vip(binary, ["master", "--route", "10.0.2.99/32", "--route", VIP], imds_node2, moto)
    assert r.returncode == 2, r
    [line] = error_lines(r.stderr)
    assert "10.0.2.99/32" in line and "10.0.0.0/16" in line and figure1["vpc_id"] in line
    assert changes(before, snapshot(ec2, figure1)) == {}


def test_missing_route_fails_naming_vpc_and_cidr(binary, moto, ec2, figure1, imds_node2):
    r = run_vip(binary, ["master", "--route", "10.9.9.9/32"], imds_node2, moto)
    assert r.returncode == 1, r
    [line] = [l for l in error_lines(r.stderr) if "10.9.9.9/32" in l][:1]
    assert figure1["vpc_id"] in line
    # With a good route beside it, the good one still moves: a failover does what it can.
    before = snapshot(ec2, figure1)
    r = run_vip(binary, ["master", "--route", VIP, "--route", "10.9.9.9/32"], imds_node2, moto)
    assert r.returncode == 1, r
    assert len(changes(before, snapshot(ec2, figure1))) == 2


def test_nothing_to_do_is_a_usage_error(binary, moto, imds_node2):
    r = run_vip(binary, ["master"], imds_node2, moto)
    assert r.returncode == 2 and "--route" in r.stderr, r


def test_unknown_interface_is_bad_input(binary, moto, ec2, figure1, imds_node2):
    r = run_vip(binary, ["master", "--route", VIP, "--interface", "nosuchif0"], imds_node2, moto)
    assert r.returncode == 2 and "nosuchif0" in r.stderr, r
    lo = run_vip(binary, ["master", "--route", VIP, "--interface", "lo"], imds_node2, moto)
    assert lo.returncode == 2 and "not a network interface of instance" in lo.stderr, lo


def test_bad_config_is_exit_2(binary, moto, imds_node2, tmp_path):
    cfg = tmp_path / "bad.toml"
    cfg.write_text('[instance.VI_1]\nroutes = ["10.1.0.10/33"]\n')
    r = run_vip(binary, ["--config", cfg, "notify", "INSTANCE", "VI_1", "MASTER"], imds_node2, moto)
    assert r.returncode == 2 and str(cfg) in r.stderr, r
    missing = run_vip(binary, ["--config", tmp_path / "none.toml", "notify", "INSTANCE", "VI_1", "MASTER"],
                      imds_node2, moto)
    assert missing.returncode == 2 and "none.toml" in missing.stderr, missing


def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_imds_unreachable_fails_within_the_deadline(binary, moto, ec2, figure1):
    before = snapshot(ec2, figure1)
    r = run_vip(binary, ["--timeout", "3", "master", "--route", VIP], f"http://127.0.0.1:{closed_port()}", moto)
    assert r.returncode == 1, r
    assert r.elapsed < 3.5, r
    [line] = error_lines(r.stderr)
    assert "instance metadata" in line
    assert changes(before, snapshot(ec2, figure1)) == {}


def test_imds_hanging_fails_within_the_deadline(binary, moto, ec2, figure1, imds_node2):
    imds_node2.set_mode("slow", delay=30)
    r = run_vip(binary, ["--timeout", "2", "master", "--route", VIP], imds_node2, moto)
    assert r.returncode == 1, r
    assert r.elapsed < 2.5, r
    assert "instance metadata" in r.stderr


def test_ec2_unreachable_fails_within_the_deadline(binary, figure1, imds_node2):
    r = run_vip(binary, ["--timeout", "3", "master", "--route", VIP], imds_node2, f"http://127.0.0.1:{closed_port()}")
    assert r.returncode == 1, r
    assert r.elapsed < 3.5, r
    assert "DescribeRouteTables" in r.stderr


def test_credentials_never_reach_the_logs(binary, moto, figure1, imds_node2, tmp_path):
    log = tmp_path / "debug.log"
    r = run_vip(binary, ["-vv", "--log-file", log, "master", "--route", VIP], imds_node2, moto)
    assert r.returncode == 0, r
    secret = "imds-fake-secret-" + figure1["node2"]["instance_id"]
    for text in (r.stderr, r.stdout, log.read_text()):
        assert secret not in text
        assert "imds-fake-session-" not in text
