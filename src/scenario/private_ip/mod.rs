//! Secondary private IP scenario: the addresses move between the nodes' ENIs inside one
//! subnet (AssignPrivateIpAddresses with AllowReassignment); with `release`,
//! BACKUP/FAULT/STOP unassign them while still on this node's ENI.

mod plan;

pub use plan::plan_private_ips;

use super::{Ctx, Goal, Step};
use crate::aws::{read, Ec2};
use crate::error::{Ec2Error, Error};
use std::net::Ipv4Addr;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrivateIps {
    pub ips: Vec<Ipv4Addr>,
    pub release: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    Assign { eni: String, ip: Ipv4Addr },
    Unassign { eni: String, ip: Ipv4Addr },
}

impl PrivateIps {
    pub async fn plan<C: Ec2>(&self, cx: &Ctx<'_, C>, goal: Goal) -> Result<Vec<Step>, Error> {
        let me = cx.me;
        let subnet = super::subnet_of(me, "private IPs")?;
        if let Some(cidr) = me.subnet_cidr {
            if let Some(ip) = self.ips.iter().find(|ip| !cidr.contains(&std::net::IpAddr::V4(**ip))) {
                return Err(Error::BadInput(format!(
                    "private IP {ip} lies outside subnet {subnet} ({cidr}) of {}: a secondary private IP \
                     moves only between ENIs of one subnet; for nodes in different subnets or AZs use \
                     the route-table scenario (routes = [\"{ip}/32\"])",
                    me.eni_id
                )));
            }
        }
        let step = format!("DescribeNetworkInterfaces {subnet}");
        let found = read(cx.deadline, &step, || cx.ec2.interfaces_in_subnet(subnet)).await??;
        Ok(plan_private_ips(&found, &self.ips, subnet, goal, &me.eni_id))
    }

    pub async fn confirm<C: Ec2>(
        &self,
        cx: &Ctx<'_, C>,
        written: &[&Step],
    ) -> Result<Vec<Option<String>>, Ec2Error> {
        let writes: Vec<&Write> = written.iter().filter_map(|s| s.write.as_ref()?.private_ip()).collect();
        let subnet = cx.me.subnet_id.as_deref().unwrap_or_default();
        let found = cx.ec2.interfaces_in_subnet(subnet).await?;
        let on = |eni: &str, ip: &Ipv4Addr| found.iter().any(|i| i.id == eni && i.private_ips.contains(ip));
        Ok(writes
            .iter()
            .map(|w| match w {
                Write::Assign { eni, ip } if on(eni, ip) => None,
                Write::Assign { .. } => Some("not on this node".into()),
                Write::Unassign { eni, ip } if on(eni, ip) => Some("still on this node".into()),
                Write::Unassign { .. } => None,
            })
            .collect())
    }
}

pub async fn write<C: Ec2>(cx: &Ctx<'_, C>, w: &Write) -> Result<(), Ec2Error> {
    match w {
        Write::Assign { eni, ip } => cx.ec2.assign_private_ip(eni, *ip).await,
        Write::Unassign { eni, ip } => cx.ec2.unassign_private_ip(eni, *ip).await,
    }
}
