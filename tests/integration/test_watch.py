"""ec2-vip watch: a real FIFO fed like keepalived's notify_fifo, EC2 behind a counting proxy."""

import os
import shutil
import signal
import subprocess
import time

import pytest

from harness.runner import vip_env
from harness.scenario import VIP

# Also run under an eventually consistent EC2 (stale reads for a while after each write).
pytestmark = pytest.mark.eventually_consistent


WRITES = ("ReplaceRoute", "AssociateAddress", "DisassociateAddress")


def wait_for(pred, timeout=15, what="condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def watcher(binary, figure1, imds_node2, proxy, tmp_path):
    w = start_watcher(binary, figure1, imds_node2, proxy, tmp_path)
    yield w
    w.stop()


def start_watcher(binary, figure1, imds_node2, proxy, tmp_path, extra=(), hook=""):
    fifo = tmp_path / "notify.fifo"
    os.mkfifo(fifo, 0o600)
    eip = figure1["eip"]["allocation_id"]
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'{hook}[instance.VI_1]\nroutes = ["{VIP}"]\nelastic_ips = ["{eip}"]\nrelease = true\n')
    log = tmp_path / "watch.log"
    env = vip_env(imds_node2, proxy, str(tmp_path), {"EC2_VIP_STATE_DIR": tmp_path / "state"})
    argv = [str(binary), "--config", str(cfg), "--log-file", str(log), "watch", "--fifo", str(fifo),
            "--interval", "0.5", *extra]
    proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    # keepalived keeps its end open; so do we, read-write so opening never blocks.
    fd = os.open(fifo, os.O_RDWR)
    wait_for(lambda: log.exists() and "watching" in log.read_text(), what="watcher start")
    w = type("Watcher", (), {})()
    w.proc, w.log, w.fifo = proc, log, fifo
    w.write = lambda text: os.write(fd, text.encode())

    def stop():
        os.close(fd)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    w.stop = stop
    return w


def where(ec2, figure1):
    tables = {t["RouteTableId"]: t for t in ec2.describe_route_tables()["RouteTables"]}
    routes = tuple(next(r["NetworkInterfaceId"] for r in tables[rtb]["Routes"] if r.get("DestinationCidrBlock") == VIP)
                   for rtb in (figure1["rtb_a"], figure1["rtb_b"]))
    [a] = ec2.describe_addresses(AllocationIds=[figure1["eip"]["allocation_id"]])["Addresses"]
    return routes, a.get("NetworkInterfaceId") or None


def writes(proxy):
    return sum(proxy.stats()["requests"].get(a, 0) for a in WRITES)


def test_burst_is_applied_in_order_coalesced(watcher, ec2, figure1, proxy):
    node2 = figure1["node2"]["eni_id"]
    burst = "".join(f'INSTANCE "VI_1" {s} 150\n' for s in ["BACKUP", "MASTER"] * 25)
    watcher.write(burst + "this is not a notify line\n")
    wait_for(lambda: where(ec2, figure1) == ((node2, node2), node2), what="MASTER applied")
    text = watcher.log.read_text()
    applied = text.count("keepalived VI_1 ->")
    assert 1 <= applied < 50, f"a burst of 50 lines must coalesce, applied {applied}"
    wait_for(lambda: "malformed notify_fifo line" in watcher.log.read_text(), what="malformed line logged")

    watcher.write('INSTANCE "VI_1" MASTER 150\nINSTANCE "VI_1" BACKUP 100\n')
    wait_for(lambda: where(ec2, figure1)[1] is None, what="BACKUP released the EIP")
    assert where(ec2, figure1)[0] == (node2, node2), "BACKUP leaves routes to the new master"


def test_reconcile_repairs_drift_and_is_quiet_otherwise(watcher, ec2, figure1, proxy):
    node1, node2 = figure1["node1"]["eni_id"], figure1["node2"]["eni_id"]
    watcher.write('INSTANCE "VI_1" MASTER 150\n')
    wait_for(lambda: where(ec2, figure1) == ((node2, node2), node2), what="MASTER applied")
    time.sleep(1.0)  # let a reconcile or two run
    before = writes(proxy)
    describes = proxy.stats()["requests"].get("DescribeRouteTables", 0)
    time.sleep(2.0)  # about four reconciles at --interval 0.5
    assert writes(proxy) == before, "no write call when nothing drifted"
    assert proxy.stats()["requests"].get("DescribeRouteTables", 0) > describes, "reconcile did run"

    ec2.replace_route(RouteTableId=figure1["rtb_a"], DestinationCidrBlock=VIP, NetworkInterfaceId=node1)
    ec2.associate_address(AllocationId=figure1["eip"]["allocation_id"], NetworkInterfaceId=node1,
                          AllowReassociation=True)
    wait_for(lambda: where(ec2, figure1) == ((node2, node2), node2), timeout=10, what="drift repaired")
    assert "drift:" in watcher.log.read_text()


def test_backup_waiting_in_the_fifo_is_read_before_any_repair(watcher, ec2, figure1, proxy):
    """The peer takes over while a reconcile is in flight and keepalived's BACKUP line waits
    in the pipe: the watcher must read it and not take the VIP back."""
    node1, node2 = figure1["node1"]["eni_id"], figure1["node2"]["eni_id"]
    watcher.write('INSTANCE "VI_1" MASTER 150\n')
    wait_for(lambda: where(ec2, figure1) == ((node2, node2), node2), what="MASTER applied")
    time.sleep(1.0)
    proxy.configure(latency=1.0)  # every EC2 call of the watcher now takes a second
    time.sleep(0.3)
    before = writes(proxy)
    for rtb in (figure1["rtb_a"], figure1["rtb_b"]):
        ec2.replace_route(RouteTableId=rtb, DestinationCidrBlock=VIP, NetworkInterfaceId=node1)
    ec2.associate_address(AllocationId=figure1["eip"]["allocation_id"], NetworkInterfaceId=node1,
                          AllowReassociation=True)
    watcher.write('INSTANCE "VI_1" BACKUP 100\n')
    time.sleep(5.0)
    assert where(ec2, figure1) == ((node1, node1), node1), "the peer keeps what it took"
    assert writes(proxy) == before, "no write after the peer took over"
    wait_for(lambda: "keepalived VI_1 -> BACKUP" in watcher.log.read_text(), what="BACKUP applied")


def test_sigterm_ends_the_watcher_cleanly(watcher):
    watcher.proc.send_signal(signal.SIGTERM)
    assert watcher.proc.wait(timeout=10) == 0
    assert "watcher stopped" in watcher.log.read_text()


def test_watch_rejects_a_regular_file(binary, imds_node2, moto, tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[instance.VI_1]\nroutes = ["{VIP}"]\n')
    plain = tmp_path / "plain"
    plain.write_text("")
    env = vip_env(imds_node2, moto, str(tmp_path))
    r = subprocess.run([str(binary), "--config", str(cfg), "watch", "--fifo", str(plain)], env=env,
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "not a FIFO" in r.stderr, r


def test_a_killed_keepalived_means_stop_and_no_repairs(binary, figure1, imds_node2, proxy, ec2, tmp_path):
    """keepalived killed (no STOP written) while the watcher runs: the watcher must not take
    the VIP back onto this node; it records STOP and repairs again only after keepalived does."""
    fake = tmp_path / "keepalived"  # a process whose command name is keepalived
    shutil.copy("/bin/sleep", fake)
    pidfile = tmp_path / "vrrp.pid"

    def start_keepalived():
        p = subprocess.Popen([str(fake), "600"])
        pidfile.write_text(f"{p.pid}\n")
        return p
    keepalived = start_keepalived()
    w = start_watcher(binary, figure1, imds_node2, proxy, tmp_path, ["--keepalived-pid", str(pidfile)])
    try:
        node1, node2 = figure1["node1"]["eni_id"], figure1["node2"]["eni_id"]
        w.write('INSTANCE "VI_1" MASTER 150\n')
        wait_for(lambda: where(ec2, figure1) == ((node2, node2), node2), what="MASTER applied")
        keepalived.kill()
        keepalived.wait()
        wait_for(lambda: "keepalived is gone" in w.log.read_text(), timeout=5, what="keepalived's death seen")
        for rtb in (figure1["rtb_a"], figure1["rtb_b"]):
            ec2.replace_route(RouteTableId=rtb, DestinationCidrBlock=VIP, NetworkInterfaceId=node1)
        time.sleep(2.5)  # about five reconcile rounds at --interval 0.5
        assert where(ec2, figure1)[0] == (node1, node1), "a node without keepalived took the VIP back"
        assert "VI_1 STOP" in w.log.read_text() or "-> STOP" in w.log.read_text(), w.log.read_text()
        keepalived = start_keepalived()
        w.write('INSTANCE "VI_1" MASTER 150\n')
        wait_for(lambda: where(ec2, figure1)[0] == (node2, node2), what="MASTER again after keepalived returned")
    finally:
        keepalived.kill()
        w.stop()
