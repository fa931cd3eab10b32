"""Three VPCs on one Transit Gateway in one region (the bench's Transit Gateway layout), in
the extended moto. The seed has the keys of tgw_scenario.seed_two_regions, so its
vip_targets, vip_changes, set_active, tgw_snapshot and node_json work on it too.

Layout (node1 active), us-east-1, one account:
  VPC A 10.0.0.0/16: node1; table rtb_a1: VIP -> node1's ENI
  VPC B 10.2.0.0/16: node2; table rtb_b: VIP -> the TGW
  VPC C 10.3.0.0/16: clients only; table rtb_c: VIP -> the TGW
  TGW (one table): VIP -> VPC A's attachment; each VPC CIDR -> its attachment
"""

from .scenario import VIP, _instance
from .tgw_scenario import (CIDRS, EAST, MAIN_ACCOUNT, _attach, _tgw, _tgw_routes, _vpc,
                           _vpc_routes)


def seed_one_region(clients):
    ec2 = clients.ec2(EAST)
    vpcs = {
        "a": _vpc(ec2, "a", [EAST + "a"]),
        "b": _vpc(ec2, "b", [EAST + "c"]),
        "c": _vpc(ec2, "c", [EAST + "d"]),
    }
    node1 = _instance(ec2, vpcs["a"]["subnets"][0], EAST + "a", "10.0.1.10", "node1")
    node2 = _instance(ec2, vpcs["b"]["subnets"][0], EAST + "c", "10.2.1.10", "node2")
    node1.update(vpc="a", region=EAST, account=MAIN_ACCOUNT)
    node2.update(vpc="b", region=EAST, account=MAIN_ACCOUNT)
    tgw = _tgw(ec2, "a")
    tgw.update(region=EAST, account=MAIN_ACCOUNT, role_arn=None)
    for vpc in vpcs.values():
        vpc.update(region=EAST, account=MAIN_ACCOUNT, role_arn=None, tgw="a")
        vpc["attachment_id"] = _attach(ec2, tgw["tgw_id"], vpc)
    att = {name: vpc["attachment_id"] for name, vpc in vpcs.items()}
    _tgw_routes(ec2, tgw["rtb_id"], {VIP: att["a"], **{CIDRS[n]: att[n] for n in vpcs}})
    for name, vpc in vpcs.items():
        others = {CIDRS[o]: tgw["tgw_id"] for o in vpcs if o != name}
        vip = node1["eni_id"] if name == "a" else tgw["tgw_id"]
        for rtb in vpc["rtbs"]:
            _vpc_routes(ec2, rtb, {VIP: vip, **others})
    return {
        "vip": VIP, "cross_account": False, "accounts": {"main": MAIN_ACCOUNT, "other": MAIN_ACCOUNT},
        "role_arns": {}, "vpcs": vpcs, "tgws": {"a": tgw}, "peering_attachment_id": None,
        "node1": node1, "node2": node2,
        "sites": [{"name": n, "region": EAST, "vpc_id": v["vpc_id"]} for n, v in vpcs.items()],
    }
