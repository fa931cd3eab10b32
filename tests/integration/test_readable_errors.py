"""Errors are one readable line: the operation, the resources, what happened (AWS's code
and message, or the transport's cause: "connection refused", "timed out"); never a Rust
Debug dump of the SDK's error types, except at -vv."""

import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from harness.fault_proxy import start_proxy
from harness.runner import run_vip
from harness.scenario import VIP

# What a Debug dump of the SDK's errors looks like: `Name(Name { field: ...`.
DEBUG_DUMP = re.compile(r"\w+\(\w+ \{|\w+ \{ \w+: |DispatchFailure\(|ConnectorError|hyper_util")


def error_lines(r):
    return [line for line in r.stderr.splitlines() if " ERROR " in line or " WARN " in line]


def assert_readable(r):
    assert not DEBUG_DUMP.search(r.stderr), r.stderr
    for line in r.stderr.splitlines():
        assert len(line) < 600, line


def master_fails(binary, imds, ec2_url, *extra):
    """`master --route VIP` against an EC2 endpoint that fails: exit 1, readable stderr,
    one ERROR line, returned."""
    r = run_vip(binary, [*extra, "--timeout", "3", "--max-attempts", "1", "master", "--route", VIP],
                imds, ec2_url)
    assert r.returncode == 1, r
    assert_readable(r)
    [line] = [line for line in r.stderr.splitlines() if " ERROR " in line]
    assert "DescribeRouteTables" in line, line
    return line


def test_closed_port_says_connection_refused(binary, moto, figure1, imds_node2):
    line = master_fails(binary, imds_node2, "http://127.0.0.1:1")
    assert figure1["vpc_id"] in line, line
    assert "connection refused" in line.lower(), line


def test_5xx_names_the_aws_code(binary, moto, figure1, imds_node2):
    proxy = start_proxy(moto.url, throttle=False)
    try:
        proxy.configure(error_rate=1.0, error_status=503)
        line = master_fails(binary, imds_node2, proxy.url)
    finally:
        proxy.stop()
    assert "Unavailable: The server is overloaded" in line, line


def test_debug_dump_only_at_vv(binary, moto, figure1, imds_node2):
    master_fails(binary, imds_node2, "http://127.0.0.1:1", "-v")
    args = ["--timeout", "2", "--max-attempts", "1", "master", "--route", VIP]
    vv = run_vip(binary, ["-vv", *args], imds_node2, "http://127.0.0.1:1")
    assert vv.returncode == 1, vv
    assert "DispatchFailure" in vv.stderr, vv.stderr[-3000:]


class BadGateway(BaseHTTPRequestHandler):
    """What a proxy in the path answers: 502 with an HTML body, no AWS error code."""

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
        self.send_response(502)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_5xx_without_an_aws_code_says_the_status(binary, moto, figure1, imds_node2):
    server = ThreadingHTTPServer(("127.0.0.1", 0), BadGateway)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        line = master_fails(binary, imds_node2, f"http://127.0.0.1:{server.server_address[1]}")
    finally:
        server.shutdown()
    assert "HTTP 502" in line, line
