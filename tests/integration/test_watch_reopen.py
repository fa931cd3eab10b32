"""ec2-vip watch never goes deaf: invalid lines are skipped without losing the rest, a FIFO
re-created at its path (keepalived restarted) is reopened, SIGHUP reopens --log-file."""

import os
import signal

from test_watch import start_watcher, wait_for, watcher, where  # noqa: F401  (fixtures)


def test_a_non_utf8_line_is_skipped_and_the_next_line_applied(watcher, ec2, figure1):
    node2 = figure1["node2"]["eni_id"]
    fd = os.open(watcher.fifo, os.O_WRONLY | os.O_NONBLOCK)
    os.write(fd, b'INSTANCE "VI_\xe9" BACKUP 100\nINSTANCE "VI_1" MASTER 100\n')  # one write
    os.close(fd)
    wait_for(lambda: where(ec2, figure1) == ((node2, node2), node2), what="the MASTER after the bad line applied")
    assert watcher.proc.poll() is None, "the watcher must stay alive"
    text = watcher.log.read_text()
    assert "not UTF-8, skipped" in text and 'VI_\ufffd' in text, text


def test_a_fifo_re_created_at_its_path_is_reopened(watcher, ec2, figure1):
    """keepalived unlinks the FIFO it created when it exits and creates a new one when it
    starts: the next MASTER arrives in the new FIFO."""
    node1, node2 = figure1["node1"]["eni_id"], figure1["node2"]["eni_id"]
    assert where(ec2, figure1) == ((node1, node1), node1)

    def recreate():
        os.mkfifo(watcher.fifo, 0o600)
        return os.open(watcher.fifo, os.O_RDWR)  # keepalived holds its new FIFO open

    # Re-created at once (between two of the watcher's checks).
    os.unlink(watcher.fifo)
    fd = recreate()
    try:
        os.write(fd, b'INSTANCE "VI_1" MASTER 150\n')
        wait_for(lambda: where(ec2, figure1) == ((node2, node2), node2), what="MASTER from the new FIFO applied")
        assert "re-created (keepalived restarted?); reopened" in watcher.log.read_text()
    finally:
        os.close(fd)
    # Gone for a while (keepalived stopped), then made again.
    os.unlink(watcher.fifo)
    wait_for(lambda: "does not exist" in watcher.log.read_text(), timeout=5, what="the missing FIFO warned about")
    fd = recreate()
    try:
        os.write(fd, b'INSTANCE "VI_1" BACKUP 100\n')
        wait_for(lambda: where(ec2, figure1)[1] is None, what="BACKUP from the second new FIFO applied")
    finally:
        os.close(fd)
    text = watcher.log.read_text()
    assert text.count("does not exist") == 1, "warned once, not every second"
    assert text.count("re-created (keepalived restarted?); reopened") == 2, text
    assert watcher.proc.poll() is None


def test_sighup_reopens_the_log_file_and_keeps_watching(watcher, ec2, figure1):
    node2 = figure1["node2"]["eni_id"]
    watcher.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: watcher.proc.poll() is not None or "SIGHUP: --log-file reopened" in watcher.log.read_text(),
             timeout=5, what="reopen logged")
    assert watcher.proc.poll() is None, f"SIGHUP killed the watcher (exit {watcher.proc.returncode})"
    rotated = watcher.log.with_name(watcher.log.name + ".1")
    os.rename(watcher.log, rotated)  # logrotate's default: mv, then postrotate's SIGHUP
    watcher.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: watcher.log.exists() and "reopened" in watcher.log.read_text(), timeout=5,
             what="a new log file at the path")
    watcher.write('INSTANCE "VI_1" MASTER 150\n')
    wait_for(lambda: where(ec2, figure1) == ((node2, node2), node2), what="MASTER applied after the rotation")
    wait_for(lambda: "keepalived VI_1 -> MASTER" in watcher.log.read_text(), timeout=5, what="new lines in the new file")
    assert "keepalived VI_1 -> MASTER" not in rotated.read_text(), "nothing more goes to the rotated file"
    assert watcher.proc.poll() is None
