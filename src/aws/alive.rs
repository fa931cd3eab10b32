//! The SDK side of winner liveness in a split-brain contest: is the node holding our
//! resources still there? Its ENI's attachment (DescribeNetworkInterfaces, by filter: an
//! ENI EC2 no longer knows is an empty answer) and its instance's state
//! (DescribeInstanceStatus with IncludeAllInstances, by id: that call has no `instance-id`
//! filter, and EC2 answers `InvalidInstanceID.NotFound` for an id it does not know). Both
//! read as None, "no such resource"; every other error stays an error.
//!
//! A section with `role_arn` reads its tables and addresses in the role's account, which
//! need not own the instances: the peer is normally in this node's own account. An ENI or
//! instance the role's account does not know is asked again with this node's own
//! credentials (`home`); only when neither knows it is it None. If that second ask fails
//! (the node's own policy may grant no EC2 reads), the error stands: unknown, not gone.
//!
//! DescribeInstanceStatus rather than DescribeInstances: the state is all we read, and
//! DescribeInstances' response deserializer alone costs the static binary ~229 KB.

use super::ec2::{filter, SdkEc2};
use super::paging::{every_page, pages};
use crate::error::Ec2Error;
use crate::model::EniAttachment;
use aws_sdk_ec2::types::NetworkInterface;

impl SdkEc2 {
    /// One network interface by id (None: EC2 knows no such ENI).
    pub(crate) async fn interface(&self, eni: &str) -> Result<Option<NetworkInterface>, Ec2Error> {
        interface_in(&self.client, eni).await
    }

    pub(crate) async fn attachment_of(&self, eni: &str) -> Result<Option<EniAttachment>, Ec2Error> {
        let mut found = self.interface(eni).await?;
        if let (None, Some(home)) = (&found, &self.home) {
            found = interface_in(home, eni).await?;
        }
        Ok(found.map(|n| {
            let a = n.attachment();
            EniAttachment {
                status: a.and_then(|a| a.status()).map(|s| s.as_str().to_string()),
                instance_id: a.and_then(|a| a.instance_id()).filter(|i| !i.is_empty()).map(String::from),
            }
        }))
    }

    /// The state of instance `id` (`running`, `stopped`, ...); None: EC2 knows no such
    /// instance (it answered `InvalidInstanceID.NotFound`, or nothing) in the section's
    /// account nor, with a role, in this node's own.
    pub(crate) async fn state_of(&self, id: &str) -> Result<Option<String>, Ec2Error> {
        match (state_in(&self.client, id).await?, &self.home) {
            (None, Some(home)) => state_in(home, id).await,
            (found, _) => Ok(found),
        }
    }
}

async fn interface_in(client: &aws_sdk_ec2::Client, eni: &str) -> Result<Option<NetworkInterface>, Ec2Error> {
    let req = client.describe_network_interfaces().filters(filter("network-interface-id", [eni.to_string()]));
    // Every page: EC2 may answer an empty page and a token before the one that holds it.
    let found = every_page("DescribeNetworkInterfaces", eni, pages!(req, network_interfaces)).await?;
    Ok(found.into_iter().next())
}

async fn state_in(client: &aws_sdk_ec2::Client, id: &str) -> Result<Option<String>, Ec2Error> {
    // IncludeAllInstances: without it EC2 answers only running instances, and a stopped
    // winner would read as "no such instance" rather than "stopped".
    let req = client.describe_instance_status().instance_ids(id).include_all_instances(true);
    // Every page: an empty first page with a token must not read as "no such instance"
    // (that would end a hold-off and take the VIP from a live winner).
    let found = every_page(STATUS, id, pages!(req, instance_statuses)).await;
    unknown_is_none(found.map(|statuses| {
        statuses
            .into_iter()
            .next()
            .map(|s| s.instance_state().and_then(|s| s.name()).map_or("unknown", |n| n.as_str()).to_string())
    }))
}

const STATUS: &str = "DescribeInstanceStatus";

/// An instance id EC2 does not know (`InvalidInstanceID.NotFound`) as None, like an empty
/// answer; every other error (`InvalidInstanceID.Malformed`, denied, throttled) stays one.
fn unknown_is_none<T>(answer: Result<Option<T>, Ec2Error>) -> Result<Option<T>, Ec2Error> {
    match answer {
        Err(e) if e.code_is("InvalidInstanceID.NotFound") => Ok(None),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(code: &str) -> Result<Option<String>, Ec2Error> {
        Err(Ec2Error {
            operation: STATUS,
            resources: "i-1".into(),
            code: Some(code.into()),
            message: None,
            request_id: None,
        })
    }

    #[test]
    fn only_an_unknown_id_reads_as_no_such_instance() {
        assert_eq!(unknown_is_none(failed("InvalidInstanceID.NotFound")).unwrap(), None);
        assert_eq!(unknown_is_none(Ok(Some("stopped".to_string()))).unwrap().as_deref(), Some("stopped"));
        for code in ["InvalidInstanceID.Malformed", "UnauthorizedOperation", "RequestLimitExceeded"] {
            let e = unknown_is_none(failed(code)).unwrap_err();
            assert_eq!((e.operation, e.resources.as_str(), e.code.as_deref()), (STATUS, "i-1", Some(code)));
        }
    }
}
