//! The Transit Gateway seam: discovery of attachments and TGW route
//! tables, and the route writes the Transit Gateway scenario needs.

use super::ec2::{convert_table, ec2_error, filter, SdkEc2};
use super::paging::{every_page, pages};
use crate::error::Ec2Error;
use crate::model::{NextHop, RouteTable, TgwRoute, VpcAttachment};
use aws_sdk_ec2::types::{TransitGatewayAttachmentResourceType as Kind, TransitGatewayRouteType};
use ipnet::IpNet;

#[allow(async_fn_in_trait)]
pub trait TransitGateways {
    /// The available Transit Gateway attachment of a VPC.
    async fn vpc_attachment(
        &self,
        vpc_id: &str,
        tgw_id: Option<&str>,
    ) -> Result<Option<VpcAttachment>, Ec2Error>;
    /// Peering attachments of a Transit Gateway: (attachment id, the peer transit gateway).
    async fn tgw_peerings(&self, tgw_id: &str) -> Result<Vec<(String, String)>, Ec2Error>;
    async fn tgw_route_tables(&self, tgw_id: &str) -> Result<Vec<String>, Ec2Error>;
    /// The routes of a TGW route table whose destination is exactly `destination`.
    async fn tgw_routes(&self, table_id: &str, destination: IpNet) -> Result<Vec<TgwRoute>, Ec2Error>;
    async fn set_tgw_route(
        &self,
        table_id: &str,
        destination: IpNet,
        attachment: &str,
        create: bool,
    ) -> Result<(), Ec2Error>;
    async fn set_vpc_route(
        &self,
        table_id: &str,
        destination: IpNet,
        target: &NextHop,
        create: bool,
    ) -> Result<(), Ec2Error>;
    async fn route_tables_by_id(&self, ids: &[String]) -> Result<Vec<RouteTable>, Ec2Error>;
}

impl TransitGateways for SdkEc2 {
    async fn vpc_attachment(
        &self,
        vpc_id: &str,
        tgw_id: Option<&str>,
    ) -> Result<Option<VpcAttachment>, Ec2Error> {
        let mut req = self
            .client
            .describe_transit_gateway_attachments()
            .filters(filter("resource-type", ["vpc".to_string()]))
            .filters(filter("resource-id", [vpc_id.to_string()]))
            .filters(filter("state", ["available".to_string()]));
        if let Some(t) = tgw_id {
            req = req.filters(filter("transit-gateway-id", [t.to_string()]));
        }
        let found =
            every_page("DescribeTransitGatewayAttachments", vpc_id, pages!(req, transit_gateway_attachments))
                .await?;
        Ok(found.iter().find_map(|a| {
            Some(VpcAttachment {
                transit_gateway_id: a.transit_gateway_id()?.to_string(),
                attachment_id: a.transit_gateway_attachment_id()?.to_string(),
                transit_gateway_owner: a.transit_gateway_owner_id().map(String::from),
                vpc_owner: a.resource_owner_id().map(String::from),
            })
        }))
    }

    async fn tgw_peerings(&self, tgw_id: &str) -> Result<Vec<(String, String)>, Ec2Error> {
        let req = self
            .client
            .describe_transit_gateway_attachments()
            .filters(filter("transit-gateway-id", [tgw_id.to_string()]))
            .filters(filter("resource-type", ["peering".to_string()]))
            .filters(filter("state", ["available".to_string()]));
        let found = every_page(
            "DescribeTransitGatewayAttachments",
            &format!("{tgw_id} peering"),
            pages!(req, transit_gateway_attachments),
        )
        .await?;
        Ok(found
            .iter()
            .filter(|a| a.resource_type() == Some(&Kind::Peering))
            .filter_map(|a| {
                Some((a.transit_gateway_attachment_id()?.to_string(), a.resource_id()?.to_string()))
            })
            .collect())
    }

    async fn tgw_route_tables(&self, tgw_id: &str) -> Result<Vec<String>, Ec2Error> {
        let req = self
            .client
            .describe_transit_gateway_route_tables()
            .filters(filter("transit-gateway-id", [tgw_id.to_string()]));
        let found = every_page(
            "DescribeTransitGatewayRouteTables",
            tgw_id,
            pages!(req, transit_gateway_route_tables),
        )
        .await?;
        Ok(found.iter().filter_map(|t| t.transit_gateway_route_table_id().map(String::from)).collect())
    }

    async fn tgw_routes(&self, table_id: &str, destination: IpNet) -> Result<Vec<TgwRoute>, Ec2Error> {
        // SearchTransitGatewayRoutes pages too (NextToken, besides AdditionalRoutesAvailable).
        let req = self
            .client
            .search_transit_gateway_routes()
            .transit_gateway_route_table_id(table_id)
            .filters(filter("route-search.exact-match", [destination.to_string()]));
        let found = every_page(
            "SearchTransitGatewayRoutes",
            &format!("{table_id} {destination}"),
            pages!(req, routes),
        )
        .await?;
        Ok(found
            .iter()
            .filter(|r| r.destination_cidr_block() == Some(destination.to_string().as_str()))
            .map(|r| TgwRoute {
                destination,
                attachment_id: r
                    .transit_gateway_attachments()
                    .first()
                    .and_then(|a| a.transit_gateway_attachment_id())
                    .filter(|s| !s.is_empty())
                    .map(String::from),
                is_static: r.r#type() != Some(&TransitGatewayRouteType::Propagated),
            })
            .collect())
    }

    async fn set_tgw_route(
        &self,
        table_id: &str,
        destination: IpNet,
        attachment: &str,
        create: bool,
    ) -> Result<(), Ec2Error> {
        let what = format!("{table_id} {destination} -> {attachment}");
        if create {
            self.client
                .create_transit_gateway_route()
                .transit_gateway_route_table_id(table_id)
                .destination_cidr_block(destination.to_string())
                .transit_gateway_attachment_id(attachment)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| ec2_error("CreateTransitGatewayRoute", what, e))
        } else {
            self.client
                .replace_transit_gateway_route()
                .transit_gateway_route_table_id(table_id)
                .destination_cidr_block(destination.to_string())
                .transit_gateway_attachment_id(attachment)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| ec2_error("ReplaceTransitGatewayRoute", what, e))
        }
    }

    async fn set_vpc_route(
        &self,
        table_id: &str,
        destination: IpNet,
        target: &NextHop,
        create: bool,
    ) -> Result<(), Ec2Error> {
        let what = format!("{table_id} {destination} -> {}", target.id());
        let (cidr, v6) = match destination {
            IpNet::V4(_) => (Some(destination.to_string()), None),
            IpNet::V6(_) => (None, Some(destination.to_string())),
        };
        let (eni, tgw) = match target {
            NextHop::Eni(e) => (Some(e.clone()), None),
            NextHop::TransitGateway(t) => (None, Some(t.clone())),
        };
        if create {
            self.client
                .create_route()
                .route_table_id(table_id)
                .set_destination_cidr_block(cidr)
                .set_destination_ipv6_cidr_block(v6)
                .set_network_interface_id(eni)
                .set_transit_gateway_id(tgw)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| ec2_error("CreateRoute", what, e))
        } else {
            self.client
                .replace_route()
                .route_table_id(table_id)
                .set_destination_cidr_block(cidr)
                .set_destination_ipv6_cidr_block(v6)
                .set_network_interface_id(eni)
                .set_transit_gateway_id(tgw)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| ec2_error("ReplaceRoute", what, e))
        }
    }

    async fn route_tables_by_id(&self, ids: &[String]) -> Result<Vec<RouteTable>, Ec2Error> {
        let req = self.client.describe_route_tables().set_route_table_ids(Some(ids.to_vec()));
        let found = every_page("DescribeRouteTables", &ids.join(","), pages!(req, route_tables)).await?;
        Ok(found.iter().map(convert_table).collect())
    }
}
