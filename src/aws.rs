//! The SDK configuration: explicit timeouts and retries, so that no call outlives the run's
//! deadline. The default credential chain, AWS_ENDPOINT_URL(_EC2) and AWS_PROFILE apply.

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use std::time::Duration;

/// Per-attempt timeout: a share of the deadline, so a hung attempt leaves room to retry.
pub fn attempt_timeout(total: Duration) -> Duration {
    (total / 3).clamp(Duration::from_millis(500), Duration::from_secs(5))
}

/// The HTTPS client of every AWS call (EC2, STS, IMDS, credentials): rustls with ring,
/// trust roots from the system store.
pub fn http_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
    aws_smithy_http_client::Builder::new().tls_provider(Provider::Rustls(CryptoMode::Ring)).build_https()
}

pub async fn sdk_config(region: String, total: Duration, max_attempts: u32) -> SdkConfig {
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
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(http_client())
        .region(Region::new(region))
        .timeout_config(timeouts)
        .retry_config(retry)
        .load()
        .await
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
