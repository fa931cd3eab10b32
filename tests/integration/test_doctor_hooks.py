"""doctor reads keepalived's ec2-vip lines as the binary does (issue 21, items 1 and 2): a
line the binary rejects is FAIL with clap's reason, and the real binary indeed exits 2 on
it; the config a hook reads is the one checked; a hook that logs nowhere warns; a FIFO
nobody reads warns, one a running `ec2-vip watch` reads is ok; a legacy notify_master gets
one verdict; the track_script trap FAILs, and the fix it names makes the standby's check
exit 0 where the trap exits 1; `check --route` whose config holds the route in a section
checks that section's record (no trap)."""

import os
import subprocess
import time

from harness.runner import run_vip, vip_env
from harness.scenario import VIP
from test_doctor import doctor, lab, lines, root_owned_bin  # noqa: F401 (fixtures)

GLOBAL = """global_defs {{
    enable_script_security
    script_user root
{extra}}}
"""

INSTANCE = """vrrp_instance VI_1 {{
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority 100
    unicast_src_ip 10.0.4.10
    unicast_peer {{
        10.0.2.10
    }}
{body}}}
"""


def kconf(tmp_path, body, extra="", before=""):
    conf = tmp_path / "keepalived.conf"
    conf.write_text(GLOBAL.format(extra=extra) + before + INSTANCE.format(body=body))
    return conf


def test_a_hook_line_the_binary_rejects_fails_as_the_binary_would(binary, lab, root_owned_bin, tmp_path):
    hook = f"--sylog --timeout 5m notify"
    conf = kconf(tmp_path, f'    notify "{root_owned_bin} {hook}"\n')
    r = doctor(binary, lab, kconf=conf)
    assert r.returncode == 1, r
    [fail] = lines(r, "FAIL")
    assert "would exit 2" in fail and "'--sylog'" in fail and "--syslog" in fail, r.stdout
    assert "keepalived calls ec2-vip" not in r.stdout, r.stdout  # no ok beside the FAIL
    # The truth doctor tells: the real binary, run as keepalived runs the hook, exits 2.
    ec2, seed, imds, server, cfg = lab
    real = run_vip(binary, [*hook.split(), "INSTANCE", "VI_1", "MASTER", "100"], imds, server)
    assert real.returncode == 2 and "--sylog" in real.stderr, real


def test_the_config_the_hook_reads_is_checked(binary, lab, root_owned_bin, tmp_path):
    conf = kconf(tmp_path, f'    notify "{root_owned_bin} --syslog --config /etc/nonexistent.toml notify"\n')
    r = doctor(binary, lab, kconf=conf)
    assert r.returncode == 1, r
    fails = lines(r, "FAIL")
    assert any("reads /etc/nonexistent.toml" in f and "notify-config" in f for f in fails), r.stdout
    assert any("not " + str(lab[4]) in w for w in lines(r, "warn")), r.stdout
    # The same line naming doctor's own config passes.
    conf = kconf(tmp_path, f'    notify "{root_owned_bin} --syslog --config {lab[4]} notify"\n')
    r = doctor(binary, lab, kconf=conf)
    assert r.returncode == 0 and not lines(r, "warn"), r.stdout


def test_a_hook_that_logs_nowhere_warns(binary, lab, root_owned_bin, tmp_path):
    conf = kconf(tmp_path, f'    notify "{root_owned_bin} --config {lab[4]} notify"\n')
    r = doctor(binary, lab, kconf=conf)
    assert r.returncode == 0, r
    [warn] = lines(r, "warn")
    assert "notify-log" in warn and "logs nowhere" in warn and "--syslog" in warn, r.stdout
    # The config that hook reads says where to log: the hook logs (the binary applies it).
    cfg = lab[4]
    cfg.write_text(f"syslog = true\n{cfg.read_text()}")
    r = doctor(binary, lab, kconf=conf)
    assert r.returncode == 0 and not lines(r, "warn"), r.stdout


def test_a_fifo_nobody_reads_warns_and_a_running_watch_is_seen(binary, lab, root_owned_bin, tmp_path):
    ec2, seed, imds, server, cfg = lab
    fifo = tmp_path / "notify.fifo"
    os.mkfifo(fifo, 0o600)
    conf = kconf(tmp_path, "", extra=f"    notify_fifo {fifo}\n")
    r = doctor(binary, lab, kconf=conf)
    assert any(f"no running `ec2-vip watch --fifo {fifo}`" in w for w in lines(r, "warn")), r.stdout
    home = tmp_path / "home"
    home.mkdir()
    argv = [str(binary), "--config", str(cfg), "--log-file", str(tmp_path / "watch.log"), "watch",
            "--fifo", str(fifo), "--interval", "0"]
    proc = subprocess.Popen(argv, env=vip_env(imds, server, str(home)), stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.3)
        assert proc.poll() is None, "watch exited"
        r = doctor(binary, lab, kconf=conf)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert r.returncode == 0, r
    assert any(f"notify_fifo {fifo} (global_defs) is read by pid {proc.pid}" in o for o in lines(r, "ok")), r.stdout
    assert not lines(r, "warn"), r.stdout
    # notify beside that FIFO: each transition would run twice.
    conf = kconf(tmp_path, f'    notify "{root_owned_bin} --syslog --config {cfg} notify"\n',
                 extra=f"    notify_fifo {fifo}\n")
    r = doctor(binary, lab, kconf=conf)
    assert any("from notify and notify_fifo" in w for w in lines(r, "warn")), r.stdout


def test_a_legacy_notify_master_gets_one_verdict(binary, lab, root_owned_bin, tmp_path):
    legacy = (f'    notify_master "{root_owned_bin} --syslog master --route {VIP}"\n'
              f'    notify_backup "{root_owned_bin} --syslog backup --route {VIP}"\n')
    r = doctor(binary, lab, kconf=kconf(tmp_path, legacy))
    assert not lines(r, "FAIL"), r.stdout  # was: FAIL "never calls ec2-vip" beside ok "calls ec2-vip"
    assert any("own --route/--eip" in w and "--instance VI_1" in w for w in lines(r, "warn")), r.stdout
    named = legacy.replace(f"--route {VIP}", f"--config {lab[4]} --instance VI_1")
    r = doctor(binary, lab, kconf=kconf(tmp_path, named))
    assert r.returncode == 0 and not lines(r, "warn") and not lines(r, "FAIL"), r.stdout


def test_the_track_script_trap_fails_and_its_fix_works_on_the_standby(binary, lab, root_owned_bin, tmp_path):
    ec2, seed, imds, server, cfg = lab
    script = f'vrrp_script chk_vip {{\n    script "{root_owned_bin} check --route {VIP}"\n}}\n'
    body = f'    notify "{root_owned_bin} --syslog --config {cfg} notify"\n    track_script {{\n        chk_vip\n    }}\n'
    r = doctor(binary, lab, kconf=kconf(tmp_path, body, before=script))
    assert r.returncode == 1, r
    [fail] = lines(r, "FAIL")
    assert "track-script" in fail and "goes FAULT" in fail and "check --instance VI_1" in fail, r.stdout
    fixed = script.replace(f"--route {VIP}", f"--config {cfg} --instance VI_1")
    r = doctor(binary, lab, kconf=kconf(tmp_path, body, before=fixed))
    assert r.returncode == 0, r.stdout
    # What the standby (node2, imds) really does: keepalived's notify records BACKUP for VI_1;
    # the trap's check exits 1 (keepalived: FAULT), the named fix exits 0.
    state = {"EC2_VIP_STATE_DIR": tmp_path / "state"}
    backup = run_vip(binary, ["--config", cfg, "notify", "INSTANCE", "VI_1", "BACKUP", "100"], imds, server,
                     extra_env=state)
    assert backup.returncode == 0, backup
    elsewhere = tmp_path / "other.toml"  # a config without the section that holds the VIP
    elsewhere.write_text('[instance.VI_9]\nroutes = ["10.1.0.99/32"]\n')
    trap = run_vip(binary, ["--config", elsewhere, "check", "--route", VIP], imds, server, extra_env=state)
    assert trap.returncode == 1, trap
    fix = run_vip(binary, ["--config", cfg, "check", "--instance", "VI_1"], imds, server, extra_env=state)
    assert fix.returncode == 0 and "skipped: this node is BACKUP" in fix.stdout, fix


def test_check_by_route_checks_the_section_holding_it(binary, lab, root_owned_bin, tmp_path):
    """The trap defused: `check --route X` with a config whose [instance.VI_1] holds X checks
    VI_1's record (the one notify writes), so the standby's check exits 0; doctor agrees."""
    ec2, seed, imds, server, cfg = lab
    script = f'vrrp_script chk_vip {{\n    script "{root_owned_bin} --config {cfg} check --route {VIP}"\n}}\n'
    body = f'    notify "{root_owned_bin} --syslog --config {cfg} notify"\n    track_script {{\n        chk_vip\n    }}\n'
    r = doctor(binary, lab, kconf=kconf(tmp_path, body, before=script))
    assert r.returncode == 0 and not lines(r, "FAIL"), r.stdout
    state = {"EC2_VIP_STATE_DIR": tmp_path / "state"}
    backup = run_vip(binary, ["--config", cfg, "notify", "INSTANCE", "VI_1", "BACKUP", "100"], imds, server,
                     extra_env=state)
    assert backup.returncode == 0, backup
    standby = run_vip(binary, ["--config", cfg, "check", "--route", VIP], imds, server, extra_env=state)
    assert standby.returncode == 0 and "[VI_1] skipped: this node is BACKUP" in standby.stdout, standby
    assert "[instance.VI_1] holds every resource given" in standby.stderr, standby
