"""Figure 1 of the SIOS EC2 Recovery Kit guide ("Route Table scenario"), built in moto.

    seed = seed_figure1(ec2)             # every id, see the docstring
    node = node_json(seed, "node1")      # IMDS fake input for node1
    before = snapshot(ec2, seed)
    ... run ec2-vip ...
    assert changes(before, snapshot(ec2, seed)) == {...}
"""

# An AMI that moto ships; run_instances needs an existing image id.
AMI = "ami-12c6146b"
VIP = "10.1.0.10/32"
OTHER_CLUSTER_VIP = "10.1.0.20/32"


def _tag(name):
    return [{"Key": "Name", "Value": name}]


def _tags(resource_type, name):
    return [{"ResourceType": resource_type, "Tags": _tag(name)}]


def _subnet(ec2, vpc_id, cidr, az, name):
    return ec2.create_subnet(
        VpcId=vpc_id, CidrBlock=cidr, AvailabilityZone=az,
        TagSpecifications=_tags("subnet", name),
    )["Subnet"]["SubnetId"]


def _route_table(ec2, vpc_id, name, subnets=()):
    rtb = ec2.create_route_table(
        VpcId=vpc_id, TagSpecifications=_tags("route-table", name),
    )["RouteTable"]["RouteTableId"]
    for subnet_id in subnets:
        ec2.associate_route_table(RouteTableId=rtb, SubnetId=subnet_id)
    return rtb


def _instance(ec2, subnet_id, az, private_ip, name):
    """One instance whose primary ENI routes traffic (source/dest check off)."""
    inst = ec2.run_instances(
        ImageId=AMI, InstanceType="t3.micro", MinCount=1, MaxCount=1,
        SubnetId=subnet_id, PrivateIpAddress=private_ip,
        Placement={"AvailabilityZone": az},
        TagSpecifications=_tags("instance", name),
    )["Instances"][0]
    eni = inst["NetworkInterfaces"][0]
    ec2.modify_network_interface_attribute(
        NetworkInterfaceId=eni["NetworkInterfaceId"], SourceDestCheck={"Value": False})
    return {
        "instance_id": inst["InstanceId"],
        "eni_id": eni["NetworkInterfaceId"],
        "mac": eni["MacAddress"].lower(),
        "private_ip": eni["PrivateIpAddress"],
        "subnet_id": subnet_id,
        "az": az,
    }


def _second_eni(ec2, node, private_ip, name):
    """The guide's nodes have two ENIs: add one at device index 1."""
    eni = ec2.create_network_interface(
        SubnetId=node["subnet_id"], PrivateIpAddress=private_ip, Description=name,
    )["NetworkInterface"]
    ec2.attach_network_interface(
        NetworkInterfaceId=eni["NetworkInterfaceId"], InstanceId=node["instance_id"],
        DeviceIndex=1)
    node["eni2_id"] = eni["NetworkInterfaceId"]
    node["mac2"] = eni["MacAddress"].lower()
    node["private_ip2"] = eni["PrivateIpAddress"]


def _eip(ec2, eni_id, name):
    alloc = ec2.allocate_address(Domain="vpc", TagSpecifications=_tags("elastic-ip", name))
    assoc = ec2.associate_address(AllocationId=alloc["AllocationId"], NetworkInterfaceId=eni_id)
    return {
        "allocation_id": alloc["AllocationId"],
        "public_ip": alloc["PublicIp"],
        "association_id": assoc["AssociationId"],
    }


def seed_figure1(ec2):
    """Build figure 1 through the EC2 API; return every id.

    Keys: region, vpc_id, vpc_cidr, other_vpc_id, other_vpc_cidr, igw_id, main_rtb,
    public_rtb, rtb_a, rtb_b, other_rtb, subnets {public_a, public_b, private_a,
    private_b, other}, node1/node2 {instance_id, eni_id, mac, private_ip, subnet_id, az,
    eni2_id, mac2, private_ip2}, nat_a/nat_b (same shape as a node, without eni2),
    nat_eni (= nat_a's ENI, table A's default route), nat_eni_b, nat_eips [eip, eip],
    eip {allocation_id, public_ip, association_id} (the VIP's, on node1), other_eni, vip,
    other_cluster_vip.
    """
    region = ec2.meta.region_name
    az_a, az_b = region + "a", region + "b"

    vpc_id = ec2.create_vpc(
        CidrBlock="10.0.0.0/16", TagSpecifications=_tags("vpc", "figure1"),
    )["Vpc"]["VpcId"]
    main_rtb = ec2.describe_route_tables(Filters=[
        {"Name": "vpc-id", "Values": [vpc_id]},
        {"Name": "association.main", "Values": ["true"]},
    ])["RouteTables"][0]["RouteTableId"]
    igw_id = ec2.create_internet_gateway(
        TagSpecifications=_tags("internet-gateway", "figure1-igw"),
    )["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw_id, VpcId=vpc_id)

    subnets = {
        "public_a": _subnet(ec2, vpc_id, "10.0.1.0/24", az_a, "public-a"),
        "private_a": _subnet(ec2, vpc_id, "10.0.2.0/24", az_a, "private-a"),
        "public_b": _subnet(ec2, vpc_id, "10.0.3.0/24", az_b, "public-b"),
        "private_b": _subnet(ec2, vpc_id, "10.0.4.0/24", az_b, "private-b"),
    }

    # Public subnets share one table whose default route is the internet gateway.
    public_rtb = _route_table(ec2, vpc_id, "public",
                              [subnets["public_a"], subnets["public_b"]])
    ec2.create_route(RouteTableId=public_rtb, DestinationCidrBlock="0.0.0.0/0",
                     GatewayId=igw_id)

    # One NAT instance per public subnet, each with its own Elastic IP.
    nat_a = _instance(ec2, subnets["public_a"], az_a, "10.0.1.10", "nat-a")
    nat_b = _instance(ec2, subnets["public_b"], az_b, "10.0.3.10", "nat-b")
    nat_eips = [_eip(ec2, nat_a["eni_id"], "nat-a-eip"),
                _eip(ec2, nat_b["eni_id"], "nat-b-eip")]

    node1 = _instance(ec2, subnets["private_a"], az_a, "10.0.2.10", "node1")
    node2 = _instance(ec2, subnets["private_b"], az_b, "10.0.4.10", "node2")
    _second_eni(ec2, node1, "10.0.2.11", "node1-eth1")
    _second_eni(ec2, node2, "10.0.4.11", "node2-eth1")

    # Private tables: default route via the NAT instance of the same AZ, and the VIP
    # on node1 (the active node). Table B also carries another cluster's VIP.
    rtb_a = _route_table(ec2, vpc_id, "private-a", [subnets["private_a"]])
    rtb_b = _route_table(ec2, vpc_id, "private-b", [subnets["private_b"]])
    for rtb, nat in ((rtb_a, nat_a), (rtb_b, nat_b)):
        ec2.create_route(RouteTableId=rtb, DestinationCidrBlock="0.0.0.0/0",
                         NetworkInterfaceId=nat["eni_id"])
        ec2.create_route(RouteTableId=rtb, DestinationCidrBlock=VIP,
                         NetworkInterfaceId=node1["eni_id"])
    ec2.create_route(RouteTableId=rtb_b, DestinationCidrBlock=OTHER_CLUSTER_VIP,
                     NetworkInterfaceId=node1["eni_id"])

    eip = _eip(ec2, node1["eni_id"], "vip-eip")

    # An unrelated VPC whose table routes the same VIP to its own ENI.
    other_vpc_id = ec2.create_vpc(
        CidrBlock="10.50.0.0/16", TagSpecifications=_tags("vpc", "unrelated"),
    )["Vpc"]["VpcId"]
    other_subnet = _subnet(ec2, other_vpc_id, "10.50.1.0/24", az_a, "unrelated")
    other_eni = ec2.create_network_interface(
        SubnetId=other_subnet, PrivateIpAddress="10.50.1.10", Description="unrelated",
    )["NetworkInterface"]["NetworkInterfaceId"]
    other_rtb = _route_table(ec2, other_vpc_id, "unrelated", [other_subnet])
    ec2.create_route(RouteTableId=other_rtb, DestinationCidrBlock=VIP,
                     NetworkInterfaceId=other_eni)
    subnets["other"] = other_subnet

    return {
        "region": region,
        "vpc_id": vpc_id, "vpc_cidr": "10.0.0.0/16",
        "other_vpc_id": other_vpc_id, "other_vpc_cidr": "10.50.0.0/16",
        "igw_id": igw_id,
        "main_rtb": main_rtb, "public_rtb": public_rtb,
        "rtb_a": rtb_a, "rtb_b": rtb_b, "other_rtb": other_rtb,
        "subnets": subnets,
        "node1": node1, "node2": node2,
        "nat_a": nat_a, "nat_b": nat_b,
        "nat_eni": nat_a["eni_id"], "nat_eni_b": nat_b["eni_id"],
        "nat_eips": nat_eips,
        "eip": eip,
        "other_eni": other_eni,
        "vip": VIP, "other_cluster_vip": OTHER_CLUSTER_VIP,
    }


def node_json(seed, name, region=None, role="ec2-vip-role"):
    """The IMDS fake's node JSON for seed[name]: primary ENI first, then eth1."""
    node = seed[name]
    cidrs = [seed["vpc_cidr"]]
    interfaces = [{
        "mac": node["mac"], "interface_id": node["eni_id"], "vpc_id": seed["vpc_id"],
        "subnet_id": node["subnet_id"], "vpc_ipv4_cidr_blocks": cidrs,
        "local_ipv4s": [node["private_ip"]], "device_number": 0,
    }]
    if node.get("subnet_cidr"):
        interfaces[0]["subnet_ipv4_cidr_block"] = node["subnet_cidr"]
    if node.get("subnet_ipv6_cidr"):
        interfaces[0]["subnet_ipv6_cidr_blocks"] = [node["subnet_ipv6_cidr"]]
    if seed.get("vpc_ipv6_cidr"):
        interfaces[0]["vpc_ipv6_cidr_blocks"] = [seed["vpc_ipv6_cidr"]]
    if "eni2_id" in node:
        interfaces.append({
            "mac": node["mac2"], "interface_id": node["eni2_id"], "vpc_id": seed["vpc_id"],
            "subnet_id": node["subnet_id"], "vpc_ipv4_cidr_blocks": cidrs,
            "local_ipv4s": [node["private_ip2"]], "device_number": 1,
        })
    return {
        "instance_id": node["instance_id"],
        "region": region or seed["region"],
        "availability_zone": node["az"],
        "role": role,
        "interfaces": interfaces,
    }


_TARGET_KEYS = ("GatewayId", "NetworkInterfaceId", "InstanceId", "NatGatewayId",
                "TransitGatewayId", "VpcPeeringConnectionId", "EgressOnlyInternetGatewayId",
                "LocalGatewayId", "CarrierGatewayId", "CoreNetworkArn")
_DEST_KEYS = ("DestinationCidrBlock", "DestinationIpv6CidrBlock", "DestinationPrefixListId")


def route_target(route):
    """The id a route points at (an ENI route shows only NetworkInterfaceId in moto)."""
    for key in _TARGET_KEYS:
        if route.get(key):
            return route[key]
    return None


def routes_of(ec2, rtb_id):
    """{destination: target_id} of one route table."""
    table = ec2.describe_route_tables(RouteTableIds=[rtb_id])["RouteTables"][0]
    return _routes(table)


def _routes(table):
    out = {}
    for route in table.get("Routes", []):
        dest = next(route[k] for k in _DEST_KEYS if route.get(k))
        out[dest] = route_target(route)
    return out


def snapshot(ec2, seed):
    """Every route of every table in both VPCs, and where every Elastic IP points.

    {"routes": {rtb_id: {dest: target_id}},
     "addresses": {allocation_id: eni_id_or_None},
     "eip": eni_id_or_None}           # the VIP's EIP (DescribeAddresses is the truth)
    """
    tables = ec2.describe_route_tables(Filters=[
        {"Name": "vpc-id", "Values": [seed["vpc_id"], seed["other_vpc_id"]]},
    ])["RouteTables"]
    addresses = {
        a["AllocationId"]: a.get("NetworkInterfaceId") or None  # moto leaves "" after a disassociation
        for a in ec2.describe_addresses()["Addresses"]
    }
    return {
        "routes": {t["RouteTableId"]: _routes(t) for t in tables},
        "addresses": addresses,
        "eip": addresses.get(seed["eip"]["allocation_id"]),
    }


def full_snapshot(ec2, seed):
    """`snapshot` plus every ENI's private IPv4 and IPv6 addresses:
    {..., "enis": {eni_id: ([private ips], [ipv6 addresses])}}."""
    out = snapshot(ec2, seed)
    out["enis"] = {
        n["NetworkInterfaceId"]: (sorted(p["PrivateIpAddress"] for p in n.get("PrivateIpAddresses", [])),
                                  sorted(a["Ipv6Address"] for a in n.get("Ipv6Addresses", [])))
        for n in ec2.describe_network_interfaces()["NetworkInterfaces"]
    }
    return out


def changes(before, after):
    """What differs between two snapshots, as {key: (old, new)}.

    Keys are ("route", rtb_id, dest) and ("address", allocation_id); a missing
    route or address shows as None.
    """
    out = {}
    for rtb in set(before["routes"]) | set(after["routes"]):
        old = before["routes"].get(rtb, {})
        new = after["routes"].get(rtb, {})
        for dest in set(old) | set(new):
            if old.get(dest) != new.get(dest):
                out[("route", rtb, dest)] = (old.get(dest), new.get(dest))
    for alloc in set(before["addresses"]) | set(after["addresses"]):
        old, new = before["addresses"].get(alloc), after["addresses"].get(alloc)
        if old != new:
            out[("address", alloc)] = (old, new)
    return out


def add_vip_tables(ec2, seed, count):
    """`count` more private route tables in figure 1's VPC, each with the VIP on node1."""
    tables = []
    for _ in range(count):
        rtb = ec2.create_route_table(VpcId=seed["vpc_id"])["RouteTable"]["RouteTableId"]
        ec2.create_route(RouteTableId=rtb, DestinationCidrBlock=VIP, NetworkInterfaceId=seed["node1"]["eni_id"])
        tables.append(rtb)
    return tables


def vip_targets(ec2, vpc_id):
    """{rtb_id: target of its VIP route} for every table of the VPC holding one."""
    out = {}
    pages = ec2.get_paginator("describe_route_tables").paginate(Filters=[
        {"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "route.destination-cidr-block", "Values": [VIP]}])
    for page in pages:
        for table in page["RouteTables"]:
            for r in table["Routes"]:
                if r.get("DestinationCidrBlock") == VIP:
                    out[table["RouteTableId"]] = route_target(r)
    return out
