//! The agent's meta-data (OCF 1.1, valid against resource-agents' ra-api-1.dtd): every
//! parameter the agent reads, ec2-vip's own and ClusterLabs' names, and the actions with
//! default timeouts that fit the deadline (`timeout`, default 20 s).

/// One parameter: name, content type, default, short and long description.
struct Param(&'static str, &'static str, &'static str, &'static str, &'static str);

const PARAMS: &[Param] = &[
    Param("routes", "string", "", "VIP route destinations",
        "VIP route destinations (CIDRs, or addresses meaning /32 or /128), separated by commas or spaces. \
         Every route table of the VPC holding such a route gets this node's ENI as target on start \
         (or only the tables in route_tables)."),
    Param("elastic_ips", "string", "", "Elastic IPs",
        "Elastic IPs (allocation ids or public IPs), separated by commas or spaces: associated with this \
         node's ENI on start, disassociated on stop (with release) while still here."),
    Param("private_ips", "string", "", "Secondary private IPv4 addresses",
        "Secondary private IPv4 addresses of the ENI's subnet that move to this node's ENI on start."),
    Param("ipv6_addresses", "string", "", "IPv6 addresses",
        "IPv6 addresses of the ENI's subnet that move to this node's ENI on start."),
    Param("route_tables", "string", "", "Route tables to write",
        "Route table ids (rtb-...) to write instead of every table holding the route; a missing VIP route is created."),
    Param("interface", "string", "", "Local interface whose ENI gets the VIP",
        "Local interface (e.g. eth1) whose ENI gets the VIP, found through its MAC. Default: the primary ENI. \
         Also aws-vpc-move-ip's name."),
    Param("eni", "string", "", "ENI id that gets the VIP", "ENI id (eni-...) that gets the VIP; not with interface."),
    Param("config", "string", "", "ec2-vip config file",
        "An ec2-vip config file (TOML); with instance, the resources of its [instance.NAME] section \
         (e.g. Transit Gateway sites) instead of the parameters above."),
    Param("instance", "string", "", "Config section", "The [instance.NAME] section of config."),
    Param("auth_type", "string", "key", "Credentials (ClusterLabs)",
        "ClusterLabs' auth_type: key (the default) uses profile's credentials; role uses the default chain \
         without a profile (the instance's role through IMDS, unless AWS_* variables are set)."),
    Param("release", "boolean", "true", "Release on stop",
        "On stop, disassociate the Elastic IPs and unassign the private and IPv6 addresses while they are still \
         on this node, and delete the DNS record while it still names this node. Routes always stay (the next \
         start takes them). Default: true, but false with hostedzoneid (aws-vpc-route53 leaves its record); \
         with config + instance, the section's release, unless this parameter is set (then it wins)."),
    Param("timeout", "string", "20", "Deadline in seconds",
        "One deadline in seconds for each action, for every IMDS and EC2 call and retry; shortened to fit \
         the operation's timeout when Pacemaker passes one."),
    Param("state_dir", "string", "/run/ec2-vip", "State directory",
        "Where the resource's transition record and lock live (created 0700)."),
    Param("region", "string", "", "AWS region", "AWS region. Default: AWS_REGION, else the instance's region from IMDS. With config + instance, the section's own region wins."),
    Param("profile", "string", "", "AWS profile", "AWS CLI/SDK profile for credentials (AWS_PROFILE). Default: the default chain. With config + instance, the section's own profile wins."),
    Param("unknown", "string", "last", "Monitor when EC2 cannot be asked",
        "What monitor returns when EC2 or IMDS cannot be asked: last (the recorded state: running after a \
         start, not running after a stop), failed (OCF_ERR_GENERIC) or stopped (OCF_NOT_RUNNING)."),
    Param("binary", "string", "ec2-vip", "ec2-vip binary", "Path of the ec2-vip binary (read by the shell shim). Default: from PATH."),
    Param("ip", "string", "", "VIP (aws-vpc-move-ip), or the DNS record's value (aws-vpc-route53)",
        "aws-vpc-move-ip's VIP: the same as routes with one address (/32, or /128 for IPv6), and, as \
         aws-vpc-move-ip does, the address on interface (default eth0) while started (see local_address). \
         With hostedzoneid (aws-vpc-route53): the value the record names on start instead, local (the \
         ENI's primary private IPv4; the default), public (its public IPv4) or an address (IPv6: an AAAA \
         record); then no route and no local address."),
    Param("local_address", "boolean", "", "VIP on a local interface",
        "Add the VIP (ip, else the single-address routes) to interface (default eth0) on start, remove it on \
         stop; monitor counts it. Default: true when ip is given, else false."),
    Param("address", "string", "", "Deprecated VIP (aws-vpc-move-ip)", "aws-vpc-move-ip's deprecated name of ip."),
    Param("routing_table", "string", "", "Route tables (aws-vpc-move-ip)", "aws-vpc-move-ip's comma list of route tables: the same as route_tables."),
    Param("routing_table_role", "string", "", "Role for the EC2 calls (aws-vpc-move-ip)",
        "aws-vpc-move-ip's role ARN: assumed (STS AssumeRole) with this node's credentials, and every EC2 call \
         of the resource is made as that role (a config section's role_arn). Not with config + instance: give \
         the section's role_arn there."),
    Param("elastic_ip", "string", "", "Elastic IP (awseip)", "awseip's public IP: the same as elastic_ips (allocation_id wins when both are given)."),
    Param("allocation_id", "string", "", "Allocation id (awseip)", "awseip's allocation id of the Elastic IP."),
    Param("private_ip_address", "string", "", "Private IP of the Elastic IP (awseip)",
        "awseip's private IP of this node's ENI that the Elastic IP is associated with."),
    Param("hostedzoneid", "string", "", "Route 53 hosted zone id (aws-vpc-route53)",
        "aws-vpc-route53's hosted zone id (Z...): with fullname, a DNS record that names this node on start \
         (UPSERT, then waited for until INSYNC and read back). Stop leaves the record unless release=true \
         (a deleted name is cached as missing by resolvers); monitor counts it as one resource."),
    Param("fullname", "string", "", "DNS record name (aws-vpc-route53)",
        "aws-vpc-route53's record name, e.g. db.internal.example (a trailing dot is optional); type A, or AAAA \
         when ip is an IPv6 address."),
    Param("ttl", "integer", "10", "DNS record TTL (aws-vpc-route53)", "aws-vpc-route53's TTL in seconds of the record written on start."),
    Param("secondary_private_ip", "string", "", "Secondary private IP (awsvip)", "awsvip's address: the same as private_ips."),
    Param("awscli", "string", "", "Ignored", "Accepted and ignored: ec2-vip calls the EC2 API itself."),
    Param("monapi", "boolean", "true", "Ignored", "Accepted and ignored: monitor always reads EC2."),
    Param("lookup_type", "string", "", "Ignored", "Accepted and ignored: routes are matched by ENI and instance alike."),
    Param("iflabel", "string", "", "Ignored", "Accepted and ignored: the local address gets no label."),
    Param("api_delay", "integer", "", "Ignored", "Accepted and ignored: writes are read back, not waited for."),
    Param("curl_retries", "integer", "", "Ignored", "Accepted and ignored: IMDS calls retry within the deadline."),
    Param("curl_sleep", "integer", "", "Ignored", "Accepted and ignored: IMDS calls retry within the deadline."),
    Param("awscli_timeout", "integer", "", "Ignored", "Accepted and ignored: every call is bounded by the deadline (timeout)."),
];

const HEAD: &str = r#"<?xml version="1.0"?>
<!DOCTYPE resource-agent SYSTEM "ra-api-1.dtd">
<resource-agent name="ec2-vip" version="VERSION">
<version>1.1</version>
<longdesc lang="en">
Moves a virtual IP to this EC2 node on start: VPC route-table entries, Elastic IPs, secondary private
IPs, IPv6 addresses, Route 53 records and Transit Gateway routes (through a config section), recorded,
ordered and read back within one deadline. Stop releases only what is still on this node (routes stay for the next start).
Monitor: 0 when everything points at this node, 7 when nothing does (or the last action here was a
stop), 1 (OCF_ERR_GENERIC) for partial drift; when EC2 or IMDS cannot be asked, the recorded state
(parameter unknown). Accepts the parameters of aws-vpc-move-ip, awseip, awsvip and aws-vpc-route53.
</longdesc>
<shortdesc lang="en">Moves a VIP (routes, Elastic IPs, private IPs) to this EC2 node</shortdesc>
<parameters>
"#;

const TAIL: &str = r#"</parameters>
<actions>
<action name="start" timeout="30s" />
<action name="stop" timeout="30s" />
<action name="monitor" timeout="30s" interval="10s" depth="0" />
<action name="validate-all" timeout="10s" />
<action name="meta-data" timeout="5s" />
</actions>
</resource-agent>
"#;

/// The meta-data document.
pub fn xml() -> String {
    let mut s = HEAD.replace("VERSION", env!("CARGO_PKG_VERSION"));
    for Param(name, kind, default, short, long) in PARAMS {
        s.push_str(&format!(
            "<parameter name=\"{name}\" unique=\"0\" required=\"0\">\n<longdesc lang=\"en\">{long}</longdesc>\n\
             <shortdesc lang=\"en\">{short}</shortdesc>\n<content type=\"{kind}\" default=\"{default}\" />\n</parameter>\n"
        ));
    }
    s.push_str(TAIL);
    s
}

#[cfg(test)]
mod tests {
    use super::super::params::{IGNORED, MAPPED, OWN};
    use super::*;

    #[test]
    fn every_parameter_the_agent_reads_is_described() {
        let doc = xml();
        for name in OWN.iter().chain(MAPPED).chain(IGNORED.iter().map(|(n, _)| n)) {
            assert!(doc.contains(&format!("<parameter name=\"{name}\"")), "{name}");
        }
        assert_eq!(doc.matches("<parameter ").count(), PARAMS.len());
        assert!(!PARAMS.iter().any(|p| format!("{}{}", p.3, p.4).contains(['<', '&', '"'])));
    }
}
