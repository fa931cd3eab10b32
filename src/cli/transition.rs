//! Arguments of master / backup / fault / stop: the resources by flag, or a config section.

use super::ResourceArgs;
use clap::Args;

#[derive(Debug, Args, Clone)]
pub struct TransitionArgs {
    #[command(flatten)]
    pub resources: ResourceArgs,
    /// Act on this config section (its resources, record and lock, as `notify INSTANCE NAME`
    /// does) instead of --route/--eip...
    #[arg(long, value_name = "NAME", conflicts_with_all = [
        "routes", "eips", "route_tables", "private_ips", "ipv6_addresses", "interface", "eni", "release"])]
    pub instance: Option<String>,
}
