//! profcol's own CPU profile for `/debug/pprof/profile?seconds=N`: samples
//! with the `pprof` crate for N seconds, then builds a gzipped pprof with
//! profcol's own codec.

use axum::extract::Query;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use profcol_pdata::pprof::{Function, Line, Location, Profile, Sample, ValueType};
use std::collections::HashMap;

const DEFAULT_SECONDS: u64 = 30;
const MAX_SECONDS: u64 = 600;
const FREQUENCY_HZ: i32 = 100;

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

/// Runs the sampler for `seconds` on this (blocking) thread.
fn profile_for(seconds: u64) -> Result<Vec<u8>, pprof::Error> {
    let guard = pprof::ProfilerGuardBuilder::default()
        .frequency(FREQUENCY_HZ)
        .blocklist(&["libc", "libgcc", "pthread", "vdso"])
        .build()?;
    std::thread::sleep(std::time::Duration::from_secs(seconds));
    let report = guard.report().build()?;
    Ok(profcol_pdata::pprof::encode_pprof_gzip(&to_pprof(&report)))
}

/// Interns strings, functions and locations while building the profile.
#[derive(Default)]
struct Builder {
    profile: Profile,
    strings: HashMap<String, i64>,
    functions: HashMap<(i64, i64), u64>,
    locations: HashMap<Vec<(u64, i64)>, u64>,
}

impl Builder {
    fn string(&mut self, s: &str) -> i64 {
        if let Some(&i) = self.strings.get(s) {
            return i;
        }
        let i = self.profile.string_table.len() as i64;
        self.profile.string_table.push(s.to_string());
        self.strings.insert(s.to_string(), i);
        i
    }

    fn function(&mut self, name: &str, file: &str) -> u64 {
        let key = (self.string(name), self.string(file));
        let next = self.profile.function.len() as u64 + 1;
        *self.functions.entry(key).or_insert_with(|| {
            self.profile.function.push(Function {
                id: next,
                name: key.0,
                system_name: key.0,
                filename: key.1,
                start_line: 0,
            });
            next
        })
    }

    fn location(&mut self, symbols: &[pprof::Symbol]) -> u64 {
        let lines: Vec<(u64, i64)> = symbols
            .iter()
            .map(|s| {
                (
                    self.function(&s.name(), &s.filename()),
                    i64::from(s.lineno()),
                )
            })
            .collect();
        let next = self.profile.location.len() as u64 + 1;
        if let Some(&id) = self.locations.get(&lines) {
            return id;
        }
        self.profile.location.push(Location {
            id: next,
            line: lines
                .iter()
                .map(|&(function_id, line)| Line {
                    function_id,
                    line,
                    column: 0,
                })
                .collect(),
            ..Default::default()
        });
        self.locations.insert(lines, next);
        next
    }
}

fn to_pprof(report: &pprof::Report) -> Profile {
    let mut b = Builder::default();
    b.string("");
    let period = 1_000_000_000 / i64::from(FREQUENCY_HZ.max(1));
    let (samples, count, cpu, nanos) = (
        b.string("samples"),
        b.string("count"),
        b.string("cpu"),
        b.string("nanoseconds"),
    );
    b.profile.sample_type = vec![
        ValueType {
            r#type: samples,
            unit: count,
        },
        ValueType {
            r#type: cpu,
            unit: nanos,
        },
    ];
    b.profile.period_type = Some(ValueType {
        r#type: cpu,
        unit: nanos,
    });
    b.profile.period = period;
    b.profile.time_nanos = report
        .timing
        .start_time
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or_default();
    b.profile.duration_nanos = report.timing.duration.as_nanos() as i64;
    for (frames, &n) in &report.data {
        let location_id = frames.frames.iter().map(|f| b.location(f)).collect();
        let n = n as i64;
        b.profile.sample.push(Sample {
            location_id,
            value: vec![n, n * period],
            label: Vec::new(),
        });
    }
    b.profile
}
