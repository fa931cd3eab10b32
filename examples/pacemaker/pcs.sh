#!/bin/sh
# The same three scenarios with pcs (RHEL and its rebuilds). Pick the one you need.
set -e

# Route Table scenario (aws-vpc-move-ip's parameters; the agent also puts ip on eth0).
pcs resource create vip ocf:ec2-vip:ec2-vip \
    ip=10.1.0.10 routing_table=rtb-0aaaaaaaaaaaaaaaa,rtb-0bbbbbbbbbbbbbbbb interface=eth0 \
    op start timeout=30s op stop timeout=30s op monitor interval=10s timeout=30s

# Elastic IP scenario (awseip's parameters).
pcs resource create eip ocf:ec2-vip:ec2-vip \
    allocation_id=eipalloc-0123456789abcdef0 \
    op start timeout=30s op stop timeout=30s op monitor interval=10s timeout=30s

# Secondary private IP + IPaddr2, in one group (awsvip's parameters).
pcs resource create vip-aws ocf:ec2-vip:ec2-vip \
    secondary_private_ip=10.0.2.100 \
    op start timeout=30s op stop timeout=30s op monitor interval=10s timeout=30s --group vip
pcs resource create vip-ip ocf:heartbeat:IPaddr2 \
    ip=10.0.2.100 cidr_netmask=24 nic=eth0 op monitor interval=10s timeout=20s --group vip

# Anything a config section can carry (IPv6 addresses, Transit Gateway sites, route table
# tags): point the agent at the section.
pcs resource create vip-tgw ocf:ec2-vip:ec2-vip \
    config=/etc/ec2-vip.toml instance=VI_1 \
    op start timeout=30s op stop timeout=30s op monitor interval=10s timeout=30s
