"""One keepalived 2.2.7 VRRP node per namespace, hooked to ec2-vip in one of two ways:

- variant "notify": ec2-vip is keepalived's generic `notify` hook;
- variant "watch": keepalived writes its `notify_fifo` and `ec2-vip watch` (one per node,
  started before keepalived and kept across keepalived restarts) consumes it.

Either way every generic notify goes through `stamp`, a tiny root-owned wrapper that
appends `<epoch> start <pid> <argv>` before and `<epoch> end <pid> rc=<rc>` after running
its command (ec2-vip, or /bin/true in the watch variant), so the suite knows when
keepalived made a node MASTER (keepalived itself discards a script's output).
"""

import os
import re
import shlex
import shutil
import signal
import subprocess
import time
from pathlib import Path

from harness.scenario import VIP

from e2e_net import NODE_IPS, tool

VIP_ADDR = VIP  # keepalived puts figure 1's VIP itself on the master's eth0
PRIORITY = {"a": 150, "b": 100}
ADVERT_INT = 0.2  # VRRPv3: sub-second adverts; master down after ~3.6 adverts
VRID = 51
EC2VIP_TIMEOUT = 10  # ec2-vip --timeout: a hook cut off from moto gives up by then
# The watch variant runs the shipped unit's ExecStart line, its paths mapped to the node's.
UNIT = Path(__file__).resolve().parents[2] / "examples/keepalived/ec2-vip-watch.service"
UNIT_PATHS = ("/usr/sbin/ec2-vip", "/etc/ec2-vip.toml", "/run/keepalived-notify.fifo")

STAMP = """#!/bin/sh
# e2e notify hook: stamp LOG COMMAND... (keepalived appends TYPE NAME STATE PRIORITY)
log=$1
shift
echo "$(/usr/bin/date +%s.%N) start $$ $*" >>"$log"
"$@"
rc=$?
echo "$(/usr/bin/date +%s.%N) end $$ rc=$rc" >>"$log"
exit $rc
"""

CONF = """global_defs {{
    router_id e2e_{node}
    enable_script_security
    script_user root
    vrrp_version 3{fifo}
}}

vrrp_script chk_up {{
    script "/usr/bin/test -e {track}"
    interval 1
    fall 1
    rise 1
}}

vrrp_instance VI_1 {{
    state BACKUP
    interface eth0
    virtual_router_id {vrid}
    priority {priority}
    advert_int {advert}
    unicast_src_ip {src}
    unicast_peer {{
        {peer}
    }}
    virtual_ipaddress {{
        {vip} dev eth0
    }}
    track_script {{
        chk_up
    }}
    notify "{stamp} {notify_log} {hook}"
}}
"""
# ec2-vip's global options, the same for the notify hook and the watcher.
VIP_ARGS = "--config {toml} --log-file {vip_log} --timeout {timeout} -v"

TOML = """[instance.VI_1]
routes = ["{route}"]
elastic_ips = ["{eip}"]
"""

_START = re.compile(r"^(\S+) start (\d+) .*\b(INSTANCE|GROUP) (\S+) (MASTER|BACKUP|FAULT|STOP)\b")
_END = re.compile(r"^(\S+) end (\d+) rc=(\d+)")


def reap(*procs):
    """Wait for each process (None: skipped) up to 5 s; SIGKILL what stays."""
    for proc in procs:
        if proc is None:
            continue
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def unit_exec_start(env):
    """The unit's ExecStart as systemd runs it: an unbraced `$VAR` word becomes the variable's
    words (none when empty), every other word stays as written."""
    line = next(l for l in UNIT.read_text().splitlines() if l.startswith("ExecStart="))
    argv = []
    for word in shlex.split(line[len("ExecStart="):]):
        argv += env.get(word[1:], "").split() if word.startswith("$") else [word]
    return argv


def install_bin(bin_dir, binary):
    """Copy ec2-vip and write `stamp` into a root-owned, 0755 directory (script security)."""
    os.chmod(bin_dir, 0o755)
    dst = Path(bin_dir) / "ec2-vip"
    shutil.copy2(binary, dst)
    os.chmod(dst, 0o755)
    stamp = Path(bin_dir) / "stamp"
    stamp.write_text(STAMP)
    os.chmod(stamp, 0o755)
    return dst, stamp


class Run:
    """One notify invocation as the stamp log shows it."""

    def __init__(self, start, pid, state):
        self.start, self.pid, self.state = start, pid, state
        self.end = None
        self.rc = None

    def in_flight(self):
        return self.end is None and os.path.exists(f"/proc/{self.pid}")


class Node:
    def __init__(self, name, ns, work, binary, stamp, moto_url, seed, variant, toml_text=None):
        self.name = name
        self.ns = ns
        self.variant = variant
        self.binary = binary
        self.dir = Path(work) / f"node-{name}"
        self.dir.mkdir(mode=0o700)
        self.fifo = self.dir / "notify.fifo"
        self.track = self.dir / "healthy"
        self.notify_log = self.dir / "notify.log"
        self.vip_log = self.dir / "ec2-vip.log"
        self.console = self.dir / "keepalived.log"
        self.conf = self.dir / "keepalived.conf"
        self.toml = self.dir / "ec2-vip.toml"
        self.pidfile = self.dir / "keepalived.pid"
        self.vrrp_pidfile = self.dir / "vrrp.pid"
        self.moto_url = moto_url
        self.proc = None
        self.watcher = None
        self.toml.write_text(toml_text or TOML.format(route=VIP_ADDR, eip=seed["eip"]["allocation_id"]))
        peer = next(ip for n, ip in NODE_IPS.items() if n != name)
        self.vip_args = VIP_ARGS.format(toml=self.toml, vip_log=self.vip_log,
                                        timeout=EC2VIP_TIMEOUT).split()
        if variant == "notify":
            fifo, hook = "", " ".join([str(binary), *self.vip_args, "notify"])
        else:
            fifo, hook = f"\n    notify_fifo {self.fifo}", "/bin/true"
        self.conf.write_text(CONF.format(
            node=name, fifo=fifo, track=self.track, vrid=VRID, priority=PRIORITY[name],
            advert=ADVERT_INT, src=NODE_IPS[name], peer=peer, vip=VIP_ADDR,
            stamp=stamp, notify_log=self.notify_log, hook=hook))
        self.set_healthy(True)

    def env(self):
        # keepalived hands its own environment to notify scripts: only what ec2-vip
        # needs. No AWS_EC2_METADATA_SERVICE_ENDPOINT: the real default IMDS address.
        return {
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
            "LANG": "C.UTF-8",
            "HOME": str(self.dir),
            "AWS_ENDPOINT_URL_EC2": self.moto_url,
            "AWS_ENDPOINT_URL_ROUTE_53": self.moto_url,  # moto serves Route 53 on the same port
            # Both "machines" share one filesystem: give each its own lock/state files.
            "EC2_VIP_STATE_DIR": str(self.dir / "state"),
        }

    def _in_ns(self, argv):
        env_args = [f"{k}={v}" for k, v in self.env().items()]
        return [tool("ip"), "netns", "exec", self.ns, "/usr/bin/env", "-i", *env_args, *argv]

    def start_watch(self):
        """The watch variant's consumer: the shipped unit's ExecStart line (its binary, config
        and FIFO paths mapped to this node's), what /etc/default/ec2-vip would add in
        EC2VIP_ARGS (this suite's log file, -v, its --timeout: a later option wins) and
        EC2VIP_WATCH_ARGS (this keepalived's `-r` pid file); the FIFO made first, as the
        unit's ExecStartPre does."""
        os.mkfifo(self.fifo, 0o600)
        argv = unit_exec_start({
            "EC2VIP_ARGS": f"--log-file {self.vip_log} -v --timeout {EC2VIP_TIMEOUT}",
            "EC2VIP_WATCH_ARGS": f"--keepalived-pid {self.vrrp_pidfile}",
        })
        mapped = dict(zip(UNIT_PATHS, (str(self.binary), str(self.toml), str(self.fifo))))
        assert all(argv.count(p) == 1 for p in UNIT_PATHS), f"{UNIT}: ExecStart changed: {argv}"
        self.watch_argv = [mapped.get(w, w) for w in argv]
        with open(self.dir / "watch.out", "a") as out:
            self.watcher = subprocess.Popen(
                self._in_ns(self.watch_argv),
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                cwd=self.dir, start_new_session=True)

    def check_watcher(self):
        if self.watcher is not None and self.watcher.poll() is not None:
            raise AssertionError(f"node {self.name}: ec2-vip watch exited "
                                 f"{self.watcher.returncode}\n" + self.diagnostics())

    def check_config(self):
        proc = subprocess.run([tool("keepalived"), "-t", "-f", str(self.conf)],
                              capture_output=True, text=True, timeout=10)
        if proc.returncode != 0:
            raise RuntimeError(f"keepalived -t {self.conf}: {proc.stdout}{proc.stderr}")

    def start(self):
        assert not self.running(), f"node {self.name}: keepalived already running"
        self.forget_pids()
        with open(self.console, "a") as out:
            self.proc = subprocess.Popen(
                self._in_ns([tool("keepalived"), "-P", "-n", "-R", "-l", "-D", "-G",
                             "-f", str(self.conf), "-p", str(self.pidfile),
                             "-r", str(self.vrrp_pidfile)]),
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                cwd=self.dir, start_new_session=True)  # Ctrl-C goes to pytest, not here
        return time.time()

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def vrrp_pid(self, timeout=5.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                return int(self.vrrp_pidfile.read_text().strip())
            except (FileNotFoundError, ValueError):
                time.sleep(0.02)
        raise TimeoutError(f"node {self.name}: no VRRP child pid in {self.vrrp_pidfile}")

    def signal(self, sig):
        self.proc.send_signal(sig)

    def kill_vrrp_child(self):
        """A real crash: SIGKILL the VRRP child; with -R the parent then exits too."""
        os.kill(self.vrrp_pid(), signal.SIGKILL)

    def wait_stopped(self, timeout=10.0):
        """Wait for parent and VRRP child to be gone, then drop the stale pid files."""
        child = None
        try:
            child = int(self.vrrp_pidfile.read_text().strip())
        except (FileNotFoundError, ValueError):
            pass
        if self.proc is not None:
            self.proc.wait(timeout=timeout)
        deadline = time.monotonic() + timeout
        while child and os.path.exists(f"/proc/{child}"):
            if time.monotonic() > deadline:
                raise TimeoutError(f"node {self.name}: VRRP child {child} still alive")
            time.sleep(0.02)
        self.forget_pids()

    def forget_pids(self):
        for f in (self.pidfile, self.vrrp_pidfile):
            f.unlink(missing_ok=True)

    def terminate(self):
        """Teardown, step 1: SIGTERM keepalived and the watcher."""
        for proc in (self.proc, self.watcher):
            if proc is not None and proc.poll() is None:
                proc.terminate()

    def stop(self):
        """Teardown, step 2: wait for them; SIGKILL what stays."""
        self.terminate()
        reap(self.proc, self.watcher)

    def set_healthy(self, ok):
        """The track_script's file: present = healthy."""
        if ok:
            self.track.touch()
        else:
            self.track.unlink(missing_ok=True)

    def runs(self):
        """Every notify invocation so far, in start order."""
        runs, by_pid = [], {}
        if not self.notify_log.exists():
            return runs
        for line in self.notify_log.read_text().splitlines():
            m = _START.match(line)
            if m:
                run = Run(float(m.group(1)), int(m.group(2)), m.group(5))
                runs.append(run)
                by_pid[run.pid] = run
                continue
            m = _END.match(line)
            if m and int(m.group(2)) in by_pid:
                run = by_pid.pop(int(m.group(2)))
                run.end, run.rc = float(m.group(1)), int(m.group(3))
        return runs

    def tail(self, path, lines=25):
        try:
            return "\n".join(Path(path).read_text().splitlines()[-lines:])
        except FileNotFoundError:
            return "(none)"

    def diagnostics(self):
        return (f"--- node {self.name}: {self.notify_log}\n{self.tail(self.notify_log)}\n"
                f"--- {self.vip_log}\n{self.tail(self.vip_log, 40)}\n"
                f"--- {self.console}\n{self.tail(self.console)}\n"
                + (f"--- {self.dir / 'watch.out'}\n{self.tail(self.dir / 'watch.out')}\n"
                   if self.watcher else ""))
