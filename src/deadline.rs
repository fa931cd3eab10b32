//! One deadline for the whole run: every IMDS and EC2 call is bounded by it, so a notify
//! hook never hangs (keepalived never kills it) and always reports what it got done.

use crate::error::Error;
use std::future::Future;
use std::time::Duration;
use tokio::time::Instant;

#[derive(Debug, Clone)]
pub struct Deadline {
    at: Instant,
    total: Duration,
}

impl Deadline {
    pub fn after(total: Duration) -> Deadline {
        Deadline { at: Instant::now() + total, total }
    }

    pub fn remaining(&self) -> Duration {
        self.at.saturating_duration_since(Instant::now())
    }

    pub fn total(&self) -> Duration {
        self.total
    }

    /// Run `fut` until it finishes or the deadline passes; `step` names what was cut off.
    pub async fn run<F: Future>(&self, step: &str, fut: F) -> Result<F::Output, Error> {
        tokio::time::timeout_at(self.at, fut)
            .await
            .map_err(|_| Error::Deadline { timeout_secs: self.total.as_secs_f64(), step: step.to_string() })
    }

    /// Sleep for `d`, or less if the deadline comes first; false when the deadline passed.
    pub async fn sleep(&self, d: Duration) -> bool {
        let until = (Instant::now() + d).min(self.at);
        tokio::time::sleep_until(until).await;
        Instant::now() < self.at
    }
}

#[cfg(test)]
thread_local! {
    /// Test-only: jitter from this seeded state instead of the wall clock (the simulator).
    pub static SEEDED_JITTER: std::cell::Cell<Option<u64>> = const { std::cell::Cell::new(None) };
}

/// Between half and all of `d`, so clients that wait do not retry in lockstep.
pub fn jitter(d: Duration) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|t| t.subsec_nanos())
        .unwrap_or(0);
    #[cfg(test)]
    let nanos = SEEDED_JITTER.with(|s| s.get()).map_or(nanos, |x| {
        let x = x ^ (x << 13) ^ (x >> 7) ^ (x << 17); // xorshift: the simulator replays a seed
        SEEDED_JITTER.with(|s| s.set(Some(x)));
        (x % 1000) as u32
    });
    d / 2 + d.mul_f64(f64::from(nanos % 1000) / 2000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn cuts_off_at_the_deadline_and_names_the_step() {
        let d = Deadline::after(Duration::from_secs(5));
        let fast = d.run("fast", async { 7 }).await.unwrap();
        assert_eq!(fast, 7);
        let err = d.run("ReplaceRoute rtb-1", tokio::time::sleep(Duration::from_secs(60))).await.unwrap_err();
        assert_eq!(err.to_string(), "deadline of 5s reached during ReplaceRoute rtb-1");
        assert_eq!(d.remaining(), Duration::ZERO);
        assert!(!d.sleep(Duration::from_secs(1)).await);
    }
}
