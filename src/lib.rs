//! ec2-vip: move a virtual IP's VPC route-table entries and Elastic IPs to this EC2 node.
//!
//! Layers: `cli` parses, `app` runs a command, `failover` plans (pure, in `plan`) and
//! applies through the narrow `ec2::Ec2` seam; `imds` tells who we are.

pub mod app;
pub mod aws;
pub mod check;
pub mod cli;
pub mod config;
pub mod deadline;
pub mod ec2;
pub mod ec2_tgw;
pub mod error;
pub mod failover;
pub mod guard;
pub mod imds;
pub mod logging;
pub mod model;
pub mod plan;
pub mod status;
pub mod tgw;
pub mod tgw_plan;
pub mod watch;
