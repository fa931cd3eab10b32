//! Command line (clap): parsing validates only; all I/O happens later in `commands`.
//! The library below never sees these types: `GlobalArgs::settings` and
//! `ResourceArgs::resources` turn them into plain values.

use crate::config::dns::{parse_dns_spec, DnsRecord};
use crate::config::{eni_choice, parse_ipv6_address, parse_private_ip, table_choice, Resources};
use crate::model::{parse_destination, EipRef};
use clap::{Args, Parser, Subcommand};
use ipnet::IpNet;
use std::path::PathBuf;

mod scope;
mod settings;
mod transition;
mod values;

pub use scope::{command, one_line, parse_from};
pub use settings::DEFAULT_TIMEOUT;
pub use transition::TransitionArgs;
use values::{
    parse_account, parse_event_timeout, parse_interval, parse_timeout, parse_unknown_exit, parse_vpc_id,
    parse_window,
};

const AFTER_HELP: &str = "\
Exit codes:
  0  done, or nothing to do
  1  the failover (or status lookup) failed or is incomplete; the log says which resources
  2  bad usage, bad config or bad input; nothing was changed; also a config, FIFO or log
     file another user could write (not root's or the running user's, group/world-writable,
     or under a directory others can write; a symlinked --log-file)
  check --unknown-exit CODE: CODE when EC2, IMDS or the transition records cannot be read
     (default 0)

Environment: AWS_REGION, else AWS_DEFAULT_REGION; AWS_PROFILE (a profile that does not
exist is bad input) and the default credential chain (env, profile, instance role);
AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_EC2 / AWS_ENDPOINT_URL_ROUTE_53, AWS_EC2_METADATA_SERVICE_ENDPOINT,
AWS_MAX_ATTEMPTS, RUST_LOG; JOURNAL_STREAM (systemd: stderr lines get <N> priorities).
keepalived discards a script's output: use --syslog or --log-file.";

/// Move a virtual IP to this EC2 instance: VPC route-table entries and Elastic IPs.
///
/// Run as keepalived's notify hook (`notify "/usr/sbin/ec2-vip --syslog notify"`)
/// or by hand. Identity (instance, ENI, VPC, region) comes from IMDSv2.
#[derive(Debug, Parser)]
// A later option wins over an earlier one (`--timeout 30 ... --timeout 10` is 10), as the
// systemd unit's `$EC2VIP_ARGS` and `$EC2VIP_WATCH_ARGS` need: they come after the line's own.
#[command(name = "ec2-vip", version, after_help = AFTER_HELP, args_override_self = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    #[command(flatten)]
    pub global: GlobalArgs,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Config file (TOML) with resources per keepalived instance; needed by `notify`.
    /// Refused unless owned by root (or the running user) and writable by nobody else,
    /// nor any directory above it.
    #[arg(long, global = true, value_name = "FILE", default_value = "/etc/ec2-vip.toml")]
    pub config: PathBuf,
    /// Where per-instance lock and transition-record files live (created 0700).
    #[arg(
        long,
        global = true,
        value_name = "DIR",
        env = "EC2_VIP_STATE_DIR",
        default_value = "/run/ec2-vip"
    )]
    pub state_dir: PathBuf,
    /// AWS region [default: AWS_REGION, else AWS_DEFAULT_REGION, else the config's `region`,
    /// else the instance's region from IMDS; an override that differs from the instance's
    /// region is warned about; a config section's own `region` wins for its calls].
    #[arg(long, global = true, env = "AWS_REGION", hide_env = true)]
    pub region: Option<String>,
    /// One deadline in seconds for the whole run: every IMDS and EC2 call and retry fits in
    /// it [default: the config's `timeout`, else 30].
    #[arg(long, global = true, value_name = "SECS", value_parser = parse_timeout)]
    pub timeout: Option<f64>,
    /// Attempts per API call (first try plus retries), with jittered backoff.
    #[arg(long, global = true, value_name = "N", env = "AWS_MAX_ATTEMPTS", hide_env = true,
          default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=20))]
    pub max_attempts: u32,
    /// Print the plan to stdout and change nothing: no EC2 write, nothing written to the
    /// state directory; `check --repair` and `watch` say what they would repair. Exits as
    /// the real run would (1 for a step no write can fix).
    #[arg(long, global = true)]
    pub dry_run: bool,
    /// Seconds EC2's Describe answers may lag a write (EC2 is eventually consistent). After
    /// a recent BACKUP/FAULT/STOP, a MASTER does not trust a read that says "already here"
    /// (it writes anyway, or reads again after this long); drift is acted on only when a
    /// second read this long after the first still shows it.
    #[arg(long, global = true, value_name = "SECS", default_value = "2", value_parser = parse_window)]
    pub consistency_window: f64,
    /// More log detail (-v debug, -vv also the AWS SDK's).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only warnings and errors.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Also append log lines to this file (a symlink, or a file of another user, is refused)
    /// [default: the config's `log_file`].
    #[arg(long, global = true, value_name = "PATH")]
    pub log_file: Option<PathBuf>,
    /// Also send log lines to syslog (/dev/log, facility daemon); not when stderr is the
    /// journal (systemd's JOURNAL_STREAM), which has every line already [default: the
    /// config's `syslog`].
    #[arg(long, global = true)]
    pub syslog: bool,
    /// text, or json: one JSON object per line (time, level, pid, run, instance,
    /// transition, message) on stderr and in --log-file [default: the config's
    /// `log_format`, else text].
    #[arg(long, global = true, value_name = "FORMAT", value_parser = ["text", "json"])]
    pub log_format: Option<String>,
    /// Event hook: run this command (via /bin/sh -c) with one JSON event on stdin after
    /// every change, failed transition, repair and split brain. A config section's
    /// `on_event` comes first, then this, then the config's top-level `on_event`.
    #[arg(long, global = true, value_name = "COMMAND")]
    pub on_event: Option<String>,
    /// The config's top-level `region` (set by [`GlobalArgs::apply`]), after the command
    /// line's and the environment's.
    #[arg(skip)]
    pub config_region: Option<String>,
    /// Seconds an event hook may run; then its process group is killed.
    #[arg(long, global = true, value_name = "SECS", default_value = "5", value_parser = parse_event_timeout)]
    pub event_timeout: f64,
    /// One-shot runs (notify, master/backup/..., check, the OCF agent) merge their metrics
    /// into this node_exporter textfile (e.g. /var/lib/prometheus/node-exporter/ec2-vip.prom),
    /// replaced atomically [default: the config's `metrics_file`].
    #[arg(long, global = true, value_name = "PATH", env = "EC2_VIP_METRICS_FILE")]
    pub metrics_file: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Become the VIP's owner: repoint every route, associate every Elastic IP and assign
    /// every private IP here.
    Master(TransitionArgs),
    /// Routes untouched; Elastic IPs released only with --release and only if still here.
    Backup(TransitionArgs),
    /// Same as backup.
    Fault(TransitionArgs),
    /// Same as backup.
    Stop(TransitionArgs),
    /// keepalived's generic notify: TYPE NAME STATE [PRIORITY]; resources from --config.
    Notify(NotifyArgs),
    /// Show where each resource points now and whether that is this node.
    Status(StatusArgs),
    /// Exit 0 if every resource points at this node, 1 if not (one line each); --repair
    /// puts back what drifted. Skipped (exit 0) where the last transition was not MASTER.
    Check(CheckArgs),
    /// Consume keepalived's notify_fifo: apply transitions in order, reconcile while MASTER.
    /// A FIFO re-created at the path (keepalived restarted) is reopened; SIGHUP reopens
    /// --log-file (logrotate); SIGTERM/SIGINT stop.
    Watch(WatchArgs),
    /// Print the least-privilege IAM policy (JSON) for the config's sections (or
    /// --route/--eip…): the actions each scenario calls, on the resources the config names
    /// (ARNs in the region's partition), wildcards narrowed by conditions (ec2:Vpc,
    /// ec2:ResourceTag/KEY).
    IamPolicy(PolicyArgs),
    /// Check the set-up, one line per check (ok / warn / FAIL and the fix): IMDSv2,
    /// credentials, the config, each section's ENI, source/destination check, routes,
    /// addresses, write permissions and the split-brain read (DryRun), Route 53 records
    /// (zone, name, TTL), and keepalived.conf. Changes nothing.
    Doctor(DoctorArgs),
    /// Pacemaker's OCF resource agent (run by the shim ocf/ec2-vip): ACTION is start, stop,
    /// monitor, validate-all or meta-data; parameters from OCF_RESKEY_*; OCF exit codes.
    Ocf(OcfArgs),
    /// Check the config offline, like `keepalived -t`: no IMDS, no credentials, no network.
    ///
    /// Prints `ok: N sections (names)`, or every error, one line each (FILE:LINE:COLUMN:
    /// [instance.NAME] KEY: message). Exit 0 when every section is sound, 2 otherwise. A
    /// section with an error is set aside: the others still work for notify and watch.
    ConfigTest(ConfigTestArgs),
}

#[derive(Debug, Args)]
pub struct ConfigTestArgs {
    /// Also check this keepalived.conf against the sections (doctor's offline rules).
    #[arg(long, value_name = "PATH")]
    pub keepalived_conf: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct OcfArgs {
    /// The OCF action; others exit 3 (OCF_ERR_UNIMPLEMENTED).
    pub action: String,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Only this config section [default: every section].
    #[arg(long, value_name = "NAME")]
    pub instance: Option<String>,
    /// Print the checks as JSON.
    #[arg(long)]
    pub json: bool,
    /// keepalived's configuration to check against the sections (skipped if missing).
    #[arg(long, value_name = "PATH", default_value = "/etc/keepalived/keepalived.conf")]
    pub keepalived_conf: PathBuf,
}

#[derive(Debug, Args)]
pub struct PolicyArgs {
    #[command(flatten)]
    pub resources: ResourceArgs,
    /// Only this config section [default: every section].
    #[arg(long, value_name = "NAME")]
    pub instance: Option<String>,
    /// The node's VPC: discovered route tables and the ENIs addresses move between are
    /// allowed only in it (condition ec2:Vpc) [default: from IMDS when a section needs it].
    #[arg(long, value_name = "VPC_ID", value_parser = parse_vpc_id)]
    pub vpc: Option<String>,
    /// The node's account id in the ARNs [default: *]. A section's or site's role names its own.
    #[arg(long, value_name = "ID", value_parser = parse_account)]
    pub account: Option<String>,
    /// Print this role's policy instead: the calls made as it by the sections and Transit
    /// Gateway sites that name it as role_arn [default: the node's own policy, which has
    /// sts:AssumeRole on each such role].
    #[arg(long, value_name = "ROLE_ARN")]
    pub role: Option<String>,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub resources: ResourceArgs,
    /// Resources of this config section instead of --route/--eip [default: every section;
    /// with --route/--eip..., the section that holds them all if one does (its record is
    /// the one keepalived's notify writes), else those flags under their own record].
    #[arg(long, value_name = "NAME")]
    pub instance: Option<String>,
    /// Put back what drifted (local recovery); exit 0 only if all is right afterwards.
    /// Only after a MASTER transition recorded in this boot.
    #[arg(long)]
    pub repair: bool,
    /// Exit code when EC2 or IMDS cannot be asked (unreachable, throttled past the
    /// deadline, 5xx, expired credentials) or the transition records cannot be read (a
    /// user that may not open the state directory). Default 0: a monitoring failure is no reason to
    /// fail a healthy master over. 1 and 2 keep their meanings; 3 is a good choice.
    #[arg(long, value_name = "CODE", default_value_t = 0, value_parser = parse_unknown_exit)]
    pub unknown_exit: u8,
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// keepalived's notify_fifo path (global_defs { notify_fifo PATH }); refused unless
    /// owned by root (or the running user) and writable by nobody else, nor any directory
    /// above it (a sticky one like /tmp is fine).
    #[arg(long, value_name = "PATH")]
    pub fifo: PathBuf,
    /// Seconds between reconciles of MASTER instances; 0 turns local recovery off.
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = parse_interval)]
    pub interval: f64,
    /// keepalived's VRRP pid file (`keepalived -r`) [default: /run/keepalived/vrrp.pid, else
    /// /run/vrrp.pid]. When it names no running keepalived (killed: no STOP was written),
    /// MASTER instances are treated as STOP: nothing is repaired until keepalived reports again.
    #[arg(long, value_name = "PATH")]
    pub keepalived_pid: Option<PathBuf>,
    /// Serve Prometheus metrics on http://ADDR/metrics (e.g. 127.0.0.1:9798) [default: off].
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<std::net::SocketAddr>,
}

#[derive(Debug, Args, Clone)]
pub struct ResourceArgs {
    /// A VIP route destination (e.g. 10.1.0.10/32; a bare address means /32 or /128). Repeatable.
    #[arg(long = "route", value_name = "CIDR", value_parser = parse_destination)]
    pub routes: Vec<IpNet>,
    /// An Elastic IP, by allocation id or public IP. Repeatable.
    #[arg(long = "eip", value_name = "EIPALLOC_ID_OR_PUBLIC_IP", value_parser = EipRef::parse)]
    pub eips: Vec<EipRef>,
    /// A route table (rtb-...) the VIP routes live in; a missing VIP route is created there.
    /// Repeatable [default: every table of the VPC that holds a route for the VIP].
    #[arg(long = "route-table", value_name = "RTB_ID")]
    pub route_tables: Vec<String>,
    /// A secondary private IPv4 address that moves to this node's ENI (same subnet). Repeatable.
    #[arg(long = "private-ip", value_name = "IP", value_parser = parse_private_ip)]
    pub private_ips: Vec<std::net::Ipv4Addr>,
    /// An IPv6 address that moves to this node's ENI (same subnet). Repeatable.
    #[arg(long = "ipv6-address", value_name = "IPV6", value_parser = parse_ipv6_address)]
    pub ipv6_addresses: Vec<std::net::Ipv6Addr>,
    /// Local interface whose ENI gets the VIP [default: the primary ENI].
    #[arg(long, value_name = "IFACE", conflicts_with = "eni")]
    pub interface: Option<String>,
    /// ENI id that gets the VIP [default: the primary ENI].
    #[arg(long, value_name = "ENI_ID")]
    pub eni: Option<String>,
    /// A Route 53 record that names the MASTER: ZONE,NAME,TYPE[,VALUE[,TTL]] (TYPE A or AAAA;
    /// VALUE local (the ENI's private IPv4, or IPv6 for AAAA), public (its public IPv4) or an
    /// address [default: local]; TTL seconds [default: 60]). Repeatable.
    #[arg(long = "dns-record", value_name = "ZONE,NAME,TYPE[,VALUE[,TTL]]", value_parser = parse_dns_spec)]
    pub dns_records: Vec<DnsRecord>,
    /// On backup/fault/stop, disassociate the Elastic IPs, unassign the private IPs and
    /// delete the DNS records if they are still on (name) this node.
    #[arg(long)]
    pub release: bool,
}

impl ResourceArgs {
    pub fn resources(&self) -> Result<Resources, String> {
        if !self.route_tables.is_empty() && self.routes.is_empty() {
            return Err("--route-table needs --route".into());
        }
        crate::config::dns::check_release(&self.dns_records, self.release).map_err(|(_, e)| e)?;
        Ok(Resources {
            routes: self.routes.clone(),
            eips: self.eips.clone(),
            eip_pins: Vec::new(),
            private_ips: self.private_ips.clone(),
            ipv6_addresses: self.ipv6_addresses.clone(),
            tables: table_choice((!self.route_tables.is_empty()).then(|| self.route_tables.clone()), None)?,
            eni: eni_choice(self.interface.clone(), self.eni.clone())?,
            release: self.release,
            sites: Vec::new(),
            dns_records: self.dns_records.clone(),
            access: Default::default(),
        })
    }
}

#[derive(Debug, Args)]
pub struct NotifyArgs {
    /// INSTANCE or GROUP.
    #[arg(value_name = "TYPE")]
    pub kind: String,
    /// vrrp_instance or vrrp_sync_group name: the [instance.NAME] section of the config.
    pub name: String,
    /// MASTER, BACKUP, FAULT or STOP.
    pub state: String,
    /// keepalived's priority (logged only).
    pub priority: Option<u32>,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub resources: ResourceArgs,
    /// Resources of this config section instead of --route/--eip [default: every section].
    #[arg(long, value_name = "NAME")]
    pub instance: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[cfg(test)]
mod tests;
