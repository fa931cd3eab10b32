//! What `doctor` asks of EC2 beyond a failover's own calls: an ENI's source/destination
//! check, and whether a write (or split-brain liveness's read, DescribeInstanceStatus)
//! would be allowed, proven with EC2's DryRun (nothing changes).

use super::ec2::{ec2_error, SdkEc2};
use crate::error::Ec2Error;
use ipnet::IpNet;

/// A call to try with DryRun: a write, or the read of a split-brain contest (is the winner's
/// instance alive?), asked of this node's own instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    ReplaceRoute { table_id: String, destination: IpNet, eni: String },
    CreateRoute { table_id: String, destination: IpNet, eni: String },
    AssociateAddress { allocation_id: String, eni: String },
    DisassociateAddress { association_id: String },
    DescribeInstanceStatus { instance_id: String },
}

/// Writes EC2 offers no DryRun for: their permission cannot be proven without the change.
pub const NO_DRY_RUN: [&str; 4] = [
    "AssignPrivateIpAddresses",
    "UnassignPrivateIpAddresses",
    "AssignIpv6Addresses",
    "UnassignIpv6Addresses",
];

impl Probe {
    /// The resource it acts on.
    pub fn target(&self) -> &str {
        match self {
            Probe::ReplaceRoute { table_id, .. } | Probe::CreateRoute { table_id, .. } => table_id,
            Probe::AssociateAddress { allocation_id, .. } => allocation_id,
            Probe::DisassociateAddress { association_id } => association_id,
            Probe::DescribeInstanceStatus { instance_id } => instance_id,
        }
    }

    /// The API action, as IAM names it without the `ec2:` prefix.
    pub fn action(&self) -> &'static str {
        match self {
            Probe::ReplaceRoute { .. } => "ReplaceRoute",
            Probe::CreateRoute { .. } => "CreateRoute",
            Probe::AssociateAddress { .. } => "AssociateAddress",
            Probe::DisassociateAddress { .. } => "DisassociateAddress",
            Probe::DescribeInstanceStatus { .. } => "DescribeInstanceStatus",
        }
    }
}

/// What EC2 answered a DryRun.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// DryRunOperation: the request would have succeeded.
    Allowed,
    /// UnauthorizedOperation: the role lacks the action (AWS's message).
    Denied(String),
    /// Anything else: permission not proven either way.
    Unknown(String),
}

/// DryRun always answers with an error: DryRunOperation means allowed.
pub fn verdict(answer: Result<(), Ec2Error>) -> Verdict {
    match answer {
        Ok(()) => Verdict::Unknown("EC2 carried the request out instead of a dry run".into()),
        Err(e) if e.code_is("DryRunOperation") => Verdict::Allowed,
        Err(e) if e.code_is("UnauthorizedOperation") => Verdict::Denied(e.to_string()),
        Err(e) => Verdict::Unknown(e.to_string()),
    }
}

impl SdkEc2 {
    /// Whether `eni` has its source/destination check on (None: no such ENI).
    pub async fn source_dest_check(&self, eni: &str) -> Result<Option<bool>, Ec2Error> {
        Ok(self.interface(eni).await?.map(|n| n.source_dest_check().unwrap_or(true)))
    }

    /// Send `p` with DryRun.
    pub async fn probe(&self, p: &Probe) -> Verdict {
        let c = &self.client;
        let what = format!("{p:?}");
        let op = p.action();
        verdict(match p {
            Probe::ReplaceRoute { table_id, destination, eni } => {
                let r = c.replace_route().dry_run(true).route_table_id(table_id).network_interface_id(eni);
                let r = match destination {
                    IpNet::V4(_) => r.destination_cidr_block(destination.to_string()),
                    IpNet::V6(_) => r.destination_ipv6_cidr_block(destination.to_string()),
                };
                r.send().await.map(|_| ()).map_err(|e| ec2_error(op, what, e))
            }
            Probe::CreateRoute { table_id, destination, eni } => {
                let r = c.create_route().dry_run(true).route_table_id(table_id).network_interface_id(eni);
                let r = match destination {
                    IpNet::V4(_) => r.destination_cidr_block(destination.to_string()),
                    IpNet::V6(_) => r.destination_ipv6_cidr_block(destination.to_string()),
                };
                r.send().await.map(|_| ()).map_err(|e| ec2_error(op, what, e))
            }
            Probe::AssociateAddress { allocation_id, eni } => {
                let r = c.associate_address().dry_run(true).allocation_id(allocation_id);
                let r = r.network_interface_id(eni).allow_reassociation(true);
                r.send().await.map(|_| ()).map_err(|e| ec2_error(op, what, e))
            }
            Probe::DisassociateAddress { association_id } => {
                let r = c.disassociate_address().dry_run(true).association_id(association_id);
                r.send().await.map(|_| ()).map_err(|e| ec2_error(op, what, e))
            }
            Probe::DescribeInstanceStatus { instance_id } => {
                let r = c.describe_instance_status().dry_run(true).instance_ids(instance_id);
                let r = r.include_all_instances(true);
                r.send().await.map(|_| ()).map_err(|e| ec2_error(op, what, e))
            }
        })
    }
}
