//! IPv6 address scenario: addresses that follow MASTER between ENIs of one subnet. EC2 has
//! no reassignment for IPv6, so a move unassigns the address where it is and assigns it
//! here, then reads back; a move cut in half is reported precisely.

mod plan;

pub use plan::plan_ipv6;

use super::{Ctx, Goal, Step};
use crate::aws::{read, Ec2};
use crate::error::{Ec2Error, Error};
use std::net::Ipv6Addr;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ipv6Addresses {
    pub ips: Vec<Ipv6Addr>,
    pub release: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    /// Unassign from every ENI in `from`, then assign to `to`.
    Move {
        from: Vec<String>,
        to: String,
        ip: Ipv6Addr,
    },
    Unassign {
        eni: String,
        ip: Ipv6Addr,
    },
}

impl Ipv6Addresses {
    pub async fn plan<C: Ec2>(&self, cx: &Ctx<'_, C>, goal: Goal) -> Result<Vec<Step>, Error> {
        let me = cx.me;
        let subnet = super::subnet_of(me, "IPv6 addresses")?;
        let inside =
            |ip: &Ipv6Addr| me.subnet_ipv6_cidrs.iter().any(|c| c.contains(&std::net::IpAddr::V6(*ip)));
        if let Some(ip) = self.ips.iter().find(|ip| !inside(ip)) {
            return Err(Error::BadInput(format!(
                "IPv6 address {ip} lies outside the IPv6 CIDR blocks of subnet {subnet} ({}) of {}: an \
                 address moves only between ENIs of one subnet; otherwise route it (routes = [\"{ip}/128\"])",
                if me.subnet_ipv6_cidrs.is_empty() {
                    "none".to_string()
                } else {
                    me.subnet_ipv6_cidrs.iter().map(|c| c.to_string()).collect::<Vec<_>>().join(", ")
                },
                me.eni_id
            )));
        }
        let step = format!("DescribeNetworkInterfaces {subnet}");
        let found = read(cx.deadline, &step, || cx.ec2.interfaces_in_subnet(subnet)).await??;
        Ok(plan_ipv6(&found, &self.ips, subnet, goal, &me.eni_id))
    }

    pub async fn confirm<C: Ec2>(
        &self,
        cx: &Ctx<'_, C>,
        written: &[&Step],
    ) -> Result<Vec<Option<String>>, Ec2Error> {
        let writes: Vec<&Write> = written.iter().filter_map(|s| s.write.as_ref()?.ipv6_address()).collect();
        let found = cx.ec2.interfaces_in_subnet(cx.me.subnet_id.as_deref().unwrap_or_default()).await?;
        let holders = |ip: &Ipv6Addr| -> Vec<&str> {
            found.iter().filter(|i| i.ipv6.contains(ip)).map(|i| i.id.as_str()).collect()
        };
        Ok(writes
            .iter()
            .map(|w| match w {
                Write::Move { to, ip, .. } => match holders(ip).as_slice() {
                    [only] if only == to => None,
                    [] => Some("on no ENI".into()),
                    other => Some(format!("on {}", other.join(","))),
                },
                Write::Unassign { eni, ip } => {
                    holders(ip).contains(&eni.as_str()).then(|| "still on this node".into())
                }
            })
            .collect())
    }
}

/// A move: unassign everywhere else, then assign here. If the assign fails after the
/// unassign went through, the error says the address is on no ENI now.
pub async fn write<C: Ec2>(cx: &Ctx<'_, C>, w: &Write) -> Result<(), Ec2Error> {
    match w {
        Write::Unassign { eni, ip } => cx.ec2.unassign_ipv6(eni, *ip).await,
        Write::Move { from, to, ip } => {
            for other in from {
                cx.ec2.unassign_ipv6(other, *ip).await?;
            }
            cx.ec2.assign_ipv6(to, *ip).await.map_err(|mut e| {
                if !from.is_empty() {
                    e.resources = format!(
                        "{} (already unassigned from {}: on no ENI now)",
                        e.resources,
                        from.join(",")
                    );
                }
                e
            })
        }
    }
}
