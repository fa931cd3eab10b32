"""A real systemd (PID 1 of a new PID + mount namespace) running the shipped watch unit.

These machines are containers whose PID 1 is not systemd, so `systemctl` cannot start a unit
here. systemd itself boots as PID 1 of a namespace of its own, though, and applies every
sandboxing directive of a unit it starts. Inside that namespace only:
- /run is a fresh tmpfs (systemd's runtime dir, the unit's RuntimeDirectory, the FIFO);
- /etc, /usr/sbin and /var are overlays: the host's files below, the test's on top
  (/etc/ec2-vip.toml, /etc/default/ec2-vip, /etc/systemd/system/<unit>, /usr/sbin/ec2-vip;
  the unit's LogsDirectory), so the unit's own paths hold and nothing on the host changes;
  /tmp is a tmpfs of its own;
- systemd starts the unit and nothing else: a drop-in (`DefaultDependencies=no`, nothing
  else) keeps sysinit.target out, whose services (tmpfiles, sysctl, binfmt, ...) would act on
  the host's /tmp, /dev and kernel settings. The unit's ExecStart and sandbox are the
  shipped file's;
- the network is the host's (moto and the IMDS fake on 127.0.0.1).
The test reaches the namespace's files through /proc/PID/root and runs systemctl there
with nsenter. Needs root, /lib/systemd/systemd and overlayfs.
"""

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

SYSTEMD = Path("/lib/systemd/systemd")

INIT = """#!/bin/sh
set -e
mount --make-rprivate /
mount -t tmpfs -o mode=0755 tmpfs /run
mount -t overlay overlay -o lowerdir=/etc,upperdir={d}/etc.u,workdir={d}/etc.w /etc
mount -t overlay overlay -o lowerdir=/usr/sbin,upperdir={d}/sbin.u,workdir={d}/sbin.w /usr/sbin
mount -t overlay overlay -o lowerdir=/var,upperdir={d}/var.u,workdir={d}/var.w /var
mount -t tmpfs -o mode=1777 tmpfs /tmp
exec {systemd} --system --unit={unit} --log-target=console --log-level=info
"""


def available():
    """None when a namespace systemd can run here, else why not."""
    if os.geteuid() != 0:
        return "needs root (mount and PID namespaces)"
    if not SYSTEMD.exists() or not shutil.which("unshare") or not shutil.which("nsenter"):
        return "needs systemd, unshare and nsenter"
    return None


class NamespaceSystemd:
    def __init__(self, workdir, unit_file, files):
        """`files`: {absolute path under /etc or /usr/sbin: (bytes, mode)} placed on top."""
        self.dir = Path(workdir)
        self.unit = Path(unit_file).name
        for sub in ("etc.u", "etc.w", "sbin.u", "sbin.w", "var.u", "var.w"):
            (self.dir / sub).mkdir(parents=True)
        files = dict(files)
        files[f"/etc/systemd/system/{self.unit}"] = (Path(unit_file).read_bytes(), 0o644)
        files[f"/etc/systemd/system/{self.unit}.d/namespace.conf"] = (
            b"[Unit]\nDefaultDependencies=no\n", 0o644)
        for path, (data, mode) in files.items():
            top, rest = ("etc.u", path[len("/etc/"):]) if path.startswith("/etc/") else \
                ("sbin.u", path[len("/usr/sbin/"):])
            target = self.dir / top / rest
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            os.chmod(target, mode)
        init = self.dir / "init.sh"
        init.write_text(INIT.format(d=self.dir, systemd=SYSTEMD, unit=self.unit))
        os.chmod(init, 0o755)
        self.console = open(self.dir / "console.log", "wb")
        self.proc = subprocess.Popen(["unshare", "--pid", "--fork", "--mount", "--mount-proc", str(init)],
                                     stdin=subprocess.DEVNULL, stdout=self.console, stderr=subprocess.STDOUT)
        self.pid1 = self._child()

    def _child(self):
        """The host pid of the namespace's PID 1 (unshare's child)."""
        end = time.monotonic() + 10
        while time.monotonic() < end:
            children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
            if children.exists() and children.read_text().split():
                return int(children.read_text().split()[0])
            time.sleep(0.05)
        raise AssertionError(f"no namespace init; console: {self.console_text()}")

    def console_text(self):
        return (self.dir / "console.log").read_text(errors="replace")

    def path(self, p):
        """A path as the namespace sees it, from the host."""
        return Path(f"/proc/{self.pid1}/root") / p.lstrip("/")

    def run(self, *argv):
        """A command inside the namespace (systemctl, journalctl, ...)."""
        return subprocess.run(["nsenter", "-t", str(self.pid1), "-m", "-p", *argv],
                              capture_output=True, text=True, timeout=30)

    def main_pid(self):
        """The unit's main process as the host sees it (0 while none)."""
        ns = self.run("systemctl", "show", "-p", "MainPID", "--value", self.unit).stdout.strip()
        if not ns or ns == "0":
            return 0
        # NSpid: host pid first, then the namespace's; find the host one.
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                status = (proc / "status").read_text()
            except OSError:
                continue
            for line in status.splitlines():
                if line.startswith("NSpid:") and line.split()[1:] and line.split()[-1] == ns \
                        and len(line.split()) > 2 and self._in_ns(proc.name):
                    return int(proc.name)
        return 0

    def _in_ns(self, pid):
        try:
            return os.readlink(f"/proc/{pid}/ns/pid") == os.readlink(f"/proc/{self.pid1}/ns/pid")
        except OSError:
            return False

    def stop(self):
        """Kill the namespace's PID 1: the kernel then kills everything in the namespace."""
        try:
            os.kill(self.pid1, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=10)
        self.console.close()
