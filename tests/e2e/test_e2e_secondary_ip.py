"""A real keepalived pair in one subnet fails over, and ec2-vip moves the secondary private
IP 10.0.2.100 to the new master's ENI (and only there), as generic notify hook and through
notify_fifo + watch. Each case ends in `converge`: keepalived's MASTER alone holds the
address in DescribeNetworkInterfaces, and no route or Elastic IP changed."""

import signal
import time


def test_secondary_ip_initial_election(sip_cluster):
    t = time.time()
    for node in sip_cluster.nodes.values():
        node.start()
    sip_cluster.converge("secondary IP: initial election", "a", t)


def test_secondary_ip_follows_master_on_sigterm(sip_cluster):
    sip_cluster.restore()
    t = time.time()
    sip_cluster.nodes["a"].signal(signal.SIGTERM)
    sip_cluster.converge("secondary IP: SIGTERM of master", "b", t)
    sip_cluster.nodes["a"].wait_stopped()


def test_secondary_ip_back_with_preempt(sip_cluster):
    a = sip_cluster.nodes["a"]
    if a.running():
        sip_cluster.restore()
        sip_cluster.stop_node("a", signal.SIGTERM)
        sip_cluster.converge(None, "b", time.time())
    t = a.start()
    sip_cluster.converge("secondary IP: old master back", "a", t)
