//! The VIP's address on a local interface, as aws-vpc-move-ip keeps it: added on start
//! (after EC2 points here), removed on stop, looked at by monitor. Through iproute2's `ip`.

use crate::error::Error;
use ipnet::IpNet;
use std::process::Command;

/// Addresses (host prefixes: /32, /128) to carry on device `dev`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Local {
    pub addrs: Vec<IpNet>,
    pub dev: String,
}

fn ip_tool() -> &'static str {
    ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .unwrap_or("ip")
}

fn ip(args: &[&str]) -> Result<String, Error> {
    let shown = format!("ip {}", args.join(" "));
    let out =
        Command::new(ip_tool()).args(args).output().map_err(|e| Error::Other(format!("{shown}: {e}")))?;
    if !out.status.success() {
        let why = String::from_utf8_lossy(&out.stderr);
        return Err(Error::Other(format!("{shown} failed: {}", why.trim())));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

impl Local {
    fn device_exists(&self) -> bool {
        !self.dev.contains('/') && std::path::Path::new("/sys/class/net").join(&self.dev).exists()
    }

    /// Which of the addresses the device carries now (none when it does not exist).
    pub fn present(&self) -> Result<Vec<IpNet>, Error> {
        if !self.device_exists() {
            return Ok(Vec::new());
        }
        let shown = ip(&["-o", "address", "show", "dev", &self.dev])?;
        Ok(self.addrs.iter().filter(|a| carries(&shown, a)).copied().collect())
    }

    /// Add what is missing.
    pub fn add(&self) -> Result<(), Error> {
        if !self.device_exists() {
            return Err(Error::Interface(format!(
                "interface {}: no such device for the VIP's local address (parameter interface)",
                self.dev
            )));
        }
        let here = self.present()?;
        for a in self.addrs.iter().filter(|a| !here.contains(a)) {
            ip(&["address", "add", &a.to_string(), "dev", &self.dev])?;
            log::info!("local address {a} added to {}", self.dev);
        }
        Ok(())
    }

    /// Remove what is there.
    pub fn remove(&self) -> Result<(), Error> {
        for a in self.present()? {
            ip(&["address", "del", &a.to_string(), "dev", &self.dev])?;
            log::info!("local address {a} removed from {}", self.dev);
        }
        Ok(())
    }
}

/// Does `ip -o address show` output list `addr` (exactly, with its prefix)?
fn carries(shown: &str, addr: &IpNet) -> bool {
    let want = addr.to_string();
    shown
        .lines()
        .any(|l| l.split_whitespace().skip_while(|w| *w != "inet" && *w != "inet6").nth(1) == Some(&want))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_output_is_matched_exactly() {
        let shown = "2: eth0    inet 10.200.0.11/24 brd 10.200.0.255 scope global eth0\\\n\
                     2: eth0    inet 10.1.0.10/32 scope global eth0\\\n\
                     2: eth0    inet6 fd00:ec2::10/128 scope global\n";
        assert!(carries(shown, &"10.1.0.10/32".parse().unwrap()));
        assert!(carries(shown, &"fd00:ec2::10/128".parse().unwrap()));
        assert!(!carries(shown, &"10.1.0.1/32".parse().unwrap()));
        assert!(!carries(shown, &"10.200.0.11/32".parse().unwrap()));
    }

    #[test]
    fn a_missing_device_carries_nothing_and_cannot_get_an_address() {
        let l = Local { addrs: vec!["10.1.0.10/32".parse().unwrap()], dev: "no-such-if0".into() };
        assert_eq!(l.present().unwrap(), Vec::<IpNet>::new());
        assert!(matches!(l.add(), Err(Error::Interface(_))));
        assert!(l.remove().is_ok());
    }
}
