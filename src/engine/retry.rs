//! The engine's two loops: a write retried while EC2 throttles (until the deadline, unless
//! a newer transition stops it), and a read back repeated until what was written shows.

use crate::aws::{while_throttled, Tried};
use crate::deadline::Deadline;
use crate::error::{Ec2Error, Error};
use std::future::Future;
use std::time::Duration;

/// Why a write was not made or did not succeed.
#[derive(Debug)]
pub enum WriteError {
    /// A newer transition was recorded: the write was not (re)tried.
    Stopped(String),
    Failed(Error),
}

/// Run a write, retried while EC2 throttles until the deadline (a large failover must
/// converge at the rate the bucket allows, not fail). `stop` is asked before every attempt:
/// a run that a newer transition superseded writes nothing more. Other errors are returned
/// at once.
pub async fn until_not_throttled<T, F, Fut>(
    deadline: &Deadline,
    step: &str,
    stop: &dyn Fn() -> Option<String>,
    call: F,
) -> Result<T, WriteError>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<T, Ec2Error>>,
{
    match while_throttled(deadline, step, stop, call).await {
        Ok(Tried::Answered(answer)) => answer.map_err(|e| WriteError::Failed(e.into())),
        Ok(Tried::Stopped(why)) => Err(WriteError::Stopped(why)),
        Err(e) => Err(WriteError::Failed(e)),
    }
}

/// The longest pause between two reads back: EC2's stale answers clear within seconds, and
/// a failover should learn that soon after.
pub const READ_BACK_MAX_WAIT: Duration = Duration::from_millis(500);

/// Read until every item shows as desired (`read` answers None per item that does, else
/// what it shows); EC2 is eventually consistent. Returns, per item, what is still wrong
/// when `patience` has passed or the deadline comes (a read that failed counts as wrong
/// for every item), or
/// `Err(why)` as soon as `stop` names a newer transition: the resources are its now, and
/// this run must not hold the instance's lock waiting for what it wrote.
///
/// `patience` is how long EC2 may lag a write (the consistency window) and one more read:
/// past it, an answer that is not ours is the truth (a peer in a split brain wrote over
/// it), not staleness, and waiting on to the deadline would only keep this node from
/// reconciling, and so from settling the contest.
pub async fn read_back<F, Fut>(
    deadline: &Deadline,
    patience: Duration,
    step: &str,
    items: usize,
    stop: &dyn Fn() -> Option<String>,
    read: F,
) -> Result<Vec<Option<String>>, String>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<Vec<Option<String>>, Ec2Error>>,
{
    let give_up = tokio::time::Instant::now() + patience;
    let mut wait = Duration::from_millis(100);
    loop {
        if let Some(why) = stop() {
            return Err(why);
        }
        let wrong = match deadline.run(step, read()).await {
            Ok(Ok(v)) => v,
            Ok(Err(e)) => vec![Some(format!("read back failed: {e}")); items],
            Err(e) => return Ok(vec![Some(format!("read back: {e}")); items]),
        };
        let left = give_up.saturating_duration_since(tokio::time::Instant::now());
        if wrong.iter().all(Option::is_none) || left.is_zero() || !deadline.sleep(wait.min(left)).await {
            return Ok(wrong);
        }
        wait = (wait * 2).min(READ_BACK_MAX_WAIT);
    }
}
