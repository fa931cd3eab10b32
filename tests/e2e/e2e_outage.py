"""What the client saw during one failover, next to what keepalived, ec2-vip and the
emulated data plane did (e2e_dataplane.py), as one row per case and path.

A request is *failed* when it got no HTTP 200 with an X-Served-By header (timeout,
refused, reset), and *wrong-node* when the HAProxy that answered is not keepalived's
MASTER of that moment (`master_at`: the node whose MASTER notify is the latest, unless
that node has since reported BACKUP/FAULT/STOP). Before the new master's notify the old
master still counts as MASTER (keepalived has not handed over yet).
"""

from datetime import datetime, timezone

from harness.scenario import VIP

from e2e_dataplane import TIMEOUT


def master_timeline(nodes):
    """[(start, node, state)] of every notify run of every node, in time order."""
    return sorted((r.start, name, r.state) for name, node in nodes.items() for r in node.runs())


def master_at(timeline, t):
    state, since = {}, {}
    for start, name, st in timeline:
        if start > t:
            break
        state[name], since[name] = st, start
    masters = [n for n, st in state.items() if st == "MASTER"]
    return max(masters, key=lambda n: since[n]) if masters else None


def classify(req, timeline):
    """'failed', 'wrong' or 'ok'."""
    if req.node is None:
        return "failed"
    m = master_at(timeline, req.start)
    return "wrong" if m is not None and req.node != m else "ok"


def recovered_at(reqs, expect, hold):
    """Start of the run of requests answered by `expect` that lasts to the end of `reqs`
    and spans at least `hold` s, else None. `reqs`: finished requests, by start."""
    tail = []
    for r in reversed(reqs):
        if r.node != expect:
            break
        tail.append(r)
    if not tail or tail[0].start - tail[-1].start < hold:
        return None
    return tail[-1].start


def settled(client, path, since, now):
    """Requests of `path` started in [since, now - TIMEOUT): all of them have finished."""
    return client.window(path, since, now - TIMEOUT - 0.05)


def outage(reqs, timeline, expect):
    """(outage s, failed, wrong): from the first bad request to the first request answered
    by `expect` after the last bad one (0 when nothing went wrong)."""
    kinds = [classify(r, timeline) for r in reqs]
    bad = [i for i, k in enumerate(kinds) if k != "ok"]
    failed, wrong = kinds.count("failed"), kinds.count("wrong")
    if not bad:
        return 0.0, failed, wrong
    back = next((r.start for r in reqs[bad[-1] + 1:] if r.node == expect), None)
    return (None if back is None else back - reqs[bad[0]].start), failed, wrong


def _log_time(line):
    stamp = line.split(" ", 1)[0]
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=timezone.utc).timestamp()


def write_time(vip_log, path, rtb, allocation_id, eni, after):
    """When ec2-vip on the new master logged that the write for `path` was done (route
    in `rtb`, or the EIP) with `eni` as target, after `after`; None if it wrote none."""
    try:
        lines = vip_log.read_text().splitlines()
    except FileNotFoundError:
        return None
    key = f"route {VIP} in {rtb}: " if path == "route" else f"eip {allocation_id} "
    for line in lines:
        if "plan:" in line or key not in line or f"-> {eni}" not in line:
            continue
        if not line.rstrip().endswith(("(replaced)", "(created)", "(associated)")):
            continue
        try:
            t = _log_time(line)
        except ValueError:
            continue
        if t >= after - 0.05:
            return t
    return None


def dataplane_applied(poller, path, node, after):
    """The first time the poller pointed `path` at `node`, not before `after`."""
    return next((c.applied for c in poller.changes
                 if c.path == path and c.node == node and c.applied >= after), None)


def measure(case, variant, path, reqs, timeline, t_event, master_run, expect, t_write, t_applied):
    """One table row. master_run: the new master's MASTER notify (stamp log)."""
    out, failed, wrong = outage(reqs, timeline, expect)
    detect = master_run.start - t_event
    return {
        "case": case, "variant": variant, "path": path, "master": expect,
        "detect": detect,
        "converge": None if t_write is None else t_write - master_run.start,
        "lag": None if t_write is None or t_applied is None else t_applied - t_write,
        "outage": out, "failed": failed, "wrong": wrong, "requests": len(reqs),
        "goal": detect + 0.5,
    }


def _s(v):
    return "-" if v is None else f"{v:.2f}"


def _ms(v):
    return "-" if v is None else f"{v * 1000:.0f}"


def markdown(rows):
    head = ("case", "hook", "path", "VRRP detection s", "ec2-vip convergence ms",
            "data-plane lag ms", "client outage s", "goal s", "met", "failed", "wrong node",
            "requests")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        met = "-" if r["outage"] is None else ("yes" if r["outage"] <= r["goal"] else "no")
        lines.append("| " + " | ".join((
            r["case"], r["variant"], "VIP route" if r["path"] == "route" else "Elastic IP",
            _s(r["detect"]), _ms(r["converge"]), _ms(r["lag"]), _s(r["outage"]), _s(r["goal"]),
            met, str(r["failed"]), str(r["wrong"]), str(r["requests"]))) + " |")
    return lines
