//! keepalived's vocabulary: the VRRP state a notify names, and its notify_fifo lines; a
//! reader of the notify FIFO that survives keepalived re-creating it; keepalived.conf
//! (its syntax, instances, sync groups, notify commands and scripts).

pub mod conf;
pub mod fifo;
pub mod liveness;
pub mod reader;

use std::fmt;

/// The VRRP state this invocation acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Master,
    Backup,
    Fault,
    Stop,
}

impl Role {
    pub fn parse_keepalived(s: &str) -> Option<Role> {
        match s.to_ascii_uppercase().as_str() {
            "MASTER" => Some(Role::Master),
            "BACKUP" => Some(Role::Backup),
            "FAULT" => Some(Role::Fault),
            "STOP" => Some(Role::Stop),
            _ => None,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Master => "MASTER",
            Role::Backup => "BACKUP",
            Role::Fault => "FAULT",
            Role::Stop => "STOP",
        })
    }
}
