"""Two regions joined by peered Transit Gateways (the SIOS Transit Gateway ARK), in moto.

    moto = start_moto(venv, extended=True)          # harness/moto_ext.py: TGW calls moto lacks
    clients = Clients(moto.url)                     # one per test, after moto.reset()
    seed = seed_two_regions(clients)                # or cross_account=True
    before = tgw_snapshot(clients, seed)
    ... node2 becomes MASTER ...
    assert changes(before, tgw_snapshot(clients, seed)) == vip_changes(seed, "node1", "node2")
    set_active(clients, seed, "node1")              # the same through the EC2 API

Layout (node1 active):
  us-east-1  VPC A 10.0.0.0/16: node1; tables rtb_a1, rtb_a2: VIP -> node1's ENI
             TGW A (one table): VIP -> VPC A's attachment
  us-west-2  VPC B 10.2.0.0/16: node2; table rtb_b: VIP -> TGW B
             VPC C 10.3.0.0/16: clients only; table rtb_c: VIP -> TGW B
             TGW B (one table), attached to VPC B and VPC C: VIP -> peering attachment
  TGW A <-> TGW B peering attachment (requested from us-east-1, accepted in us-west-2).
Plus routes that must never change: the VPC CIDRs between the VPCs, another cluster's VIP
(10.1.0.20/32 in rtb_a1 and TGW A), and a blackhole 10.9.0.0/16 in each TGW table.

cross_account=True: TGW B and the VPCs named in other_account_vpcs (default: only C, i.e.
the TGW lives in a network account that also owns the client VPC, VPC B's owner attaches
to the shared TGW) belong to OTHER_ACCOUNT, reached with STS AssumeRole like the product.
As on AWS, VPC B's account then sees its attachment (TransitGatewayOwnerId = OTHER_ACCOUNT)
but neither TGW B's route tables nor the peering: those only through OTHER_ACCOUNT (site C's
role). other_account_vpcs=("b", "c"): the whole us-west-2 side, node2 too, is OTHER_ACCOUNT.
"""

import boto3
from botocore.config import Config

from .moto import DUMMY_KEY, DUMMY_SECRET
from .scenario import OTHER_CLUSTER_VIP, VIP, _instance, _route_table, _routes, _subnet, _tags
from .scenario import changes as _changes
from .scenario import node_json as _node_json

MAIN_ACCOUNT = "123456789012"   # moto's default: any credentials it did not issue
OTHER_ACCOUNT = "222222222222"
ROLE_NAME = "ec2-vip-cross-account"
EAST, WEST = "us-east-1", "us-west-2"
CIDRS = {"a": "10.0.0.0/16", "b": "10.2.0.0/16", "c": "10.3.0.0/16"}
UNRELATED_TGW_ROUTE = "10.9.0.0/16"  # blackhole in both TGW tables
BLACKHOLE = "blackhole"              # a blackhole TGW route's target in snapshots
_CONFIG = Config(retries={"max_attempts": 1, "mode": "standard"})

__all__ = ["Clients", "seed_two_regions", "tgw_snapshot", "changes", "node_json",
           "vip_targets", "vip_changes", "set_active"]


class Clients:
    """boto3 clients on one moto server, per region and account.

    MAIN_ACCOUNT uses dummy keys. Another account is reached as the product reaches it:
    sts.assume_role(RoleArn=arn:aws:iam::<account>:role/<role_name>) with the main keys,
    then the temporary credentials it returns (moto maps their key id to <account>; the
    role need not exist). Make a new Clients after moto.reset(): a reset forgets issued
    keys, which then silently act as MAIN_ACCOUNT.
    """

    def __init__(self, url, role_name=ROLE_NAME):
        self.url = url
        self.role_name = role_name
        self._creds = {}
        self._clients = {}

    def role_arn(self, account):
        return f"arn:aws:iam::{account}:role/{self.role_name}"

    def credentials(self, account):
        """{AccessKeyId, SecretAccessKey, SessionToken} acting as `account`."""
        if account == MAIN_ACCOUNT:
            return {"AccessKeyId": DUMMY_KEY, "SecretAccessKey": DUMMY_SECRET,
                    "SessionToken": None}
        if account not in self._creds:
            resp = self.client("sts", EAST).assume_role(
                RoleArn=self.role_arn(account), RoleSessionName="ec2-vip-harness")
            self._creds[account] = {k: resp["Credentials"][k] for k in
                                    ("AccessKeyId", "SecretAccessKey", "SessionToken")}
        return self._creds[account]

    def client(self, service, region, account=MAIN_ACCOUNT):
        key = (service, region, account)
        if key not in self._clients:
            creds = self.credentials(account)
            self._clients[key] = boto3.client(
                service, region_name=region, endpoint_url=self.url, config=_CONFIG,
                aws_access_key_id=creds["AccessKeyId"],
                aws_secret_access_key=creds["SecretAccessKey"],
                aws_session_token=creds["SessionToken"])
        return self._clients[key]

    def ec2(self, region, account=MAIN_ACCOUNT):
        return self.client("ec2", region, account)

    def account_of(self, account):
        """The account moto attributes these credentials to (sts:GetCallerIdentity)."""
        return self.client("sts", EAST, account).get_caller_identity()["Account"]


def _vpc(ec2, name, azs):
    """A VPC with one private subnet and route table per AZ."""
    cidr = CIDRS[name]
    vpc_id = ec2.create_vpc(CidrBlock=cidr,
                            TagSpecifications=_tags("vpc", f"vpc-{name}"))["Vpc"]["VpcId"]
    main_rtb = ec2.describe_route_tables(Filters=[
        {"Name": "vpc-id", "Values": [vpc_id]},
        {"Name": "association.main", "Values": ["true"]},
    ])["RouteTables"][0]["RouteTableId"]
    prefix = cidr.rsplit(".", 2)[0]  # "10.0"
    subnets, rtbs = [], []
    for i, az in enumerate(azs, 1):
        subnet = _subnet(ec2, vpc_id, f"{prefix}.{i}.0/24", az, f"{name}{i}")
        subnets.append(subnet)
        rtbs.append(_route_table(ec2, vpc_id, f"private-{name}{i}", [subnet]))
    return {"vpc_id": vpc_id, "cidr": cidr, "main_rtb": main_rtb, "subnets": subnets,
            "rtbs": rtbs}


def _tgw(ec2, name):
    tgw = ec2.create_transit_gateway(
        Description=f"tgw-{name}",
        TagSpecifications=_tags("transit-gateway", f"tgw-{name}"))["TransitGateway"]
    return {"tgw_id": tgw["TransitGatewayId"],
            "rtb_id": tgw["Options"]["AssociationDefaultRouteTableId"]}


def _attach(ec2, tgw_id, vpc):
    return ec2.create_transit_gateway_vpc_attachment(
        TransitGatewayId=tgw_id, VpcId=vpc["vpc_id"], SubnetIds=vpc["subnets"],
    )["TransitGatewayVpcAttachment"]["TransitGatewayAttachmentId"]


def _tgw_routes(ec2, rtb_id, routes):
    for dest, att in routes.items():
        target = {"Blackhole": True} if att is None else {"TransitGatewayAttachmentId": att}
        ec2.create_transit_gateway_route(TransitGatewayRouteTableId=rtb_id,
                                         DestinationCidrBlock=dest, **target)


def _vpc_routes(ec2, rtb_id, routes):
    for dest, target in routes.items():
        key = "TransitGatewayId" if target.startswith("tgw-") else "NetworkInterfaceId"
        ec2.create_route(RouteTableId=rtb_id, DestinationCidrBlock=dest, **{key: target})


def seed_two_regions(clients, cross_account=False, other_account_vpcs=("c",)):
    """Build the layout above through the EC2 API (extended moto); return every id.

    Keys: vip, other_cluster_vip, unrelated_tgw_route, cross_account, accounts
    {main, other} (other == main unless cross_account), role_arns {account: arn} (other accounts only; {} same-account),
    vpcs {a, b, c: {vpc_id, cidr, region, account, role_arn (None in MAIN_ACCOUNT),
    main_rtb, subnets [ids], rtbs [ids] (the tables holding the VIP), tgw ("a"/"b"),
    attachment_id}}, tgws {a, b: {tgw_id, rtb_id, region, account, role_arn}},
    peering_attachment_id, node1/node2 {instance_id, eni_id, mac, private_ip, subnet_id,
    az, vpc, region, account}, sites [{name, region, vpc_id, role_arn?}] (config input).
    """
    other = OTHER_ACCOUNT if cross_account else MAIN_ACCOUNT
    acct = {"a": MAIN_ACCOUNT, "tgw_a": MAIN_ACCOUNT, "tgw_b": other,
            "b": other if "b" in other_account_vpcs else MAIN_ACCOUNT,
            "c": other if "c" in other_account_vpcs else MAIN_ACCOUNT}
    region = {"a": EAST, "tgw_a": EAST, "b": WEST, "c": WEST, "tgw_b": WEST}

    def ec2(part):
        return clients.ec2(region[part], acct[part])

    def role(part):
        return clients.role_arn(acct[part]) if acct[part] != MAIN_ACCOUNT else None

    vpcs = {
        "a": _vpc(ec2("a"), "a", [EAST + "a", EAST + "b"]),
        "b": _vpc(ec2("b"), "b", [WEST + "a"]),
        "c": _vpc(ec2("c"), "c", [WEST + "b"]),
    }
    node1 = _instance(ec2("a"), vpcs["a"]["subnets"][0], EAST + "a", "10.0.1.10", "node1")
    node2 = _instance(ec2("b"), vpcs["b"]["subnets"][0], WEST + "a", "10.2.1.10", "node2")
    node1.update(vpc="a", region=EAST, account=acct["a"])
    node2.update(vpc="b", region=WEST, account=acct["b"])

    tgws = {"a": _tgw(ec2("tgw_a"), "a"), "b": _tgw(ec2("tgw_b"), "b")}
    for name, tgw in tgws.items():
        tgw.update(region=region["tgw_" + name], account=acct["tgw_" + name],
                   role_arn=role("tgw_" + name))
    for name, tgw_name in (("a", "a"), ("b", "b"), ("c", "b")):
        vpc = vpcs[name]
        vpc.update(region=region[name], account=acct[name], role_arn=role(name),
                   tgw=tgw_name)
        # The VPC's owner attaches it (to a TGW shared from another account if need be).
        vpc["attachment_id"] = _attach(ec2(name), tgws[tgw_name]["tgw_id"], vpc)

    peering = ec2("tgw_a").create_transit_gateway_peering_attachment(
        TransitGatewayId=tgws["a"]["tgw_id"], PeerTransitGatewayId=tgws["b"]["tgw_id"],
        PeerAccountId=acct["tgw_b"], PeerRegion=WEST,
        TagSpecifications=_tags("transit-gateway-attachment", "tgw-a-to-b"),
    )["TransitGatewayPeeringAttachment"]["TransitGatewayAttachmentId"]
    ec2("tgw_b").accept_transit_gateway_peering_attachment(TransitGatewayAttachmentId=peering)

    att = {name: vpcs[name]["attachment_id"] for name in vpcs}
    _tgw_routes(ec2("tgw_a"), tgws["a"]["rtb_id"], {
        VIP: att["a"], OTHER_CLUSTER_VIP: att["a"], CIDRS["a"]: att["a"],
        CIDRS["b"]: peering, CIDRS["c"]: peering, UNRELATED_TGW_ROUTE: None})
    _tgw_routes(ec2("tgw_b"), tgws["b"]["rtb_id"], {
        VIP: peering, CIDRS["a"]: peering, CIDRS["b"]: att["b"], CIDRS["c"]: att["c"],
        UNRELATED_TGW_ROUTE: None})

    for rtb in vpcs["a"]["rtbs"]:
        _vpc_routes(ec2("a"), rtb, {VIP: node1["eni_id"], CIDRS["b"]: tgws["a"]["tgw_id"],
                                    CIDRS["c"]: tgws["a"]["tgw_id"]})
    _vpc_routes(ec2("a"), vpcs["a"]["rtbs"][0], {OTHER_CLUSTER_VIP: node1["eni_id"]})
    for name, others in (("b", ("a", "c")), ("c", ("a", "b"))):
        tgw_b = tgws["b"]["tgw_id"]
        for rtb in vpcs[name]["rtbs"]:
            _vpc_routes(ec2(name), rtb, {VIP: tgw_b, **{CIDRS[o]: tgw_b for o in others}})

    role_arns = {a: clients.role_arn(a) for a in set(acct.values()) if a != MAIN_ACCOUNT}
    sites = []
    for name, vpc in vpcs.items():
        site = {"name": name, "region": vpc["region"], "vpc_id": vpc["vpc_id"]}
        if vpc["role_arn"]:
            site["role_arn"] = vpc["role_arn"]
        sites.append(site)
    return {
        "vip": VIP, "other_cluster_vip": OTHER_CLUSTER_VIP,
        "unrelated_tgw_route": UNRELATED_TGW_ROUTE,
        "cross_account": cross_account,
        "accounts": {"main": MAIN_ACCOUNT, "other": other},
        "role_arns": role_arns,
        "vpcs": vpcs, "tgws": tgws, "peering_attachment_id": peering,
        "node1": node1, "node2": node2, "sites": sites,
    }


def _places(seed):
    """Every (account, region) the seed put something in."""
    parts = list(seed["vpcs"].values()) + list(seed["tgws"].values())
    return sorted({(p["account"], p["region"]) for p in parts})


def tgw_snapshot(clients, seed):
    """Every VPC route and every static TGW route in the seed's accounts and regions.

    {"routes": {rtb_id: {dest: target_id}},               # as scenario.snapshot
     "tgw_routes": {tgw_rtb_id: {dest: attachment_id or "blackhole"}},
     "where": {table_id: (account, region)}}
    """
    routes, tgw_routes, where = {}, {}, {}
    for account, region in _places(seed):
        ec2 = clients.ec2(region, account)
        for table in ec2.describe_route_tables()["RouteTables"]:
            routes[table["RouteTableId"]] = _routes(table)
            where[table["RouteTableId"]] = (account, region)
        for table in ec2.describe_transit_gateway_route_tables()["TransitGatewayRouteTables"]:
            if table["State"] in ("deleting", "deleted"):
                continue
            rtb_id = table["TransitGatewayRouteTableId"]
            found = ec2.search_transit_gateway_routes(
                TransitGatewayRouteTableId=rtb_id,
                Filters=[{"Name": "type", "Values": ["static"]}])["Routes"]
            tgw_routes[rtb_id] = {
                r["DestinationCidrBlock"]:
                    BLACKHOLE if r["State"] == "blackhole" else
                    ",".join(a["TransitGatewayAttachmentId"]
                             for a in r.get("TransitGatewayAttachments", []))
                for r in found}
            where[rtb_id] = (account, region)
    return {"routes": routes, "tgw_routes": tgw_routes, "where": where}


def changes(before, after):
    """What differs between two tgw_snapshots, as {key: (old, new)}.

    Keys: ("route", rtb_id, dest) and ("tgw_route", tgw_rtb_id, dest); missing -> None.
    """
    out = _changes({"routes": before["routes"], "addresses": {}},
                   {"routes": after["routes"], "addresses": {}})
    tgw = _changes({"routes": before["tgw_routes"], "addresses": {}},
                   {"routes": after["tgw_routes"], "addresses": {}})
    out.update({("tgw_route",) + key[1:]: diff for key, diff in tgw.items()})
    return out


def vip_targets(seed, active):
    """Where the VIP must point in every table when `active` ("node1"/"node2") is MASTER:
    {("route", rtb_id, vip) | ("tgw_route", tgw_rtb_id, vip): target id}."""
    node = seed[active]
    home_vpc = seed["vpcs"][node["vpc"]]
    home_tgw = home_vpc["tgw"]
    vip = seed["vip"]
    out = {}
    for name, vpc in seed["vpcs"].items():
        target = node["eni_id"] if name == node["vpc"] else seed["tgws"][vpc["tgw"]]["tgw_id"]
        for rtb in vpc["rtbs"]:
            out[("route", rtb, vip)] = target
    for name, tgw in seed["tgws"].items():
        target = (home_vpc["attachment_id"] if name == home_tgw
                  else seed["peering_attachment_id"])
        out[("tgw_route", tgw["rtb_id"], vip)] = target
    return out


def vip_changes(seed, old, new):
    """changes() expected when MASTER moves from `old` to `new`: VIP routes only."""
    before, after = vip_targets(seed, old), vip_targets(seed, new)
    return {k: (before[k], after[k]) for k in before if before[k] != after[k]}


def _table_places(seed):
    """{route table or TGW route table id: (account, region)} of the seed's VIP tables."""
    out = {rtb: (v["account"], v["region"]) for v in seed["vpcs"].values() for rtb in v["rtbs"]}
    out.update({t["rtb_id"]: (t["account"], t["region"]) for t in seed["tgws"].values()})
    return out


def set_active(clients, seed, name):
    """Point every VIP route at `name` ("node1"/"node2") through the EC2 API, the state a
    MASTER transition must reach (e.g. to start a test with node2 active)."""
    places = _table_places(seed)
    targets = vip_targets(seed, name)
    for (kind, table, dest), target in targets.items():
        ec2 = clients.ec2(places[table][1], places[table][0])
        if kind == "route":
            key = "NetworkInterfaceId" if target.startswith("eni-") else "TransitGatewayId"
            ec2.replace_route(RouteTableId=table, DestinationCidrBlock=dest, **{key: target})
        else:
            ec2.replace_transit_gateway_route(
                TransitGatewayRouteTableId=table, DestinationCidrBlock=dest,
                TransitGatewayAttachmentId=target)
    return targets


def node_json(seed, name, role="ec2-vip-role"):
    """The IMDS fake's node JSON for node1/node2 (scenario.node_json on its own VPC)."""
    node = seed[name]
    vpc = seed["vpcs"][node["vpc"]]
    view = {"region": node["region"], "vpc_id": vpc["vpc_id"], "vpc_cidr": vpc["cidr"],
            name: node}
    return _node_json(view, name, role=role)
