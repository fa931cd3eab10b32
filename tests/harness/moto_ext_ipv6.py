"""moto 5.2.5's IPv6 VIP routes (installed by moto_ext.install):

1. DescribeRouteTables filter `route.destination-ipv6-cidr-block` is unknown (HTTP 500) ->
   matches the routes' DestinationIpv6CidrBlock, as EC2 does.
"""


def install():
    from moto.ec2.models.route_tables import RouteTable
    orig = RouteTable.get_filter_value

    def get_filter_value(self, filter_name, method_name=None):
        if filter_name == "route.destination-ipv6-cidr-block":
            return [r.destination_ipv6_cidr_block for r in self._routes.values()
                    if r.destination_ipv6_cidr_block is not None]
        return orig(self, filter_name, method_name)

    RouteTable.get_filter_value = get_filter_value
