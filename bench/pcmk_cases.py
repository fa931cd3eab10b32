"""bench/pacemaker's measurements: direct agent runs inside a node, the route-drift
demonstration, and the in-cluster faults (standby, node crash) with their parts read from
pacemaker-execd's and pacemaker-controld's log on the node that takes over."""

import threading
import time

from pcmk_lab import exec_ms, exec_result, first, log_lines

PROBE, RECURRING = 0, 10000  # OCF_RESKEY_CRM_meta_interval: 0 = probe


def clean_eip(lab, keep=None):
    """The EIP on `keep`'s ENI alone (or on none). moto keeps a moved EIP's association on
    the old ENI in DescribeInstances (DescribeAddresses is right), and awseip's monitor greps
    DescribeInstances: an associate + disassociate per node clears that, as EC2 shows it."""
    from e2e_net import in_netns

    c = lab.c
    alloc = c.seed["eip"]["allocation_id"]
    with in_netns(c.lab.sw):
        for n in [n for n in c.nodes if n != keep] + ([keep] if keep else []):
            c.ec2.associate_address(AllocationId=alloc, NetworkInterfaceId=c.eni[n], AllowReassociation=True)
            if n != keep:
                assoc = c.ec2.describe_addresses(AllocationIds=[alloc])["Addresses"][0]["AssociationId"]
                c.ec2.disassociate_address(AssociationId=assoc)


def prepare(lab, agent, node="b"):
    """Before a start on the other node: routes on `node` (kind route), the EIP associated
    nowhere (kind eip), no VIP address on any eth0."""
    from harness.scenario import VIP

    c = lab.c
    lab.point_at(node)
    if agent.kind == "eip":
        clean_eip(lab)
    for n in c.nodes:
        c.lab.del_addr(n, VIP)


def direct(lab, agent, reps, log):
    """{action: [seconds]} of start, probe, recurring monitor, stop on node a, `reps` times;
    raises if an action fails or start does not move the resource to node a."""
    times = {"start": [], "probe": [], "monitor": [], "stop": []}
    for i in range(reps):
        prepare(lab, agent)
        for name, action, interval in (("start", "start", 0), ("probe", "monitor", PROBE),
                                       ("monitor", "monitor", RECURRING), ("stop", "stop", 0)):
            rc, secs = lab.run_agent("a", agent, action, interval)
            if rc != 0:
                raise RuntimeError(f"{agent.label} {name} (run {i + 1}) exited {rc}:\n{lab.last_output[-3000:]}")
            times[name].append(secs)
            if name == "start" and lab.points_at(agent.kind) != "a":
                raise RuntimeError(f"{agent.label} start exited 0 but EC2 does not point at node a")
        log(f"  {agent.label} run {i + 1}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in times.items()))
    return times


def drift(lab, move_ip, ours, log):
    """Both route agents started on node a; table A's VIP route drifted to node b; each
    agent's recurring monitor and probe. [(agent, kind of monitor, exit code)]."""
    prepare(lab, move_ip)
    out = []
    for agent in (move_ip, ours):
        rc, _ = lab.run_agent("a", agent, "start")
        if rc != 0:
            raise RuntimeError(f"drift demo: {agent.label} start exited {rc}:\n{lab.last_output[-3000:]}")
    lab.drift_route("b")
    if lab.points_at("route") is not None:
        raise RuntimeError("drift demo: the drifted route did not stick")
    for agent in (move_ip, ours):
        for what, interval in (("recurring monitor", RECURRING), ("probe", PROBE)):
            rc, secs = lab.run_agent("a", agent, "monitor", interval)
            out.append((agent.label, what, rc, secs))
            log(f"  drift: {agent.label} {what}: rc {rc} ({secs:.2f} s)")
    for agent in (move_ip, ours):
        lab.run_agent("a", agent, "stop")
    return out


def configure(lab, agent, timeout=120.0):
    """The resource `vip` = agent with its parameters; (node it runs on) once EC2 agrees."""
    c = lab.c
    prepare(lab, agent)
    params = [f"{k}={v}" for k, v in agent.params.items()]
    c.crm("a", "configure", "primitive", "vip", agent.spec, "params", *params,
          "op", "start", "timeout=60s", "interval=0", "op", "stop", "timeout=60s", "interval=0",
          "op", "monitor", "interval=10s", "timeout=60s")
    deadline = time.monotonic() + timeout
    while True:
        node = c.where()
        if node is not None and lab.points_at(agent.kind) == node:
            return node
        if time.monotonic() > deadline:
            raise RuntimeError(f"{agent.label}: not started in the cluster after {timeout:.0f} s\n{c.diagnostics()}")
        time.sleep(0.2)


def unconfigure(lab, timeout=120.0):
    c = lab.c
    c.crm("a", "resource", "stop", "vip")
    deadline = time.monotonic() + timeout
    while c.status()[2].get("vip"):
        if time.monotonic() > deadline:
            raise RuntimeError(f"vip did not stop\n{c.diagnostics()}")
        time.sleep(0.2)
    c.crm("a", "resource", "cleanup", "vip")  # fail counts, for the next agent's `vip`
    c.crm("a", "configure", "delete", "vip")


def other(node):
    return "b" if node == "a" else "a"


def standby(lab, agent, active):
    """`crm node standby` of the active node -> EC2 points at the other; its parts."""
    c, to = lab.c, other(active)
    time.sleep(2)  # probes and a first monitor are behind us
    done = {}
    t0 = time.time()
    crm = threading.Thread(target=lambda: (c.crm(active, "node", "standby", lab.host(active)),
                                           done.setdefault("t", time.time())))
    crm.start()  # EC2 is polled while crm runs: the move may land before crm returns
    t_moved = lab.wait_points(agent.kind, to)
    crm.join(60)
    if "t" not in done:
        raise RuntimeError(f"{agent.label}: `crm node standby {lab.host(active)}` failed or hung")
    t_crm = done["t"]
    new = finished(lab, to, "start", t0)
    t_begin, _ = first(new, r"executing - rsc:vip action:start", t0)
    row = {"total": t_moved - t0, "crm": t_crm - t0,
           "stop": exec_ms(log_lines(lab, active, t0), "vip", "stop", t0),
           "start": exec_ms(new, "vip", "start", t0),
           "begin_to_moved": (t_moved - t_begin) if t_begin else None}
    c.crm(active, "node", "online", lab.host(active))
    if c.where(expect=to, timeout=30) != to:
        raise RuntimeError(f"{agent.label}: vip left {to} after the standby node came back")
    return row, to


def crash(lab, agent, active, binary):
    """SIGKILL the active node (pacemakerd first, then corosync and all else) -> EC2 points at
    the survivor; membership / scheduling / agent parts from the survivor's pacemaker.log.
    The crashed node is rebooted and rejoins afterwards."""
    from harness.scenario import VIP

    c, to = lab.c, other(active)
    time.sleep(2)
    t0 = time.time()
    c.nodes[active].crash()
    try:
        t_moved = lab.wait_points(agent.kind, to, timeout=45)
    except RuntimeError:
        t_moved = None
    lines = finished(lab, to, "start", t0)
    t_lost, _ = first(lines, rf"Node {lab.host(active)} state is now lost", t0)
    t_begin, _ = first(lines, r"executing - rsc:vip action:start", t0)
    start, status = exec_result(lines, "vip", "start", t0)
    if t_moved is None and not status:
        raise RuntimeError(f"{agent.label}: {agent.kind} not on {to} 45 s after the crash, and no failed "
                           f"start in its log\n{c.diagnostics()}")
    row = {"total": (t_moved - t0) if t_moved else None, "membership": (t_lost - t0) if t_lost else None,
           "scheduling": (t_begin - t_lost) if (t_begin and t_lost) else None, "start": start,
           "begin_to_moved": (t_moved - t_begin) if (t_begin and t_moved) else None,
           "failed": None if t_moved else f"start exited {status}, {agent.kind} not moved: " + error_output(lines, t0)}
    if agent.kind == "eip":
        clean_eip(lab, keep=to)  # moto's stale association on the crashed node's ENI
    c.lab.del_addr(active, VIP)  # a reboot clears the interface
    c.nodes[active].boot(binary)
    c.wait_online(lab.hosts(), timeout=90)
    return row


def error_output(lines, after):
    """The first non-empty line of vip's start's stderr as pacemaker-execd logged it."""
    for t, line in lines:
        if t >= after and "vip_start_0[" in line and "error output [" in line:
            text = line.split("error output [", 1)[1].strip(" ]")
            if text:
                return text[:160]
    return "(no error output)"


def finished(lab, node, action, after, timeout=60.0):
    """`node`'s pacemaker.log once pacemaker-execd logged vip's `action` finished after
    `after` (EC2 may show the move before the agent exits)."""
    deadline = time.monotonic() + timeout
    while True:
        lines = log_lines(lab, node, after)
        if exec_result(lines, "vip", action, after)[0] is not None or time.monotonic() > deadline:
            return lines
        time.sleep(0.2)


def in_cluster(lab, agent, binary, log):
    active = configure(lab, agent)
    log(f"  {agent.label}: started on {lab.host(active)}")
    sb, active = standby(lab, agent, active)
    log(f"  {agent.label}: standby -> moved in {sb['total']:.2f} s")
    cr = crash(lab, agent, active, binary)
    log(f"  {agent.label}: crash -> " + (cr["failed"] or f"moved in {cr['total']:.2f} s"))
    unconfigure(lab)
    return sb, cr
