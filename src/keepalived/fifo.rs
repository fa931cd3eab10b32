//! keepalived's notify_fifo lines: `INSTANCE "VI_1" MASTER 150` (also GROUP).

use super::Role;

/// What a notify_fifo line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FifoState {
    Transition(Role),
    /// MASTER_RX_LOWER_PRI: a master saw a lower-priority advert; reassert if MASTER.
    Reassert,
    /// MASTER_PRIORITY and the like: nothing to do.
    Ignore(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FifoEvent {
    pub kind: String,
    pub name: String,
    pub state: FifoState,
}

/// Parse `INSTANCE "VI_1" MASTER 150` (also GROUP). keepalived's LVS virtual and real
/// server lines (VS, RS) are `Ok(None)`.
pub fn parse_fifo_line(line: &str) -> Result<Option<FifoEvent>, String> {
    let line = line.trim();
    let (kind, rest) = line.split_once(' ').ok_or_else(|| format!("malformed notify_fifo line {line:?}"))?;
    match kind {
        "INSTANCE" | "GROUP" => {}
        // keepalived's checker writes virtual/real server lines to the same FIFO.
        "VS" | "RS" => return Ok(None),
        _ => return Err(format!("malformed notify_fifo line {line:?}")),
    }
    let rest = rest.trim_start();
    let (name, rest) = rest
        .strip_prefix('"')
        .and_then(|r| r.split_once('"'))
        .ok_or_else(|| format!("malformed notify_fifo line {line:?}: name not quoted"))?;
    let mut words = rest.split_whitespace();
    let state = words.next().ok_or_else(|| format!("malformed notify_fifo line {line:?}: no state"))?;
    if let Some(p) = words.next() {
        p.parse::<u32>().map_err(|_| format!("malformed notify_fifo line {line:?}: bad priority"))?;
    }
    if name.is_empty() || words.next().is_some() {
        return Err(format!("malformed notify_fifo line {line:?}"));
    }
    let state = match Role::parse_keepalived(state) {
        Some(r) => FifoState::Transition(r),
        None if state == "MASTER_RX_LOWER_PRI" => FifoState::Reassert,
        None if state.chars().all(|c| c.is_ascii_uppercase() || c == '_') => FifoState::Ignore(state.into()),
        None => return Err(format!("malformed notify_fifo line {line:?}: bad state")),
    };
    Ok(Some(FifoEvent { kind: kind.into(), name: name.into(), state }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(kind: &str, name: &str, state: FifoState) -> Option<FifoEvent> {
        Some(FifoEvent { kind: kind.into(), name: name.into(), state })
    }

    #[test]
    fn fifo_lines_parse() {
        assert_eq!(
            parse_fifo_line("INSTANCE \"VI_1\" MASTER 150\n").unwrap(),
            ev("INSTANCE", "VI_1", FifoState::Transition(Role::Master))
        );
        assert_eq!(
            parse_fifo_line("GROUP \"VG 1\" BACKUP").unwrap(),
            ev("GROUP", "VG 1", FifoState::Transition(Role::Backup))
        );
        assert_eq!(
            parse_fifo_line("INSTANCE \"VI_1\" MASTER_RX_LOWER_PRI 150").unwrap(),
            ev("INSTANCE", "VI_1", FifoState::Reassert)
        );
        assert_eq!(
            parse_fifo_line("INSTANCE \"VI_1\" MASTER_PRIORITY 90").unwrap(),
            ev("INSTANCE", "VI_1", FifoState::Ignore("MASTER_PRIORITY".into()))
        );
        assert_eq!(parse_fifo_line("RS 10.0.0.1:80 UP").unwrap(), None);
        for bad in [
            "",
            "this is not a notify line",
            "INSTANCE",
            "INSTANCE VI_1 MASTER",
            "INSTANCE \"VI_1\"",
            "INSTANCE \"VI_1\" MASTER x",
            "INSTANCE \"\" MASTER",
            "INSTANCE \"VI_1\" master?",
        ] {
            assert!(parse_fifo_line(bad).is_err(), "{bad:?}");
        }
    }
}
