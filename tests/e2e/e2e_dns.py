"""The keepalived lab with a Route 53 record beside the VIP: the config section that moves
figure 1's VIP routes and Elastic IP also carries `dns_records` (a private hosted zone on
the lab's moto, which serves Route 53 on the EC2 port; the nodes reach it through
AWS_ENDPOINT_URL_ROUTE_53), value "local": the MASTER's primary private IPv4 from its IMDS.

Every keepalived case then also waits for the record to name the new MASTER with the
configured TTL (ListResourceRecordSets, read by the test in the switch namespace), and a
second record of the zone, another service's, must never change."""

from harness.route53_zone import NAME, private_zone, records, route53_client, upsert

from e2e_cluster import Cluster
from e2e_keepalived import TOML, VIP_ADDR
from e2e_net import in_netns

RECORD_TTL = 10  # the config's; the test's own writes use SEED_TTL, so only ec2-vip's count
SEED_TTL = 60
OTHER_NAME = "other.internal.example."  # another service's record: never touched


class RecordCluster(Cluster):
    """Figure 1's VIP routes, its Elastic IP and the Route 53 record follow the MASTER."""

    def seed_ec2(self):
        seed = super().seed_ec2()
        self.r53 = route53_client(self.moto.url)  # created (and always used) in the switch namespace
        self.zone = private_zone(self.r53, seed["vpc_id"])
        upsert(self.r53, self.zone, seed["node1"]["private_ip"], SEED_TTL, name=OTHER_NAME)
        self.address = {n: seed[self.SEED_NODE[n]]["private_ip"] for n in self.SEED_NODE}
        return seed

    def toml_text(self):
        return (TOML.format(route=VIP_ADDR, eip=self.seed["eip"]["allocation_id"])
                + f'dns_records = [{{ zone = "{self.zone}", name = "{NAME}", type = "A", '
                  f'value = "local", ttl = {RECORD_TTL} }}]\n')

    def snapshot(self):
        snap = super().snapshot()
        with in_netns(self.lab.sw):
            snap["dns"] = records(self.r53, self.zone)
        snap["record"] = snap["dns"].get((NAME, "A"))
        self.last_record = snap["record"]
        return snap

    def point_at(self, node):
        super().point_at(node)
        with in_netns(self.lab.sw):
            upsert(self.r53, self.zone, self.address[node], SEED_TTL)

    def owner(self, snap):
        """The node the routes, the EIP and the record (ec2-vip's TTL) all name, else None."""
        node = super().owner(snap)
        return node if node and snap["record"] == ([self.address[node]], RECORD_TTL) else None

    def check_untouched(self, snap):
        super().check_untouched(snap)
        others = {k: v for k, v in snap["dns"].items() if k != (NAME, "A")}
        want = {k: v for k, v in self.baseline["dns"].items() if k != (NAME, "A")}
        assert others == want, f"ec2-vip changed records it does not own: {others} (was {want})"

    def diagnostics(self):
        return (f"record {NAME}: {getattr(self, 'last_record', None)} (a={self.address['a']}, "
                f"b={self.address['b']}, TTL {RECORD_TTL} when ec2-vip wrote it)\n" + super().diagnostics())
