//! The SDK side of winner liveness in a split-brain contest: is the node holding our
//! resources still there? Its ENI's attachment (DescribeNetworkInterfaces) and its
//! instance's state (DescribeInstances). Filters, not ids: an id EC2 no longer knows is an
//! empty answer (None), not an error.

use super::ec2::{filter, SdkEc2};
use super::paging::{every_page, pages};
use crate::error::Ec2Error;
use crate::model::EniAttachment;
use aws_sdk_ec2::types::NetworkInterface;

impl SdkEc2 {
    /// One network interface by id (None: EC2 knows no such ENI).
    pub(crate) async fn interface(&self, eni: &str) -> Result<Option<NetworkInterface>, Ec2Error> {
        let req = self
            .client
            .describe_network_interfaces()
            .filters(filter("network-interface-id", [eni.to_string()]));
        // Every page: EC2 may answer an empty page and a token before the one that holds it.
        let found = every_page("DescribeNetworkInterfaces", eni, pages!(req, network_interfaces)).await?;
        Ok(found.into_iter().next())
    }

    pub(crate) async fn attachment_of(&self, eni: &str) -> Result<Option<EniAttachment>, Ec2Error> {
        Ok(self.interface(eni).await?.map(|n| {
            let a = n.attachment();
            EniAttachment {
                status: a.and_then(|a| a.status()).map(|s| s.as_str().to_string()),
                instance_id: a.and_then(|a| a.instance_id()).filter(|i| !i.is_empty()).map(String::from),
            }
        }))
    }

    pub(crate) async fn state_of(&self, id: &str) -> Result<Option<String>, Ec2Error> {
        let req = self.client.describe_instances().filters(filter("instance-id", [id.to_string()]));
        // Every page: an empty first page with a token must not read as "no such instance"
        // (that would end a hold-off and take the VIP from a live winner).
        let reservations = every_page("DescribeInstances", id, pages!(req, reservations)).await?;
        let instance = reservations.iter().flat_map(|r| r.instances()).next();
        Ok(instance
            .map(|i| i.state().and_then(|s| s.name()).map(|n| n.as_str()).unwrap_or("unknown").to_string()))
    }
}
