"""The shipped watch unit, sandboxed, under a real systemd (PID 1 of a namespace of its own).

systemd-analyze scores the unit file; a namespace systemd then starts that very file (its
ExecStart, its EnvironmentFile, every sandboxing directive) and the watcher in it moves the
VIP on a keepalived line written to the FIFO. Its process holds no capability, cannot gain
any, runs under a seccomp filter, and its event hook writes only where the unit lets it.
"""

import re
import subprocess
from pathlib import Path

import pytest

from harness.scenario import VIP, vip_targets
from harness.systemd_ns import NamespaceSystemd, available
from test_watch import wait_for

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "examples/keepalived/ec2-vip-watch.service"
# systemd-analyze's scale: 0 (fully sandboxed) .. 10; "OK" is below 2.1. The shipped unit
# scored 9.6 UNSAFE before its sandbox.
MAX_EXPOSURE = 2.0


def test_unit_scores_ok_in_systemd_analyze_security():
    if not Path("/usr/bin/systemd-analyze").exists():
        pytest.skip("no systemd-analyze")
    out = subprocess.run(["systemd-analyze", "security", "--offline=yes", str(UNIT)],
                         capture_output=True, text=True)
    m = re.search(r"Overall exposure level for \S+: (\d+\.\d+) (\w+)", out.stdout)
    assert m, out.stdout + out.stderr
    assert float(m.group(1)) <= MAX_EXPOSURE, out.stdout


# Host state a namespace systemd must never touch (its sysinit.target would: systemd-sysctl,
# systemd-tmpfiles): checked before and after.
HOST_SYSCTLS = [Path("/proc/sys/fs") / n for n in
                ("protected_symlinks", "protected_regular", "protected_fifos", "protected_hardlinks")]


def host_state(canary):
    return [p.read_text() for p in HOST_SYSCTLS if p.exists()], canary.exists()


@pytest.fixture
def sandboxed(binary, moto, figure1, imds_node2, tmp_path):
    why = available()
    if why:
        pytest.skip(why)
    canary = Path("/tmp") / f"ec2-vip-systemd-canary-{tmp_path.name}"
    canary.touch()
    before = host_state(canary)
    eip = figure1["eip"]["allocation_id"]
    config = (f'on_event = "cat > /run/ec2-vip/event.json; touch /etc/hook-was-here 2> /run/ec2-vip/etc.err || true"\n'
              f'[instance.VI_1]\nroutes = ["{VIP}"]\nelastic_ips = ["{eip}"]\n')
    default = (f'EC2VIP_ARGS="-v --log-file /var/log/ec2-vip/ec2-vip.log"\n'
               f"AWS_ENDPOINT_URL_EC2={moto.url}\nAWS_ENDPOINT_URL_STS={moto.url}\n"
               f"AWS_EC2_METADATA_SERVICE_ENDPOINT={imds_node2.url}\n")
    ns = NamespaceSystemd(tmp_path / "ns", UNIT, {
        "/etc/ec2-vip.toml": (config.encode(), 0o600),
        "/etc/default/ec2-vip": (default.encode(), 0o600),
        "/usr/sbin/ec2-vip": (Path(binary).read_bytes(), 0o755),
    })
    log = ns.path("/var/log/ec2-vip/ec2-vip.log")
    try:
        wait_for(lambda: log.exists() and "watching" in log.read_text(), 30,
                 "the unit's watcher to start")
    except AssertionError:
        status = ns.run("systemctl", "status", "--no-pager", "-l", UNIT.name).stdout
        ns.stop()
        raise AssertionError(f"{status}\n{ns.console_text()[-4000:]}")
    yield ns, log
    ns.stop()
    assert host_state(canary) == before, "the namespace systemd changed the host"
    canary.unlink()


def test_sandboxed_unit_moves_the_vip_and_holds_no_privilege(sandboxed, ec2, figure1):
    ns, log = sandboxed
    assert ns.run("systemctl", "is-active", UNIT.name).stdout.strip() == "active"
    pid = ns.main_pid()
    assert pid, ns.run("systemctl", "status", "--no-pager", UNIT.name).stdout
    status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    assert "--syslog --config /etc/ec2-vip.toml" in Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ")
    for cap in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert int(status[cap].strip(), 16) == 0, (cap, status[cap])
    assert status["NoNewPrivs"].strip() == "1"
    assert status["Seccomp"].strip() == "2"  # a filter is installed

    # keepalived's line, through the FIFO the unit's ExecStartPre made.
    fifo = ns.path("/run/keepalived-notify.fifo")
    with open(fifo, "w") as f:
        f.write('INSTANCE "VI_1" MASTER 100\n')
    node2 = figure1["node2"]["eni_id"]
    wait_for(lambda: set(vip_targets(ec2, figure1["vpc_id"]).values()) == {node2}, 30,
             f"the VIP's routes on node2's ENI; log: {log.read_text()[-2000:]}")
    [addr] = ec2.describe_addresses(AllocationIds=[figure1["eip"]["allocation_id"]])["Addresses"]
    assert addr["NetworkInterfaceId"] == node2

    # The event hook ran inside the sandbox: its own runtime dir is writable, /etc is not.
    event = ns.path("/run/ec2-vip/event.json")
    wait_for(lambda: event.exists() and "MASTER" in event.read_text(), 15, "the event hook")
    assert "Read-only file system" in ns.path("/run/ec2-vip/etc.err").read_text()
    assert not ns.path("/etc/hook-was-here").exists()
