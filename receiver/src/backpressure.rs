//! How a scrape job is held up by its pipeline. A full sending queue with
//! `block_on_overflow` makes the job's hand-off wait; [`PipelineWait`] is
//! told of each wait (through `profcol_runtime::caller`) and shows it on
//! the job's status and in the metrics. When the hand-off ends,
//! [`slots_passed`] says how many of the job's scrape slots passed while
//! it waited: those scrapes are skipped and counted, and the job resumes at
//! its next slot instead of catching up.

use crate::events;
use crate::metrics::ScrapeMetrics;
use crate::status::{rfc3339, TargetStatus};
use profcol_runtime::caller::WaitObserver;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};
use tokio::time::Instant;

/// One job's view of its pipeline's waits.
pub struct PipelineWait {
    status: Arc<Mutex<TargetStatus>>,
    metrics: Arc<ScrapeMetrics>,
    component: String,
    /// When the current wait started; waits do not nest (a fan-out offers
    /// to its exporters in turn), but a depth keeps the books right if
    /// they ever do.
    current: Mutex<(usize, Option<Instant>)>,
}

impl PipelineWait {
    pub fn new(
        status: Arc<Mutex<TargetStatus>>,
        metrics: Arc<ScrapeMetrics>,
        component: &str,
    ) -> Self {
        Self {
            status,
            metrics,
            component: component.to_string(),
            current: Mutex::new((0, None)),
        }
    }

    fn status(&self) -> std::sync::MutexGuard<'_, TargetStatus> {
        self.status.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl WaitObserver for PipelineWait {
    fn wait_started(&self) {
        let mut cur = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        cur.0 += 1;
        if cur.0 > 1 {
            return;
        }
        cur.1 = Some(Instant::now());
        drop(cur);
        self.status().waiting_for_pipeline_since = Some(rfc3339(SystemTime::now()));
        events::pipeline_wait_started(&self.metrics, &self.component);
    }

    fn wait_ended(&self) {
        let mut cur = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        cur.0 = cur.0.saturating_sub(1);
        if cur.0 > 0 {
            return;
        }
        let Some(started) = cur.1.take() else {
            return;
        };
        drop(cur);
        let secs = started.elapsed().as_secs_f64();
        {
            let mut st = self.status();
            st.waiting_for_pipeline_since = None;
            st.last_pipeline_wait_seconds = secs;
        }
        events::pipeline_wait_ended(&self.metrics, &self.component, secs);
    }
}

/// The job's slots are `first`, `first + interval`, …. Of those at or
/// before `to`, how many are after `from`: the slots that passed while a
/// hand-off ran from `from` to `to`. Also returns the first slot after `to`.
pub fn slots_passed(
    first: Instant,
    interval: Duration,
    from: Instant,
    to: Instant,
) -> (u64, Instant) {
    let iv = interval.as_nanos().max(1);
    // Slots at or before `t`.
    let upto = |t: Instant| -> u128 {
        if t < first {
            0
        } else {
            (t - first).as_nanos() / iv + 1
        }
    };
    let passed = upto(to).saturating_sub(upto(from));
    let next = u64::try_from(upto(to))
        .ok()
        .and_then(|k| u32::try_from(k).ok())
        .and_then(|k| interval.checked_mul(k))
        .map_or(to + interval, |d| first + d);
    (u64::try_from(passed).unwrap_or(u64::MAX), next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_only_the_slots_inside_the_hand_off() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let first = t0 + s(10);
        // A hand-off from 9.5 s to 41 s: slots 10, 20, 30 and 40 passed.
        let (n, next) = slots_passed(first, s(10), t0 + Duration::from_millis(9_500), t0 + s(41));
        assert_eq!((n, next), (4, t0 + s(50)));
        // Ending exactly on a slot counts it: the scrape would have started
        // while the job was still busy.
        assert_eq!(
            slots_passed(first, s(10), t0 + s(5), t0 + s(20)),
            (2, t0 + s(30))
        );
        // A quick hand-off before the next slot passes none.
        assert_eq!(slots_passed(first, s(10), t0 + s(1), t0 + s(2)), (0, first));
        // A slot missed before the hand-off began is not the hand-off's.
        assert_eq!(
            slots_passed(first, s(10), t0 + s(12), t0 + s(15)),
            (0, t0 + s(20))
        );
    }
}
