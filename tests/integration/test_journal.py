"""Under systemd, stderr is the journal (JOURNAL_STREAM=DEV:INODE of that stream): every
stderr line starts with its sd-daemon priority, and --syslog adds no second copy. A child
whose stderr is another stream (keepalived's scripts inherit the variable, not the stream)
writes plain lines."""

import os
import subprocess
import tempfile

from harness.runner import vip_env
from harness.scenario import VIP


def run_with_stderr_pipe(binary, args, imds, moto, journal):
    """Run the binary with stderr on a pipe of ours; JOURNAL_STREAM names that pipe
    (journal=True), another file (False), or is absent (None)."""
    home = tempfile.mkdtemp(prefix="ec2vip-home-")
    r, w = os.pipe()
    extra = {}
    if journal is not None:
        st = os.fstat(w) if journal else os.stat("/dev/null")
        extra["JOURNAL_STREAM"] = f"{st.st_dev}:{st.st_ino}"
    try:
        proc = subprocess.Popen([str(binary), *map(str, args)], env=vip_env(imds, moto, home, extra),
                                cwd=home, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=w)
        os.close(w)
        with os.fdopen(r) as f:
            err = f.read()
        out = proc.stdout.read().decode()
        proc.wait(timeout=60)
        return proc.returncode, out, err
    finally:
        subprocess.run(["rm", "-rf", home], check=False)


def test_journal_lines_carry_priorities(binary, moto, figure1, imds_node2):
    rc, _, err = run_with_stderr_pipe(
        binary, ["-v", "--syslog", "--timeout", "3", "master", "--route", VIP], imds_node2, moto, True)
    assert rc == 0, err
    lines = err.splitlines()
    assert lines and all(line[:3] in ("<6>", "<7>", "<4>", "<3>") for line in lines), err
    assert any(line.startswith("<6>ec2-vip INFO ") and "changed" in line for line in lines), err
    assert any(line.startswith("<7>ec2-vip DEBUG ") for line in lines), err
    # --syslog is not used under the journal: said at debug, no attempt on /dev/log.
    assert any(line.startswith("<7>") and "--syslog not used" in line for line in lines), err
    assert "/dev/log" not in err, err


def test_journal_error_lines_are_priority_3(binary, moto, figure1, imds_node2):
    rc, _, err = run_with_stderr_pipe(
        binary, ["--timeout", "2", "--max-attempts", "1", "master", "--route", VIP],
        imds_node2, "http://127.0.0.1:1", True)
    assert rc == 1, err
    errors = [line for line in err.splitlines() if " ERROR " in line]
    assert errors and all(line.startswith("<3>ec2-vip ERROR ") for line in errors), err


def test_json_lines_under_the_journal(binary, moto, figure1, imds_node2):
    rc, _, err = run_with_stderr_pipe(
        binary, ["--log-format", "json", "master", "--route", VIP], imds_node2, moto, True)
    assert rc == 0, err
    assert all(line.startswith("<6>{") or line.startswith("<4>{") for line in err.splitlines()), err


def test_not_the_journal_when_stderr_is_another_stream(binary, moto, figure1, imds_node2):
    for journal in (False, None):
        rc, _, err = run_with_stderr_pipe(binary, ["master", "--route", VIP], imds_node2, moto, journal)
        assert rc == 0, err
        assert err.startswith("ec2-vip INFO ") and "<6>" not in err, err
