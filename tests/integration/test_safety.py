"""Safe to leave unattended: never take what this node is not known to own, and a
monitoring failure is not drift."""

from harness.runner import run_vip
from harness.scenario import VIP, changes, snapshot

CLOSED = "http://127.0.0.1:9"  # discard port: nothing listens, connections are refused


def moved_routes(seed, to_eni):
    return {("route", seed[t], VIP): (seed["node1"]["eni_id"], to_eni) for t in ("rtb_a", "rtb_b")}


def test_repair_without_a_recorded_transition_takes_nothing(binary, moto, ec2, figure1, imds_node2, tmp_path):
    """node2 after a reboot (fresh state dir): by hand or by config, --repair reports the
    drift and says why it does not repair; the peer's routes stay where they are."""
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[instance.VI_1]\nroutes = ["{VIP}"]\n')
    before = snapshot(ec2, figure1)
    for args in (["check", "--route", VIP, "--repair"], ["--config", cfg, "check", "--instance", "VI_1", "--repair"]):
        state = {"EC2_VIP_STATE_DIR": tmp_path / "fresh-state"}
        r = run_vip(binary, args, imds_node2, moto, state)
        assert r.returncode == 1, r
        assert r.stdout.count("drift:") == 2 and "not repaired: no transition is recorded" in r.stdout, r
        assert changes(before, snapshot(ec2, figure1)) == {}, "nothing taken from node1"


def test_by_hand_master_records_and_then_repair_works(binary, moto, ec2, figure1, imds_node2, tmp_path):
    state = {"EC2_VIP_STATE_DIR": tmp_path / "state"}
    before = snapshot(ec2, figure1)
    assert run_vip(binary, ["master", "--route", VIP], imds_node2, moto, state).returncode == 0
    assert changes(before, snapshot(ec2, figure1)) == moved_routes(figure1, figure1["node2"]["eni_id"])
    ec2.replace_route(RouteTableId=figure1["rtb_a"], DestinationCidrBlock=VIP,
                      NetworkInterfaceId=figure1["node1"]["eni_id"])
    r = run_vip(binary, ["check", "--route", VIP, "--repair"], imds_node2, moto, state)
    assert r.returncode == 0 and r.stdout.count("repaired:") == 1, r


def test_ec2_outage_is_not_drift(binary, moto, ec2, figure1, imds_node2, tmp_path):
    """The healthy MASTER's vrrp_script must not fail it over because EC2 cannot be asked."""
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[instance.VI_1]\nroutes = ["{VIP}"]\n')
    state = {"EC2_VIP_STATE_DIR": tmp_path / "state"}
    notify = ["--config", cfg, "notify", "INSTANCE", "VI_1", "MASTER", "150"]
    assert run_vip(binary, notify, imds_node2, moto, state).returncode == 0
    check = ["--config", cfg, "--timeout", "3", "--max-attempts", "1", "check", "--instance", "VI_1"]
    down = run_vip(binary, check, imds_node2, CLOSED, state)
    assert down.returncode == 0, down
    assert "cannot tell" in down.stderr and "unknown:" in down.stdout, down
    distinct = run_vip(binary, check + ["--unknown-exit", "3"], imds_node2, CLOSED, state)
    assert distinct.returncode == 3, distinct
    no_imds = run_vip(binary, check, CLOSED, moto, state)
    assert no_imds.returncode == 0 and "cannot tell" in no_imds.stderr, no_imds
    bad = run_vip(binary, check + ["--unknown-exit", "1"], imds_node2, moto, state)
    assert bad.returncode == 2, "1 is drift's exit code"
    # Real drift is still exit 1.
    ec2.replace_route(RouteTableId=figure1["rtb_a"], DestinationCidrBlock=VIP,
                      NetworkInterfaceId=figure1["node1"]["eni_id"])
    assert run_vip(binary, check, imds_node2, moto, state).returncode == 1


def test_unopenable_log_file_does_not_stop_a_failover(binary, moto, ec2, figure1, imds_node2, tmp_path):
    before = snapshot(ec2, figure1)
    log = tmp_path / "no-such-dir" / "ec2-vip.log"
    r = run_vip(binary, ["--log-file", log, "master", "--route", VIP], imds_node2, moto)
    assert r.returncode == 0, r
    assert "--log-file" in r.stderr and "WARN" in r.stderr, r
    assert changes(before, snapshot(ec2, figure1)) == moved_routes(figure1, figure1["node2"]["eni_id"])


def test_the_same_vip_in_two_sections_is_bad_input(binary, moto, ec2, figure1, imds_node2, tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[instance.VI_1]\nroutes = ["{VIP}"]\n[instance.VI_2]\nroutes = ["{VIP}"]\n')
    before = snapshot(ec2, figure1)
    r = run_vip(binary, ["--config", cfg, "notify", "INSTANCE", "VI_1", "MASTER"], imds_node2, moto)
    assert r.returncode == 2 and f"[instance.VI_1] routes[0]: route {VIP} is also in [instance.VI_2]" in r.stderr, r
    # Both sections are set aside: neither may move a VIP the other also claims.
    r = run_vip(binary, ["--config", cfg, "notify", "INSTANCE", "VI_2", "MASTER"], imds_node2, moto)
    assert r.returncode == 2 and f"[instance.VI_2] routes[0]: route {VIP} is also in [instance.VI_1]" in r.stderr, r
    assert changes(before, snapshot(ec2, figure1)) == {}


def test_unusable_state_dir_does_not_stop_a_failover(binary, moto, ec2, figure1, imds_node2, tmp_path):
    """A state dir that cannot be used (a file in the way; one others may write) only costs
    the ordering: the VIP still moves, with a warning; repair, which needs a trusted record,
    does not happen."""
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("")
    before = snapshot(ec2, figure1)
    r = run_vip(binary, ["master", "--route", VIP], imds_node2, moto, {"EC2_VIP_STATE_DIR": blocked / "sub"})
    assert r.returncode == 0 and "without ordering" in r.stderr, r
    assert changes(before, snapshot(ec2, figure1)) == moved_routes(figure1, figure1["node2"]["eni_id"])

    open_dir = tmp_path / "open"
    open_dir.mkdir(mode=0o777)
    open_dir.chmod(0o777)
    ec2.replace_route(RouteTableId=figure1["rtb_a"], DestinationCidrBlock=VIP,
                      NetworkInterfaceId=figure1["node1"]["eni_id"])
    state = {"EC2_VIP_STATE_DIR": open_dir}
    r = run_vip(binary, ["master", "--route", VIP], imds_node2, moto, state)
    assert r.returncode == 0 and "writable by group or others" in r.stderr, r
    ec2.replace_route(RouteTableId=figure1["rtb_a"], DestinationCidrBlock=VIP,
                      NetworkInterfaceId=figure1["node1"]["eni_id"])
    r = run_vip(binary, ["check", "--route", VIP, "--repair"], imds_node2, moto, state)
    assert r.returncode == 1 and "not repaired" in r.stdout, r
    tables = {t["RouteTableId"]: t for t in ec2.describe_route_tables()["RouteTables"]}
    [route] = [x for x in tables[figure1["rtb_a"]]["Routes"] if x.get("DestinationCidrBlock") == VIP]
    assert route["NetworkInterfaceId"] == figure1["node1"]["eni_id"], "no repair on an untrusted record"


def test_a_superseded_master_stops_writing(binary, moto, ec2, figure1, imds_node2, tmp_path):
    """22 tables behind a bucket of 2 writes and 1/s: the MASTER is still retrying throttled
    writes when keepalived says BACKUP. It must stop writing at once, not finish the job."""
    import subprocess
    import time

    from harness.fault_proxy import start_proxy
    from harness.runner import vip_env

    node1 = figure1["node1"]["eni_id"]
    for _ in range(20):
        rtb = ec2.create_route_table(VpcId=figure1["vpc_id"])["RouteTable"]["RouteTableId"]
        ec2.create_route(RouteTableId=rtb, DestinationCidrBlock=VIP, NetworkInterfaceId=node1)
    proxy = start_proxy(moto.url, mutating_bucket=[2, 1.0])
    try:
        cfg = tmp_path / "c.toml"
        cfg.write_text(f'[instance.VI_1]\nroutes = ["{VIP}"]\n')
        env = vip_env(imds_node2, proxy, str(tmp_path), {"EC2_VIP_STATE_DIR": tmp_path / "state"})
        notify = [str(binary), "--config", str(cfg), "--timeout", "60", "notify", "INSTANCE", "VI_1"]
        master = subprocess.Popen(notify + ["MASTER"], env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        def moved():
            return sum(1 for t in ec2.describe_route_tables()["RouteTables"] for r in t["Routes"]
                       if r.get("DestinationCidrBlock") == VIP
                       and r.get("NetworkInterfaceId") == figure1["node2"]["eni_id"])

        time.sleep(2.5)
        backup = subprocess.run(notify + ["BACKUP"], env=env, capture_output=True, text=True, timeout=30)
        assert backup.returncode == 0, backup
        at_backup = moved()
        out, err = master.communicate(timeout=30)
        assert master.returncode == 0 and "superseded by a newer BACKUP" in err, err
        # No write starts after BACKUP is recorded; only the (at most 8) already in flight
        # finish. Before, the MASTER went on until all 22 tables were taken.
        assert moved() - at_backup <= 8 and moved() < 22, (at_backup, moved())
    finally:
        proxy.stop()
