"""moto 5.2.5's secondary private IPs, with EC2's semantics (installed by moto_ext.install):

1. AssignPrivateIpAddresses ignores AllowReassignment: the address ends on both ENIs and
   one already in use is never refused -> with AllowReassignment the address leaves the
   ENI that had it; without, an address another ENI holds is refused with
   `PrivateIpAddressInUse` (a guess: EC2's documented failure, the code is not).
2. An address outside the ENI's subnet is taken -> `InvalidParameterValue` (EC2's code for
   it is also a guess).

3. AssignIpv6Addresses takes an IPv6 address another ENI holds (it ends on both; EC2 has
   no reassignment for IPv6 and refuses) -> `InvalidParameterValue` (a guess), and one
   outside the subnet's IPv6 CIDR blocks -> `InvalidParameterValue` (a guess).

4. AssociateAddress ignores PrivateIpAddress (DescribeAddresses shows the ENI's primary IP)
   -> the association keeps it, and one not on the ENI is refused with
   `InvalidParameterValue` (a guess), so an Elastic IP bound to a secondary IP can only be
   associated once that address is on the ENI, as on EC2.

DescribeNetworkInterfaces then shows the address on one ENI only, as EC2 does.
"""

import ipaddress


def _assign(self, eni_id, private_ip_addresses=None, secondary_ips_count=None, allow_reassignment=False):
    from moto.ec2.exceptions import EC2ClientError
    eni = self.get_network_interface(eni_id)
    subnet = ipaddress.ip_network(eni.subnet.cidr_block)
    for ip in private_ip_addresses or []:
        if ipaddress.ip_address(ip) not in subnet:
            raise EC2ClientError("InvalidParameterValue",
                                 f"Address {ip} is not in subnet {eni.subnet.id} ({subnet})")
        holders = [o for o in self.enis.values() if o is not eni and
                   any(i.get("PrivateIpAddress") == ip for i in o.private_ip_addresses)]
        if holders and not allow_reassignment:
            raise EC2ClientError("PrivateIpAddressInUse",
                                 f"Address {ip} is in use by {holders[0].id}")
        for other in holders:
            other.private_ip_addresses[:] = [i for i in other.private_ip_addresses
                                             if i.get("PrivateIpAddress") != ip]
    return _assign.orig(self, eni_id, private_ip_addresses, secondary_ips_count)


def _assign_response(self):
    from moto.ec2.models.elastic_network_interfaces import NetworkInterfaceBackend
    allow = str(self._get_param("AllowReassignment", "false")).lower() == "true"
    eni = NetworkInterfaceBackend.assign_private_ip_addresses(
        self.ec2_backend, self._get_param("NetworkInterfaceId"), self._get_param("PrivateIpAddresses", []),
        self._get_int_param("SecondaryPrivateIpAddressCount", 0), allow_reassignment=allow)
    from moto.core.responses import ActionResult
    return ActionResult({"NetworkInterfaceId": eni.id, "AssignedPrivateIpAddresses": eni.private_ip_addresses})


def _assign_ipv6(self, eni_id, ipv6_addresses=None, ipv6_count=None):
    from moto.ec2.exceptions import EC2ClientError
    eni = self.get_network_interface(eni_id)
    blocks = [ipaddress.ip_network(a.get("ipv6CidrBlock"))
              for a in eni.subnet.ipv6_cidr_block_associations.values() if a.get("ipv6CidrBlock")]
    for ip in ipv6_addresses or []:
        if not any(ipaddress.ip_address(ip) in b for b in blocks):
            raise EC2ClientError("InvalidParameterValue", f"Address {ip} is not in subnet {eni.subnet.id}")
        other = next((o for o in self.enis.values() if o is not eni and ip in o.ipv6_addresses), None)
        if other is not None:
            raise EC2ClientError("InvalidParameterValue", f"Address {ip} is in use by {other.id}")
    return _assign_ipv6.orig(self, eni_id, ipv6_addresses, ipv6_count)


def _on_eni(eni, ip):
    return any(i.get("PrivateIpAddress") == ip for i in eni.private_ip_addresses) or \
        eni.private_ip_address == ip


def _wrap_associate(orig):
    def associate_address(self):
        from moto.ec2.exceptions import EC2ClientError
        pip, eni_id = self._get_param("PrivateIpAddress"), self._get_param("NetworkInterfaceId")
        if pip and eni_id and not _on_eni(self.ec2_backend.get_network_interface(eni_id), pip):
            raise EC2ClientError("InvalidParameterValue", f"Address {pip} is not on {eni_id}")
        result = orig(self)
        alloc, public = self._get_param("AllocationId"), self._get_param("PublicIp")
        eips = self.ec2_backend.address_by_allocation([alloc]) if alloc else \
            self.ec2_backend.address_by_ip([public])
        eips[0]._private_ip = pip if eni_id else None
        return result
    return associate_address


def _eip_private_ip(self):
    pip = getattr(self, "_private_ip", None)
    if self.eni and pip and _on_eni(self.eni, pip):
        return pip
    return self.eni.private_ip_address if self.eni else None


def install():
    from moto.ec2.models.elastic_ip_addresses import ElasticAddress
    from moto.ec2.models.elastic_network_interfaces import NetworkInterfaceBackend
    from moto.ec2.responses.elastic_ip_addresses import ElasticIPAddresses
    from moto.ec2.responses.elastic_network_interfaces import ElasticNetworkInterfaces
    ElasticIPAddresses.associate_address = _wrap_associate(ElasticIPAddresses.associate_address)
    ElasticAddress.private_ip_address = property(_eip_private_ip)
    _assign_ipv6.orig = NetworkInterfaceBackend.assign_ipv6_addresses
    NetworkInterfaceBackend.assign_ipv6_addresses = _assign_ipv6
    _assign.orig = NetworkInterfaceBackend.assign_private_ip_addresses
    NetworkInterfaceBackend.assign_private_ip_addresses = _assign
    ElasticNetworkInterfaces.assign_private_ip_addresses = _assign_response
