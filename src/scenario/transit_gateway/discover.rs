//! Discovery as a dependency graph, run level by level, every level in parallel across
//! sites, regions and accounts:
//! 1. every site's Transit Gateway attachment and its VPC route tables;
//! 2. per Transit Gateway, once however many sites see it: its route tables and peerings,
//!    asked from the site that can see them (see [`viewers`]);
//! 3. every Transit Gateway route table's VIP routes.

use super::plan::{SiteTable, SiteView, TgwRouteTable, TgwView};
use crate::aws::{read, Ec2, TransitGateways};
use crate::config::Site;
use crate::deadline::Deadline;
use crate::error::Error;
use crate::model::{RouteTable, VpcAttachment};
use futures_util::future::try_join_all;
use ipnet::IpNet;

fn step(site: &Site, op: &str) -> String {
    format!("{op} ({} {})", site.vpc_id, site.region)
}

/// The sites to ask about each Transit Gateway (by index into `sites`), one Transit Gateway
/// after the other. An account that does not own a shared Transit Gateway sees none of its
/// route tables, so: a site that names the Transit Gateway's tables; else a site in the
/// Transit Gateway owner's account; else, owners unknown, every site that sees it (the
/// planner then uses the fullest view).
pub fn viewers(sites: &[Site], attachments: &[VpcAttachment]) -> Vec<usize> {
    let mut tgws: Vec<&str> = Vec::new();
    for a in attachments {
        if !tgws.contains(&a.transit_gateway_id.as_str()) {
            tgws.push(&a.transit_gateway_id);
        }
    }
    let mut out = Vec::new();
    for tgw in tgws {
        let seeing: Vec<usize> =
            (0..attachments.len()).filter(|i| attachments[*i].transit_gateway_id == tgw).collect();
        let owner = |i: &&usize| {
            let a = &attachments[**i];
            a.transit_gateway_owner.is_some() && a.transit_gateway_owner == a.vpc_owner
        };
        match seeing
            .iter()
            .find(|i| sites[**i].tgw_route_tables.is_some())
            .or_else(|| seeing.iter().find(owner))
        {
            Some(i) => out.push(*i),
            None => out.extend(seeing),
        }
    }
    out
}

async fn attachment<C: TransitGateways>(
    site: &Site,
    ec2: &C,
    deadline: &Deadline,
) -> Result<VpcAttachment, Error> {
    let call = || ec2.vpc_attachment(&site.vpc_id, site.transit_gateway_id.as_deref());
    read(deadline, &step(site, "DescribeTransitGatewayAttachments"), call).await??.ok_or_else(|| {
        Error::BadInput(format!(
            "{} ({}) has no available Transit Gateway attachment",
            site.vpc_id, site.region
        ))
    })
}

async fn vpc_tables<C: Ec2 + TransitGateways>(
    site: &Site,
    ec2: &C,
    dests: &[IpNet],
    deadline: &Deadline,
) -> Result<Vec<RouteTable>, Error> {
    let name = step(site, "DescribeRouteTables");
    Ok(match &site.route_tables {
        Some(ids) => read(deadline, &name, || ec2.route_tables_by_id(ids)).await??,
        None => read(deadline, &name, || ec2.route_tables_for(&site.vpc_id, dests)).await??,
    })
}

/// What one viewer site sees of its Transit Gateway: its route table ids (listed in the
/// config or described) and its peerings.
async fn tgw_tables<C: TransitGateways>(
    site: &Site,
    ec2: &C,
    tgw_id: &str,
    deadline: &Deadline,
) -> Result<(bool, Vec<String>, Vec<(String, String)>), Error> {
    let tables = async {
        Ok::<_, Error>(match &site.tgw_route_tables {
            Some(ids) => (true, ids.clone()),
            None => {
                let call = || ec2.tgw_route_tables(tgw_id);
                (false, read(deadline, &step(site, "DescribeTransitGatewayRouteTables"), call).await??)
            }
        })
    };
    let peerings = async {
        let call = || ec2.tgw_peerings(tgw_id);
        Ok::<_, Error>(read(deadline, &step(site, "DescribeTransitGatewayAttachments"), call).await??)
    };
    let ((listed, ids), peerings) = tokio::try_join!(tables, peerings)?;
    Ok((listed, ids, peerings))
}

/// Discover every site and every Transit Gateway for the VIP `dests`.
pub async fn discover<C: Ec2 + TransitGateways>(
    sites: &[Site],
    clients: &[C],
    dests: &[IpNet],
    deadline: &Deadline,
) -> Result<(Vec<SiteView>, Vec<TgwView>), Error> {
    let first = try_join_all(sites.iter().zip(clients).map(|(site, ec2)| async move {
        tokio::try_join!(attachment(site, ec2, deadline), vpc_tables(site, ec2, dests, deadline))
    }))
    .await?;
    let attachments: Vec<VpcAttachment> = first.iter().map(|(a, _)| a.clone()).collect();
    let views = first
        .into_iter()
        .enumerate()
        .map(|(i, (att, tables))| {
            let listed = sites[i].route_tables.is_some();
            let tables = tables
                .into_iter()
                .map(|t| SiteTable {
                    id: t.id,
                    routes: t
                        .routes
                        .into_iter()
                        .filter(|r| dests.contains(&r.destination))
                        .map(|r| (r.destination, r.target))
                        .collect(),
                    listed,
                })
                .collect();
            SiteView {
                site: i,
                region: sites[i].region.clone(),
                vpc_id: sites[i].vpc_id.clone(),
                tgw_id: att.transit_gateway_id,
                vpc_attachment_id: att.attachment_id,
                tables,
            }
        })
        .collect::<Vec<_>>();

    let chosen = viewers(sites, &attachments);
    let second = try_join_all(
        chosen
            .iter()
            .map(|&i| tgw_tables(&sites[i], &clients[i], &attachments[i].transit_gateway_id, deadline)),
    )
    .await?;

    let searches = chosen.iter().zip(&second).flat_map(|(&i, (_, ids, _))| {
        ids.iter().map(move |id| async move {
            let call = || try_join_all(dests.iter().map(|d| clients[i].tgw_routes(id, *d)));
            let routes = read(deadline, &step(&sites[i], "SearchTransitGatewayRoutes"), call).await??;
            Ok::<_, Error>(routes.into_iter().flatten().collect::<Vec<_>>())
        })
    });
    let mut third = try_join_all(searches).await?.into_iter();

    let mut tgws = Vec::with_capacity(chosen.len());
    for (&i, (listed, ids, peerings)) in chosen.iter().zip(second) {
        let tables = ids
            .into_iter()
            .map(|id| TgwRouteTable { id, routes: third.next().unwrap_or_default(), listed })
            .collect();
        tgws.push(TgwView {
            site: i,
            region: sites[i].region.clone(),
            tgw_id: attachments[i].transit_gateway_id.clone(),
            tables,
            peerings,
        });
    }
    Ok((views, tgws))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(vpc: &str, listed: bool) -> Site {
        Site {
            region: "us-east-1".into(),
            vpc_id: vpc.into(),
            transit_gateway_id: None,
            route_tables: None,
            tgw_route_tables: listed.then(|| vec!["tgw-rtb-1".into()]),
            role_arn: None,
            external_id: None,
        }
    }

    fn att(tgw: &str, tgw_owner: Option<&str>, vpc_owner: Option<&str>) -> VpcAttachment {
        VpcAttachment {
            transit_gateway_id: tgw.into(),
            attachment_id: format!("att-{tgw}"),
            transit_gateway_owner: tgw_owner.map(String::from),
            vpc_owner: vpc_owner.map(String::from),
        }
    }

    #[test]
    fn each_transit_gateway_is_asked_once_from_a_site_that_sees_its_tables() {
        let sites = [site("vpc-a", false), site("vpc-b", false), site("vpc-c", false)];
        // One account: the first site of each Transit Gateway.
        let same = [
            att("tgw-1", Some("1"), Some("1")),
            att("tgw-1", Some("1"), Some("1")),
            att("tgw-2", Some("1"), Some("1")),
        ];
        assert_eq!(viewers(&sites, &same), vec![0, 2]);
        // tgw-1 shared from account 2: only vpc-b lives in account 2.
        let shared = [
            att("tgw-1", Some("2"), Some("1")),
            att("tgw-1", Some("2"), Some("2")),
            att("tgw-2", None, None),
        ];
        assert_eq!(viewers(&sites, &shared), vec![1, 2]);
        // Nobody in the owner's account, owners unknown: every site that sees it.
        let foreign = [
            att("tgw-1", Some("9"), Some("1")),
            att("tgw-1", None, None),
            att("tgw-1", Some("9"), Some("3")),
        ];
        assert_eq!(viewers(&sites, &foreign), vec![0, 1, 2]);
        // A site naming the TGW's tables decides.
        let listed = [site("vpc-a", false), site("vpc-b", true), site("vpc-c", false)];
        assert_eq!(viewers(&listed, &foreign), vec![1]);
    }
}
