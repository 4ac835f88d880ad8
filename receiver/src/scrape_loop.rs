//! One scrape job's loop: wait for the job's stable, hash-derived offset
//! inside the interval, scrape, then every interval (missed ticks are
//! skipped, so a slow scrape never overlaps the next one). Each scrape
//! updates the job's status and metrics; a good profile goes through delta
//! computation for cumulative types and is then handed downstream.
//!
//! The hand-off may wait (a full sending queue with `block_on_overflow`):
//! the job does not scrape meanwhile, shows the wait on its status
//! ([`crate::backpressure`]), and then skips the slots that passed, counted,
//! resuming at its next slot. Stopping the job ends the wait: the profile
//! is then refused downstream and counted as dropped.

use crate::backpressure::{slots_passed, PipelineWait};
use crate::config::Settings;
use crate::fetch::{redact_url, scrape, Fetched};
use crate::handoff::JobState;
use crate::metrics::{ScrapeMetrics, TargetLabels};
use crate::status::{rfc3339, Health, TargetStatus};
use crate::targets::ScrapeTarget;
use crate::{events, Error};
use profcol_http::HttpClient;
use profcol_pdata::delta::DeltaComputer;
use profcol_pdata::{Consumer, ProfileBatch, ProfileRecord};
use profcol_runtime::caller::{self, Caller};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

/// Everything the loops of one receiver share.
pub struct Shared {
    pub settings: Settings,
    pub client: HttpClient,
    pub next: Arc<dyn Consumer>,
    pub metrics: Arc<ScrapeMetrics>,
    /// The process memory bound: no new scrape while it is exceeded.
    pub memory: profcol_runtime::MemoryGuard,
    /// Where stopping loops leave their delta state for a replacement.
    pub handoff: Arc<crate::Handoff>,
    /// The receiver's scrape settings, for the hand-off.
    pub fingerprint: Arc<crate::handoff::Fingerprint>,
    /// Where each job's last profile is kept for the flame graph viewer.
    pub last: Arc<crate::LastProfiles>,
    /// This receiver's share of the process's scrapes in flight.
    pub slots: Arc<profcol_runtime::ScrapeShare>,
}

pub struct ScrapeLoop {
    pub target: ScrapeTarget,
    pub shared: Arc<Shared>,
    pub status: Arc<Mutex<TargetStatus>>,
    pub stop: CancellationToken,
}

/// How long to wait from `now` (ns since the epoch) so that the job scrapes
/// at the phase `key % interval` of every interval: stable across restarts
/// and spread over the interval.
pub fn offset(key: u64, interval: Duration, now_nanos: u128) -> Duration {
    let iv = interval.as_nanos().max(1);
    let phase = u128::from(key) % iv;
    let now = now_nanos % iv;
    let wait = (phase + iv - now) % iv;
    Duration::from_nanos(u64::try_from(wait).unwrap_or(0))
}

fn unix_nanos(t: SystemTime) -> u128 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos()
}

impl ScrapeLoop {
    fn labels(&self) -> TargetLabels {
        TargetLabels {
            component: self.shared.settings.component.clone(),
            job: self.target.job().to_string(),
            instance: self.target.instance().to_string(),
            profile_type: self.target.profile.name.clone(),
        }
    }

    pub async fn run(self) {
        let metric_labels = self.labels();
        let shown_url = redact_url(&self.target.url);
        let m = self.shared.metrics.clone();
        events::job_started(&m, &metric_labels, &shown_url);
        // Validation refuses 0; tokio panics on a zero period, so never pass one.
        let interval = self.shared.settings.interval.max(Duration::from_millis(1));
        let key = self.target.key;
        let (first, mut delta) = match self.shared.handoff.take(key, &self.shared.fingerprint) {
            // The predecessor's next scrape is this job's first: same phase.
            Some(job) => (job.next_scrape, job.delta),
            None => {
                let wait = offset(key, interval, unix_nanos(SystemTime::now()));
                (tokio::time::Instant::now() + wait, None)
            }
        };
        if self.target.profile.needs_delta_computation() && delta.is_none() {
            delta = Some(DeltaComputer::new());
        }
        let mut ticker = tokio::time::interval_at(first, interval);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
        let mut next_scrape = first;
        let waits = Arc::new(PipelineWait::new(
            self.status.clone(),
            m.clone(),
            &self.shared.settings.component,
        ));
        loop {
            tokio::select! {
                _ = self.stop.cancelled() => break,
                t = ticker.tick() => next_scrape = t + interval,
            }
            let started = Instant::now();
            let started_at = SystemTime::now();
            if let Some(refused) = &self.target.refused {
                self.failed(
                    &metric_labels,
                    &shown_url,
                    &refused.error(),
                    started_at,
                    0.0,
                );
                continue;
            }
            if let Err(over) = self.shared.memory.check() {
                self.failed(
                    &metric_labels,
                    &shown_url,
                    &Error::MemoryLimit(over),
                    started_at,
                    0.0,
                );
                continue;
            }
            let s = &self.shared.settings;
            let slots = &self.shared.slots;
            let slot = tokio::select! {
                _ = self.stop.cancelled() => break,
                slot = slots.acquire(s.timeout) => slot,
            };
            let Some(_slot) = slot else {
                let e = Error::ConcurrencyLimit {
                    limit: slots.limit(),
                    waited: s.timeout.into(),
                };
                self.failed(
                    &metric_labels,
                    &shown_url,
                    &e,
                    started_at,
                    started.elapsed().as_secs_f64(),
                );
                continue;
            };
            // Boxed: a loop waits most of its life between scrapes, and its
            // future (thousands of them) should not carry the request's
            // state inline.
            let mut scraping = Box::pin(scrape(
                &self.shared.client,
                &self.target.url,
                s.timeout,
                s.max_body_size,
                &s.limits,
            ));
            let result = tokio::select! {
                _ = self.stop.cancelled() => {
                    if !self.shared.handoff.is_open() {
                        break;
                    }
                    // Replaced by a reload: finish this scrape (bounded by
                    // its timeout) so that nothing it fetched is lost.
                    scraping.await
                }
                r = &mut scraping => r,
            };
            let secs = started.elapsed().as_secs_f64();
            match result {
                Ok(fetched) => {
                    self.succeeded(&metric_labels, &shown_url, &fetched, started_at, secs);
                    let handing_off = tokio::time::Instant::now();
                    let forwarding =
                        self.forward(fetched, delta.as_mut(), started_at, &shown_url, &waits);
                    Box::pin(forwarding).await;
                    let now = tokio::time::Instant::now();
                    let (skipped, next) = slots_passed(next_scrape, interval, handing_off, now);
                    if skipped > 0 {
                        // Resume at the next slot; the ones that passed are not made up.
                        ticker.reset_at(next);
                        next_scrape = next;
                        self.status
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .scrapes_skipped_total += skipped;
                        let waited = (now - handing_off).as_secs_f64();
                        events::scrapes_skipped(&m, &metric_labels, &shown_url, skipped, waited);
                    }
                }
                Err(e) => self.failed(&metric_labels, &shown_url, &e, started_at, secs),
            }
        }
        let job = JobState { delta, next_scrape };
        let fingerprint = self.shared.fingerprint.clone();
        self.shared.handoff.park(key, fingerprint, job);
        events::job_stopped(&m, &metric_labels, &shown_url);
    }

    fn succeeded(&self, l: &TargetLabels, url: &str, f: &Fetched, at: SystemTime, secs: f64) {
        let mut st = self.status.lock().unwrap_or_else(PoisonError::into_inner);
        let recovered = st.health == Health::Down;
        st.health = Health::Up;
        st.last_error = None;
        st.last_scrape = Some(rfc3339(at));
        st.last_success = st.last_scrape.clone();
        st.last_scrape_duration_seconds = secs;
        st.last_scrape_bytes = f.served_bytes as u64;
        st.last_scrape_samples = f.data.sample_count() as u64;
        st.last_scrape_truncated_stacks = f.data.view().truncated_stacks() as u64;
        st.scrapes_total += 1;
        drop(st);
        events::scrape_succeeded(
            &self.shared.metrics,
            l,
            url,
            &events::Scraped {
                secs,
                bytes: f.served_bytes,
                samples: f.data.sample_count(),
                truncated: f.data.view().truncated_stacks(),
            },
            recovered,
        );
    }

    fn failed(&self, l: &TargetLabels, url: &str, e: &Error, at: SystemTime, secs: f64) {
        let msg = e.to_string();
        let mut st = self.status.lock().unwrap_or_else(PoisonError::into_inner);
        let changed = st.last_error.as_deref() != Some(msg.as_str());
        st.health = Health::Down;
        st.last_error = Some(msg);
        st.last_scrape = Some(rfc3339(at));
        st.last_scrape_duration_seconds = secs;
        st.last_scrape_bytes = 0;
        st.last_scrape_samples = 0;
        st.last_scrape_truncated_stacks = 0;
        st.scrapes_total += 1;
        drop(st);
        match e {
            Error::MemoryLimit(_) => events::scrape_refused(&self.shared.metrics, l, url, e),
            _ => events::scrape_failed(&self.shared.metrics, l, url, secs, e, changed),
        }
    }

    /// Resolves when a hand-off that still waits should give up: at once
    /// when the job stops for good; when it is replaced by a reload, after
    /// the scrape timeout more, as a scrape in flight is given.
    async fn stopped_waiting(&self) {
        self.stop.cancelled().await;
        if self.shared.handoff.is_open() {
            tokio::time::sleep(self.shared.settings.timeout).await;
        }
    }

    async fn forward(
        &self,
        f: Fetched,
        delta: Option<&mut DeltaComputer>,
        at: SystemTime,
        url: &str,
        waits: &Arc<PipelineWait>,
    ) {
        let data = match delta {
            Some(state) if profcol_pdata::delta::subtracts_any(f.data.view()) => {
                let now = i64::try_from(unix_nanos(at)).unwrap_or(i64::MAX);
                // Keying and subtracting every sample is CPU work.
                let mut d = std::mem::take(state);
                let (d, out) = tokio::task::spawn_blocking(move || {
                    let out = d.apply(f.data, now);
                    (d, out)
                })
                .await
                .unwrap_or_default();
                *state = d;
                match out {
                    Some(data) => data,
                    // The first scrape only sets the baseline.
                    None => return,
                }
            }
            // Nothing to subtract (e.g. an in-use-only heap profile): the
            // profile is forwarded as scraped, bytes included; only its
            // window's start is set where the producer stamped the end.
            _ => {
                let mut data = f.data;
                let start = i64::try_from(unix_nanos(at)).unwrap_or(i64::MAX);
                let end = i64::try_from(unix_nanos(SystemTime::now())).unwrap_or(i64::MAX);
                let h = data.header();
                if let Some(t) =
                    profcol_pdata::pprof::window_start(h.time_nanos, h.duration_nanos, start, end)
                {
                    data.set_time_nanos(t);
                }
                data
            }
        };
        let record = ProfileRecord::new(self.target.labels.clone(), data);
        let component = &self.shared.settings.component;
        self.shared.last.keep(
            component,
            self.target.key,
            crate::KeptProfile {
                profile_type: self.target.profile.name.clone(),
                data: record.pprof.clone(),
                scraped_at: at,
            },
        );
        let started = Instant::now();
        let gave_up = CancellationToken::new();
        let caller = Caller {
            gave_up: gave_up.clone(),
            observer: Some(waits.clone()),
        };
        let handing = caller::scope(
            caller,
            self.shared.next.consume(ProfileBatch::new(vec![record])),
        );
        tokio::pin!(handing);
        let result = tokio::select! {
            r = &mut handing => r,
            _ = self.stopped_waiting() => {
                // The hops below end their wait and refuse the batch,
                // which they and this loop count as dropped.
                gave_up.cancel();
                handing.await
            }
        };
        let secs = started.elapsed().as_secs_f64();
        match result {
            Ok(()) => events::forwarded(&self.shared.metrics, component, secs),
            Err(e) => events::forward_failed(&self.shared.metrics, component, url, secs, &e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_is_stable_and_inside_the_interval() {
        let iv = Duration::from_secs(15);
        let now: u128 = 1_764_070_800_123_456_789;
        for key in [0u64, 1, 7_000_000_000, u64::MAX] {
            let w = offset(key, iv, now);
            assert!(w < iv, "{w:?}");
            // Scraping at now + w lands on the key's phase.
            let at = now + w.as_nanos();
            assert_eq!(at % iv.as_nanos(), u128::from(key) % iv.as_nanos());
            // Asked again later, the same phase.
            let later = now + 3 * iv.as_nanos() + 5;
            assert_eq!(
                (later + offset(key, iv, later).as_nanos()) % iv.as_nanos(),
                at % iv.as_nanos()
            );
        }
        // Different keys spread over the interval.
        let a = offset(1_000_000_000, iv, 0);
        let b = offset(9_000_000_000, iv, 0);
        assert_eq!(b - a, Duration::from_secs(8));
    }
}
