#!/usr/bin/env python3
"""A fault-injecting HTTP reverse proxy for the EC2 API in tests (stdlib only, loopback).

Put it in front of moto to get what moto lacks: latency, 5xx answers, EC2-style
throttling, connection resets and hangs.

Import:
    proxy = start_proxy(moto.url, latency=0.03)   # .url, .configure(), .stats(), .stop()
    proxy.configure(error_next=2, error_status=503)
Script:
    python3 tests/harness/fault_proxy.py --upstream http://127.0.0.1:5000 [--port 0]
        [--latency 0.03] [--no-throttle] [--config JSON]
    prints one line, ``listening on http://HOST:PORT``, once it serves.

Control endpoints (never faulted, never forwarded):
    POST /_proxy/config  JSON object of settings (below) -> the stats
    GET  /_proxy/stats   -> {"requests": {action: n}, "total", "throttled",
                             "throttled_by_action", "faults": {"error", "reset", "hang"},
                             "forwarded", "upstream_errors", "max_in_flight",
                             "upstream_busy" (seconds with a request at the upstream), "config"}
    POST /_proxy/reset   zero the counters and refill every bucket

Settings (configure(**kw), POST /_proxy/config, or start_proxy(url, **kw)):
    latency        seconds added to every faulted-path answer (throttled and 5xx too)
    error_status   500 or 503 (InternalError / Unavailable EC2 XML bodies)
    error_rate, error_next    fraction of requests / the next N requests answered 5xx
    reset_rate, reset_next    ... whose connection is reset (RST) after the request is read
    hang_rate, hang_next      ... read and never answered (until hang_seconds, or stop())
    hang_seconds   0 = hang until stop(); else close without an answer after that long
    throttle       True: per-action token buckets answer RequestLimitExceeded (HTTP 503)
    describe_bucket [size, refill/s] for Describe*/Get*/List*/Search* (default 100, 20)
    mutating_bucket [size, refill/s] for every other action (default 50, 5)
    route53_bucket [size, refill/s] ONE bucket for every Route 53 request (default 5, 5:
                   Route 53 allows 5 requests a second per account, all APIs together);
                   a throttled one is answered HTTP 400 Throttling (Route 53's XML)
    route53_pending seconds; 0 = off. moto reports every Route 53 change INSYNC at once;
                   for this long after a ChangeResourceRecordSets, its answer and GetChange's
                   say PENDING (real Route 53: until every name server has the change)
    action_buckets {action: [size, refill/s]} per-action overrides
    fault_actions  list of actions the error/reset/hang faults apply to (None = all)
    seed           seed for the fraction faults' random generator
    deny_actions   actions answered 403 UnauthorizedOperation, as IAM denies them (DryRun too);
                   a Route 53 operation (e.g. GetHostedZone) 403 AccessDenied, as Route 53 does
    answer_actions {action: [HTTP status, EC2 error code]}: answered with that error, e.g.
                   what EC2 says of an id it no longer knows (moto never forgets one)
    answer_except_keys  access-key-id prefixes of callers answer_actions do not apply to
                   (forwarded as usual), e.g. a node's own keys where the keys of a role in
                   another account get "no such instance" (None = it applies to everyone)
    stale_window   seconds; 0 = off. EC2 is eventually consistent, moto is not: for this long
                   after every mutating call that reaches the upstream, a Describe*/Get*/...
                   request is answered with the answer that identical request (same caller,
                   same body) got before the first write of the window, when it got one.
                   Writes inside an open window extend it and keep its snapshot.
    stale_keys     access-key-id prefixes of the callers who see stale answers (None = all);
                   e.g. ["ASIAIMDSFAKE"] makes the nodes stale while the test's own client
                   (another key) reads the truth.
Like EC2, every action has its own bucket, and a throttled request takes no token.
Route 53 (REST: /2013-04-01/...) is told apart by its path: its requests are counted by
operation name (ChangeResourceRecordSets, GetChange, ListResourceRecordSets,
GetHostedZone, other: Route53:<METHOD>) and are never replayed stale.
Faults apply only to EC2 API requests; moto's own /moto-api/ paths pass untouched.
Order per request: hang, reset, error (no token taken), then throttle, then forward.
"""

import argparse
import http.client
import ipaddress
import json
import signal
import socket
import struct
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

try:
    from harness.proxy_state import ERRORS, ProxyState, is_mutating
    from harness.route53_rest import route53_action, route53_error_xml
except ImportError:  # run as a script: tests/harness is on sys.path
    from proxy_state import ERRORS, ProxyState, is_mutating
    from route53_rest import route53_action, route53_error_xml

POLL = 0.05
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "proxy-authenticate",
              "proxy-authorization", "te", "trailer", "transfer-encoding", "upgrade"}


def error_xml(code, message):
    """The body EC2 sends with an error (boto3 and the Rust SDK parse Code/Message)."""
    return (f"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error>"
            f"<Code>{code}</Code><Message>{message}</Message></Error></Errors>"
            f"<RequestID>{uuid.uuid4()}</RequestID></Response>")


def _is_loopback(host):
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes: without TCP_NODELAY, Nagle holds the
    # body until the client's delayed ACK (~40 ms) and every answer gets slower.
    disable_nagle_algorithm = True

    def log_message(self, fmt, *args):
        if self.server.log_requests:
            sys.stderr.write("fault-proxy %s - %s\n" % (self.address_string(), fmt % args))

    @property
    def state(self):
        return self.server.state

    def _read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            body = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return body
                body += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _send(self, status, body, ctype="text/xml;charset=UTF-8"):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _action(self, body):
        query = parse_qs(urlparse(self.path).query)
        if self.command == "POST" and "x-www-form-urlencoded" in self.headers.get(
                "Content-Type", "x-www-form-urlencoded"):
            query.update(parse_qs(body.decode("utf-8", "replace")))
        return (query.get("Action") or ["(none)"])[0]

    def _control(self, body):
        try:
            if self.command == "GET" and self.path == "/_proxy/stats":
                pass
            elif self.command == "POST" and self.path == "/_proxy/config":
                self.state.configure(**json.loads(body or b"{}"))
            elif self.command == "POST" and self.path == "/_proxy/reset":
                self.state.reset()
            else:
                return self._send(404, "no such control path", "text/plain")
        except (ValueError, TypeError) as err:
            return self._send(400, f"bad request: {err}", "text/plain")
        self._send(200, json.dumps(self.state.stats()), "application/json")

    def _reset_connection(self):
        # SO_LINGER 0 then close: the kernel answers with RST instead of FIN.
        self.close_connection = True
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()

    def _handle(self):
        body = self._read_body()
        if self.path.startswith("/_proxy/"):
            return self._control(body)
        if self.path.startswith("/moto-api/"):
            return self._forward(body)
        state = self.state
        r53 = route53_action(self.command, self.path)
        action = r53 or self._action(body)
        fate = state.decide(action, "Route53") if r53 else state.decide(action)
        with state.lock:
            state.in_flight += 1
            state.max_in_flight = max(state.max_in_flight, state.in_flight)
            latency, status, hang_for = (state.cfg["latency"], state.cfg["error_status"],
                                         state.cfg["hang_seconds"])
            answer = state.cfg["answer_actions"].get(action)
            exempt = any(self._caller().startswith(k) for k in state.cfg["answer_except_keys"] or ())
        if fate == "answer" and exempt:
            fate = "forward"
        try:
            if fate == "hang":
                state.stopping.wait(hang_for if hang_for > 0 else None)
                self.close_connection = True
                return
            if fate == "reset":
                return self._reset_connection()
            if latency > 0 and state.stopping.wait(latency):
                self.close_connection = True
                return
            if fate == "error":
                return self._send(status, error_xml(*ERRORS[status]))
            if fate == "deny" and r53:
                return self._send(403, route53_error_xml(
                    "AccessDenied", f"User is not authorized to perform: route53:{r53}"))
            if fate == "answer":
                return self._send(answer[0], error_xml(answer[1], f"{action}: {answer[1]} (injected)"))
            if fate == "deny":
                return self._send(403, error_xml(
                    "UnauthorizedOperation", "You are not authorized to perform this operation."))
            if fate == "throttle" and r53:
                return self._send(400, route53_error_xml("Throttling", "Rate exceeded"))
            if fate == "throttle":
                return self._send(503, error_xml("RequestLimitExceeded",
                                                 "Request limit exceeded."))
            if r53:
                return self._route53_forward(r53, body)
            self._consistent_forward(self._action(body), body)
        finally:
            with state.lock:
                state.in_flight -= 1

    def _caller(self):
        """The access key id from the SigV4 Authorization header ("" if unsigned)."""
        auth = self.headers.get("Authorization", "")
        _, _, rest = auth.partition("Credential=")
        return rest.split("/", 1)[0]

    def _consistent_forward(self, action, body):
        state = self.state
        if is_mutating(action):
            state.wrote()
            return self._forward(body)
        key = (self._caller(), body)
        stale = state.stale_answer(*key)
        if stale is not None:
            status, reason, headers, data = stale
            return self._reply(status, reason, headers, data)
        answer = self._forward(body)
        if answer is not None and answer[0] == 200:
            state.remember(*key, answer)

    def _route53_forward(self, action, body):
        """Forward a Route 53 request; within `route53_pending` seconds of a change, its
        ChangeInfo says PENDING (moto says INSYNC at once)."""
        state = self.state
        if action == "ChangeResourceRecordSets":
            with state.lock:
                state.route53_changed = state.clock()
        answer = self._forward(body, relay=False)
        if answer is None:
            return
        status, reason, headers, data = answer
        with state.lock:
            pending = state.cfg["route53_pending"]
            since = state.route53_changed
            if pending > 0 and since is not None and state.clock() - since < pending:
                data = data.replace(b"<Status>INSYNC</Status>", b"<Status>PENDING</Status>")
        self._reply(status, reason, headers, data)

    def _reply(self, status, reason, headers, data):
        self.send_response_only(status, reason)
        for key, value in headers:
            if key.lower() not in HOP_BY_HOP and key.lower() != "content-length":
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _forward(self, body, relay=True):
        """Forward to the upstream and relay its answer (unless not `relay`); returns
        (status, reason, headers, data), or None when the upstream failed (a 502 was sent)."""
        up = self.server.upstream
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        headers["Content-Length"] = str(len(body))
        conn = http.client.HTTPConnection(up.hostname, up.port, timeout=self.server.upstream_timeout)
        self.state.upstream_begin()
        try:
            conn.request(self.command, self.path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
        except (OSError, http.client.HTTPException) as err:
            with self.state.lock:
                self.state.upstream_errors += 1
            self._send(502, f"fault-proxy: upstream failed: {err}", "text/plain")
            return None
        finally:
            conn.close()
            self.state.upstream_end()
        with self.state.lock:
            self.state.forwarded += 1
        answer = (resp.status, resp.reason, resp.getheaders(), data)
        if relay:
            self._reply(*answer)
        return answer

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle


class FaultProxy(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, upstream_url, host="127.0.0.1", port=0, log_requests=False,
                 upstream_timeout=60.0, clock=time.monotonic, **settings):
        up = urlparse(upstream_url)
        if not _is_loopback(host) or not _is_loopback(up.hostname or ""):
            raise ValueError("fault-proxy listens on and forwards to loopback only")
        self.upstream = up
        self.upstream_timeout = upstream_timeout
        self.log_requests = log_requests
        self.state = ProxyState(clock=clock, **settings)
        self._thread = None
        super().__init__((host, port), Handler)

    def handle_error(self, request, client_address):
        # Clients giving up (timeouts, our own resets) are expected here.
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)

    @property
    def url(self):
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def configure(self, **settings):
        self.state.configure(**settings)

    def stats(self):
        return self.state.stats()

    def reset(self):
        self.state.reset()

    def stop(self):
        self.state.stopping.set()  # releases hung and delayed requests
        if self._thread is not None:
            self.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def start_proxy(upstream_url, host="127.0.0.1", port=0, log_requests=False, **settings):
    """Start the proxy in a background thread; returns it (.url, .configure, .stats, .stop)."""
    proxy = FaultProxy(upstream_url, host, port, log_requests, **settings)
    proxy._thread = threading.Thread(target=proxy.serve_forever, args=(POLL,),
                                     name="fault-proxy", daemon=True)
    proxy._thread.start()
    return proxy


def main(argv=None):
    ap = argparse.ArgumentParser(description="fault-injecting proxy for the EC2 API (tests)")
    ap.add_argument("--upstream", required=True, help="e.g. http://127.0.0.1:5000 (moto)")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--latency", type=float, default=0.0, help="seconds added per request")
    ap.add_argument("--no-throttle", action="store_true", help="disable the token buckets")
    ap.add_argument("--config", default="{}", help="JSON object of further settings")
    ap.add_argument("--log-requests", action="store_true")
    args = ap.parse_args(argv)
    settings = json.loads(args.config)
    settings.setdefault("latency", args.latency)
    if args.no_throttle:
        settings["throttle"] = False
    proxy = FaultProxy(args.upstream, args.host, args.port, args.log_requests, **settings)

    def on_term(signum, frame):
        proxy.state.stopping.set()
        threading.Thread(target=proxy.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    print(f"listening on {proxy.url}", flush=True)
    try:
        proxy.serve_forever(POLL)
    finally:
        proxy.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
