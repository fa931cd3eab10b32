//! A Transit Gateway site (one VPC of the cluster, maybe in another region or account) and
//! the role rules every `role_arn` of the config follows.

use serde::Deserialize;

/// One VPC of a Transit Gateway cluster (see the README's Transit Gateway scenario).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Site {
    pub region: String,
    pub vpc_id: String,
    /// Default: the Transit Gateway of the VPC's available attachment.
    pub transit_gateway_id: Option<String>,
    /// Default: the VPC's route tables that hold a VIP route. Listed tables get a
    /// missing VIP route created.
    pub route_tables: Option<Vec<String>>,
    /// Default: the Transit Gateway's route tables that hold a static VIP route. Listed
    /// tables get a missing VIP route created.
    pub tgw_route_tables: Option<Vec<String>>,
    /// A role in the account that owns this site's VPC or Transit Gateway.
    pub role_arn: Option<String>,
    pub external_id: Option<String>,
}

impl Site {
    /// The first bad field of this site and what is wrong with it.
    pub(super) fn check(&self) -> Result<(), (&'static str, String)> {
        if self.region.trim().is_empty() {
            return Err(("region", "region is empty".into()));
        }
        if !self.vpc_id.starts_with("vpc-") {
            return Err(("vpc_id", format!("{:?} is not a VPC id (vpc-...)", self.vpc_id)));
        }
        if let Some(t) = &self.transit_gateway_id {
            if !t.starts_with("tgw-") {
                return Err(("transit_gateway_id", format!("{t:?} is not a Transit Gateway id (tgw-...)")));
            }
        }
        check_role(self.role_arn.as_deref(), self.external_id.as_deref())
    }

    /// A "site" that is only a role to assume in `region` (a DNS record's hosted zone in
    /// another account): what `Cloud::site_client` needs to build its client.
    pub fn for_role(region: &str, role_arn: &str, external_id: Option<&str>) -> Site {
        Site {
            region: region.to_string(),
            vpc_id: String::new(),
            transit_gateway_id: None,
            route_tables: None,
            tgw_route_tables: None,
            role_arn: Some(role_arn.to_string()),
            external_id: external_id.map(String::from),
        }
    }
}

/// `role_arn` must be a role ARN; `external_id` needs it.
pub(crate) fn check_role(
    role_arn: Option<&str>,
    external_id: Option<&str>,
) -> Result<(), (&'static str, String)> {
    if let Some(arn) = role_arn {
        if !arn.starts_with("arn:") || !arn.contains(":role/") {
            let why = format!("{arn:?} is not a role ARN (arn:aws:iam::ACCOUNT:role/NAME)");
            return Err(("role_arn", why));
        }
    }
    if external_id.is_some() && role_arn.is_none() {
        return Err(("external_id", "external_id needs role_arn".into()));
    }
    Ok(())
}
