"""--dry-run changes nothing, anywhere: every command (--dry-run is global, so every one
accepts it) runs against drifted state — node1's record says MASTER while the VIP's routes
and Elastic IP are on node2 — and EC2 (every route table, address association and ENI
address), the state directories and the proxy's count of mutating calls stay as they were."""

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from harness.fault_proxy import start_proxy
from harness.proxy_state import is_mutating
from harness.imds_fake import start_imds
from harness.moto import ec2_client
from harness.runner import run_vip, vip_env
from harness.scenario import VIP, full_snapshot, node_json, seed_figure1

REGION = "us-east-1"


def files(d):
    """Every file under `d` with its content: what a write to the state directory changes."""
    d = Path(d)
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


@pytest.fixture
def drifted(binary, moto_ext_session, tmp_path):
    """node1 recorded MASTER, then node2 took everything (VRRP blocked: both MASTER)."""
    moto_ext_session.reset(seed=1)
    ec2 = ec2_client(moto_ext_session.url, REGION)
    seed = seed_figure1(ec2)
    imds = {n: start_imds(node_json(seed, n, REGION), log_requests=False) for n in ("node1", "node2")}
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[instance.VI_1]\nroutes = ["{VIP}"]\nelastic_ips = ["{seed["eip"]["allocation_id"]}"]\n'
                   "release = true\n")
    state = {n: tmp_path / f"state-{n}" for n in imds}
    for n in ("node1", "node2"):
        r = run_vip(binary, ["--config", cfg, "notify", "INSTANCE", "VI_1", "MASTER"], imds[n],
                    moto_ext_session, extra_env={"EC2_VIP_STATE_DIR": state[n]})
        assert r.returncode == 0, r
    node2 = seed["node2"]["eni_id"]
    snap = full_snapshot(ec2, seed)
    assert snap["routes"][seed["rtb_a"]][VIP] == node2 and snap["eip"] == node2, snap
    proxy = start_proxy(moto_ext_session.url, throttle=False)
    yield ec2, seed, imds, proxy, cfg, state
    proxy.stop()
    for s in imds.values():
        s.stop()


def mutating(proxy):
    return {a: n for a, n in proxy.stats()["requests"].items() if n and is_mutating(a)}


def watch_dry(binary, cfg, imds, proxy, home, lines):
    """`--dry-run watch` fed `lines` one at a time, each after the previous one was handled."""
    home.mkdir()
    fifo, log = home / "notify.fifo", home / "watch.log"
    os.mkfifo(fifo, 0o600)
    env = vip_env(imds, proxy, str(home), {"EC2_VIP_STATE_DIR": home.parent / "state-node1"})
    argv = [str(binary), "--dry-run", "--config", str(cfg), "--log-file", str(log), "watch", "--fifo",
            str(fifo), "--interval", "0.5", "--keepalived-pid", str(home / "no.pid")]
    proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    fd = os.open(fifo, os.O_RDWR)
    try:
        def wait_log(text, count=1):
            end = time.monotonic() + 15
            while not (log.exists() and log.read_text().count(text) >= count):
                assert time.monotonic() < end and proc.poll() is None, (text, log.read_text())
                time.sleep(0.1)
        wait_log("watching")
        wait_log("would repair 3 drifted resource(s)")  # the recorded MASTER: reconciled
        for line, done in lines:
            n = log.read_text().count(done)
            os.write(fd, line.encode())
            wait_log(done, n + 1)
    finally:
        os.close(fd)
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=10)
    return log.read_text(), out


def test_every_command_with_dry_run_changes_nothing(binary, drifted, tmp_path):
    ec2, seed, imds, proxy, cfg, state = drifted
    before, state_before = full_snapshot(ec2, seed), {n: files(d) for n, d in state.items()}
    eip = seed["eip"]["allocation_id"]
    by_hand = ["--route", VIP, "--eip", eip, "--release"]
    notify = ["notify", "INSTANCE", "VI_1"]
    runs = [  # (args, node, expected exit, a line stdout must hold)
        ([*notify, "MASTER"], "node1", 0, "via ReplaceRoute"),
        ([*notify, "BACKUP"], "node2", 0, "via DisassociateAddress"),
        ([*notify, "FAULT"], "node2", 0, "via DisassociateAddress"),
        ([*notify, "STOP"], "node2", 0, "via DisassociateAddress"),
        (["master", *by_hand], "node1", 0, "via AssociateAddress"),
        (["backup", *by_hand], "node2", 0, "via DisassociateAddress"),
        (["fault", *by_hand], "node2", 0, "via DisassociateAddress"),
        (["stop", *by_hand], "node2", 0, "via DisassociateAddress"),
        (["check", "--instance", "VI_1"], "node1", 1, "drift:"),
        (["check", "--instance", "VI_1", "--repair"], "node1", 1, "would repair: "),
        (["check", "--repair"], "node1", 1, "would repair: "),
        # The flags name what [instance.VI_1] holds: that section and its recorded MASTER.
        (["check", "--repair", "--route", VIP, "--eip", eip], "node1", 1, "[VI_1] would repair: "),
        (["status", "--instance", "VI_1"], "node1", 0, VIP),
        (["iam-policy"], "node1", 0, "ec2:ReplaceRoute"),
    ]
    for args, node, code, want in runs:
        r = run_vip(binary, ["--dry-run", "--config", cfg, *args], imds[node], proxy,
                    extra_env={"EC2_VIP_STATE_DIR": state[node]})
        assert r.returncode == code and want in r.stdout, (args, r)
    assert full_snapshot(ec2, seed) == before
    assert mutating(proxy) == {}, proxy.stats()

    text, out = watch_dry(binary, cfg, imds["node1"], proxy, tmp_path / "watch", [
        ('INSTANCE "VI_1" MASTER_RX_LOWER_PRI 150\n', "also claims MASTER; reconciling now"),
        ('INSTANCE "VI_1" MASTER 150\n', "plan: "),
        ('INSTANCE "VI_1" BACKUP 100\n', "keepalived VI_1 -> BACKUP"),
    ])
    assert "via ReplaceRoute" in out and "would repair: " in text, (out, text)
    assert "repaired" not in text.replace("would repair", ""), text
    assert full_snapshot(ec2, seed) == before
    assert mutating(proxy) == {}, proxy.stats()
    assert {n: files(d) for n, d in state.items()} == state_before, "a state directory was written"

    # doctor's write probes carry DryRun (the extended moto honours it): the proxy counts them.
    r = run_vip(binary, ["--dry-run", "--config", cfg, "doctor", "--keepalived-conf", "/nonexistent"],
                imds["node1"], proxy, extra_env={"EC2_VIP_STATE_DIR": state["node1"]})
    assert "source-dest-check" in r.stdout, r
    assert full_snapshot(ec2, seed) == before
    assert {n: files(d) for n, d in state.items()} == state_before
