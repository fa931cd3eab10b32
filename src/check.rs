//! `ec2-vip check [--repair]`: does every resource point at this node? The SIOS "local
//! recovery": put back what drifted. Also the reconcile step of `ec2-vip watch`.

use crate::app::{apply_and_report, connect_sdk, select};
use crate::cli::{CheckArgs, GlobalArgs};
use crate::config::Resources;
use crate::deadline::Deadline;
use crate::ec2::Ec2;
use crate::ec2::SdkEc2;
use crate::error::Error;
use crate::failover::{self, Plan};
use crate::guard::Guard;
use crate::model::Identity;
use crate::plan::{EipAction, Role, RouteAction};
use crate::tgw;
use log::{info, warn};

/// One line per resource that does not point at this node, from a MASTER plan.
pub fn drift(plan: &Plan, me: &Identity) -> Vec<String> {
    let mut out = Vec::new();
    for s in &plan.routes.steps {
        match s.action {
            RouteAction::Keep => {}
            RouteAction::Replace => out.push(format!(
                "route {} in {} targets {}, not this node ({})",
                s.destination, s.table_id, s.current, me.eni_id
            )),
            RouteAction::NotOwned => out.push(format!(
                "route {} in {} targets {} (not a node; ec2-vip leaves it alone)",
                s.destination, s.table_id, s.current
            )),
        }
    }
    for d in &plan.routes.missing {
        out.push(format!("route {d}: no route table in {} holds it", me.vpc_id));
    }
    for e in &plan.eips {
        if let EipAction::Associate { allocation_id, public_ip, from_eni, .. } = e {
            let at = from_eni.as_deref().unwrap_or("unassociated");
            out.push(format!("eip {allocation_id} ({public_ip}) is on {at}, not this node ({})", me.eni_id));
        }
    }
    out.extend(plan.problems.iter().cloned());
    out
}

/// The outcome of checking one instance.
#[derive(Debug, PartialEq, Eq)]
pub enum Checked {
    /// Everything points here.
    Right,
    /// The last recorded transition says this node is not MASTER: nothing to check.
    NotMaster(String),
    /// These resources drifted (and, with repair, are still wrong afterwards).
    Drifted(Vec<String>),
    /// They drifted and were put back.
    Repaired(Vec<String>),
}

/// Whether the node's last recorded transition for `guard` allows acting as MASTER.
fn recorded_state(guard: &Guard) -> Result<Option<String>, Error> {
    Ok(guard.latest()?.map(|r| r.state).filter(|s| s != "MASTER"))
}

/// Check one instance and, with `repair`, put back what drifted: under the instance's
/// lock, only while its last recorded transition is still MASTER, never remapping what is
/// already right.
pub async fn check_one<E: Ec2>(
    ec2: &E,
    me: &Identity,
    res: &Resources,
    guard: &Guard,
    repair: bool,
    deadline: &Deadline,
) -> Result<Checked, Error> {
    if let Some(state) = recorded_state(guard)? {
        return Ok(Checked::NotMaster(state));
    }
    let plan = failover::plan(ec2, me, res, Role::Master, deadline).await?;
    let found = drift(&plan, me);
    if found.is_empty() {
        return Ok(Checked::Right);
    }
    if !repair {
        return Ok(Checked::Drifted(found));
    }
    let _held = guard.lock(deadline).await?;
    if let Some(state) = recorded_state(guard)? {
        return Ok(Checked::NotMaster(state));
    }
    for d in &found {
        warn!("drift: {d}; repairing");
    }
    let plan = failover::plan(ec2, me, res, Role::Master, deadline).await?;
    if let Err(e) = apply_and_report(ec2, me, &plan, Role::Master, deadline).await {
        warn!("repair incomplete: {e}");
    }
    let after = drift(&failover::plan(ec2, me, res, Role::Master, deadline).await?, me);
    Ok(if after.is_empty() { Checked::Repaired(found) } else { Checked::Drifted(after) })
}

/// The Transit Gateway scenario's routes across all sites, checked (and repaired) alike.
async fn check_tgw(
    sdk: &aws_config::SdkConfig,
    me: &Identity,
    res: &Resources,
    guard: &Guard,
    repair: bool,
    deadline: &Deadline,
) -> Result<Checked, Error> {
    if let Some(state) = recorded_state(guard)? {
        return Ok(Checked::NotMaster(state));
    }
    let clients = tgw::site_clients(sdk, &res.sites).await;
    let plan = || tgw::plan(&res.sites, &clients, &res.routes, &me.vpc_id, &me.eni_id, deadline);
    let found = tgw::drift(&plan().await?, &res.sites);
    if found.is_empty() {
        return Ok(Checked::Right);
    }
    if !repair {
        return Ok(Checked::Drifted(found));
    }
    let _held = guard.lock(deadline).await?;
    if let Some(state) = recorded_state(guard)? {
        return Ok(Checked::NotMaster(state));
    }
    let p = plan().await?;
    let report = tgw::apply(&p, &res.sites, &clients, &res.routes, &me.vpc_id, &me.eni_id, deadline).await?;
    for f in &report.failed {
        warn!("repair: {f}");
    }
    let after = tgw::drift(&plan().await?, &res.sites);
    Ok(if after.is_empty() { Checked::Repaired(found) } else { Checked::Drifted(after) })
}

/// Both outcomes of an instance that has Transit Gateway sites and Elastic IPs.
fn combine(a: Checked, b: Checked) -> Checked {
    match (a, b) {
        (Checked::NotMaster(s), _) | (_, Checked::NotMaster(s)) => Checked::NotMaster(s),
        (Checked::Drifted(mut x), Checked::Drifted(y)) => {
            x.extend(y);
            Checked::Drifted(x)
        }
        (Checked::Drifted(x), _) | (_, Checked::Drifted(x)) => Checked::Drifted(x),
        (Checked::Repaired(mut x), Checked::Repaired(y)) => {
            x.extend(y);
            Checked::Repaired(x)
        }
        (Checked::Repaired(x), _) | (_, Checked::Repaired(x)) => Checked::Repaired(x),
        (Checked::Right, Checked::Right) => Checked::Right,
    }
}

pub async fn run(g: &GlobalArgs, args: &CheckArgs, deadline: &Deadline) -> Result<(), Error> {
    let mut wrong = 0;
    for sel in select(g, &args.resources, args.instance.as_deref())? {
        let label = sel.name.as_deref().map(|n| format!("[{n}] ")).unwrap_or_default();
        let guard = Guard::new(&g.state_dir, &sel.key)?;
        let (me, sdk) = connect_sdk(g, &sel.resources, deadline).await?;
        let ec2 = SdkEc2::new(&sdk);
        let outcome = if sel.resources.sites.is_empty() {
            check_one(&ec2, &me, &sel.resources, &guard, args.repair, deadline).await?
        } else {
            let routes = check_tgw(&sdk, &me, &sel.resources, &guard, args.repair, deadline).await?;
            let eips = Resources { routes: Vec::new(), sites: Vec::new(), ..sel.resources.clone() };
            let eips = if eips.eips.is_empty() {
                Checked::Right
            } else {
                check_one(&ec2, &me, &eips, &guard, args.repair, deadline).await?
            };
            combine(routes, eips)
        };
        match outcome {
            Checked::Right => {
                info!("{label}every resource points at this node ({})", me.eni_id);
                println!("{label}ok: every resource points at this node ({})", me.eni_id);
            }
            Checked::NotMaster(state) => {
                info!("{label}this node is {state} (last recorded transition): not checked");
                println!("{label}skipped: this node is {state}");
            }
            Checked::Repaired(lines) => {
                for l in &lines {
                    println!("{label}repaired: {l}");
                }
            }
            Checked::Drifted(lines) => {
                wrong += lines.len();
                for l in &lines {
                    warn!("{label}drift: {l}");
                    println!("{label}drift: {l}");
                }
            }
        }
    }
    if wrong > 0 {
        return Err(Error::Incomplete(format!("{wrong} resource(s) do not point at this node")));
    }
    Ok(())
}
