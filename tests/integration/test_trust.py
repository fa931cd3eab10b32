"""No way for a local user to steer root (issue 20, items 6 and 7c): a config, notify FIFO or
log file someone else could write is refused (exit 2, nothing changed, no hook run); doctor
says so; `check` that may not read the transition records answers "unknown", not drift.

Cases that need another owner (chown to nobody) or another uid skip when not root."""

import os
import subprocess

import pytest

from harness.runner import run_vip, vip_env
from harness.scenario import VIP, snapshot

NOBODY = 65534
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="chown/setuid need root")


def config(path, figure1, hook_marker):
    """A config whose on_event would leave `hook_marker` behind if it ever ran."""
    eip = figure1["eip"]["allocation_id"]
    path.write_text(f'on_event = "touch {hook_marker}"\n'
                    f'[instance.VI_1]\nroutes = ["{VIP}"]\nelastic_ips = ["{eip}"]\n')
    path.chmod(0o644)
    return path


def error_line(r):
    """The one ERROR line the refusal logs."""
    [line] = [l for l in r.stderr.splitlines() if "ERROR" in l or l.startswith("ec2-vip: ")]
    return line


def make_fifo(path, mode=0o600):
    os.mkfifo(path)
    os.chmod(path, mode)
    return path


def commands(fifo):
    """Every command that reads the config (check --route reads it for the event hooks)."""
    return [
        ["notify", "INSTANCE", "VI_1", "MASTER", "100"],
        ["check", "--repair", "--instance", "VI_1"],
        ["check", "--repair", "--route", VIP],
        ["status"],
        ["iam-policy"],
        ["watch", "--fifo", fifo],
    ]


@pytest.mark.parametrize("owner,mode", [
    pytest.param(NOBODY, 0o644, id="owned-by-nobody", marks=needs_root),
    pytest.param(None, 0o666, id="0666"),
    pytest.param(None, 0o664, id="0664"),
])
def test_a_config_others_could_write_is_refused_by_every_command(
        binary, moto, ec2, figure1, imds_node2, tmp_path, owner, mode):
    marker = tmp_path / "hook-ran"
    cfg = config(tmp_path / "c.toml", figure1, marker)
    cfg.chmod(mode)
    if owner is not None:
        os.chown(cfg, owner, -1)
    fifo = make_fifo(tmp_path / "notify.fifo")
    state = {"EC2_VIP_STATE_DIR": tmp_path / "state"}
    # node2 recorded MASTER while the routes point at node1: a check --repair would move them.
    assert run_vip(binary, ["master", "--route", VIP], imds_node2, moto, state).returncode == 0
    ec2.replace_route(RouteTableId=figure1["rtb_a"], DestinationCidrBlock=VIP,
                      NetworkInterfaceId=figure1["node1"]["eni_id"])
    before = snapshot(ec2, figure1)
    for args in commands(fifo):
        r = run_vip(binary, ["--config", cfg, *args], imds_node2, moto, state, timeout=30)
        assert r.returncode == 2, (args, r)
        line = error_line(r)
        want_owner = f"owner uid {owner if owner is not None else os.geteuid()} ("
        assert f"config file {cfg} (" in line and want_owner in line and f"mode 0{mode:o}" in line, (args, r)
        assert "refused" in line, (args, r)
        assert snapshot(ec2, figure1) == before, args
    assert not marker.exists(), "the untrusted config's on_event ran"


def test_a_config_in_a_directory_others_can_write_is_refused(binary, moto, ec2, figure1, imds_node2, tmp_path):
    shared = tmp_path / "open"
    shared.mkdir()
    shared.chmod(0o777)
    cfg = config(shared / "c.toml", figure1, tmp_path / "hook-ran")
    before = snapshot(ec2, figure1)
    r = run_vip(binary, ["--config", cfg, "notify", "INSTANCE", "VI_1", "MASTER"], imds_node2, moto)
    assert r.returncode == 2 and f"directory {shared} (" in error_line(r), r
    assert "writable by group or others" in error_line(r), r
    assert snapshot(ec2, figure1) == before


def test_a_private_config_in_a_sticky_directory_is_accepted(binary, moto, ec2, figure1, imds_node2, tmp_path):
    """Like /tmp (1777): others may not replace our file in it."""
    sticky = tmp_path / "sticky"
    sticky.mkdir()
    sticky.chmod(0o1777)
    cfg = config(sticky / "c.toml", figure1, tmp_path / "hook-ran")
    r = run_vip(binary, ["--config", cfg, "notify", "INSTANCE", "VI_1", "MASTER"], imds_node2, moto)
    assert r.returncode == 0, r
    assert snapshot(ec2, figure1)["eip"] == figure1["node2"]["eni_id"]


def test_a_missing_default_config_still_allows_command_line_resources(binary, moto, figure1, imds_node2, tmp_path):
    """Nothing to judge: the run goes on as before (here: the routes point at node1, drift)."""
    r = run_vip(binary, ["--config", tmp_path / "none.toml", "check", "--route", VIP], imds_node2, moto)
    assert r.returncode == 1 and r.stdout.count("drift:") == 2, r


@pytest.mark.parametrize("owner,mode", [
    pytest.param(NOBODY, 0o600, id="owned-by-nobody", marks=needs_root),
    pytest.param(None, 0o666, id="0666"),
    pytest.param(None, 0o620, id="0620"),
])
def test_a_fifo_others_could_write_is_refused(binary, moto, figure1, imds_node2, tmp_path, owner, mode):
    cfg = config(tmp_path / "c.toml", figure1, tmp_path / "hook-ran")
    fifo = make_fifo(tmp_path / "notify.fifo", mode)
    if owner is not None:
        os.chown(fifo, owner, -1)
    r = run_vip(binary, ["--config", cfg, "watch", "--fifo", fifo], imds_node2, moto, timeout=10)
    assert r.returncode == 2, r
    line = error_line(r)
    assert f"notify FIFO {fifo} (" in line and f"mode 0{mode:o}" in line and "refused" in line, r


def test_a_private_fifo_in_a_sticky_directory_is_read(binary, moto, figure1, imds_node2, tmp_path):
    """keepalived's samples put the FIFO in /tmp: a 0600 FIFO of ours there is fine."""
    sticky = tmp_path / "tmp"
    sticky.mkdir()
    sticky.chmod(0o1777)
    cfg = config(tmp_path / "c.toml", figure1, tmp_path / "hook-ran")
    fifo = make_fifo(sticky / "notify.fifo")
    log = tmp_path / "watch.log"
    env = vip_env(imds_node2, moto, str(tmp_path), {"EC2_VIP_STATE_DIR": tmp_path / "state"})
    proc = subprocess.Popen([str(binary), "--config", str(cfg), "--log-file", str(log), "watch", "--fifo",
                             str(fifo), "--interval", "0"], env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        with pytest.raises(subprocess.TimeoutExpired):
            proc.wait(timeout=3)
        assert "watching" in log.read_text()
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.parametrize("dangling", [False, True], ids=["to-a-file", "dangling"])
def test_a_symlinked_log_file_is_refused_and_its_target_untouched(
        binary, moto, ec2, figure1, imds_node2, tmp_path, dangling):
    target = tmp_path / "victim"
    if not dangling:
        target.write_text("precious\n")
    link = tmp_path / "ec2-vip.log"
    link.symlink_to(target)
    cfg = config(tmp_path / "c.toml", figure1, tmp_path / "hook-ran")
    before = snapshot(ec2, figure1)
    r = run_vip(binary, ["--config", cfg, "--log-file", link, "notify", "INSTANCE", "VI_1", "MASTER"],
                imds_node2, moto)
    assert r.returncode == 2, r
    assert f"log file {link}: a symbolic link; refused" in error_line(r), r
    if dangling:
        assert not target.exists(), "the dangling link's target was created"
    else:
        assert target.read_text() == "precious\n"
    assert snapshot(ec2, figure1) == before


@needs_root
def test_a_log_file_owned_by_another_user_is_refused(binary, moto, ec2, figure1, imds_node2, tmp_path):
    log = tmp_path / "ec2-vip.log"
    log.write_text("")
    os.chown(log, NOBODY, -1)
    r = run_vip(binary, ["--log-file", log, "iam-policy", "--route", VIP], imds_node2, moto)
    assert r.returncode == 2, r
    assert f"log file {log} (owner uid {NOBODY} (" in error_line(r) and "not owned by root" in error_line(r), r
    assert log.read_text() == ""


def test_doctor_fails_an_untrusted_config_fifo_and_log_file(binary, moto, figure1, imds_node2, tmp_path):
    cfg = config(tmp_path / "c.toml", figure1, tmp_path / "hook-ran")
    cfg.chmod(0o666)
    fifo = make_fifo(tmp_path / "notify.fifo", 0o622)
    link = tmp_path / "vip.log"
    link.symlink_to(tmp_path / "elsewhere")
    kconf = tmp_path / "keepalived.conf"
    kconf.write_text(
        f"global_defs {{\n  enable_script_security\n  script_user root\n  notify_fifo {fifo}\n}}\n"
        "vrrp_instance VI_1 {\n  state BACKUP\n  interface eth0\n  virtual_router_id 51\n  priority 100\n"
        "  unicast_peer {\n    10.0.3.20\n  }\n"
        f'  notify "/usr/sbin/ec2-vip --log-file {link} notify"\n}}\n')
    r = run_vip(binary, ["--config", cfg, "doctor", "--keepalived-conf", kconf], imds_node2, moto)
    assert r.returncode == 1, r
    fails = [l for l in r.stdout.splitlines() if l.startswith("FAIL trust")]
    assert any(f"config file {cfg} (" in l and "mode 0666" in l for l in fails), r.stdout
    assert any(f"notify FIFO {fifo} (" in l and "mode 0622" in l for l in fails), r.stdout
    assert any(f"log file {link}: a symbolic link" in l for l in fails), r.stdout
    cfg.chmod(0o644)
    r = run_vip(binary, ["--config", cfg, "doctor", "--keepalived-conf", "/nonexistent"], imds_node2, moto)
    assert not [l for l in r.stdout.splitlines() if l.startswith("FAIL trust")], r.stdout
    assert f"ok   trust: {cfg} may only be written by root" in r.stdout, r.stdout


@needs_root
def test_check_that_may_not_read_the_records_is_unknown_not_drift(binary, moto, ec2, figure1, imds_node2, tmp_path):
    """A vrrp_script run as keepalived_script (not root) cannot open root's 0700 state dir."""
    tmp_path.chmod(0o755)  # like /run: only the state directory itself is closed
    state = tmp_path / "ec2-vip"
    res = ["--route", VIP]
    assert run_vip(binary, ["master", *res], imds_node2, moto, {"EC2_VIP_STATE_DIR": state}).returncode == 0
    assert oct(state.stat().st_mode & 0o777) == "0o700"
    home = tmp_path / "home"
    home.mkdir()
    os.chown(home, NOBODY, NOBODY)
    env = vip_env(imds_node2, moto, str(home), {"EC2_VIP_STATE_DIR": state})
    before = snapshot(ec2, figure1)
    r = subprocess.run([str(binary), "--config", str(tmp_path / "none.toml"), "check", "--repair", *res,
                        "--unknown-exit", "3"], env=env, cwd=home, user=NOBODY, group=NOBODY, extra_groups=[],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
    assert r.returncode == 3, r
    assert "unknown: transition records unreadable as uid 65534" in r.stdout, r
    assert "Permission denied" in r.stdout and "drift" not in r.stdout, r
    assert snapshot(ec2, figure1) == before
    # Without --unknown-exit: 0 (a failing monitor must not put a healthy MASTER into FAULT).
    r = subprocess.run([str(binary), "--config", str(tmp_path / "none.toml"), "check", *res], env=env,
                       cwd=home, user=NOBODY, group=NOBODY, extra_groups=[], stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and "cannot tell" in r.stderr, r
    # Nor may it read root's 0600 config: it cannot know what to check either.
    cfg = config(tmp_path / "c.toml", figure1, tmp_path / "hook-ran")
    cfg.chmod(0o600)
    r = subprocess.run([str(binary), "--config", str(cfg), "check", "--instance", "VI_1", "--unknown-exit", "3"],
                       env=env, cwd=home, user=NOBODY, group=NOBODY, extra_groups=[], stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 3 and f"unknown: config {cfg}: Permission denied" in r.stdout, r
