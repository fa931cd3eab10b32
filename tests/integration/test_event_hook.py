"""The event hook (`on_event`, `--on-event`): one JSON event on stdin after a change or a
failed transition; bounded in time, never the run's failure."""

import json
import os
import signal
import time

import pytest

from harness.runner import run_vip
from harness.scenario import VIP, vip_targets


def config(tmp_path, hook_line):
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'{hook_line}\n[instance.VI_1]\nroutes = ["{VIP}"]\n')
    return cfg


def test_a_change_sends_one_event(binary, moto, ec2, figure1, imds_node2, tmp_path):
    got = tmp_path / "events"
    cfg = config(tmp_path, f'on_event = "cat >> {got}; echo \\"$EC2_VIP_EVENT\\" >> {got}.kind"')
    r = run_vip(binary, ["--config", cfg, "notify", "INSTANCE", "VI_1", "MASTER"], imds_node2, moto)
    assert r.returncode == 0, r
    events = [json.loads(line) for line in got.read_text().splitlines()]
    assert len(events) == 1, events
    ev = events[0]
    eni = figure1["node2"]["eni_id"]
    assert (ev["event"], ev["instance"], ev["transition"]) == ("changed", "VI_1", "MASTER")
    assert ev["node"]["eni_id"] == eni and ev["node"]["instance_id"] and ev["node"]["hostname"]
    assert len(ev["changed"]) == 2 and all(c["to"] == eni for c in ev["changed"]), ev
    # Each resource also as fields, as `status --json` has them (not only as prose).
    whats = [(c["what"]["kind"], c["what"]["destination"]) for c in ev["changed"]]
    tables = {c["what"]["table_id"] for c in ev["changed"]}
    assert whats == [("route", VIP)] * 2 and tables == {figure1["rtb_a"], figure1["rtb_b"]}, ev
    assert ev["failed"] == [] and ev["error"] is None and ev["run"] and ev["time"]
    assert got.with_suffix(".kind").read_text().split() == ["changed"]
    # Already right: nothing changed, so no event.
    r = run_vip(binary, ["--config", cfg, "notify", "INSTANCE", "VI_1", "MASTER"], imds_node2, moto)
    assert r.returncode == 0 and len(got.read_text().splitlines()) == 1, r


def test_a_failed_transition_sends_a_failed_event(binary, moto, ec2, figure1, imds_node2, proxy, tmp_path):
    got = tmp_path / "event"
    proxy.configure(error_rate=1.0, error_status=500, fault_actions=["ReplaceRoute"])
    r = run_vip(binary, ["--on-event", f"cat > {got}", "--timeout", "6", "--max-attempts", "1",
                         "master", "--route", VIP], imds_node2, proxy)
    assert r.returncode == 1, r
    ev = json.loads(got.read_text())
    assert ev["event"] == "failed" and ev["transition"] == "MASTER", ev
    assert len(ev["failed"]) == 2 and all("ReplaceRoute" in f["error"] for f in ev["failed"]), ev
    # IMDS unreachable: the run fails as a whole, and says so.
    r = run_vip(binary, ["--on-event", f"cat > {got}", "--timeout", "2", "master", "--route", VIP],
                "http://127.0.0.1:9", moto)
    assert r.returncode == 1, r
    ev = json.loads(got.read_text())
    assert ev["event"] == "failed" and ev["error"] and ev["node"]["eni_id"] is None, ev


def test_a_hanging_hook_is_cut_at_its_bound(binary, moto, ec2, figure1, imds_node2, tmp_path):
    started = tmp_path / "started"
    cfg = config(tmp_path, f'on_event = "touch {started}; sleep 60"')
    r = run_vip(binary, ["--config", cfg, "--event-timeout", "1", "notify", "INSTANCE", "VI_1", "MASTER"],
                imds_node2, moto)
    assert r.returncode == 0, r
    assert started.exists(), r
    assert r.elapsed < 4.0, r.elapsed
    assert "killed" in r.stderr, r.stderr
    eni = figure1["node2"]["eni_id"]
    assert set(vip_targets(ec2, figure1["vpc_id"]).values()) == {eni}


def test_a_failing_hook_does_not_fail_the_failover(binary, moto, ec2, figure1, imds_node2, tmp_path):
    cfg = config(tmp_path, 'on_event = "echo no webhook >&2; exit 7"')
    r = run_vip(binary, ["--config", cfg, "notify", "INSTANCE", "VI_1", "MASTER"], imds_node2, moto)
    assert r.returncode == 0, r
    assert "exited 7" in r.stderr and "no webhook" in r.stderr, r.stderr


def test_dry_run_sends_nothing(binary, moto, ec2, figure1, imds_node2, tmp_path):
    got = tmp_path / "event"
    r = run_vip(binary, ["--dry-run", "--on-event", f"cat > {got}", "master", "--route", VIP], imds_node2, moto)
    assert r.returncode == 0 and not got.exists(), r


def test_a_grandchild_holding_the_hooks_stderr_leaves_no_thread_in_watch(binary, moto, ec2, figure1, imds_node2,
                                                                          tmp_path):
    """A hook that leaves something running (`sleep 300 &`) holds its stderr open: the
    watcher must not keep a reader thread per event waiting for EOF (issue 27, item 10)."""
    from test_watch import start_watcher, wait_for, where
    pids = tmp_path / "pids"
    hook = f'on_event = "sleep 300 & echo $! >> {pids}; echo webhook down >&2; exit 1"\n'
    w = start_watcher(binary, figure1, imds_node2, moto, tmp_path, hook=hook)
    tasks = f"/proc/{w.proc.pid}/task"
    node2 = figure1["node2"]["eni_id"]
    try:
        runs, counts = 8, []
        for i in range(runs):
            w.write('INSTANCE "VI_1" MASTER 150\n')
            wait_for(lambda: where(ec2, figure1) == ((node2, node2), node2), what="MASTER applied")
            w.write('INSTANCE "VI_1" BACKUP 100\n')
            wait_for(lambda: where(ec2, figure1)[1] is None, what="BACKUP released the EIP")
            wait_for(lambda: len(pids.read_text().split()) == 2 * (i + 1) if pids.exists() else False,
                     what="both events' hooks ran")
            time.sleep(0.2)  # the hook's exit is seen within a few ms
            counts.append(len(os.listdir(tasks)))
        log = w.log.read_text()
        assert log.count("exited 1") == 2 * runs and "webhook down" in log, log
        # 16 hook runs, each one with a grandchild holding its stderr: threads stay bounded.
        assert counts[-1] <= counts[0] + 2, f"threads after each MASTER+BACKUP: {counts}"
    finally:
        w.stop()
        for pid in (pids.read_text().split() if pids.exists() else []):
            try:
                os.kill(int(pid), signal.SIGKILL)
            except ProcessLookupError:
                pass
