"""Real Prometheus tools for the metrics tests: promtool, a Prometheus and a node_exporter
of the test's own (127.0.0.1, a free port, a temporary data directory), queried through
Prometheus' HTTP API."""

import json
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request

import pytest

TOOLS = {"promtool": "promtool", "prometheus": "prometheus", "node_exporter": "prometheus-node-exporter"}


def tool(name):
    path = shutil.which(TOOLS[name]) or shutil.which(f"/usr/bin/{TOOLS[name]}")
    if not path:
        pytest.skip(f"{TOOLS[name]} not installed (Debian: apt-get install prometheus prometheus-node-exporter)")
    return path


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check_metrics(text):
    """promtool check metrics on `text`: (returncode, its complaints)."""
    p = subprocess.run([tool("promtool"), "check", "metrics"], input=text, capture_output=True, text=True,
                       timeout=30)
    return p.returncode, p.stdout + p.stderr


def get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.headers.get("Content-Type"), r.read().decode()


def wait_http(url, proc, what, timeout=30):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        assert proc.poll() is None, f"{what} exited: {proc.stderr.read() if proc.stderr else ''}"
        try:
            get(url, timeout=1)
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"{what} did not answer at {url}")


class Proc:
    def __init__(self, argv, url, what):
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)
        self.url = url
        try:
            wait_http(url, self.proc, what)
        except BaseException:
            self.stop()
            raise

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_node_exporter(textfile_dir):
    port = free_port()
    argv = [tool("node_exporter"), f"--web.listen-address=127.0.0.1:{port}", "--collector.disable-defaults",
            "--collector.textfile", f"--collector.textfile.directory={textfile_dir}"]
    return Proc(argv, f"http://127.0.0.1:{port}/metrics", "node_exporter")


def start_prometheus(targets, tmp_path):
    """A Prometheus scraping `targets` (host:port) every second."""
    port = free_port()
    cfg = tmp_path / "prometheus.yml"
    cfg.write_text("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n"
                   "  - job_name: ec2-vip\n    static_configs:\n"
                   f"      - targets: {json.dumps(list(targets))}\n")
    data = tmp_path / "tsdb"
    argv = [tool("prometheus"), f"--config.file={cfg}", f"--storage.tsdb.path={data}",
            f"--web.listen-address=127.0.0.1:{port}"]
    p = Proc(argv, f"http://127.0.0.1:{port}/-/ready", "prometheus")
    p.api = f"http://127.0.0.1:{port}/api/v1/query"
    return p


def query(prom, expr):
    """The instant vector `expr` as {labels as a sorted tuple: value}."""
    _, _, body = get(prom.api + "?" + urllib.parse.urlencode({"query": expr}))
    res = json.loads(body)
    assert res["status"] == "success", res
    return {tuple(sorted(r["metric"].items())): float(r["value"][1]) for r in res["data"]["result"]}


def wait_query(prom, expr, pred, timeout=30):
    """Query until pred(result) holds; returns the result."""
    end, last = time.monotonic() + timeout, None
    while time.monotonic() < end:
        last = query(prom, expr)
        if pred(last):
            return last
        time.sleep(0.25)
    raise AssertionError(f"{expr}: never as wanted; last {last}")
