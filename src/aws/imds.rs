//! Who am I: instance, region, ENI, VPC and its CIDR blocks, through IMDSv2 only.
//!
//! The SDK's IMDS client does the token handshake (PUT, then GETs with the token; there is
//! no IMDSv1 fallback) and caches the token; it honours
//! AWS_EC2_METADATA_SERVICE_ENDPOINT. Every call here is also bounded by the run's
//! deadline, and retried until it (connection errors, timeouts, 5xx: see `transient`).

use crate::deadline::{jitter, Deadline};
use crate::error::{error_chain, Error, ImdsError};
use crate::model::{EniChoice, Identity};
use aws_config::imds::client::error::ImdsError as SdkImdsError;
use aws_config::imds::client::error::TokenError;
use aws_config::imds::Client;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::{ConnectorError, SdkError};
use ipnet::IpNet;
use std::time::Duration;

const META: &str = "/latest/meta-data";

pub struct Imds {
    client: Client,
}

impl Imds {
    /// One attempt per SDK call: `get` retries, with a backoff that fits the deadline (the
    /// SDK's own IMDS retries back off for seconds: four 500s outlasted a 10 s `--timeout`).
    pub fn new(timeout: Duration) -> Imds {
        let per_call = timeout.clamp(Duration::from_millis(200), Duration::from_secs(2));
        let provider = aws_config::provider_config::ProviderConfig::without_region()
            .with_http_client(super::direct_client());
        let client = Client::builder()
            .configure(&provider)
            .max_attempts(1)
            .connect_timeout(per_call)
            .read_timeout(per_call)
            .build();
        Imds { client }
    }

    /// GET one metadata path. A dropped connection, a timeout or a 5xx answer (token or
    /// value) is retried with jittered backoff until the run's deadline, as EC2 calls are;
    /// a 404 is "absent" at once, any other answer an error at once.
    async fn get(&self, deadline: &Deadline, path: &str) -> Result<String, Error> {
        let full = format!("{META}/{path}");
        let step = format!("instance metadata GET {full}");
        let mut wait = Duration::from_millis(50);
        let mut last: Option<String> = None;
        for attempt in 1.. {
            let res = deadline.run(&step, self.client.get(full.clone())).await.map_err(|e| match &last {
                // The deadline cut an attempt that followed failed ones: say why it was retried.
                Some(err) => Error::Deadline {
                    timeout_secs: deadline.total().as_secs_f64(),
                    step: format!("{step} (attempt {attempt}; the one before failed: {err})"),
                },
                None => e,
            })?;
            let err = match res {
                Ok(v) => return Ok(v.as_ref().trim().to_string()),
                Err(SdkImdsError::ErrorResponse(r)) if r.response().status().as_u16() == 404 => {
                    return Err(ImdsError::NotFound { path: full }.into())
                }
                Err(e) if !transient(&e) => {
                    return Err(ImdsError::Request { path: full, detail: error_chain(&e) }.into())
                }
                Err(e) => error_chain(&e),
            };
            log::debug!("{step}: {err}; again in about {} ms", wait.as_millis());
            if !deadline.sleep(jitter(wait)).await {
                let detail = format!(
                    "{err} (tried {attempt} times until the deadline of {}s)",
                    deadline.total().as_secs_f64()
                );
                return Err(ImdsError::Request { path: full, detail }.into());
            }
            last = Some(err);
            wait = (wait * 2).min(Duration::from_secs(1));
        }
        unreachable!("the attempts never run out")
    }

    /// Like `get`, but "absent" (404) is `None` rather than an error.
    async fn get_opt(&self, deadline: &Deadline, path: &str) -> Result<Option<String>, Error> {
        match self.get(deadline, path).await {
            Ok(v) => Ok(Some(v)),
            Err(Error::Imds(ImdsError::NotFound { .. })) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Learn this node's identity: instance, region, and the chosen ENI with its VPC.
    pub async fn identity(&self, deadline: &Deadline, eni: &EniChoice) -> Result<Identity, Error> {
        // The primary ENI's MAC comes in the same round as the instance and region.
        let primary_mac = async {
            match eni {
                EniChoice::Primary => self.get(deadline, "mac").await.map(Some),
                _ => Ok(None),
            }
        };
        let (instance_id, region, primary_mac) = tokio::try_join!(
            self.get(deadline, "instance-id"),
            self.get(deadline, "placement/region"),
            primary_mac
        )?;
        let mac = match eni {
            EniChoice::Primary => primary_mac.unwrap_or_default().to_ascii_lowercase(),
            EniChoice::Interface(name) => interface_mac(name)?,
            EniChoice::Eni(id) => self.mac_of_eni(deadline, &instance_id, id).await?,
        };
        let base = format!("network/interfaces/macs/{mac}");
        let (v4_path, v6_path) =
            (format!("{base}/vpc-ipv4-cidr-blocks"), format!("{base}/vpc-ipv6-cidr-blocks"));
        let (id_path, vpc_path, ips_path) =
            (format!("{base}/interface-id"), format!("{base}/vpc-id"), format!("{base}/local-ipv4s"));
        let (subnet_path, subnet_cidr_path) =
            (format!("{base}/subnet-id"), format!("{base}/subnet-ipv4-cidr-block"));
        let subnet_v6_path = format!("{base}/subnet-ipv6-cidr-blocks");
        let (ipv6s_path, public_path) = (format!("{base}/ipv6s"), format!("{base}/public-ipv4s"));
        let (eni_id, vpc_id, v4, v6, ips, subnet_id, subnet_cidr, subnet_v6, ipv6s, public) =
            tokio::try_join!(
                self.get(deadline, &id_path),
                self.get(deadline, &vpc_path),
                self.get(deadline, &v4_path),
                self.get_opt(deadline, &v6_path),
                self.get_opt(deadline, &ips_path),
                self.get_opt(deadline, &subnet_path),
                self.get_opt(deadline, &subnet_cidr_path),
                self.get_opt(deadline, &subnet_v6_path),
                self.get_opt(deadline, &ipv6s_path),
                self.get_opt(deadline, &public_path),
            )
            .map_err(|e| match e {
                Error::Imds(ImdsError::NotFound { .. }) => Error::Interface(format!(
                    "MAC {mac} is not a network interface of instance {instance_id}"
                )),
                other => other,
            })?;
        let mut vpc_cidrs = parse_cidrs(&v4_path, &v4)?;
        if let Some(v6) = v6 {
            vpc_cidrs.extend(parse_cidrs(&v6_path, &v6)?);
        }
        let private_ips = ips.map(|s| s.split_whitespace().map(String::from).collect()).unwrap_or_default();
        let subnet_cidr = match subnet_cidr {
            Some(c) => parse_cidrs(&subnet_cidr_path, &c)?.into_iter().next(),
            None => None,
        };
        let subnet_ipv6_cidrs = match subnet_v6 {
            Some(v6) => parse_cidrs(&subnet_v6_path, &v6)?,
            None => Vec::new(),
        };
        Ok(Identity {
            instance_id,
            region,
            mac,
            eni_id,
            vpc_id,
            vpc_cidrs,
            private_ips,
            subnet_id,
            subnet_cidr,
            subnet_ipv6_cidrs,
            ipv6s: ipv6s.map(|s| s.split_whitespace().map(String::from).collect()).unwrap_or_default(),
            public_ipv4: public.and_then(|s| s.split_whitespace().next().map(String::from)),
        })
    }

    /// The name of the instance role (its profile's credentials path), for `doctor`.
    pub async fn role_name(&self, deadline: &Deadline) -> Result<String, Error> {
        let names = self.get(deadline, "iam/security-credentials/").await?;
        match names.lines().next() {
            Some(n) if !n.is_empty() => Ok(n.to_string()),
            _ => Err(ImdsError::BadValue { path: format!("{META}/iam/security-credentials/"), value: names }
                .into()),
        }
    }

    /// `--eni`: the MAC of this instance's interface that carries that ENI id.
    async fn mac_of_eni(&self, deadline: &Deadline, instance_id: &str, eni: &str) -> Result<String, Error> {
        let macs = self.get(deadline, "network/interfaces/macs/").await?;
        for mac in macs.split_whitespace().map(|l| l.trim_end_matches('/')) {
            let id = self.get(deadline, &format!("network/interfaces/macs/{mac}/interface-id")).await?;
            if id == eni {
                return Ok(mac.to_ascii_lowercase());
            }
        }
        Err(Error::Interface(format!("{eni} is not attached to instance {instance_id}")))
    }
}

/// Whether an IMDS failure may pass: no answer at all (connection refused, reset or
/// dropped, a timeout) or a server error (5xx), for the token or the value. A 4xx answer
/// (IMDS disabled, the token refused) or a malformed one will not change by asking again.
fn transient(e: &SdkImdsError) -> bool {
    match e {
        SdkImdsError::ErrorResponse(r) => r.response().status().is_server_error(),
        SdkImdsError::IoError(_) => true,
        SdkImdsError::FailedToLoadToken(t) if t.is_dispatch_failure() => true,
        SdkImdsError::FailedToLoadToken(_) => {
            match std::error::Error::source(e)
                .and_then(|s| s.downcast_ref::<SdkError<TokenError, HttpResponse>>())
            {
                Some(SdkError::ServiceError(c)) => c.raw().status().is_server_error(),
                Some(
                    SdkError::TimeoutError(_) | SdkError::ResponseError(_) | SdkError::DispatchFailure(_),
                ) => true,
                _ => false,
            }
        }
        // A GET that got no answer: the connector's error is in the chain.
        _ => {
            let mut cur = std::error::Error::source(e);
            while let Some(c) = cur {
                if let Some(c) = c.downcast_ref::<ConnectorError>() {
                    return !c.is_user();
                }
                cur = c.source();
            }
            false
        }
    }
}

/// The MAC address of a local interface, from sysfs.
fn interface_mac(name: &str) -> Result<String, Error> {
    if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        return Err(Error::Interface(format!("{name:?} is not a network interface name")));
    }
    let path = format!("/sys/class/net/{name}/address");
    let mac = std::fs::read_to_string(&path).map_err(|e| {
        Error::Interface(format!("interface {name}: cannot read its MAC address ({path}: {e})"))
    })?;
    Ok(mac.trim().to_ascii_lowercase())
}

fn parse_cidrs(path: &str, body: &str) -> Result<Vec<IpNet>, Error> {
    body.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| {
            l.parse::<IpNet>().map_err(|_| {
                ImdsError::BadValue { path: format!("{META}/{path}"), value: l.to_string() }.into()
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_lists_parse() {
        let v = parse_cidrs("x", "10.0.0.0/16\n100.64.0.0/16\n").unwrap();
        assert_eq!(v.len(), 2);
        assert!(parse_cidrs("x", "10.0.0.0/16\nnope").is_err());
    }

    #[test]
    fn interface_names_are_checked() {
        assert!(matches!(interface_mac("../etc"), Err(Error::Interface(_))));
        assert!(matches!(interface_mac("no-such-if0"), Err(Error::Interface(_))));
        assert_eq!(interface_mac("lo").unwrap(), "00:00:00:00:00:00");
    }
}
