//! The first run (issue 20): the embedded default pipeline, started in an
//! empty directory, names the admin UI and the data directory in its first
//! log lines, logs CPU profiles of profcol at work (samples > 0), and serves
//! heap profiles whose stacks end in profcol's or std's code, not in the
//! allocator's own frames.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod e2e;

use e2e::{free_port, own_heap_profile, wait_ready, Running};
use profcol_pdata::pprof::Profile;
use std::io::BufRead;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Leaf frames the heap profile must not end in: jemalloc's sampling and
/// allocation paths, the C allocator entry points, Rust's allocator shims.
fn is_allocator(name: &str) -> bool {
    [
        "prof_",
        "_rjem_",
        "je_",
        "imalloc",
        "ialloc",
        "irallocx",
        "__rust_alloc",
        "__rust_realloc",
        "__rdl_",
        "__rg_",
    ]
    .iter()
    .any(|p| name.starts_with(p))
        || [
            "malloc",
            "calloc",
            "realloc",
            "do_rallocx",
            "mallocx",
            "rallocx",
        ]
        .contains(&name)
}

fn leaf_names(p: &Profile) -> Vec<String> {
    p.sample
        .iter()
        .filter_map(|s| s.location_id.first())
        .filter_map(|id| p.location.iter().find(|l| l.id == *id))
        .filter_map(|l| l.line.first())
        .filter_map(|line| p.function.iter().find(|f| f.id == line.function_id))
        .map(|f| p.str(f.name).to_string())
        .collect()
}

/// The `samples=` of a debug exporter line about a CPU profile.
fn cpu_samples(line: &str) -> Option<u64> {
    if !line.contains("profile_type=process_cpu") {
        return None;
    }
    let rest = line.split(" samples=").nth(1)?;
    rest.split(' ').next()?.parse().ok()
}

#[test]
fn first_run_shows_profcol_at_work() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let address = format!("127.0.0.1:{port}");
    let mut p = Running::start(
        &[
            "--set",
            &format!("service.telemetry.metrics.address={address}"),
            "--set",
            &format!("receivers::pyroscope_scrape/self::targets=[{{__address__: '{address}', service_name: profcol}}]"),
            "--set",
            &format!("receivers::pyroscope_scrape/self_heap::targets=[{{__address__: '{address}', service_name: profcol}}]"),
        ],
        dir.path(),
    );
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let stderr = p.child.stderr.take().unwrap();
    let sink = lines.clone();
    std::thread::spawn(move || {
        for l in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            sink.lock().unwrap().push(l);
        }
    });
    assert!(
        wait_ready(port, "/-/ready", Duration::from_secs(20)),
        "never became ready"
    );

    // The first lines name the UI and where the data goes.
    let deadline = Instant::now() + Duration::from_secs(10);
    let ui = format!("http://{address}/");
    let data_dir = dir.path().join("profcol-data").display().to_string();
    let first = loop {
        let first: Vec<String> = lines.lock().unwrap().iter().take(6).cloned().collect();
        let told = first
            .iter()
            .any(|l| l.contains(&format!("ui={ui}")) && l.contains(&data_dir));
        if told || Instant::now() > deadline {
            break first;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        first
            .iter()
            .any(|l| l.contains(&format!("ui={ui}")) && l.contains(&format!("file={data_dir}"))),
        "the first lines name {ui} and {data_dir}:\n{}",
        first.join("\n")
    );

    // A heap profile's stacks end in the code that asked for memory.
    let heap = own_heap_profile(port, Duration::from_secs(20));
    let leaves = leaf_names(&heap);
    assert!(!leaves.is_empty(), "the heap profile has samples");
    let allocator: Vec<&String> = leaves.iter().filter(|n| is_allocator(n)).collect();
    assert!(allocator.is_empty(), "allocator leaf frames: {allocator:?}");

    // CPU profiles show profcol at work: samples > 0 within a few intervals.
    let deadline = Instant::now() + Duration::from_secs(90);
    let samples = loop {
        let best = lines
            .lock()
            .unwrap()
            .iter()
            .filter_map(|l| cpu_samples(l))
            .max();
        if best.is_some_and(|n| n > 0) || Instant::now() > deadline {
            break best;
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    let log = lines.lock().unwrap().join("\n");
    assert!(
        samples.is_some_and(|n| n > 0),
        "no CPU profile with samples > 0:\n{log}"
    );
    drop(p);
}
