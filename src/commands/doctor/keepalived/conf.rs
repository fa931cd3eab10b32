//! doctor's view of keepalived.conf: the reader is keepalived vocabulary and lives in
//! `crate::keepalived::conf`; the checks here build doctor's findings with these helpers.

pub use crate::keepalived::conf::*;

// Findings are doctor's own; these build them with keepalived's check names.
pub(super) use super::super::{Finding, Level};

pub(super) fn ok(check: &str, message: impl Into<String>) -> Finding {
    Finding::ok(check, message.into())
}

pub(super) fn warn(check: &str, message: impl Into<String>, fix: impl Into<String>) -> Finding {
    Finding::new(Level::Warn, check, message.into(), &fix.into())
}

pub(super) fn fail(check: &str, message: impl Into<String>, fix: impl Into<String>) -> Finding {
    Finding::fail(check, message.into(), &fix.into())
}
