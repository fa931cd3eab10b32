"""Transit Gateway scenario: two VPCs in two regions with peered Transit Gateways and a
client VPC, same account and cross-account (STS AssumeRole), against extended moto."""

import os
import subprocess
import time

import pytest

from harness.imds_fake import start_imds
from harness.runner import run_vip, vip_env
from harness.tgw_scenario import changes, node_json, seed_two_regions, tgw_snapshot, vip_changes


def write_config(seed, path):
    lines = ["[instance.VI_1]", f'routes = ["{seed["vip"]}"]']
    for s in seed["sites"]:
        lines += ["", "[[instance.VI_1.sites]]", f'region = "{s["region"]}"', f'vpc_id = "{s["vpc_id"]}"']
        if s.get("role_arn"):
            lines.append(f'role_arn = "{s["role_arn"]}"')
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def nodes(tgw_clients, request):
    seed = seed_two_regions(tgw_clients, cross_account=request.param)
    imds = {n: start_imds(node_json(seed, n), log_requests=False) for n in ("node1", "node2")}
    yield seed, imds
    for s in imds.values():
        s.stop()


def notify(binary, cfg, imds, moto, state="MASTER", *extra):
    return run_vip(binary, ["--config", cfg, *extra, "notify", "INSTANCE", "VI_1", state, "150"], imds, moto,
                   extra_env={"AWS_ENDPOINT_URL_STS": moto.url})


@pytest.mark.parametrize("nodes", [False, True], ids=["same-account", "cross-account"], indirect=True)
def test_fail_over_a_to_b_and_back(binary, tgw_clients, moto_ext_session, nodes, tmp_path):
    seed, imds = nodes
    cfg = write_config(seed, tmp_path / "tgw.toml")
    start = tgw_snapshot(tgw_clients, seed)

    dry = notify(binary, cfg, imds["node2"], moto_ext_session, "MASTER", "--dry-run")
    assert dry.returncode == 0, dry
    assert dry.stdout.count("(replace)") == len(vip_changes(seed, "node1", "node2")), dry.stdout
    assert changes(start, tgw_snapshot(tgw_clients, seed)) == {}

    r = notify(binary, cfg, imds["node2"], moto_ext_session)
    assert r.returncode == 0, r
    on_b = tgw_snapshot(tgw_clients, seed)
    assert changes(start, on_b) == vip_changes(seed, "node1", "node2")

    again = notify(binary, cfg, imds["node2"], moto_ext_session)
    assert again.returncode == 0 and " 0 changed" in again.stderr, again
    assert changes(on_b, tgw_snapshot(tgw_clients, seed)) == {}

    back = notify(binary, cfg, imds["node1"], moto_ext_session)
    assert back.returncode == 0, back
    assert changes(start, tgw_snapshot(tgw_clients, seed)) == {}, "A->B->A restores every table"


@pytest.mark.parametrize("nodes", [False], indirect=True)
def test_check_sees_tgw_drift(binary, tgw_clients, moto_ext_session, nodes, tmp_path):
    seed, imds = nodes
    cfg = write_config(seed, tmp_path / "tgw.toml")
    ok = run_vip(binary, ["--config", cfg, "check", "--instance", "VI_1"], imds["node1"], moto_ext_session)
    assert ok.returncode == 0, ok
    bad = run_vip(binary, ["--config", cfg, "check", "--instance", "VI_1"], imds["node2"], moto_ext_session)
    assert bad.returncode == 1, bad
    assert seed["tgws"]["a"]["rtb_id"] in bad.stdout and seed["tgws"]["b"]["rtb_id"] in bad.stdout, bad.stdout


@pytest.mark.parametrize("nodes", [True], ids=["cross-account"], indirect=True)
def test_status_lists_every_site(binary, tgw_clients, moto_ext_session, nodes, tmp_path):
    import json
    seed, imds = nodes
    cfg = write_config(seed, tmp_path / "tgw.toml")
    env = {"AWS_ENDPOINT_URL_STS": moto_ext_session.url}
    mine = run_vip(binary, ["--config", cfg, "status", "--json"], imds["node1"], moto_ext_session, env)
    assert mine.returncode == 0, mine
    [st] = json.loads(mine.stdout)
    tables = {r["table_id"]: r for r in st["transit_gateway_routes"]}
    expected = {table for (_, table, _) in vip_changes(seed, "node1", "node2")}
    assert expected <= set(tables), (expected, tables)
    assert all(r["as_this_master_wants"] for r in tables.values())
    other = json.loads(run_vip(binary, ["--config", cfg, "status", "--json"], imds["node2"], moto_ext_session,
                               env).stdout)[0]
    wrong = {r["table_id"] for r in other["transit_gateway_routes"] if not r["as_this_master_wants"]}
    assert wrong == expected


def _wait_for(pred, what, timeout=20):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.parametrize("nodes", [False], indirect=True)
def test_watch_repairs_tgw_drift(binary, tgw_clients, moto_ext_session, nodes, tmp_path):
    """watch reconciles every scenario: a Transit Gateway route taken back is repaired."""
    seed, imds = nodes
    cfg = write_config(seed, tmp_path / "tgw.toml")
    fifo, log = tmp_path / "notify.fifo", tmp_path / "watch.log"
    os.mkfifo(fifo, 0o600)
    env = vip_env(imds["node2"], moto_ext_session, str(tmp_path),
                  {"EC2_VIP_STATE_DIR": tmp_path / "state", "AWS_ENDPOINT_URL_STS": moto_ext_session.url})
    argv = [str(binary), "--config", str(cfg), "--log-file", str(log), "watch", "--fifo", str(fifo),
            "--interval", "0.5"]
    proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    fd = os.open(fifo, os.O_RDWR)
    try:
        _wait_for(lambda: log.exists() and "watching" in log.read_text(), "watcher start")
        start = tgw_snapshot(tgw_clients, seed)
        on_node2 = vip_changes(seed, "node1", "node2")
        os.write(fd, b'INSTANCE "VI_1" MASTER 150\n')
        _wait_for(lambda: changes(start, tgw_snapshot(tgw_clients, seed)) == on_node2, "MASTER applied")

        # Someone points TGW A's VIP route back at VPC A's attachment (node1's side).
        tgw_a = seed["tgws"]["a"]
        tgw_clients.ec2(tgw_a["region"], tgw_a["account"]).replace_transit_gateway_route(
            TransitGatewayRouteTableId=tgw_a["rtb_id"], DestinationCidrBlock=seed["vip"],
            TransitGatewayAttachmentId=seed["vpcs"]["a"]["attachment_id"])
        assert changes(start, tgw_snapshot(tgw_clients, seed)) != on_node2
        _wait_for(lambda: changes(start, tgw_snapshot(tgw_clients, seed)) == on_node2, "TGW drift repaired")
        text = log.read_text()
        assert "drift:" in text and tgw_a["rtb_id"] in text, text
    finally:
        os.close(fd)
        proc.kill()
        proc.wait()
