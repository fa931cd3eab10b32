//! Elastic IP scenario: the addresses are associated with this node's ENI
//! (AssociateAddress with AllowReassociation), and with `release` disassociated on
//! BACKUP/FAULT/STOP while still ours.

mod plan;

pub use plan::{plan_eips, reassert, resolve_eips};

use super::{Ctx, Goal, Step};
use crate::aws::{read, Ec2};
use crate::error::{Ec2Error, Error};
use crate::model::EipRef;
use std::net::Ipv4Addr;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElasticIps {
    pub refs: Vec<EipRef>,
    /// Disassociate on BACKUP/FAULT/STOP (only while still on this node).
    pub release: bool,
    /// Elastic IPs bound to a private IP of this node's ENI.
    pub pins: Vec<(EipRef, Ipv4Addr)>,
    /// The private IPs that move with this VIP (a pin may name one of them).
    pub moving: Vec<Ipv4Addr>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    /// `pinned`: the private IP was named in the config (it may first have to move here).
    Associate {
        allocation_id: String,
        eni: String,
        private_ip: String,
        pinned: bool,
    },
    Disassociate {
        allocation_id: String,
        association_id: String,
    },
}

/// An Elastic IP EC2 does not know: bad input (exit 2), named with AWS's answer.
pub fn bad_eip(e: &Ec2Error) -> Error {
    Error::BadInput(format!(
        "Elastic IP {}: {} ({})",
        e.resources,
        e.message.as_deref().unwrap_or("not found"),
        e.code.as_deref().unwrap_or("NotFound")
    ))
}

impl ElasticIps {
    pub async fn plan<C: Ec2>(&self, cx: &Ctx<'_, C>, goal: Goal) -> Result<Vec<Step>, Error> {
        let me = cx.me;
        // Taking, what else sits on our ENI is asked at the same time (one round trip).
        let wanted = async {
            let found = read(cx.deadline, "DescribeAddresses", || cx.ec2.addresses(&self.refs)).await?;
            let found = found.map_err(|e| if e.is_not_found() { bad_eip(&e) } else { e.into() })?;
            resolve_eips(&self.refs, &found)
                .map_err(|r| Error::BadInput(format!("Elastic IP {r}: no such address in {}", me.region)))
        };
        let here = async {
            if goal != Goal::Take {
                return Ok(Vec::new());
            }
            Ok::<_, Error>(read(cx.deadline, "DescribeAddresses", || cx.ec2.addresses_on(&me.eni_id)).await??)
        };
        let (wanted, here) = tokio::try_join!(wanted, here)?;
        let mut pins = Vec::with_capacity(self.pins.len());
        for (r, ip) in &self.pins {
            let known = self.moving.contains(ip) || me.private_ips.iter().any(|p| p == &ip.to_string());
            if !known {
                return Err(Error::BadInput(format!(
                    "Elastic IP {r}: its private IP {ip} is neither on {} nor one of the VIP's private_ips",
                    me.eni_id
                )));
            }
            if let Some(a) = wanted.iter().find(|a| r.matches(a)) {
                pins.push((a.allocation_id.clone(), ip.to_string()));
            }
        }
        Ok(plan_eips(&wanted, &here, goal, &me.eni_id, &me.private_ips, &pins))
    }

    pub async fn confirm<C: Ec2>(
        &self,
        cx: &Ctx<'_, C>,
        written: &[&Step],
    ) -> Result<Vec<Option<String>>, Ec2Error> {
        let writes: Vec<&Write> = written.iter().filter_map(|s| s.write.as_ref()?.elastic_ip()).collect();
        let refs: Vec<EipRef> = writes
            .iter()
            .filter_map(|w| match w {
                Write::Associate { allocation_id, .. } => Some(EipRef::AllocationId(allocation_id.clone())),
                Write::Disassociate { .. } => None,
            })
            .collect();
        let found = if refs.is_empty() { Vec::new() } else { cx.ec2.addresses(&refs).await? };
        Ok(writes
            .iter()
            .map(|w| match w {
                // Released: whoever holds it now, it is no longer on this node's association.
                Write::Disassociate { .. } => None,
                Write::Associate { allocation_id, eni, .. } => {
                    match found.iter().find(|a| &a.allocation_id == allocation_id) {
                        Some(a) if a.network_interface_id.as_deref() == Some(eni.as_str()) => None,
                        Some(a) => {
                            Some(format!("on {}", a.network_interface_id.as_deref().unwrap_or("nothing")))
                        }
                        None => Some("not found".into()),
                    }
                }
            })
            .collect())
    }
}

pub async fn write<C: Ec2>(cx: &Ctx<'_, C>, w: &Write) -> Result<(), Ec2Error> {
    match w {
        Write::Associate { allocation_id, eni, private_ip, .. } => {
            cx.ec2.associate_address(allocation_id, eni, private_ip).await.map(|_| ())
        }
        Write::Disassociate { association_id, .. } => match cx.ec2.disassociate_address(association_id).await
        {
            // Gone already (someone else took it meanwhile): nothing of ours to release.
            Err(e) if e.is_not_found() => {
                log::warn!("{association_id}: already gone ({})", e.code.as_deref().unwrap_or(""));
                Ok(())
            }
            other => other,
        },
    }
}
