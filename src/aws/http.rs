//! The HTTP(S) client of every AWS call: rustls with ring, trust roots from the system
//! store, and the proxy the environment names, as the AWS CLI takes it: `HTTPS_PROXY` for
//! https endpoints, `HTTP_PROXY` for http ones (either case; `ALL_PROXY` as a fallback),
//! `NO_PROXY` exempts hosts, domains and CIDRs. The instance metadata service is never
//! reached through a proxy: requests to 169.254.169.254, fd00:ec2::254 and the endpoint of
//! `AWS_EC2_METADATA_SERVICE_ENDPOINT` go direct, whatever NO_PROXY says (the IMDS client
//! and the credential chain's instance-role provider share this client).

use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
use aws_smithy_http_client::{Builder, Connector};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;

/// The proxy variables, in the order they are looked at.
const VARS: [&str; 6] = ["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"];

/// The proxy variables set (not empty), as `NAME=URL, ...` with any user and password left
/// out: for messages (a proxy that does not answer is named). None: no proxy.
pub fn proxies_in_env() -> Option<String> {
    let set: Vec<String> = VARS
        .iter()
        .filter_map(|v| {
            let url = std::env::var(v).ok().filter(|u| !u.trim().is_empty())?;
            let shown = match url.rsplit_once('@') {
                Some((head, tail)) => match head.split_once("://") {
                    Some((scheme, _)) => format!("{scheme}://{tail}"),
                    None => tail.to_string(),
                },
                None => url,
            };
            Some(format!("{v}={shown}"))
        })
        .collect();
    (!set.is_empty()).then(|| set.join(", "))
}

/// The client without any proxy (IMDS).
pub fn direct_client() -> SharedHttpClient {
    Builder::new().tls_provider(Provider::Rustls(CryptoMode::Ring)).build_https()
}

/// The client of AWS calls: through the environment's proxy when one is set, IMDS always
/// direct; without a proxy variable, the direct client itself.
pub fn http_client() -> SharedHttpClient {
    if proxies_in_env().is_none() {
        return direct_client();
    }
    let proxied = Builder::new().build_with_connector_fn(|settings, components| {
        let mut b = Connector::builder();
        b.set_connector_settings(settings.cloned());
        if let Some(c) = components {
            b.set_sleep_impl(c.sleep_impl());
        }
        b.proxy_config(ProxyConfig::from_env()).tls_provider(Provider::Rustls(CryptoMode::Ring)).build()
    });
    let mut imds = vec!["169.254.169.254".to_string(), "[fd00:ec2::254]".to_string()];
    if let Some(a) = std::env::var("AWS_EC2_METADATA_SERVICE_ENDPOINT").ok().as_deref().map(authority) {
        imds.push(a.to_string());
    }
    SharedHttpClient::new(Routed { direct: direct_client(), proxied, imds })
}

/// The `host[:port]` of a URL, lower case.
fn authority(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    rest[..end].rsplit('@').next().unwrap_or("").to_ascii_lowercase()
}

/// Whether `url` is the metadata service's: its host is one of `imds` (any port), or its
/// authority is one of them exactly.
fn is_imds(url: &str, imds: &[String]) -> bool {
    let a = authority(url);
    let host = match a.rfind(':') {
        Some(i) if !a[i..].contains(']') => &a[..i],
        _ => &a[..],
    };
    imds.iter().any(|i| *i == a || *i == host)
}

#[derive(Debug)]
struct Routed {
    direct: SharedHttpClient,
    proxied: SharedHttpClient,
    imds: Vec<String>,
}

impl HttpClient for Routed {
    fn http_connector(&self, settings: &HttpConnectorSettings, c: &RuntimeComponents) -> SharedHttpConnector {
        SharedHttpConnector::new(RoutedConnector {
            direct: self.direct.http_connector(settings, c),
            proxied: self.proxied.http_connector(settings, c),
            imds: self.imds.clone(),
        })
    }
}

#[derive(Debug)]
struct RoutedConnector {
    direct: SharedHttpConnector,
    proxied: SharedHttpConnector,
    imds: Vec<String>,
}

impl HttpConnector for RoutedConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        match is_imds(request.uri(), &self.imds) {
            true => self.direct.call(request),
            false => self.proxied.call(request),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imds_is_told_by_host_or_by_its_configured_endpoint() {
        let imds =
            vec!["169.254.169.254".to_string(), "[fd00:ec2::254]".into(), authority("http://127.0.0.1:8111")];
        assert_eq!(imds[2], "127.0.0.1:8111");
        assert!(is_imds("http://169.254.169.254/latest/api/token", &imds));
        assert!(is_imds("http://169.254.169.254:80/latest/meta-data/", &imds));
        assert!(is_imds("http://[fd00:ec2::254]/latest/api/token", &imds));
        assert!(is_imds("http://127.0.0.1:8111/latest/api/token", &imds));
        assert!(!is_imds("http://127.0.0.1:5000/", &imds), "another port of the same host");
        assert!(!is_imds("https://ec2.us-east-1.amazonaws.com/", &imds));
        assert_eq!(authority("http://user:pw@Proxy.example:3128/x?y"), "proxy.example:3128");
    }
}
