"""Metrics (issue #29 part 1) with the real tools: promtool on both outputs and on the
alerts, a node_exporter reading one-shot runs' textfile and a Prometheus scraping it and a
running watch, each queried through Prometheus' HTTP API for what the test caused."""

import os
import subprocess
import time
from pathlib import Path

import pytest

from harness.prom import check_metrics, free_port, get, query, start_node_exporter, start_prometheus, tool
from harness.prom import wait_query
from harness.runner import run_vip, vip_env
from harness.scenario import VIP

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "prometheus"
OWNED = 'ec2_vip_resource_owned{vip="VI_1"}'


def config(tmp_path, figure1, extra=""):
    cfg = tmp_path / "c.toml"
    eip = figure1["eip"]["allocation_id"]
    cfg.write_text(f'{extra}[instance.VI_1]\nroutes = ["{VIP}"]\nelastic_ips = ["{eip}"]\n')
    return cfg


def series(text, name):
    """{label text: value} of `name`'s lines in a text exposition."""
    out = {}
    for line in text.splitlines():
        if line.startswith(name + "{"):
            labels, value = line[len(name) + 1:].rsplit("} ", 1)
            out[labels] = float(value)
    return out


def test_promtool_accepts_the_alerts_and_their_failover_test():
    promtool = tool("promtool")
    r = subprocess.run([promtool, "check", "rules", EXAMPLES / "alerts.yml"], capture_output=True, text=True)
    assert r.returncode == 0 and "5 rules found" in r.stdout, r.stdout + r.stderr
    r = subprocess.run([promtool, "test", "rules", "alerts_test.yml"], cwd=EXAMPLES, capture_output=True,
                       text=True)
    assert r.returncode == 0 and "SUCCESS" in r.stdout, r.stdout + r.stderr


def test_the_textfile_counts_across_runs_and_shows_the_failover(binary, moto, figure1, imds_node1, imds_node2,
                                                               tmp_path):
    cfg = config(tmp_path, figure1)
    prom1, prom2 = tmp_path / "node1.prom", tmp_path / "node2.prom"
    n1 = {"EC2_VIP_STATE_DIR": tmp_path / "s1"}
    notify = ["--config", cfg, "notify", "INSTANCE", "VI_1", "MASTER"]
    for _ in range(2):
        r = run_vip(binary, ["--metrics-file", prom1, *notify], imds_node1, moto, n1)
        assert r.returncode == 0, r
    text = prom1.read_text()
    rc, why = check_metrics(text)
    assert rc == 0, why + text
    assert series(text, "ec2_vip_transitions_total") == {'vip="VI_1",state="MASTER",result="success"': 2}, text
    assert series(text, "ec2_vip_transition_duration_seconds_count") == {'vip="VI_1"': 2}
    assert series(text, "ec2_vip_state")['vip="VI_1",state="MASTER"'] == 1
    owned = series(text, "ec2_vip_resource_owned")
    assert len(owned) == 3 and set(owned.values()) == {1}, owned  # two routes and the EIP
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")) == []

    # Failover: node2 takes over (its own file); node1's next check sees the drift.
    r = run_vip(binary, [*notify[:2], "--metrics-file", prom2, *notify[2:]], imds_node2, moto,
                {"EC2_VIP_STATE_DIR": tmp_path / "s2"})
    assert r.returncode == 0, r
    assert set(series(prom2.read_text(), "ec2_vip_resource_owned").values()) == {1}
    r = run_vip(binary, ["--config", cfg, "--metrics-file", prom1, "check", "--instance", "VI_1"], imds_node1,
                moto, n1)
    assert r.returncode == 1, r
    text = prom1.read_text()
    assert set(series(text, "ec2_vip_resource_owned").values()) == {0}, text
    assert series(text, "ec2_vip_drift_seen_total") == {'vip="VI_1"': 3}
    assert series(text, "ec2_vip_transitions_total") == {'vip="VI_1",state="MASTER",result="success"': 2}
    print(f"textfile: {len(text)} bytes")
    # A file that cannot be written warns; the failover is not failed for it.
    r = run_vip(binary, ["--metrics-file", tmp_path / "no-such-dir" / "x.prom", *notify], imds_node1, moto, n1)
    assert r.returncode == 0 and "--metrics-file" in r.stderr and "WARN" in r.stderr.upper(), r


def test_a_relative_metrics_file_is_bad_config(binary, moto, figure1, imds_node1, tmp_path):
    cfg = config(tmp_path, figure1, 'metrics_file = "ec2-vip.prom"\n')
    r = run_vip(binary, ["--config", cfg, "config-test"], imds_node1, moto)
    assert r.returncode == 2 and 'metrics_file: "ec2-vip.prom" is not an absolute path' in r.stdout + r.stderr, r


def test_node_exporter_serves_the_textfile_and_prometheus_sees_owned_flip(binary, moto, figure1, imds_node1,
                                                                          imds_node2, tmp_path):
    textfiles = tmp_path / "textfile"
    textfiles.mkdir()
    # The config's metrics_file, not the flag.
    cfg = config(tmp_path, figure1, f'metrics_file = "{textfiles / "ec2-vip.prom"}"\n')
    n1 = {"EC2_VIP_STATE_DIR": tmp_path / "s1"}
    assert run_vip(binary, ["--config", cfg, "config-test"], imds_node1, moto).returncode == 0
    ne = start_node_exporter(textfiles)
    try:
        prom = start_prometheus([ne.url.split("/")[2]], tmp_path)
        try:
            r = run_vip(binary, ["--config", cfg, "notify", "INSTANCE", "VI_1", "MASTER"], imds_node1, moto, n1)
            assert r.returncode == 0, r
            _, _, body = get(ne.url)
            assert "node_textfile_scrape_error 0" in body, body
            got = wait_query(prom, f"min({OWNED})", lambda v: list(v.values()) == [1])
            assert got, got
            assert query(prom, 'ec2_vip_state{state="MASTER"}') and query(prom, "up") != {}
            other = tmp_path / "node2.toml"
            other.write_text(cfg.read_text().split("\n", 1)[1])
            r = run_vip(binary, ["--config", other, "notify", "INSTANCE", "VI_1", "MASTER"], imds_node2, moto,
                        {"EC2_VIP_STATE_DIR": tmp_path / "s2"})
            assert r.returncode == 0, r
            r = run_vip(binary, ["--config", cfg, "check", "--instance", "VI_1"], imds_node1, moto, n1)
            assert r.returncode == 1, r
            wait_query(prom, f"max({OWNED})", lambda v: list(v.values()) == [0])
            wait_query(prom, 'ec2_vip_drift_seen_total{vip="VI_1"}', lambda v: list(v.values()) == [3])
        finally:
            prom.stop()
    finally:
        ne.stop()


@pytest.fixture
def watcher(binary, figure1, imds_node2, moto, tmp_path):
    fifo, log = tmp_path / "notify.fifo", tmp_path / "watch.log"
    os.mkfifo(fifo, 0o600)
    port = free_port()
    env = vip_env(imds_node2, moto, str(tmp_path), {"EC2_VIP_STATE_DIR": tmp_path / "state"})
    argv = [str(binary), "--config", str(config(tmp_path, figure1)), "--log-file", str(log), "watch",
            "--fifo", str(fifo), "--interval", "0.5", "--metrics-listen", f"127.0.0.1:{port}"]
    proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    fd = os.open(fifo, os.O_RDWR)
    try:
        end = time.monotonic() + 15
        while not (log.exists() and "watching" in log.read_text()):
            assert time.monotonic() < end and proc.poll() is None, "watcher did not start"
            time.sleep(0.1)
        yield type("W", (), {"addr": f"127.0.0.1:{port}", "write": lambda s, t: os.write(fd, t.encode())})()
    finally:
        os.close(fd)
        proc.kill()
        proc.wait()


def test_watch_serves_metrics_that_prometheus_scrapes(watcher, ec2, figure1, tmp_path):
    url = f"http://{watcher.addr}/metrics"
    status, kind, body = get(url)
    assert status == 200 and kind == "text/plain; version=0.0.4; charset=utf-8", kind
    with pytest.raises(Exception, match="404"):
        get(f"http://{watcher.addr}/")
    prom = start_prometheus([watcher.addr], tmp_path)
    try:
        watcher.write('INSTANCE "VI_1" MASTER 150\n')
        wait_query(prom, f"min({OWNED})", lambda v: list(v.values()) == [1])
        assert list(query(prom, 'ec2_vip_state{vip="VI_1",state="MASTER"}').values()) == [1]
        # Someone points table A back at node1: watch repairs it, Prometheus sees the count.
        node1 = figure1["node1"]["eni_id"]
        ec2.replace_route(RouteTableId=figure1["rtb_a"], DestinationCidrBlock=VIP, NetworkInterfaceId=node1)
        wait_query(prom, 'ec2_vip_drift_repaired_total{vip="VI_1"}', lambda v: list(v.values()) == [1])
        got = wait_query(prom, 'time() - ec2_vip_last_reconcile_success_timestamp_seconds{vip="VI_1"}',
                         lambda v: v and max(v.values()) < 5)
        assert got
        _, _, body = get(url)
        rc, why = check_metrics(body)
        assert rc == 0, why + body
        took = query(prom, "scrape_duration_seconds")
        print(f"/metrics: {len(body)} bytes; scrape took {took}")
    finally:
        prom.stop()


def test_the_ocf_agent_writes_the_textfile_named_by_its_environment(binary, moto, figure1, imds_node2, tmp_path):
    """Pacemaker passes no flags: EC2_VIP_METRICS_FILE (e.g. from /etc/sysconfig/pacemaker)."""
    prom = tmp_path / "ocf.prom"
    env = vip_env(imds_node2, moto, str(tmp_path), {"EC2_VIP_METRICS_FILE": prom})
    env.update({"OCF_ROOT": "/usr/lib/ocf", "OCF_RESOURCE_INSTANCE": "vip", "OCF_RESKEY_binary": str(binary),
                "OCF_RESKEY_routes": VIP, "OCF_RESKEY_state_dir": str(tmp_path / "state")})
    agent = Path(__file__).resolve().parents[2] / "ocf" / "ec2-vip"
    for action in ("start", "stop"):
        p = subprocess.run([str(agent), action], env=env, capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stderr
    text = prom.read_text()
    rc, why = check_metrics(text)
    assert rc == 0, why + text
    runs = series(text, "ec2_vip_transitions_total")
    assert set(runs.values()) == {1} and len(runs) == 2, runs  # start (MASTER), stop (STOP)
    assert series(text, "ec2_vip_state")['vip="vip",state="STOP"'] == 1, text
