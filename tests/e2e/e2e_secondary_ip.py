"""The lab with the pair in one subnet: figure 1's node1 (keepalived node a) and node3, a
peer in node1's subnet (node b), move the secondary private IP 10.0.2.100 between their
ENIs (the secondary private IP scenario), against moto extended with EC2's
AssignPrivateIpAddresses semantics. keepalived itself is configured as in the other lab."""

from harness.scenario import _instance, changes, seed_figure1, snapshot

from e2e_cluster import Cluster
from e2e_net import in_netns

SECONDARY_IP = "10.0.2.100"


class SecondaryIpCluster(Cluster):
    EXTENDED = True
    SEED_NODE = {"a": "node1", "b": "node3"}
    LABEL = "secondary IP: "

    def seed_ec2(self):
        seed = seed_figure1(self.ec2)
        node1 = seed["node1"]
        [subnet] = self.ec2.describe_subnets(SubnetIds=[node1["subnet_id"]])["Subnets"]
        seed["node3"] = _instance(self.ec2, node1["subnet_id"], node1["az"], "10.0.2.30", "node3")
        for n in ("node1", "node3"):
            seed[n]["subnet_cidr"] = subnet["CidrBlock"]
        self.ec2.assign_private_ip_addresses(NetworkInterfaceId=node1["eni_id"], PrivateIpAddresses=[SECONDARY_IP])
        return seed

    def toml_text(self):
        return f'[instance.VI_1]\nprivate_ips = ["{SECONDARY_IP}"]\n'

    def snapshot(self):
        with in_netns(self.lab.sw):
            snap = snapshot(self.ec2, self.seed)
            enis = self.ec2.describe_network_interfaces(Filters=[
                {"Name": "subnet-id", "Values": [self.seed["node1"]["subnet_id"]]}])["NetworkInterfaces"]
        snap["secondary_ip"] = sorted(e["NetworkInterfaceId"] for e in enis
                                      if any(p["PrivateIpAddress"] == SECONDARY_IP for p in e["PrivateIpAddresses"]))
        return snap

    def point_at(self, node):
        with in_netns(self.lab.sw):
            self.ec2.assign_private_ip_addresses(NetworkInterfaceId=self.eni[node], PrivateIpAddresses=[SECONDARY_IP],
                                                 AllowReassignment=True)

    def owner(self, snap):
        """The node whose ENI alone holds the secondary IP, else None."""
        return next((n for n, eni in self.eni.items() if snap["secondary_ip"] == [eni]), None)

    def check_untouched(self, snap):
        extra = changes(self.baseline, snap)
        assert not extra, f"ec2-vip changed resources it does not own: {extra}"
