//! Typed errors, one per boundary, and the single place that maps them to exit codes.

use std::fmt;

/// Exit code: done, or nothing to do.
pub const EXIT_OK: u8 = 0;
/// Exit code: the failover (or check) failed or is incomplete.
pub const EXIT_FAILED: u8 = 1;
/// Exit code: bad usage, bad config or bad input; nothing was changed.
pub const EXIT_BAD_INPUT: u8 = 2;

/// An EC2 API call that failed: names the operation, the resources and AWS's error.
#[derive(Debug, Clone)]
pub struct Ec2Error {
    pub operation: &'static str,
    pub resources: String,
    pub code: Option<String>,
    pub message: Option<String>,
    pub request_id: Option<String>,
}

impl Ec2Error {
    /// True for AWS error codes that mean "this id or address does not exist".
    pub fn is_not_found(&self) -> bool {
        self.code.as_deref().is_some_and(|c| c.ends_with(".NotFound") || c.ends_with(".Malformed"))
    }

    pub fn code_is(&self, code: &str) -> bool {
        self.code.as_deref() == Some(code)
    }

    /// EC2's answer when an account's request token bucket is empty.
    pub fn is_throttling(&self) -> bool {
        matches!(
            self.code.as_deref(),
            Some(
                "RequestLimitExceeded"
                    | "Throttling"
                    | "ThrottlingException"
                    | "RequestThrottled"
                    // Route 53: a change of the same record set is still in progress.
                    | "PriorRequestNotComplete"
            )
        )
    }
}

impl fmt::Display for Ec2Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} failed", self.operation, self.resources)?;
        match (&self.code, &self.message) {
            (Some(c), Some(m)) => write!(f, ": {c}: {m}")?,
            (Some(c), None) => write!(f, ": {c}")?,
            (None, Some(m)) => write!(f, ": {m}")?,
            (None, None) => {}
        }
        if let Some(id) = &self.request_id {
            write!(f, " (request id {id})")?;
        }
        Ok(())
    }
}

impl std::error::Error for Ec2Error {}

/// A failure to learn who we are from the instance metadata service.
#[derive(Debug, thiserror::Error)]
pub enum ImdsError {
    #[error("instance metadata {path}: {detail}")]
    Request { path: String, detail: String },
    #[error("instance metadata {path}: not found (404)")]
    NotFound { path: String },
    #[error("instance metadata {path}: unexpected value {value:?}")]
    BadValue { path: String, value: String },
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config {path}: {detail}")]
    Read { path: String, detail: String },
    /// Not readable by the running user (`check` then cannot tell, see `--unknown-exit`).
    #[error("config {path}: {detail}")]
    Denied { path: String, detail: String },
    #[error("config {path}: {detail}")]
    Parse { path: String, detail: String },
    #[error("config {path}: no [instance.{name}] section (keepalived instance or sync group name)")]
    UnknownInstance { path: String, name: String },
    /// Someone other than root (or the running user) could have written it (see `trust`).
    #[error("{0}")]
    Untrusted(String),
    /// A bad value, unknown key or syntax error at a place in the file.
    #[error("{0}")]
    At(ConfigProblem),
}

/// A config error where it is: `PATH:LINE:COLUMN: [instance.NAME] KEY: message` (the
/// parts not known are left out).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    pub path: String,
    /// 1-based line and column (in characters).
    pub at: Option<(usize, usize)>,
    /// The section's name (`VI_1` for `[instance.VI_1]`).
    pub section: Option<String>,
    /// The key within the section, e.g. `routes[1]` or `sites[0].vpc_id`.
    pub key: Option<String>,
    pub message: String,
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.path)?;
        if let Some((line, column)) = self.at {
            write!(f, "{line}:{column}:")?;
        }
        if let Some(s) = &self.section {
            write!(f, " [instance.{s}]")?;
        }
        match &self.key {
            Some(k) => write!(f, " {k}: {}", self.message),
            None if self.section.is_some() => write!(f, ": {}", self.message),
            None => write!(f, " {}", self.message),
        }
    }
}

/// Everything `run` can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad usage or bad input, found before anything was changed.
    #[error("{0}")]
    BadInput(String),
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A local interface could not be mapped to an ENI of this instance.
    #[error("{0}")]
    Interface(String),
    #[error(transparent)]
    Imds(#[from] ImdsError),
    #[error(transparent)]
    Ec2(#[from] Ec2Error),
    #[error("deadline of {timeout_secs}s reached during {step}")]
    Deadline { timeout_secs: f64, step: String },
    /// The run changed what it could, but some resources are not where they should be.
    #[error("{0}")]
    Incomplete(String),
    #[error("{0}")]
    Other(String),
    /// The state directory (records and locks) cannot be used.
    #[error("{0}")]
    StateDir(String),
    /// `check` could not ask EC2 or IMDS: the exit code the operator chose (--unknown-exit).
    #[error("{detail}")]
    CannotTell { detail: String, exit: u8 },
    /// An OCF resource agent action's result other than success: its OCF exit code
    /// (`detail` is empty when nothing needs saying, e.g. "not running").
    #[error("{detail}")]
    Ocf { detail: String, code: u8 },
}

impl Error {
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::BadInput(_) | Error::Config(_) | Error::Interface(_) => EXIT_BAD_INPUT,
            Error::Imds(_)
            | Error::Ec2(_)
            | Error::Deadline { .. }
            | Error::Incomplete(_)
            | Error::Other(_)
            | Error::StateDir(_) => EXIT_FAILED,
            Error::CannotTell { exit, .. } => *exit,
            Error::Ocf { code, .. } => *code,
        }
    }
}

/// Display an error with its sources, on one line.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        cur = c.source();
    }
    s
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
