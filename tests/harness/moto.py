"""Run moto's standalone server on loopback as the EC2 API for tests.

    srv = start_moto("/work/main/.venv")   # .url, .port, .reset(), .stop()
    ec2 = ec2_client(srv.url, "us-east-1")

extended=True runs harness/moto_ext.py instead (moto plus the Transit Gateway calls it
lacks, see that module's docstring).
"""

import os
import re
import subprocess
import threading
import time
import urllib.request

import boto3
from botocore.config import Config

HOST = "127.0.0.1"

# Dummy credentials: moto accepts anything, and the access key picks nothing.
DUMMY_KEY = "AKIAMOTOTESTKEY00000"
DUMMY_SECRET = "moto-test-secret"


def ec2_client(url, region):
    """A boto3 EC2 client with dummy credentials pointed at `url`."""
    return boto3.client(
        "ec2",
        region_name=region,
        endpoint_url=url,
        aws_access_key_id=DUMMY_KEY,
        aws_secret_access_key=DUMMY_SECRET,
        config=Config(retries={"max_attempts": 1, "mode": "standard"}),
    )


def _post(url, timeout=10):
    req = urllib.request.Request(url, data=b"", method="POST")
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return resp.read()


class MotoServer:
    def __init__(self, proc, log_path=None, host=HOST):
        self.proc = proc
        self.host = host
        self._running = re.compile(r"Running on http://" + re.escape(host) + r":(\d+)")
        self.port = None
        self.url = None
        self.log_path = log_path
        self.tail = []  # last stderr lines, for error messages
        self._port_seen = threading.Event()
        self._log = open(log_path, "a", buffering=1) if log_path else None
        self._drain = threading.Thread(target=self._drain_stderr, name="moto-stderr",
                                       daemon=True)
        self._drain.start()

    def _drain_stderr(self):
        # moto logs every request; an undrained pipe would eventually block it.
        for line in self.proc.stderr:
            self.tail = (self.tail + [line])[-50:]
            if self._log:
                self._log.write(line)
            if self.port is None:
                match = self._running.search(line)
                if match:
                    self.port = int(match.group(1))
                    self.url = f"http://{self.host}:{self.port}"
                    self._port_seen.set()
        self._port_seen.set()  # EOF: wake the starter so it sees the exit

    def reset(self, seed=None):
        """Wipe all moto state; with `seed`, also make generated ids repeatable."""
        _post(self.url + "/moto-api/reset")
        if seed is not None:
            self.seed(seed)

    def seed(self, n):
        _post(f"{self.url}/moto-api/seed?a={int(n)}")

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self._drain.join(timeout=2)
        if self._log:
            self._log.close()
            self._log = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def start_moto(venv_dir, log_path=None, region="us-east-1", timeout=30.0, host=HOST,
               extended=False, env=None):
    """Start `<venv>/bin/moto_server` on `host` (default 127.0.0.1) with a free port;
    warm up EC2. The e2e suite passes an address of its own namespace's bridge.
    extended=True: `<venv>/bin/python -m harness.moto_ext` (same CLI, same stderr line).
    env: more variables for the server (e.g. moto_ext_paging's EC2VIP_MOTO_PAGE_SIZE)."""
    exe = os.path.join(venv_dir, "bin", "python" if extended else "moto_server")
    if not os.access(exe, os.X_OK):
        raise FileNotFoundError(f"{os.path.basename(exe)} not found at {exe}")
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("AWS_")}, **(env or {})}
    argv = [exe, "-H", host, "-p", "0"]
    if extended:
        tests_dir = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (tests_dir, env.get("PYTHONPATH")) if p)
        argv[1:1] = ["-m", "harness.moto_ext"]
        env.pop("MOTO_ACCOUNT_ID", None)  # would put every account's calls in one account
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        text=True, env=env,
    )
    server = MotoServer(proc, log_path, host)
    deadline = time.monotonic() + timeout
    server._port_seen.wait(timeout)
    if server.port is None:
        server.stop()
        raise RuntimeError("moto_server did not report its port:\n" + "".join(server.tail))
    try:
        _wait_ready(server, region, deadline)
    except BaseException:
        server.stop()
        raise
    return server


def _wait_ready(server, region, deadline):
    # The first EC2 call builds moto's backend lazily (>1 s); do it now, not in a test.
    ec2 = ec2_client(server.url, region)
    while True:
        try:
            ec2.describe_regions()
            ec2.describe_vpcs()
            return
        except Exception as err:  # connection refused while werkzeug binds
            if not server.alive() or time.monotonic() > deadline:
                raise RuntimeError(
                    f"moto_server not ready: {err}\n" + "".join(server.tail)) from err
            time.sleep(0.1)
