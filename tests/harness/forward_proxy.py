"""A forward HTTP proxy on loopback that counts what passes through it (stdlib only):
absolute-URI requests (`GET http://host:port/path`, what a client sends an HTTP proxy for
an http endpoint) are forwarded, `CONNECT host:port` (https endpoints) is tunnelled.
`seen` counts requests per `host:port`; `connects` the CONNECT tunnels per `host:port`."""

import collections
import http.client
import select
import socket
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOP = {"connection", "proxy-connection", "keep-alive", "proxy-authorization", "te", "trailer",
       "transfer-encoding", "upgrade"}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _count(self, table, where):
        with self.server.lock:
            table[where] += 1

    def do_CONNECT(self):
        self._count(self.server.connects, self.path)
        host, _, port = self.path.rpartition(":")
        try:
            upstream = socket.create_connection((host.strip("[]"), int(port)), timeout=10)
        except OSError as e:
            self.send_error(502, str(e))
            return
        self.send_response(200, "Connection established")
        self.end_headers()
        socks = [self.connection, upstream]
        while True:
            ready, _, _ = select.select(socks, [], [], 10)
            if not ready:
                break
            for s in ready:
                data = s.recv(65536)
                if not data:
                    upstream.close()
                    return
                (upstream if s is self.connection else self.connection).sendall(data)
        upstream.close()

    def _forward(self):
        url = urllib.parse.urlsplit(self.path)
        if not url.scheme or not url.netloc:
            self.send_error(400, "a proxy wants an absolute URI")
            return
        self._count(self.server.seen, url.netloc)
        body = self.rfile.read(int(self.headers.get("Content-Length", 0) or 0))
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
        conn = http.client.HTTPConnection(url.hostname, url.port or 80, timeout=30)
        try:
            path = url.path + (f"?{url.query}" if url.query else "")
            conn.request(self.command, path or "/", body=body, headers=headers)
            answer = conn.getresponse()
            data = answer.read()
        except OSError as e:
            self.send_error(502, str(e))
            return
        finally:
            conn.close()
        self.send_response(answer.status, answer.reason)
        for k, v in answer.getheaders():
            if k.lower() not in HOP and k.lower() != "content-length":
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _forward


class ForwardProxy:
    def __init__(self):
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.server.lock = threading.Lock()
        self.server.seen = collections.Counter()
        self.server.connects = collections.Counter()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def seen(self):
        with self.server.lock:
            return dict(self.server.seen)

    @property
    def connects(self):
        with self.server.lock:
            return dict(self.server.connects)

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def start_forward_proxy():
    return ForwardProxy()

