//! The top-level settings: what every hook of a node would otherwise repeat on its command
//! line (`region`, `timeout`, `syslog`, `log_file`, `log_format`, `metrics_file`) and the event hook of
//! sections without their own (`on_event`). The command line wins over each of them. A bad
//! one stops the whole file (the checks here name the key; `Config::parse` locates it).

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use std::fmt;
use std::path::PathBuf;

/// What the command line does not set, from the config's top level.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Defaults {
    /// `region`: the region of EC2 calls when neither --region nor AWS_REGION /
    /// AWS_DEFAULT_REGION says one.
    pub region: Option<String>,
    /// `timeout`: seconds, as --timeout.
    pub timeout: Option<f64>,
    /// `syslog = true`: as --syslog.
    pub syslog: bool,
    /// `log_file`: as --log-file (an absolute path).
    pub log_file: Option<PathBuf>,
    /// `log_format`: "text" or "json", as --log-format.
    pub log_format: Option<String>,
    /// `metrics_file`: as --metrics-file (an absolute path).
    pub metrics_file: Option<PathBuf>,
}

impl Defaults {
    /// True when lines of a run go somewhere besides stderr (syslog or a file).
    pub fn logs(&self) -> bool {
        self.syslog || self.log_file.is_some()
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTop {
    /// The event hook for every section that names none of its own.
    on_event: Option<String>,
    region: Option<String>,
    #[serde(default, deserialize_with = "seconds")]
    timeout: Option<f64>,
    #[serde(default)]
    syslog: bool,
    log_file: Option<String>,
    log_format: Option<String>,
    metrics_file: Option<String>,
}

impl RawTop {
    /// The top-level event hook and the defaults, or the first bad key and what is wrong.
    pub(super) fn check(self) -> Result<(Option<String>, Defaults), (&'static str, String)> {
        let on_event = super::section::non_empty_hook(self.on_event).map_err(|e| ("on_event", e.into()))?;
        if let Some(r) = &self.region {
            check_region(r).map_err(|e| ("region", e))?;
        }
        for (key, f) in [("log_file", &self.log_file), ("metrics_file", &self.metrics_file)] {
            if f.as_ref().is_some_and(|f| !f.starts_with('/')) {
                return Err((key, format!("{:?} is not an absolute path", f.as_deref().unwrap_or_default())));
            }
        }
        if let Some(f) = &self.log_format {
            if f != "text" && f != "json" {
                return Err(("log_format", format!("{f:?}: expected \"text\" or \"json\"")));
            }
        }
        let defaults = Defaults {
            region: self.region,
            timeout: self.timeout,
            syslog: self.syslog,
            log_file: self.log_file.map(PathBuf::from),
            log_format: self.log_format,
            metrics_file: self.metrics_file.map(PathBuf::from),
        };
        Ok((on_event, defaults))
    }
}

/// A region name as AWS spells them (`us-east-1`, `cn-north-1`, `us-gov-west-1`).
pub fn check_region(r: &str) -> Result<(), String> {
    let shaped =
        r.contains('-') && r.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    match shaped && !r.starts_with('-') && !r.ends_with('-') {
        true => Ok(()),
        false => Err(format!("{r:?} is not a region name (e.g. us-east-1)")),
    }
}

/// The run's deadline in seconds (--timeout and the config's `timeout`).
pub fn parse_timeout(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|_| format!("{s:?} is not a number of seconds"))?;
    timeout_in_range(v)
}

fn timeout_in_range(v: f64) -> Result<f64, String> {
    match (0.1..=3600.0).contains(&v) {
        true => Ok(v),
        false => Err("must be between 0.1 and 3600 seconds".into()),
    }
}

/// `timeout = 30`, `timeout = 2.5` or `timeout = "30"`, each checked as --timeout is.
fn seconds<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    struct Secs;
    impl Visitor<'_> for Secs {
        type Value = f64;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a number of seconds (e.g. 30 or 2.5)")
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<f64, E> {
            timeout_in_range(v as f64).map_err(E::custom)
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<f64, E> {
            timeout_in_range(v as f64).map_err(E::custom)
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<f64, E> {
            timeout_in_range(v).map_err(E::custom)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<f64, E> {
            parse_timeout(v).map_err(E::custom)
        }
    }
    d.deserialize_any(Secs).map(Some)
}
