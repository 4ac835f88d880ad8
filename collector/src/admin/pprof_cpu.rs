//! profcol's own CPU profile for `/debug/pprof/profile?seconds=N`: samples
//! with profcol's sampler ([`super::cpu_sampler`]) for N seconds, then
//! builds a gzipped pprof with profcol's own codec, named from the symbol
//! tables (`symbols.rs`).

use super::cpu_sampler::{self, ArmError, Sampled};
use super::pprof_build::{names_of, Builder};
use super::symbols;
use axum::extract::Query;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use profcol_pdata::pprof::Profile;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

const DEFAULT_SECONDS: u64 = 30;
const MAX_SECONDS: u64 = 600;
const FREQUENCY_HZ: u32 = 100;
/// The frame of the samples lost to a full sample ring.
const DROPPED: &str = "[dropped samples]";

static PROFILER_TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Set while a profile of the whole run (the `pprof` extension's
/// `save_to_file`) holds the sampler.
static WHOLE_RUN: AtomicBool = AtomicBool::new(false);

#[derive(serde::Deserialize)]
pub struct Params {
    seconds: Option<String>,
}

pub async fn handler(Query(p): Query<Params>) -> Response {
    let seconds = match p.seconds.as_deref().map(str::parse::<u64>) {
        None => DEFAULT_SECONDS,
        Some(Ok(s)) if (1..=MAX_SECONDS).contains(&s) => s,
        Some(_) => {
            return (
                StatusCode::BAD_REQUEST,
                format!("seconds must be a whole number from 1 to {MAX_SECONDS}\n"),
            )
                .into_response()
        }
    };
    if WHOLE_RUN.load(Ordering::Acquire) {
        // As Go answers while `save_to_file` runs its CPU profile.
        return (
            StatusCode::CONFLICT,
            "CPU profile failed: CPU profiling is in use: the pprof extension's save_to_file profiles the whole run\n",
        )
            .into_response();
    }
    // The sampler is process-wide: a second request waits for the running
    // one instead of failing as Go's handler does, so that two scrapers of
    // the same profcol both get their profile.
    // The turn is held by the sampling thread itself, so a client that gives
    // up early does not release it while the sampler still runs.
    let turn = PROFILER_TURN.lock().await;
    let sampling = tokio::task::spawn_blocking(move || {
        let result = profile_for(seconds);
        drop(turn);
        result
    });
    match sampling.await {
        Ok(Ok(body)) => (
            [
                (header::CONTENT_TYPE, "application/octet-stream"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"profile.pb.gz\"",
                ),
            ],
            body,
        )
            .into_response(),
        Ok(Err(e @ ArmError::Unsupported)) => (
            StatusCode::NOT_IMPLEMENTED,
            format!("CPU profile failed: {e}\n"),
        )
            .into_response(),
        Ok(Err(e)) => (StatusCode::CONFLICT, format!("CPU profile failed: {e}\n")).into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("CPU profile failed: {e}\n"),
        )
            .into_response(),
    }
}

/// Runs the sampler for `seconds` on this (blocking) thread; the stacks are
/// named from the symbol tables ([`super::symbols`]).
fn profile_for(seconds: u64) -> Result<Vec<u8>, ArmError> {
    let sampled = cpu_sampler::profile(std::time::Duration::from_secs(seconds), FREQUENCY_HZ)?;
    Ok(profcol_pdata::pprof::encode_pprof_gzip(&to_pprof(&sampled)))
}

/// A CPU profile of the whole run, sampled on a thread of its own until
/// [`WholeRunProfile::finish`].
pub struct WholeRunProfile {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<Result<Sampled, ArmError>>,
}

impl WholeRunProfile {
    /// Starts sampling; fails where the sampler is not built, or when a
    /// profile of the whole run is already being taken.
    pub fn start() -> Result<Self, String> {
        if !cpu_sampler::supported() {
            return Err(ArmError::Unsupported.to_string());
        }
        if WHOLE_RUN.swap(true, Ordering::AcqRel) {
            return Err("another save_to_file profile is already running".into());
        }
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("profcol-cpu-run".into())
            .spawn(move || cpu_sampler::profile_until(&flag, FREQUENCY_HZ))
            .map_err(|e| {
                WHOLE_RUN.store(false, Ordering::Release);
                e.to_string()
            })?;
        Ok(Self { stop, thread })
    }

    /// Stops sampling (blocking) and returns the gzipped pprof.
    pub fn finish(self) -> Result<Vec<u8>, String> {
        self.stop.store(true, Ordering::Release);
        let sampled = self.thread.join();
        WHOLE_RUN.store(false, Ordering::Release);
        match sampled {
            Ok(Ok(s)) => Ok(profcol_pdata::pprof::encode_pprof_gzip(&to_pprof(&s))),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err("the sampling thread panicked".into()),
        }
    }
}

fn to_pprof(sampled: &Sampled) -> Profile {
    let period = 1_000_000_000 / i64::from(FREQUENCY_HZ.max(1));
    let mut b = Builder::new(
        &[("samples", "count"), ("cpu", "nanoseconds")],
        ("cpu", "nanoseconds"),
        period,
    );
    let mut stacks = Vec::with_capacity(sampled.stacks.len());
    let mut counts = Vec::with_capacity(sampled.stacks.len());
    for (frames, &n) in &sampled.stacks {
        let stack: Vec<usize> = frames
            .iter()
            .enumerate()
            .map(|(i, &a)| symbols::lookup_address(a, i == 0))
            .collect();
        stacks.push(stack);
        counts.push(n as i64);
    }
    let names = names_of(&stacks);
    for (stack, n) in stacks.iter().zip(counts) {
        b.sample(stack, &names, vec![n, n * period]);
    }
    if sampled.dropped > 0 {
        let n = sampled.dropped as i64;
        b.sample_named(&[DROPPED], vec![n, n * period]);
    }
    b.profile.time_nanos = sampled
        .start
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or_default();
    b.profile.duration_nanos = sampled.duration.as_nanos() as i64;
    b.profile
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[inline(never)]
    fn profcol_cpu_profile_test_function() {}

    #[test]
    fn sampled_stacks_become_a_named_profile() {
        let f = profcol_cpu_profile_test_function as fn() as usize;
        let sampled = Sampled {
            stacks: HashMap::from([(vec![f, f + 1], 3)]),
            dropped: 2,
            start: std::time::UNIX_EPOCH + std::time::Duration::from_secs(1),
            duration: std::time::Duration::from_secs(1),
        };
        let p = to_pprof(&sampled);
        let values: Vec<i64> = p.sample.iter().map(|s| s.value[0]).collect();
        assert_eq!(values.iter().sum::<i64>(), 5);
        assert_eq!(p.sample[0].value, vec![3, 30_000_000]);
        assert_eq!(p.sample[0].location_id.len(), 2);
        assert!(p.string_table.iter().any(|s| s == DROPPED));
        if cfg!(target_os = "linux") {
            assert!(p
                .string_table
                .iter()
                .any(|s| s.ends_with("profcol_cpu_profile_test_function")));
        }
        assert_eq!(p.time_nanos, 1_000_000_000);
    }
}
