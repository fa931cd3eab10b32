//! Apply a transition: describe, plan, log the plan, apply it through the `Ec2` seam with
//! bounded concurrency, read it back, and report per resource what happened.

use crate::config::Resources;
use crate::deadline::Deadline;
use crate::ec2::Ec2;
use crate::error::{Ec2Error, Error};
use crate::model::{Address, Identity};
use crate::plan::{
    inside_vpc, plan_eips, plan_routes, resolve_eips, EipAction, Role, RouteAction, RoutePlan,
};
use futures_util::stream::{self, StreamExt};
use log::{info, warn};
use std::time::Duration;

/// Writes in flight at once. EC2's mutating-call bucket refills at 5/s with a burst of 50.
pub const MAX_PARALLEL_WRITES: usize = 8;

/// What a finished transition did.
#[derive(Debug, Default)]
pub struct Report {
    pub changed: Vec<String>,
    pub unchanged: Vec<String>,
    pub failed: Vec<String>,
}

impl Report {
    pub fn merge(&mut self, other: Report) {
        self.changed.extend(other.changed);
        self.unchanged.extend(other.unchanged);
        self.failed.extend(other.failed);
    }
}

/// The plan for one transition, ready to print (dry run) or apply.
pub struct Plan {
    pub routes: RoutePlan,
    pub eips: Vec<EipAction>,
    /// Problems found while planning that do not stop the rest (e.g. no free private IP).
    pub problems: Vec<String>,
}

impl Plan {
    pub fn lines(&self, eni: &str) -> Vec<String> {
        let mut out = Vec::new();
        for s in &self.routes.steps {
            out.push(match s.action {
                RouteAction::Keep => {
                    format!("route {} in {}: already {eni}, keep", s.destination, s.table_id)
                }
                RouteAction::Replace => {
                    format!(
                        "route {} in {}: {} -> {eni} (ReplaceRoute)",
                        s.destination, s.table_id, s.current
                    )
                }
                RouteAction::NotOwned => format!(
                    "route {} in {}: targets {}, not a node; left alone",
                    s.destination, s.table_id, s.current
                ),
            });
        }
        for e in &self.eips {
            out.push(match e {
                EipAction::Keep { allocation_id, public_ip, reason } => {
                    format!("eip {allocation_id} ({public_ip}): {reason}, keep")
                }
                EipAction::Associate { allocation_id, public_ip, private_ip, from_eni } => format!(
                    "eip {allocation_id} ({public_ip}): {} -> {eni} {private_ip} (AssociateAddress)",
                    from_eni.as_deref().unwrap_or("unassociated")
                ),
                EipAction::Disassociate { allocation_id, public_ip, association_id } => {
                    format!(
                        "eip {allocation_id} ({public_ip}): release {association_id} (DisassociateAddress)"
                    )
                }
            });
        }
        out.extend(self.problems.iter().cloned());
        out
    }
}

/// Describe everything and plan. Any bad input surfaces here, before anything changes.
pub async fn plan<E: Ec2>(
    ec2: &E,
    me: &Identity,
    res: &Resources,
    role: Role,
    deadline: &Deadline,
) -> Result<Plan, Error> {
    let routes = if role == Role::Master { res.routes.as_slice() } else { &[] };
    if let Some((dest, cidr)) = inside_vpc(routes, &me.vpc_cidrs) {
        return Err(Error::BadInput(format!(
            "route {dest} overlaps {cidr} of {}: a VIP must lie outside the VPC's CIDR blocks",
            me.vpc_id
        )));
    }
    let describe_routes = async {
        if routes.is_empty() {
            return Ok(Vec::new());
        }
        let step = format!("DescribeRouteTables {}", me.vpc_id);
        deadline.run(&step, ec2.route_tables_for(&me.vpc_id, routes)).await?.map_err(Error::from)
    };
    let describe_eips = async {
        if res.eips.is_empty() {
            return Ok((Vec::new(), Vec::new()));
        }
        let wanted = deadline.run("DescribeAddresses", ec2.addresses(&res.eips)).await?;
        let wanted = wanted.map_err(|e| if e.is_not_found() { bad_eip(&e) } else { e.into() })?;
        let wanted = resolve_eips(&res.eips, &wanted)
            .map_err(|r| Error::BadInput(format!("Elastic IP {r}: no such address in {}", me.region)))?;
        // What else sits on our ENI matters only if something is to be associated with it.
        let to_move = wanted.iter().any(|a| a.network_interface_id.as_deref() != Some(me.eni_id.as_str()));
        let here = if role == Role::Master && to_move {
            deadline.run("DescribeAddresses", ec2.addresses_on(&me.eni_id)).await??
        } else {
            Vec::new()
        };
        Ok::<_, Error>((wanted, here))
    };
    let (tables, (wanted, here)) = tokio::try_join!(describe_routes, describe_eips)?;
    let routes = plan_routes(&tables, routes, &me.eni_id);
    let mut problems = Vec::new();
    let eips = match plan_eips(&wanted, &here, role, res.release, &me.eni_id, &me.private_ips) {
        Ok(e) => e,
        Err(p) => {
            problems.push(p);
            Vec::new()
        }
    };
    Ok(Plan { routes, eips, problems })
}

/// An Elastic IP EC2 does not know: bad input (exit 2), named with AWS's answer.
pub(crate) fn bad_eip(e: &Ec2Error) -> Error {
    Error::BadInput(format!(
        "Elastic IP {}: {} ({})",
        e.resources,
        e.message.as_deref().unwrap_or("not found"),
        e.code.as_deref().unwrap_or("NotFound")
    ))
}

/// Apply a plan, read it back and report. Errors only if something is not as it should be.
pub async fn apply<E: Ec2>(
    ec2: &E,
    me: &Identity,
    plan: &Plan,
    deadline: &Deadline,
) -> Result<Report, Error> {
    let mut report = Report::default();
    let eni = me.eni_id.as_str();
    for s in &plan.routes.steps {
        match s.action {
            RouteAction::Keep => {
                report.unchanged.push(format!("{} {}: already {eni}", s.table_id, s.destination))
            }
            RouteAction::NotOwned => report.failed.push(format!(
                "{} {}: targets {} (not an ENI or instance); not touched",
                s.table_id, s.destination, s.current
            )),
            RouteAction::Replace => {}
        }
    }
    for dest in &plan.routes.missing {
        report.failed.push(format!("no route table in {} holds a route for {dest}", me.vpc_id));
    }
    report.failed.extend(plan.problems.iter().cloned());

    let route_writes = stream::iter(plan.routes.replacements())
        .map(|s| async move {
            let step = format!("ReplaceRoute {} {}", s.table_id, s.destination);
            let res =
                until_not_throttled(deadline, &step, || ec2.replace_route(&s.table_id, s.destination, eni))
                    .await;
            (s, res)
        })
        .buffer_unordered(MAX_PARALLEL_WRITES)
        .collect::<Vec<_>>();
    let eip_writes = stream::iter(&plan.eips)
        .map(|a| async move { (a, apply_eip(ec2, eni, a, deadline).await) })
        .buffer_unordered(MAX_PARALLEL_WRITES)
        .collect::<Vec<_>>();
    let (route_results, eip_results) = tokio::join!(route_writes, eip_writes);

    let mut replaced = Vec::new();
    for (s, res) in route_results {
        match res {
            Ok(()) => {
                info!("{} {}: {} -> {eni} (replaced)", s.table_id, s.destination, s.current);
                replaced.push(s);
            }
            Err(e) => report.failed.push(format!("{} {}: {e}", s.table_id, s.destination)),
        }
    }
    let mut associated = Vec::new();
    for (a, res) in eip_results {
        match (a, res) {
            (EipAction::Keep { allocation_id, reason, .. }, _) => {
                report.unchanged.push(format!("{allocation_id}: {reason}"))
            }
            (EipAction::Associate { allocation_id, from_eni, .. }, Ok(())) => {
                let from = from_eni.as_deref().unwrap_or("unassociated");
                info!("{allocation_id}: {from} -> {eni} (associated)");
                associated.push(allocation_id.clone());
            }
            (EipAction::Disassociate { allocation_id, association_id, .. }, Ok(())) => {
                info!("{allocation_id}: {association_id} released from {eni}");
                report.changed.push(format!("{allocation_id}: released from {eni}"));
            }
            (other, Err(e)) => report.failed.push(format!("{}: {e}", eip_id(other))),
        }
    }

    if !replaced.is_empty() {
        let tables: Vec<(&str, ipnet::IpNet)> =
            replaced.iter().map(|s| (s.table_id.as_str(), s.destination)).collect();
        match confirm_routes(ec2, me, &tables, deadline).await {
            Ok(()) => report.changed.extend(
                replaced.iter().map(|s| format!("{} {}: {} -> {eni}", s.table_id, s.destination, s.current)),
            ),
            Err(wrong) => {
                // Writes that succeeded still count: name them, unconfirmed if the read
                // back itself failed, so a split outcome always says which tables moved.
                let unconfirmed = wrong.iter().any(|w| w.starts_with("read back"));
                for s in replaced.iter().filter(|s| !wrong.iter().any(|w| w.starts_with(&s.table_id))) {
                    let note = if unconfirmed { " (written; read back incomplete)" } else { "" };
                    report
                        .changed
                        .push(format!("{} {}: {} -> {eni}{note}", s.table_id, s.destination, s.current));
                }
                report.failed.extend(wrong);
            }
        }
    }
    if !associated.is_empty() {
        match confirm_eips(ec2, eni, &associated, deadline).await {
            Ok(()) => report.changed.extend(associated.iter().map(|a| format!("{a}: -> {eni}"))),
            Err(wrong) => report.failed.extend(wrong),
        }
    }
    Ok(report)
}

/// Run a write; while EC2 answers that the account is throttled (after the SDK's own
/// retries), wait and try again until the deadline: a large failover must converge at the
/// rate the bucket allows, not fail. Other errors are returned at once.
pub(crate) async fn until_not_throttled<T, F, Fut>(
    deadline: &Deadline,
    step: &str,
    call: F,
) -> Result<T, Error>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T, Ec2Error>>,
{
    let mut wait = Duration::from_millis(200);
    loop {
        match deadline.run(step, call()).await? {
            Err(e) if e.is_throttling() => {
                log::debug!("{step}: throttled, again in about {} ms", wait.as_millis());
                if !deadline.sleep(jitter(wait)).await {
                    return Err(e.into());
                }
                wait = (wait * 3 / 2).min(Duration::from_secs(2));
            }
            other => return other.map_err(Error::from),
        }
    }
}

/// Between half and all of `d`, so throttled writers do not retry in lockstep.
fn jitter(d: Duration) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|t| t.subsec_nanos())
        .unwrap_or(0);
    d / 2 + d.mul_f64(f64::from(nanos % 1000) / 2000.0)
}

fn eip_id(a: &EipAction) -> &str {
    match a {
        EipAction::Keep { allocation_id, .. }
        | EipAction::Associate { allocation_id, .. }
        | EipAction::Disassociate { allocation_id, .. } => allocation_id,
    }
}

async fn apply_eip<E: Ec2>(ec2: &E, eni: &str, a: &EipAction, deadline: &Deadline) -> Result<(), Error> {
    match a {
        EipAction::Keep { .. } => Ok(()),
        EipAction::Associate { allocation_id, private_ip, .. } => {
            let step = format!("AssociateAddress {allocation_id}");
            until_not_throttled(deadline, &step, || ec2.associate_address(allocation_id, eni, private_ip))
                .await
                .map(|_| ())
        }
        EipAction::Disassociate { association_id, .. } => {
            let step = format!("DisassociateAddress {association_id}");
            match deadline.run(&step, ec2.disassociate_address(association_id)).await? {
                // Gone already (someone else took it meanwhile): nothing of ours to release.
                Err(e) if e.is_not_found() => {
                    warn!("{association_id}: already gone ({})", e.code.as_deref().unwrap_or(""));
                    Ok(())
                }
                other => other.map_err(Error::from),
            }
        }
    }
}

/// Read back until every replaced route targets our ENI; EC2 is eventually consistent.
async fn confirm_routes<E: Ec2>(
    ec2: &E,
    me: &Identity,
    replaced: &[(&str, ipnet::IpNet)],
    deadline: &Deadline,
) -> Result<(), Vec<String>> {
    let dests: Vec<ipnet::IpNet> = {
        let mut d: Vec<_> = replaced.iter().map(|(_, d)| *d).collect();
        d.sort();
        d.dedup();
        d
    };
    let mut wait = Duration::from_millis(100);
    loop {
        let step = format!("DescribeRouteTables {} (read back)", me.vpc_id);
        let wrong: Vec<String> = match deadline.run(&step, ec2.route_tables_for(&me.vpc_id, &dests)).await {
            Ok(Ok(tables)) => replaced
                .iter()
                .filter_map(|(t, d)| {
                    let now = tables
                        .iter()
                        .find(|x| x.id == *t)
                        .and_then(|x| x.routes.iter().find(|r| r.destination == *d));
                    match now {
                        Some(r) if r.target.is_eni(&me.eni_id) => None,
                        Some(r) => Some(format!("{t} {d}: still targets {} after ReplaceRoute", r.target)),
                        None => Some(format!("{t} {d}: route vanished after ReplaceRoute")),
                    }
                })
                .collect(),
            Ok(Err(e)) => vec![format!("read back failed: {e}")],
            Err(e) => return Err(vec![format!("read back: {e}")]),
        };
        if wrong.is_empty() {
            return Ok(());
        }
        if !deadline.sleep(wait).await {
            return Err(wrong);
        }
        wait = (wait * 2).min(Duration::from_secs(2));
    }
}

async fn confirm_eips<E: Ec2>(
    ec2: &E,
    eni: &str,
    allocs: &[String],
    deadline: &Deadline,
) -> Result<(), Vec<String>> {
    let refs: Vec<_> = allocs.iter().map(|a| crate::model::EipRef::AllocationId(a.clone())).collect();
    let mut wait = Duration::from_millis(100);
    loop {
        let wrong: Vec<String> =
            match deadline.run("DescribeAddresses (read back)", ec2.addresses(&refs)).await {
                Ok(Ok(found)) => allocs
                    .iter()
                    .filter(|a| {
                        !found.iter().any(|f: &Address| {
                            &f.allocation_id == *a && f.network_interface_id.as_deref() == Some(eni)
                        })
                    })
                    .map(|a| format!("{a}: not on {eni} after AssociateAddress"))
                    .collect(),
                Ok(Err(e)) => vec![format!("read back failed: {e}")],
                Err(e) => return Err(vec![format!("read back: {e}")]),
            };
        if wrong.is_empty() {
            return Ok(());
        }
        if !deadline.sleep(wait).await {
            return Err(wrong);
        }
        wait = (wait * 2).min(Duration::from_secs(2));
    }
}
