"""A real keepalived pair in one subnet fails over, and ec2-vip moves the secondary private
IP 10.0.2.100 to the new master's ENI (and only there), as generic notify hook and through
notify_fifo + watch: the first three cases of test_e2e_keepalived.py on the second lab
(e2e_secondary_ip.py). Each ends in `converge`: keepalived's MASTER alone holds the
address in DescribeNetworkInterfaces, and no route or Elastic IP changed."""

import pytest

from test_e2e_keepalived import (  # noqa: F401  (collected here, on this module's cluster)
    test_initial_election,
    test_old_master_back_with_preempt,
    test_sigterm_of_master,
)


@pytest.fixture
def cluster(sip_cluster):
    return sip_cluster
