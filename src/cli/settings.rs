//! From the parsed global options to the library's plain [`Settings`]: the region as the
//! AWS CLI orders its sources, and the config's top-level defaults for what the command
//! line leaves unset (the command line always wins).

use super::GlobalArgs;
use crate::engine::Settings;

/// The deadline when neither --timeout nor the config's `timeout` says one.
pub const DEFAULT_TIMEOUT: f64 = 30.0;

impl GlobalArgs {
    /// The region override and where it came from, as the AWS CLI orders them: --region,
    /// AWS_REGION, AWS_DEFAULT_REGION, then the config's `region` (None: the instance's
    /// region, from IMDS).
    fn region(&self) -> (Option<String>, &'static str) {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let given = self.region.clone().filter(|r| !r.is_empty());
        match (given, env("AWS_REGION"), env("AWS_DEFAULT_REGION")) {
            (Some(r), Some(e), _) if r == e => (Some(e), "AWS_REGION"),
            (Some(r), _, _) => (Some(r), "--region"),
            (None, _, Some(d)) => (Some(d), "AWS_DEFAULT_REGION"),
            (None, _, None) => (self.config_region.clone(), "the config's region"),
        }
    }

    /// The run's deadline in seconds.
    pub fn timeout(&self) -> f64 {
        self.timeout.unwrap_or(DEFAULT_TIMEOUT)
    }

    /// Fill what the command line left unset from the config's top-level settings: the
    /// command line always wins (`syslog = true` adds syslog; it cannot take --syslog away).
    pub fn apply(&mut self, d: &crate::config::Defaults) {
        self.timeout = self.timeout.or(d.timeout);
        self.syslog |= d.syslog;
        if self.log_file.is_none() {
            self.log_file.clone_from(&d.log_file);
        }
        if self.log_format.is_none() {
            self.log_format.clone_from(&d.log_format);
        }
        self.config_region.clone_from(&d.region);
        if self.metrics_file.is_none() {
            self.metrics_file.clone_from(&d.metrics_file);
        }
    }

    pub fn settings(&self) -> Settings {
        let (region, region_from) = self.region();
        Settings {
            state_dir: self.state_dir.clone(),
            region,
            region_from,
            timeout: std::time::Duration::from_secs_f64(self.timeout()),
            max_attempts: self.max_attempts,
            dry_run: self.dry_run,
            consistency_window: std::time::Duration::from_secs_f64(self.consistency_window),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::cli::parse_from;
    use crate::config::Defaults;

    #[test]
    fn the_config_fills_only_what_the_command_line_left_unset() {
        let d = Defaults {
            region: Some("eu-west-1".into()),
            timeout: Some(7.0),
            syslog: true,
            log_file: Some("/var/log/a.log".into()),
            log_format: Some("json".into()),
            metrics_file: Some("/run/m.prom".into()),
        };
        let mut bare = parse_from(["ec2-vip", "notify", "INSTANCE", "VI_1", "MASTER"]).unwrap().global;
        assert_eq!(bare.timeout(), super::DEFAULT_TIMEOUT);
        bare.apply(&d);
        assert_eq!((bare.timeout(), bare.syslog), (7.0, true));
        assert_eq!(bare.log_file.as_deref(), Some(std::path::Path::new("/var/log/a.log")));
        assert_eq!(bare.log_format.as_deref(), Some("json"));
        assert_eq!(bare.config_region.as_deref(), Some("eu-west-1"));
        assert_eq!(bare.metrics_file.as_deref(), Some(std::path::Path::new("/run/m.prom")));
        let argv =
            ["ec2-vip", "--timeout", "3", "--log-file", "/tmp/b.log", "--log-format", "text", "notify"];
        let mut given = parse_from(argv.iter().chain(&["INSTANCE", "VI_1", "MASTER"])).unwrap().global;
        given.apply(&Defaults { syslog: false, ..d });
        assert_eq!((given.timeout(), given.syslog), (3.0, false));
        assert_eq!(given.log_file.as_deref(), Some(std::path::Path::new("/tmp/b.log")));
        assert_eq!(given.log_format.as_deref(), Some("text"));
    }
}
