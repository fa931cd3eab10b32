"""A one-shot transition cut short by SIGTERM says what it wrote and what it did not."""

import signal
import subprocess
import time

from harness.fault_proxy import start_proxy
from harness.runner import vip_env
from harness.scenario import VIP, snapshot


def test_sigterm_mid_failover_logs_what_was_written_and_what_was_not(binary, moto, ec2, figure1, imds_node2, tmp_path):
    n2 = figure1["node2"]["eni_id"]
    # One of the two ReplaceRoute calls never gets an answer; the other goes through.
    proxy = start_proxy(moto.url, throttle=False, hang_next=1, fault_actions=["ReplaceRoute"])
    try:
        env = vip_env(imds_node2, proxy, str(tmp_path))
        p = subprocess.Popen([str(binary), "--timeout", "30", "master", "--route", VIP], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and proxy.stats()["requests"].get("ReplaceRoute", 0) < 2:
            time.sleep(0.05)
        time.sleep(0.3)
        assert p.poll() is None, p.communicate()
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=5)
    finally:
        proxy.stop()
    assert p.returncode == 1, (out, err)
    [line] = [l for l in err.splitlines() if "SIGTERM during MASTER" in l]
    written, _, not_written = line.partition("not written")
    moved = {rtb for rtb, routes in snapshot(ec2, figure1)["routes"].items() if routes.get(VIP) == n2}
    assert len(moved) == 1, moved
    [rtb] = moved
    assert rtb in written and rtb not in not_written, line
    [other] = {figure1["rtb_a"], figure1["rtb_b"]} - moved
    assert other in not_written, line


def test_sigterm_before_any_write_says_nothing_changed(binary, moto, figure1, imds_node2, tmp_path):
    proxy = start_proxy(moto.url, throttle=False, hang_next=1, fault_actions=["DescribeRouteTables"])
    try:
        env = vip_env(imds_node2, proxy, str(tmp_path))
        p = subprocess.Popen([str(binary), "master", "--route", VIP], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not proxy.stats()["faults"]["hang"]:
            time.sleep(0.05)
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=5)
    finally:
        proxy.stop()
    assert p.returncode == 1 and "SIGTERM during MASTER: stopped before any write" in err, (out, err)
