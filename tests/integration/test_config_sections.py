"""The config: `config-test` checks it offline and says where each error is; a broken
section breaks only itself (notify, check, status, doctor and watch for a sound section
work beside it; acting on the broken one is exit 2 with its located error)."""

import os
import re
import socket
import time

from harness.runner import run_vip, start_watch
from harness.scenario import VIP, changes, snapshot

OTHER = "10.1.0.30/32"
# VI_2's `release = 1` is on line 8, its value at column 11.
TWO = f"""# two clusters on this pair
[instance.VI_1]
routes = ["{VIP}"]

[instance.VI_2]
routes = ["{OTHER}"]
# a typo: a number for a boolean
release = 1
"""
LOCATED = re.compile(r"^(?P<path>[^:]+):(?P<line>\d+):(?P<col>\d+): \[instance\.(?P<section>\w+)\] (?P<key>\S+): .+$")


def nowhere():
    """A URL nothing listens on: a run that needs no network never notices it."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}"


def wait_for(pred, what, timeout=15):
    end = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(0.1)


def broken_line(cfg):
    return f"{cfg}:8:11: [instance.VI_2] release: invalid type: integer `1`, expected a boolean"


def test_config_test_passes_a_sound_file_offline(binary, tmp_path):
    cfg = tmp_path / "good.toml"
    cfg.write_text(f'[instance.VI_1]\nroutes = ["{VIP}"]\n[instance.VG_1]\nroutes = ["{OTHER}"]\n')
    r = run_vip(binary, ["--config", cfg, "config-test"], nowhere(), nowhere())
    assert r.returncode == 0, r
    assert r.stdout == "ok: 2 sections (VG_1, VI_1)\n", r
    assert r.elapsed < 2, r


def test_config_test_prints_every_error_located(binary, tmp_path):
    cfg = tmp_path / "bad.toml"
    cfg.write_text(TWO + f"""
[instance.VI_3]
routes = ["10.1.0.40/32"]
  rout = ["10.1.0.41/32"]

[instance.VI_4]
routes = ["10.1.0.50/32", "10.1.0.51/24"]

[instance.VI_5]
routes = ["10.1.0.60/32"]
""")
    r = run_vip(binary, ["--config", cfg, "config-test"], nowhere(), nowhere())
    assert r.returncode == 2, r
    out = r.stdout.splitlines()
    assert out[0] == broken_line(cfg), r
    assert out[1].startswith(f"{cfg}:12:3: [instance.VI_3] rout: unknown field `rout`"), r
    assert out[2].startswith(f"{cfg}:15:27: [instance.VI_4] routes[1]: 10.1.0.51/24 has host bits set"), r
    assert len(out) == 3 and all(LOCATED.match(line) for line in out), r
    assert "3 of 5 sections set aside (VI_2, VI_3, VI_4); sound: VI_1, VI_5" in r.stderr, r
    # A syntax error stops everything: one located line.
    cfg.write_text(TWO + '[instance.VI_3\nroutes = ["10.1.0.40/32"]\n')
    r = run_vip(binary, ["--config", cfg, "config-test"], nowhere(), nowhere())
    assert r.returncode == 2, r
    [line] = r.stdout.splitlines()
    assert line.startswith(f"{cfg}:9:"), r
    # With keepalived.conf: doctor's offline rules too; a named file that is missing fails.
    cfg.write_text(f'[instance.VI_1]\nroutes = ["{VIP}"]\n')
    r = run_vip(binary, ["--config", cfg, "config-test", "--keepalived-conf", tmp_path / "none.conf"],
                nowhere(), nowhere())
    assert r.returncode == 2 and "none.conf" in r.stdout, r
    kconf = tmp_path / "keepalived.conf"
    kconf.write_text("vrrp_instance VI_9 {\n  state BACKUP\n  interface eth0\n  virtual_router_id 51\n"
                     "  priority 100\n  notify \"/usr/local/sbin/ec2-vip --syslog notify\"\n}\n")
    r = run_vip(binary, ["--config", cfg, "config-test", "--keepalived-conf", kconf], nowhere(), nowhere())
    assert r.returncode == 2 and "FAIL" in r.stdout, r


def test_notify_for_a_sound_section_works_beside_a_broken_one(binary, moto, ec2, figure1, imds_node2, tmp_path):
    cfg = tmp_path / "ec2-vip.toml"
    cfg.write_text(TWO)
    state = {"EC2_VIP_STATE_DIR": tmp_path / "state"}
    before = snapshot(ec2, figure1)
    r = run_vip(binary, ["--config", cfg, "notify", "INSTANCE", "VI_1", "MASTER", "150"], imds_node2, moto, state)
    assert r.returncode == 0, r
    node2 = figure1["node2"]["eni_id"]
    moved = changes(before, snapshot(ec2, figure1))
    assert moved and all(new == node2 for _, new in moved.values()), moved
    assert len(moved) == 2, moved  # VIP in both private tables
    check = run_vip(binary, ["--config", cfg, "check", "--instance", "VI_1"], imds_node2, moto, state)
    assert check.returncode == 0 and "ok: every resource points at this node" in check.stdout, check

    after = snapshot(ec2, figure1)
    asked = imds_node2.stats()["get_requests"]
    for args in (["notify", "INSTANCE", "VI_2", "MASTER", "150"], ["check", "--instance", "VI_2"],
                 ["status", "--instance", "VI_2"]):
        r = run_vip(binary, ["--config", cfg, *args], imds_node2, moto, state)
        assert r.returncode == 2, r
        [err] = [line for line in r.stderr.splitlines() if "ERROR" in line]
        assert err.endswith(broken_line(cfg)), r
    assert imds_node2.stats()["get_requests"] == asked, "bad input asks IMDS nothing"
    assert snapshot(ec2, figure1) == after

    # Every section: the sound one is shown, the broken one is a FAIL line, exit 2.
    st = run_vip(binary, ["--config", cfg, "status"], imds_node2, moto, state)
    assert st.returncode == 2, st
    assert "[VI_1] this node:" in st.stdout, st
    assert f"[VI_2] FAIL: {broken_line(cfg)}" in st.stdout.splitlines(), st
    ck = run_vip(binary, ["--config", cfg, "check"], imds_node2, moto, state)
    assert ck.returncode == 2, ck
    assert "[VI_1] ok: every resource points at this node" in ck.stdout, ck
    assert f"[VI_2] FAIL: {broken_line(cfg)}" in ck.stdout.splitlines(), ck


def test_iam_policy_refuses_to_leave_a_broken_section_out(binary, tmp_path):
    cfg = tmp_path / "ec2-vip.toml"
    cfg.write_text(TWO)
    flags = ["--config", cfg, "--region", "us-east-1", "iam-policy", "--vpc", "vpc-12345678"]
    r = run_vip(binary, flags, nowhere(), nowhere())
    assert r.returncode == 2 and r.stdout == "", r
    assert broken_line(cfg) in r.stderr, r
    one = run_vip(binary, [*flags, "--instance", "VI_1"], nowhere(), nowhere())
    assert one.returncode == 0 and "ec2:ReplaceRoute" in one.stdout, one


def test_doctor_fails_the_broken_section(binary, tmp_path):
    cfg = tmp_path / "ec2-vip.toml"
    cfg.write_text(TWO)
    r = run_vip(binary, ["--timeout", "2", "--config", cfg, "doctor", "--keepalived-conf", tmp_path / "none"],
                nowhere(), nowhere())
    assert r.returncode == 1, r
    fails = [line for line in r.stdout.splitlines() if line.startswith("FAIL [VI_2] config: ")]
    assert len(fails) == 1 and broken_line(cfg) in fails[0], r
    assert "parses: 2 section(s)" in r.stdout, r


def test_watch_starts_and_names_the_broken_section(binary, moto, ec2, figure1, imds_node2, tmp_path):
    cfg = tmp_path / "ec2-vip.toml"
    cfg.write_text(TWO)
    proc, fd, log = start_watch(binary, cfg, imds_node2, moto, tmp_path, interval="0")
    try:
        started = log.read_text()
        assert proc.poll() is None, started
        assert any("ERROR" in line and broken_line(cfg) in line for line in started.splitlines()), started
        before = snapshot(ec2, figure1)
        os.write(fd, b'INSTANCE "VI_2" MASTER 150\nINSTANCE "VI_1" MASTER 150\n')
        node2 = figure1["node2"]["eni_id"]
        wait_for(lambda: changes(before, snapshot(ec2, figure1)), what="VI_1 taken over")
        moved = changes(before, snapshot(ec2, figure1))
        assert all(new == node2 for _, new in moved.values()), moved
        text = log.read_text()
        [named] = [line for line in text.splitlines() if "INSTANCE VI_2: not acted on:" in line]
        assert "ERROR" in named and broken_line(cfg) in named, text
    finally:
        os.close(fd)
        proc.kill()
        proc.wait()
