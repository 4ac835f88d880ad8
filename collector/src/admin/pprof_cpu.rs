//! profcol's own CPU profile for `/debug/pprof/profile?seconds=N`: samples
//! with the `pprof` crate for N seconds, then builds a gzipped pprof with
//! profcol's own codec, named from the symbol tables (`symbols.rs`).

use super::pprof_build::{names_of, Builder};
use super::symbols;
use axum::extract::Query;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use profcol_pdata::pprof::Profile;

const DEFAULT_SECONDS: u64 = 30;
const MAX_SECONDS: u64 = 600;
const FREQUENCY_HZ: i32 = 100;
/// The frame of samples taken in a blocklisted library (not unwound there:
/// see `BLOCKLIST`).
const EXTERNAL_CODE: &str = "[external code: libc, libgcc, pthread or vdso]";
/// Libraries the sampler does not unwind from (unwinding inside them can
/// deadlock or crash); their samples count with [`EXTERNAL_CODE`] as stack.
const BLOCKLIST: &[&str] = &["libc", "libgcc", "pthread", "vdso"];

static PROFILER_TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

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
        Ok(Err(e)) => (StatusCode::CONFLICT, format!("CPU profile failed: {e}\n")).into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("CPU profile failed: {e}\n"),
        )
            .into_response(),
    }
}

/// Runs the sampler for `seconds` on this (blocking) thread. The report is
/// taken unresolved and named from the symbol tables
/// ([`super::symbols`]), not with `backtrace`'s DWARF reader.
fn profile_for(seconds: u64) -> Result<Vec<u8>, pprof::Error> {
    let guard = pprof::ProfilerGuardBuilder::default()
        .frequency(FREQUENCY_HZ)
        .blocklist(BLOCKLIST)
        .build()?;
    std::thread::sleep(std::time::Duration::from_secs(seconds));
    let report = guard.report().build_unresolved()?;
    drop(guard);
    Ok(profcol_pdata::pprof::encode_pprof_gzip(&to_pprof(&report)))
}

fn to_pprof(report: &pprof::UnresolvedReport) -> Profile {
    let period = 1_000_000_000 / i64::from(FREQUENCY_HZ.max(1));
    let mut b = Builder::new(
        &[("samples", "count"), ("cpu", "nanoseconds")],
        ("cpu", "nanoseconds"),
        period,
    );
    let mut stacks = Vec::with_capacity(report.data.len());
    let mut counts = Vec::with_capacity(report.data.len());
    for (frames, &n) in &report.data {
        let stack: Vec<usize> = frames
            .frames
            .iter()
            .enumerate()
            .map(|(i, f)| symbols::lookup_address(f.ip() as usize, i == 0))
            .collect();
        stacks.push(stack);
        counts.push(n as i64);
    }
    let names = names_of(&stacks);
    for (stack, n) in stacks.iter().zip(counts) {
        let leaf_names: Vec<&str> = stack
            .iter()
            .map(|a| names.get(a).map_or("?", |n| n.as_ref()))
            .collect();
        let skip = symbols::sampler_frames(&leaf_names);
        if stack.is_empty() {
            // A sample taken in a blocklisted library.
            b.sample_named(&[EXTERNAL_CODE], vec![n, n * period]);
        } else {
            b.sample(&stack[skip..], &names, vec![n, n * period]);
        }
    }
    b.profile.time_nanos = report
        .timing
        .start_time
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or_default();
    b.profile.duration_nanos = report.timing.duration.as_nanos() as i64;
    b.profile
}
