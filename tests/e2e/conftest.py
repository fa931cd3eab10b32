"""End-to-end lab: a real keepalived pair in network namespaces, moto, IMDSv2 fakes.

Needs root, `ip` (iproute2) and `keepalived`; skips with the reason otherwise.
"""

import atexit
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO / "tests"))  # `harness`
sys.path.insert(0, str(HERE))  # e2e_net, e2e_keepalived, e2e_cluster

ROWS = pytest.StashKey[list]()
WORKDIR = pytest.StashKey[str]()


def _missing():
    """Why this machine cannot run the suite, or None."""
    if os.geteuid() != 0:
        return "e2e needs root (network namespaces, keepalived)"
    from e2e_net import tool

    for name, pkg in (("ip", "iproute2"), ("keepalived", "keepalived")):
        if tool(name) is None:
            return f"e2e needs `{name}` (apt-get install -y {pkg})"
    return None


@pytest.fixture(scope="session")
def e2e_binary():
    path = Path(os.environ.get("EC2VIP_BIN") or REPO / "target" / "debug" / "ec2-vip")
    if not os.access(path, os.X_OK):
        pytest.skip(f"ec2-vip binary not found at {path}: run `cargo build` or set EC2VIP_BIN")
    return path


@pytest.fixture(scope="session")
def e2e_venv():
    path = Path(os.environ.get("EC2VIP_VENV") or REPO / ".venv")
    if not (path / "bin" / "moto_server").exists():
        pytest.skip(f"no moto_server in {path} (set EC2VIP_VENV to a venv with moto[server])")
    return path


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


@pytest.fixture(scope="session")
def e2e_installed(e2e_binary):
    """ec2-vip and the `stamp` notify wrapper in a root-owned mktemp dir (script security)."""
    reason = _missing()
    if reason:
        pytest.skip(reason)
    from e2e_keepalived import install_bin

    bin_dir = tempfile.mkdtemp(prefix="ec2vip-e2e-bin-")
    try:
        yield install_bin(bin_dir, e2e_binary)
    finally:
        shutil.rmtree(bin_dir, ignore_errors=True)


@pytest.fixture(scope="module", params=["notify", "watch"])
def cluster(request, e2e_installed, e2e_venv, tmp_path_factory):
    """The whole lab, torn down (processes killed, namespaces deleted) whatever happens.
    Runs every case twice: ec2-vip as generic notify hook, and notify_fifo + watch.
    The VIP's section also carries a Route 53 record (e2e_dns), which follows the MASTER."""
    from e2e_dns import RecordCluster

    yield from lab(RecordCluster, request, e2e_installed, e2e_venv, tmp_path_factory)


@pytest.fixture(scope="module", params=["notify", "watch"])
def sip_cluster(request, e2e_installed, e2e_venv, tmp_path_factory):
    """The same lab, the pair in one subnet moving a secondary private IP."""
    from e2e_secondary_ip import SecondaryIpCluster

    yield from lab(SecondaryIpCluster, request, e2e_installed, e2e_venv, tmp_path_factory)


@pytest.fixture(scope="module", params=["notify", "watch"])
def traffic_cluster(request, e2e_installed, e2e_venv, tmp_path_factory):
    """The lab as an HAProxy pair with a client behind an emulated VPC data plane."""
    from e2e_haproxy import TrafficCluster, missing

    reason = missing()
    if reason:
        pytest.skip(reason)
    yield from lab(TrafficCluster, request, e2e_installed, e2e_venv, tmp_path_factory)


def lab(cls, request, e2e_installed, e2e_venv, tmp_path_factory):
    variant = request.param
    work = tmp_path_factory.mktemp(f"e2e-{cls.__name__}-{variant}")
    request.config.stash[WORKDIR] = str(work.parent)
    binary, stamp = e2e_installed
    # SIGTERM (e.g. CI's timeout) unwinds like Ctrl-C, so the finalizer below runs.
    old_term = signal.signal(signal.SIGTERM, _raise_interrupt)
    rows = request.config.stash.setdefault(ROWS, [])
    c = cls(variant, work, binary, stamp, e2e_venv, rows)
    atexit.register(c.close)  # belt and braces: close() is idempotent
    try:
        c.setup()
        yield c
    finally:
        try:
            c.close()
            rows.extend(getattr(c, "traffic", ()))  # the traffic cases' rows (e2e_outage)
        finally:
            signal.signal(signal.SIGTERM, old_term)


def pytest_configure(config):
    config.stash[ROWS] = []


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    every = config.stash.get(ROWS, [])
    rows = [r for r in every if "path" not in r]
    traffic = [r for r in every if "path" in r]
    if not rows:
        return
    from e2e_cluster import format_table

    tr = terminalreporter
    tr.section("ec2-vip e2e: keepalived MASTER -> EC2 converged")
    for line in format_table(rows):
        tr.write_line(line)
    if traffic:
        from e2e_outage import markdown

        tr.section("ec2-vip e2e: client traffic through the VIP (not a gate; bench/traffic)")
        for line in markdown(traffic):
            tr.write_line(line)
    tr.write_line(f"logs (keepalived, notify stamps, ec2-vip, moto): {config.stash[WORKDIR]}"
                  "/e2e-*-{notify,watch}*/")
