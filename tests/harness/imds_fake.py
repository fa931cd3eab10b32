#!/usr/bin/env python3
"""A small IMDSv2 fake for tests (stdlib only).

Run standalone:
    python3 tests/harness/imds_fake.py --node node.json [--host 127.0.0.1] [--port 0] [--mode ok]
It prints one line, ``listening on http://HOST:PORT``, once it serves.

Or import it: ``srv = start_imds(node_dict)``; ``srv.url``; ``srv.stop()``.

Like real IMDSv2: a token from ``PUT /latest/api/token`` is required on every
GET (no IMDSv1). Control endpoints (never need a token, unaffected by modes):
    POST /_fake/mode   {"mode": "ok"|"down"|"unauthorized"|"slow", "delay": secs}
    GET  /_fake/stats  -> {"token_requests": n, "get_requests": n, "mode": ..., "delay": ...}
                          (every PUT token / GET /latest/... received, answered or not)
    POST /_fake/reset  clears counters and issued tokens
    POST /_fake/fail_next  {"count": n, "how": "drop"|"reset"|"500"}: the next n token PUTs
                          or GETs fail (connection closed without an answer, reset with
                          RST, or HTTP 500), whatever the mode; then it serves again.
                          Stats show them as "failed" and what is still "fail_next".
"""

import argparse
import json
import secrets
import signal
import socket
import struct
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODES = ("ok", "down", "unauthorized", "slow")
FAILURES = ("drop", "reset", "500")
ACCOUNT_ID = "123456789012"
MAX_TTL = 21600
POLL = 0.05  # serve_forever's shutdown poll interval: fast stop()


def _iso(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


class FakeState:
    """Everything the handler threads share, behind one lock."""

    def __init__(self, node, mode="ok", delay=0.0):
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}")
        if not node.get("interfaces"):
            raise ValueError("node JSON needs at least one interface")
        self.node = node
        self.mode = mode
        self.delay = float(delay)
        self.tokens = {}  # token -> monotonic expiry
        self.token_requests = 0
        self.get_requests = 0
        self.fail_next, self.fail_how, self.failed = 0, "drop", 0
        self.lock = threading.Lock()
        suffix = node["instance_id"].replace("-", "").upper()[-12:]
        self.creds = {
            "AccessKeyId": "ASIAIMDSFAKE" + suffix,
            "SecretAccessKey": "imds-fake-secret-" + node["instance_id"],
            "Token": "imds-fake-session-" + secrets.token_hex(8),
        }

    def issue_token(self, ttl):
        token = secrets.token_urlsafe(32)
        with self.lock:
            self.tokens[token] = time.monotonic() + ttl
        return token

    def token_valid(self, token):
        with self.lock:
            expiry = self.tokens.get(token)
        return expiry is not None and time.monotonic() < expiry

    def set_mode(self, mode, delay=None):
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}")
        with self.lock:
            self.mode = mode
            if delay is not None:
                self.delay = float(delay)

    def stats(self):
        with self.lock:
            return {
                "token_requests": self.token_requests,
                "get_requests": self.get_requests,
                "mode": self.mode,
                "delay": self.delay,
                "fail_next": self.fail_next,
                "failed": self.failed,
            }

    def set_fail_next(self, count, how="drop"):
        if how not in FAILURES or int(count) < 0:
            raise ValueError(f"bad fail_next {count!r} {how!r}")
        with self.lock:
            self.fail_next, self.fail_how = int(count), how

    def take_failure(self):
        """The failure this request gets, if one of the next n is still due."""
        with self.lock:
            if self.fail_next <= 0:
                return None
            self.fail_next -= 1
            self.failed += 1
            return self.fail_how

    def reset(self):
        with self.lock:
            self.tokens.clear()
            self.token_requests = 0
            self.get_requests = 0
            self.fail_next, self.failed = 0, 0

    def tree(self):
        """The metadata tree: dicts are directories, strings are leaves."""
        node = self.node
        primary = node["interfaces"][0]
        now = datetime.now(timezone.utc).replace(microsecond=0)
        macs = {}
        for iface in node["interfaces"]:
            entry = {
                "mac": iface["mac"],
                "interface-id": iface["interface_id"],
                "vpc-id": iface["vpc_id"],
                "subnet-id": iface["subnet_id"],
                "device-number": str(iface.get("device_number", 0)),
                "owner-id": ACCOUNT_ID,
                "local-ipv4s": "\n".join(iface.get("local_ipv4s", [])),
                "vpc-ipv4-cidr-block": iface["vpc_ipv4_cidr_blocks"][0],
                "vpc-ipv4-cidr-blocks": "\n".join(iface["vpc_ipv4_cidr_blocks"]),
            }
            # Optional keys: absent (404) unless the node JSON has them.
            for key, path in (("vpc_ipv6_cidr_blocks", "vpc-ipv6-cidr-blocks"),
                              ("subnet_ipv6_cidr_blocks", "subnet-ipv6-cidr-blocks"),
                              ("ipv6s", "ipv6s"),
                              ("public_ipv4s", "public-ipv4s")):
                if iface.get(key):
                    entry[path] = "\n".join(iface[key])
            if iface.get("subnet_ipv4_cidr_block"):
                entry["subnet-ipv4-cidr-block"] = iface["subnet_ipv4_cidr_block"]
            macs[iface["mac"]] = entry

        meta = {
            "instance-id": node["instance_id"],
            "mac": primary["mac"],
            "local-ipv4": primary["local_ipv4s"][0],
            "placement": {
                "region": node["region"],
                "availability-zone": node["availability_zone"],
            },
            "network": {"interfaces": {"macs": macs}},
        }
        role = node.get("role")
        if role:
            creds = {
                "Code": "Success",
                "LastUpdated": _iso(now),
                "Type": "AWS-HMAC",
                **self.creds,
                "Expiration": _iso(now + timedelta(hours=6)),
            }
            meta["iam"] = {
                "info": json.dumps({
                    "Code": "Success",
                    "LastUpdated": _iso(now),
                    "InstanceProfileArn":
                        f"arn:aws:iam::{ACCOUNT_ID}:instance-profile/{role}",
                    "InstanceProfileId": "AIPAIMDSFAKE0000000001",
                }, indent=2),
                "security-credentials": {role: json.dumps(creds, indent=2)},
            }
        document = {
            "accountId": ACCOUNT_ID,
            "architecture": "x86_64",
            "availabilityZone": node["availability_zone"],
            "imageId": "ami-00000000000000000",
            "instanceId": node["instance_id"],
            "instanceType": "t3.micro",
            "pendingTime": _iso(now),
            "privateIp": primary["local_ipv4s"][0],
            "region": node["region"],
            "version": "2017-09-30",
        }
        return {
            "meta-data": meta,
            "dynamic": {"instance-identity": {"document": json.dumps(document, indent=2)}},
        }

    def lookup(self, path):
        """Resolve a path below /latest/ to text, or None for 404.

        Like real IMDS, a trailing slash is ignored (botocore asks for
        ``placement/availability-zone/``).
        """
        cur = self.tree()
        for part in [p for p in path.split("/") if p]:
            if not isinstance(cur, dict) or part not in cur:
                return None
            cur = cur[part]
        if isinstance(cur, dict):
            return "\n".join(k + "/" if isinstance(v, dict) else k for k, v in cur.items())
        return cur


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; without this, Nagle plus the client's
    # delayed ACK add ~40 ms to every answer (real IMDS answers in about a millisecond).
    disable_nagle_algorithm = True

    def version_string(self):
        return "EC2ws"

    @property
    def state(self):
        return self.server.state

    def log_message(self, fmt, *args):
        if self.server.log_requests:
            sys.stderr.write("imds-fake %s - %s\n" % (self.address_string(), fmt % args))
            sys.stderr.flush()

    def _body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _send(self, status, text="", ctype="text/plain", headers=None):
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _fault(self):
        """Apply a due failure, else the current mode. True when the request was consumed."""
        how = self.state.take_failure()
        if how == "500":
            self._send(500, "Internal Server Error")
            return True
        if how is not None:
            if how == "reset":  # RST instead of FIN
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            return True
        with self.state.lock:
            mode, delay = self.state.mode, self.state.delay
        if mode == "down":
            # Drop the connection without a single byte of response.
            self.close_connection = True
            return True
        if mode == "slow":
            time.sleep(delay)
        elif mode == "unauthorized":
            self._send(401, "Unauthorized")
            return True
        return False

    def _control(self, method):
        if method == "GET" and self.path == "/_fake/stats":
            self._send(200, json.dumps(self.state.stats()), "application/json")
        elif method == "POST" and self.path == "/_fake/mode":
            try:
                req = json.loads(self._body() or b"{}")
                self.state.set_mode(req.get("mode", "ok"), req.get("delay"))
            except (ValueError, TypeError) as err:
                self._send(400, f"bad mode request: {err}")
                return
            self._send(200, json.dumps(self.state.stats()), "application/json")
        elif method == "POST" and self.path == "/_fake/fail_next":
            try:
                req = json.loads(self._body() or b"{}")
                self.state.set_fail_next(req.get("count", 1), req.get("how", "drop"))
            except (ValueError, TypeError) as err:
                self._send(400, f"bad fail_next request: {err}")
                return
            self._send(200, json.dumps(self.state.stats()), "application/json")
        elif method == "POST" and self.path == "/_fake/reset":
            self._body()
            self.state.reset()
            self._send(200, json.dumps(self.state.stats()), "application/json")
        else:
            self._send(404, "Not Found")

    def do_PUT(self):
        if self.path.startswith("/_fake/"):
            return self._control("PUT")
        self._body()
        if self.path != "/latest/api/token":
            return self._send(404 if self.path.startswith("/latest/") else 405, "Not Found")
        with self.state.lock:
            self.state.token_requests += 1
        if self._fault():
            return
        if self.headers.get("X-Forwarded-For") is not None:
            return self._send(403, "Forbidden")
        raw = self.headers.get("X-aws-ec2-metadata-token-ttl-seconds")
        try:
            ttl = int(raw)
        except (TypeError, ValueError):
            ttl = 0
        if not 1 <= ttl <= MAX_TTL:
            return self._send(400, "Bad Request")
        token = self.state.issue_token(ttl)
        self._send(200, token, headers={"X-aws-ec2-metadata-token-ttl-seconds": str(ttl)})

    def do_GET(self):
        if self.path.startswith("/_fake/"):
            return self._control("GET")
        path = self.path.split("?", 1)[0]
        if not path.startswith("/latest/"):
            return self._send(404, "Not Found")
        with self.state.lock:
            self.state.get_requests += 1
        if self._fault():
            return
        if not self.state.token_valid(self.headers.get("X-aws-ec2-metadata-token", "")):
            return self._send(401, "Unauthorized")
        text = self.state.lookup(path[len("/latest/"):])
        if text is None:
            return self._send(404, "Not Found")
        self._send(200, text)

    def do_POST(self):
        if self.path.startswith("/_fake/"):
            return self._control("POST")
        self._body()
        self._send(405, "Method Not Allowed")


class ImdsServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, node, host="127.0.0.1", port=0, mode="ok", delay=0.0,
                 log_requests=True):
        self.state = FakeState(node, mode, delay)
        self.log_requests = log_requests
        self._thread = None
        super().__init__((host, port), Handler)

    def handle_error(self, request, client_address):
        # A client that gave up (timeouts in "slow" mode) is expected, not an error.
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)

    @property
    def url(self):
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    # Conveniences for in-process tests (same effect as the control endpoints).
    def set_mode(self, mode, delay=None):
        self.state.set_mode(mode, delay)

    def stats(self):
        return self.state.stats()

    def fail_next(self, count, how="drop"):
        self.state.set_fail_next(count, how)

    def stop(self):
        if self._thread is not None:
            self.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self.server_close()


def start_imds(node, host="127.0.0.1", port=0, mode="ok", delay=0.0, log_requests=True):
    """Start the fake in a background thread; returns the server (.url, .stop())."""
    server = ImdsServer(node, host, port, mode, delay, log_requests)
    server._thread = threading.Thread(target=server.serve_forever, args=(POLL,),
                                      name="imds-fake", daemon=True)
    server._thread.start()
    return server


def main(argv=None):
    ap = argparse.ArgumentParser(description="IMDSv2 fake for ec2-vip tests")
    ap.add_argument("--node", required=True, help="node JSON file")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--mode", choices=MODES, default="ok")
    ap.add_argument("--delay", type=float, default=0.0, help="seconds, for --mode slow")
    args = ap.parse_args(argv)
    with open(args.node) as fh:
        node = json.load(fh)

    server = ImdsServer(node, args.host, args.port, args.mode, args.delay)

    def on_term(signum, frame):
        # shutdown() waits for serve_forever() to return, so not from this thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    print(f"listening on {server.url}", flush=True)
    try:
        server.serve_forever(POLL)
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
