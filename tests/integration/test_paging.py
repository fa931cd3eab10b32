"""Every describe pages: EC2 answers a page and a NextToken while more remain, and may
answer a page holding none of the matches (it pages before it filters). ec2-vip must read
to the last page. Here EC2 is the extended moto forced to pages of 2 for ec2-vip's requests
(harness/moto_ext_paging.py); the tests' own boto3 calls read everything at once."""

import pytest

from harness.imds_fake import start_imds
from harness.moto import ec2_client, start_moto
from harness.runner import run_vip
from harness.scenario import VIP, add_vip_tables, node_json, seed_figure1, vip_targets
from harness.tgw_one_region import seed_one_region
from harness.tgw_scenario import EAST, Clients
from harness.tgw_scenario import node_json as tgw_node_json

PAGE = 2


@pytest.fixture(scope="module")
def paged_moto(venv, tmp_path_factory):
    log = tmp_path_factory.getbasetemp() / "moto_paged.log"
    env = {"EC2VIP_MOTO_PAGE_SIZE": str(PAGE), "EC2VIP_MOTO_PAGE_AGENT": "aws-sdk-rust"}
    server = start_moto(str(venv), log_path=str(log), region=EAST, extended=True, env=env)
    yield server
    server.stop()


def test_the_harness_pages_before_filtering(paged_moto):
    paged_moto.reset(seed=1)
    ec2 = ec2_client(paged_moto.url, EAST)
    add_vip_tables(ec2, seed_figure1(ec2), 10)
    everything = ec2.describe_route_tables()["RouteTables"]  # boto3: not forced to pages
    size = 5  # EC2's smallest MaxResults (boto3 refuses less)
    assert len(everything) > 3 * size
    first = ec2.describe_route_tables(MaxResults=size)
    assert len(first["RouteTables"]) == size and first["NextToken"]
    last = everything[-1]["RouteTableId"]
    pages = list(ec2.get_paginator("describe_route_tables").paginate(
        Filters=[{"Name": "route-table-id", "Values": [last]}], PaginationConfig={"PageSize": size}))
    assert len(pages) == -(-len(everything) // size), "one page per 5 tables, matched or not"
    assert all(not p["RouteTables"] and p["NextToken"] for p in pages[:-1]), "empty pages with a token"
    assert [t["RouteTableId"] for t in pages[-1]["RouteTables"]] == [last]
    assert "NextToken" not in pages[-1]


@pytest.mark.parametrize("by_id", [True, False], ids=["route_tables-by-id", "found-by-filter"])
def test_thirty_route_tables_in_pages_of_two_all_move(binary, paged_moto, tmp_path, by_id):
    paged_moto.reset(seed=1)
    ec2 = ec2_client(paged_moto.url, EAST)
    seed = seed_figure1(ec2)
    ids = [seed["rtb_a"], seed["rtb_b"], *add_vip_tables(ec2, seed, 28)]
    cfg = tmp_path / "c.toml"
    chosen = "route_tables = [" + ", ".join(f'"{i}"' for i in ids) + "]\n" if by_id else ""
    cfg.write_text(f'[instance.VI_1]\nroutes = ["{VIP}"]\n{chosen}')
    imds = start_imds(node_json(seed, "node2", EAST), log_requests=False)
    try:
        r = run_vip(binary, ["--config", cfg, "notify", "INSTANCE", "VI_1", "MASTER", "100"], imds, paged_moto)
    finally:
        imds.stop()
    assert r.returncode == 0, r
    targets = vip_targets(ec2, seed["vpc_id"])
    assert sorted(targets) == sorted(ids)
    assert set(targets.values()) == {seed["node2"]["eni_id"]}, targets


def test_transit_gateway_tables_and_attachments_in_pages_of_two(binary, paged_moto, tmp_path):
    """Six TGW route tables hold the VIP (the default one and five more), three VPC
    attachments: in pages of 2 the last ones come after the first page."""
    paged_moto.reset(seed=1)
    clients = Clients(paged_moto.url)
    seed = seed_one_region(clients)
    ec2 = clients.ec2(EAST)
    tgw = seed["tgws"]["a"]
    att_a, att_b = seed["vpcs"]["a"]["attachment_id"], seed["vpcs"]["b"]["attachment_id"]
    tables = [tgw["rtb_id"]]
    for _ in range(5):
        rt = ec2.create_transit_gateway_route_table(TransitGatewayId=tgw["tgw_id"])
        rt = rt["TransitGatewayRouteTable"]["TransitGatewayRouteTableId"]
        ec2.create_transit_gateway_route(TransitGatewayRouteTableId=rt, DestinationCidrBlock=VIP,
                                         TransitGatewayAttachmentId=att_a)
        tables.append(rt)
    lines = ["[instance.VI_1]", f'routes = ["{VIP}"]']
    for s in seed["sites"]:
        lines += ["[[instance.VI_1.sites]]", f'region = "{s["region"]}"', f'vpc_id = "{s["vpc_id"]}"']
    cfg = tmp_path / "tgw.toml"
    cfg.write_text("\n".join(lines) + "\n")
    imds = start_imds(tgw_node_json(seed, "node2"), log_requests=False)
    try:
        r = run_vip(binary, ["--config", cfg, "notify", "INSTANCE", "VI_1", "MASTER", "150"], imds, paged_moto,
                    extra_env={"AWS_ENDPOINT_URL_STS": paged_moto.url})
    finally:
        imds.stop()
    assert r.returncode == 0, r
    for rt in tables:
        [route] = ec2.search_transit_gateway_routes(
            TransitGatewayRouteTableId=rt,
            Filters=[{"Name": "route-search.exact-match", "Values": [VIP]}])["Routes"]
        assert route["TransitGatewayAttachments"][0]["TransitGatewayAttachmentId"] == att_b, (rt, route)
