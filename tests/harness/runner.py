"""Run the ec2-vip binary against the fakes, with a clean environment."""

import os
import shutil
import subprocess
import tempfile
import time

# Variables the child keeps from our environment; everything else is dropped so
# credentials and region can only come from the IMDS fake.
KEPT = ("PATH", "LANG", "LC_ALL", "TZ")


class VipResult(subprocess.CompletedProcess):
    """CompletedProcess plus wall-clock `elapsed` seconds."""

    def __init__(self, args, returncode, stdout, stderr, elapsed):
        super().__init__(args, returncode, stdout, stderr)
        self.elapsed = elapsed

    def __repr__(self):
        return (f"VipResult(rc={self.returncode}, elapsed={self.elapsed:.2f}s,\n"
                f"stdout={self.stdout!r},\nstderr={self.stderr!r})")


def _url(x):
    return x if isinstance(x, str) else x.url


def vip_env(imds, moto, home, extra_env=None):
    """The child's environment: endpoints for the fakes, a private HOME, no AWS_*."""
    env = {k: os.environ[k] for k in KEPT if k in os.environ}
    env.update({
        "HOME": home,
        "AWS_ENDPOINT_URL_EC2": _url(moto),
        # Route 53 (moto serves it on the same port; the fault proxy passes it through).
        "AWS_ENDPOINT_URL_ROUTE_53": _url(moto),
        # moto serves STS too (AssumeRole, GetCallerIdentity): never the real one.
        "AWS_ENDPOINT_URL_STS": _url(moto),
        "AWS_EC2_METADATA_SERVICE_ENDPOINT": _url(imds),
        # Lock and transition records of this run only, unless a test shares them.
        "EC2_VIP_STATE_DIR": os.path.join(home, "state"),
    })
    for key, value in (extra_env or {}).items():
        if value is None:
            env.pop(key, None)  # extra_env={"X": None} removes X
        else:
            env[key] = str(value)
    return env


def run_vip(binary, args, imds, moto, extra_env=None, timeout=60, input=None):
    """Run `binary args...`; imds and moto are servers (with .url) or URLs.

    Returns a VipResult (stdout, stderr, returncode, elapsed). A run that outlives
    `timeout` is killed and subprocess.TimeoutExpired propagates.
    """
    home = tempfile.mkdtemp(prefix="ec2vip-home-")
    try:
        env = vip_env(imds, moto, home, extra_env)
        argv = [str(binary)] + [str(a) for a in args]
        start = time.monotonic()
        proc = subprocess.run(
            argv, env=env, cwd=home, input=input, capture_output=True, text=True,
            timeout=timeout, stdin=None if input is not None else subprocess.DEVNULL,
        )
        elapsed = time.monotonic() - start
        return VipResult(argv, proc.returncode, proc.stdout, proc.stderr, elapsed)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def start_watch(binary, cfg, imds, moto, home, interval="1"):
    """Start `ec2-vip watch` on a new FIFO in `home` (logging to home/watch.log, state in
    home/state) and wait until it says it is watching. Returns (process, a read-write fd on
    the FIFO to write lines with, the log's path); the caller closes and kills them."""
    home.mkdir(exist_ok=True)
    fifo, log = home / "notify.fifo", home / "watch.log"
    os.mkfifo(fifo, 0o600)
    env = vip_env(imds, moto, str(home), {"EC2_VIP_STATE_DIR": home / "state"})
    argv = [str(binary), "--config", str(cfg), "--log-file", str(log), "watch", "--fifo", str(fifo),
            "--interval", str(interval)]
    proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    fd = os.open(fifo, os.O_RDWR)
    end = time.monotonic() + 15
    while not (log.exists() and "watching" in log.read_text()):
        assert time.monotonic() < end and proc.poll() is None, "watcher did not start"
        time.sleep(0.1)
    return proc, fd, log
