//! An SDK error as one `Ec2Error`: the call, the resources, and what AWS (or the
//! connection) said. Shared by every SDK seam and the paging helper.

use crate::error::{error_chain, Ec2Error};
use aws_sdk_ec2::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ec2::operation::RequestId;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;

/// Turn any SDK error into an `Ec2Error` naming the call, the resources and AWS's answer:
/// its code, message and request id; an answer without them, its HTTP status; no answer
/// at all (connection refused, a timeout, DNS), the cause chain's text. One line for a
/// person: the SDK's Debug dump of the error goes to the debug log only at `-vv`.
pub(crate) fn ec2_error<E>(
    operation: &'static str,
    resources: impl Into<String>,
    err: SdkError<E, HttpResponse>,
) -> Ec2Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    crate::logging::sdk_debug(operation, &err);
    let code = err.code().map(String::from);
    let message = match (&err, err.message()) {
        (_, Some(m)) => Some(m.to_string()),
        (SdkError::ServiceError(s), None) if code.is_none() => {
            Some(format!("HTTP {} with no AWS error code", s.raw().status().as_u16()))
        }
        (SdkError::ServiceError(_), None) => None,
        (other @ (SdkError::DispatchFailure(_) | SdkError::TimeoutError(_)), None) => {
            Some(match super::http::proxies_in_env() {
                Some(p) => format!("{} (proxy from the environment: {p})", error_chain(other)),
                None => error_chain(other),
            })
        }
        (other, None) => Some(error_chain(other)),
    };
    Ec2Error {
        operation,
        resources: resources.into(),
        code,
        message,
        request_id: err.request_id().map(String::from),
    }
}
