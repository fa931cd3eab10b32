//! Value parsers for the command line: each checks one option's value and says what is
//! allowed (clap prints the message with the option's name).

pub(super) fn parse_vpc_id(s: &str) -> Result<String, String> {
    let hex = s.strip_prefix("vpc-").unwrap_or_default();
    match !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        true => Ok(s.to_string()),
        false => Err(format!("{s:?} is not a VPC id (vpc-...)")),
    }
}

pub(super) fn parse_account(s: &str) -> Result<String, String> {
    match s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()) {
        true => Ok(s.to_string()),
        false => Err(format!("{s:?} is not an AWS account id (12 digits)")),
    }
}

pub(super) fn parse_interval(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|_| format!("{s:?} is not a number of seconds"))?;
    if v != 0.0 && !(0.5..=86400.0).contains(&v) {
        return Err("must be 0 (off) or between 0.5 and 86400 seconds".into());
    }
    Ok(v)
}

pub(super) fn parse_unknown_exit(s: &str) -> Result<u8, String> {
    match s.parse::<u8>() {
        Ok(v @ (0 | 3..=125)) => Ok(v),
        _ => Err("must be 0 or between 3 and 125 (1 means drift, 2 bad input)".into()),
    }
}

pub(super) fn parse_event_timeout(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|_| format!("{s:?} is not a number of seconds"))?;
    if !(0.1..=300.0).contains(&v) {
        return Err("must be between 0.1 and 300 seconds".into());
    }
    Ok(v)
}

pub(super) fn parse_window(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|_| format!("{s:?} is not a number of seconds"))?;
    if !(0.0..=60.0).contains(&v) {
        return Err("must be between 0 and 60 seconds".into());
    }
    Ok(v)
}

pub(super) use crate::config::parse_timeout;
