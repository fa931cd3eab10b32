//! The AWS seams: narrow traits for what the scenarios need from EC2 (`Ec2`,
//! `TransitGateways`) and Route 53 (`Route53`) and what the engine needs to start a session (`Cloud`: who am I
//! through IMDS, a client for a region, a client per Transit Gateway site through STS).
//! Each has its SDK implementation here and, for tests, an in-memory fake (`fake`) and a
//! fault-injecting wrapper (`faulty`).
//!
//! The SDK configuration: explicit timeouts and retries, so that no call outlives the run's
//! deadline; the environment's HTTP(S)_PROXY, never for IMDS ([`http`]). The default credential chain, AWS_ENDPOINT_URL(_EC2) and AWS_PROFILE apply;
//! a named profile must exist, and doctor names the chain's source ([`credentials`]). A
//! config section's [`Access`] (its region, profile, role through STS AssumeRole) makes
//! that section's client instead.

mod alive;
pub mod credentials;
pub mod ec2;
#[cfg(test)]
pub mod fake;
#[cfg(test)]
mod fake_route53;
#[cfg(test)]
pub mod faulty;
mod http;
pub mod imds;
mod paging;
pub mod probe;
pub mod route53;
mod sdk_error;
pub mod transit_gateway;

pub use ec2::{Ec2, SdkEc2};
pub use route53::Route53;
pub use transit_gateway::TransitGateways;

use crate::config::Site;
use crate::deadline::{jitter, Deadline};
use crate::error::{Ec2Error, Error};
use crate::model::{Access, EniChoice, Identity};
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use std::time::Duration;

/// Per-attempt timeout: a share of the deadline, so a hung attempt leaves room to retry.
pub fn attempt_timeout(total: Duration) -> Duration {
    (total / 3).clamp(Duration::from_millis(500), Duration::from_secs(5))
}

pub use http::{direct_client, http_client};

/// The SDK configuration of a run's calls: `region`, the calls bounded by `total`; the
/// credentials of `profile` (a shared-config profile) when given, else the default chain.
pub async fn sdk_config(
    region: String,
    total: Duration,
    max_attempts: u32,
    profile: Option<&str>,
) -> SdkConfig {
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(total.min(Duration::from_secs(2)))
        .read_timeout(attempt_timeout(total))
        .operation_attempt_timeout(attempt_timeout(total))
        .operation_timeout(total)
        .build();
    // Adaptive mode: full-jitter exponential backoff for throttling and 5xx, plus a
    // client-side rate limiter that slows every request of the run down once EC2 starts
    // throttling, instead of piling up throttled requests.
    let retry = RetryConfig::adaptive()
        .with_max_attempts(max_attempts)
        .with_initial_backoff(Duration::from_millis(100))
        .with_max_backoff(Duration::from_secs(2));
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http_client())
        .region(Region::new(region))
        .timeout_config(timeouts)
        .retry_config(retry);
    if let Some(p) = profile {
        loader = loader.profile_name(p);
    }
    loader.load().await
}

/// `base` with the credentials of `role_arn` (STS AssumeRole, in `region`, made with
/// `base`'s credentials), refreshed by the SDK as they expire.
async fn assumed(
    base: &SdkConfig,
    region: Region,
    role_arn: &str,
    external_id: Option<&String>,
) -> SdkConfig {
    let mut p =
        aws_config::sts::AssumeRoleProvider::builder(role_arn).session_name("ec2-vip").region(region.clone());
    if let Some(id) = external_id {
        p = p.external_id(id);
    }
    let provider = p.configure(base).build().await;
    let mut b = base.to_builder();
    b.set_region(Some(region));
    b.set_credentials_provider(Some(aws_credential_types::provider::SharedCredentialsProvider::new(
        provider,
    )));
    b.build()
}

/// How a call retried while throttled ended.
pub enum Tried<T> {
    /// AWS answered (the last answer, when the deadline came while throttled).
    Answered(Result<T, Ec2Error>),
    /// `stop` named a reason before an attempt: the call was not (re)tried.
    Stopped(String),
}

/// Run `call` within the deadline; while EC2 answers that the account is throttled (after
/// the SDK's own retries), wait with jittered backoff and try again: EC2's buckets are
/// shared by every client of the account, so a failover waits its turn rather than fail.
/// `stop` is asked before every attempt. The outer error is the deadline.
pub async fn while_throttled<T, F, Fut>(
    deadline: &Deadline,
    step: &str,
    stop: &dyn Fn() -> Option<String>,
    call: F,
) -> Result<Tried<T>, Error>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T, Ec2Error>>,
{
    let mut wait = Duration::from_millis(200);
    loop {
        if let Some(why) = stop() {
            return Ok(Tried::Stopped(why));
        }
        match deadline.run(step, call()).await? {
            Err(e) if e.is_throttling() => {
                log::debug!("{step}: throttled, again in about {} ms", wait.as_millis());
                if !deadline.sleep(jitter(wait)).await {
                    return Ok(Tried::Answered(Err(e)));
                }
                wait = (wait * 3 / 2).min(Duration::from_secs(2));
            }
            other => return Ok(Tried::Answered(other)),
        }
    }
}

/// A describe call, retried while throttled until the deadline. The outer error is the
/// deadline; the inner one AWS's answer.
pub async fn read<T, F, Fut>(deadline: &Deadline, step: &str, call: F) -> Result<Result<T, Ec2Error>, Error>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T, Ec2Error>>,
{
    match while_throttled(deadline, step, &|| None, call).await? {
        Tried::Answered(answer) => Ok(answer),
        Tried::Stopped(why) => Err(Error::Other(why)), // a read is never stopped
    }
}

/// Where a session comes from: this node's identity and EC2 clients.
#[allow(async_fn_in_trait)]
pub trait Cloud {
    type Client: Ec2 + TransitGateways + Route53;
    /// Bad input when `access` cannot be used as given (a profile that does not exist);
    /// asked before anything else, so that nothing is done for a section that cannot act.
    async fn check_access(&self, _access: &Access) -> Result<(), Error> {
        Ok(())
    }
    /// Who this node is (IMDSv2): instance, region, the chosen ENI and its VPC.
    async fn identity(&self, eni: &EniChoice, deadline: &Deadline) -> Result<Identity, Error>;
    /// An EC2 client for `region`, its calls bounded by what is left of `deadline`, with
    /// the credentials `access` says (its profile, its role); bad input when its profile
    /// does not exist.
    async fn client(&self, region: &str, access: &Access, deadline: &Deadline)
        -> Result<Self::Client, Error>;
    /// A client for one Transit Gateway site: its region, and its account via AssumeRole.
    async fn site_client(&self, base: &Self::Client, site: &Site) -> Self::Client;
}

/// The real thing: IMDS and the AWS SDK.
pub struct SdkCloud {
    pub max_attempts: u32,
}

impl Cloud for SdkCloud {
    type Client = SdkEc2;

    async fn identity(&self, eni: &EniChoice, deadline: &Deadline) -> Result<Identity, Error> {
        imds::Imds::new(deadline.total()).identity(deadline, eni).await
    }

    async fn check_access(&self, access: &Access) -> Result<(), Error> {
        match &access.profile {
            Some(p) => credentials::check_named_profile(p, &format!("profile {p} (config section)")).await,
            None => Ok(()),
        }
    }

    async fn client(&self, region: &str, access: &Access, deadline: &Deadline) -> Result<SdkEc2, Error> {
        self.check_access(access).await?;
        let total = deadline.remaining();
        let base = sdk_config(region.to_string(), total, self.max_attempts, access.profile.as_deref()).await;
        Ok(match &access.role_arn {
            Some(arn) => {
                let role = assumed(&base, Region::new(region.to_string()), arn, access.external_id.as_ref());
                let mut c = SdkEc2::new(&role.await);
                c.home = Some(aws_sdk_ec2::Client::new(&base));
                c
            }
            None => SdkEc2::new(&base),
        })
    }

    async fn site_client(&self, base: &SdkEc2, site: &Site) -> SdkEc2 {
        let region = Region::new(site.region.clone());
        match &site.role_arn {
            Some(arn) => SdkEc2::new(&assumed(&base.config, region, arn, site.external_id.as_ref()).await),
            None => {
                let mut b = base.config.to_builder();
                b.set_region(Some(region));
                SdkEc2::new(&b.build())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempt_timeout_is_a_share_of_the_deadline() {
        assert_eq!(attempt_timeout(Duration::from_secs(30)), Duration::from_secs(5));
        assert_eq!(attempt_timeout(Duration::from_secs(3)), Duration::from_secs(1));
        assert_eq!(attempt_timeout(Duration::from_millis(300)), Duration::from_millis(500));
    }
}
