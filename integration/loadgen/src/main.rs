//! `profcol-loadgen`: the scale harness's other half.
//!
//! Serves N virtual Go pprof targets on distinct loopback addresses
//! (127.1.0.1, 127.1.0.2, …) behind one listener, runs an OTLP gRPC sink,
//! writes a Prometheus file-SD JSON of the targets and `ready.json` (sink
//! address), waits for the first scrape, lets a warm-up pass, measures a
//! window, prints one JSON report and exits. With `--watch-pid-file` it also
//! samples that process's CPU and RSS from /proc every 5 s and at the
//! window's edges. `--dump DIR` only writes the generated variants.
//! `--compress-cost DIR` only measures the CPU the `otlp_grpc` exporter's
//! default compression spends on each request file in DIR.
//! `--push MODE --push-url URL` pushes the same profiles to one of profcol's
//! push receivers at `--rate` profiles/s instead of serving targets (see
//! [`push`]).

mod compress_cost;
mod gen;
mod metrics;
mod procstat;
mod push;
mod push_body;
mod push_client;
mod report;
mod sink;
mod targets;

use anyhow::Context;
use clap::Parser;
use serde_json::json;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Parser, Debug)]
#[command(
    name = "profcol-loadgen",
    about = "N virtual pprof targets + an OTLP sink that counts"
)]
struct Args {
    /// Number of virtual targets.
    #[arg(long, short = 'n', default_value_t = 1000)]
    targets: usize,
    /// The scrape interval profcol is configured with, seconds.
    #[arg(long, default_value_t = 15)]
    interval: u32,
    /// Seconds from the first scrape to the start of the measured window.
    #[arg(long, default_value_t = 30)]
    warmup: u64,
    /// Length of the measured window, seconds.
    #[arg(long, default_value_t = 120)]
    window: u64,
    /// Where targets.json, ready.json and report.json go.
    #[arg(long, default_value = "loadgen-out")]
    out_dir: PathBuf,
    /// The targets' common port (0: any); bound on 0.0.0.0, loopback peers only.
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// The profile types profcol is configured to scrape (comma-separated:
    /// allocs, block, goroutine, mutex, cpu); only these count as expected.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "allocs,block,goroutine,mutex,cpu"
    )]
    kinds: Vec<String>,
    /// Sink port on 127.0.0.1 (0: any).
    #[arg(long, default_value_t = 0)]
    sink_port: u16,
    /// A file that will hold the pid of the process to watch (profcol).
    #[arg(long)]
    watch_pid_file: Option<PathBuf>,
    /// profcol's admin address (host:port); its error counters are read at
    /// the window's edges.
    #[arg(long)]
    metrics_addr: Option<String>,
    /// Give up when no scrape arrives within this many seconds.
    #[arg(long, default_value_t = 120)]
    first_scrape_timeout: u64,
    /// Write the generated variants to this directory and exit.
    #[arg(long)]
    dump: Option<PathBuf>,
    /// Random seed of the generated profiles.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Variants of the instantaneous kinds (CPU, goroutine).
    #[arg(long, default_value_t = 4)]
    variants: usize,
    /// Functions in the synthetic program.
    #[arg(long, default_value_t = 1000)]
    functions: usize,
    /// Distinct stacks (= samples) per CPU profile.
    #[arg(long, default_value_t = 2000)]
    cpu_samples: usize,
    /// Distinct stacks per allocs profile.
    #[arg(long, default_value_t = 2000)]
    allocs_samples: usize,
    /// Distinct stacks per goroutine profile.
    #[arg(long, default_value_t = 300)]
    goroutine_samples: usize,
    /// Distinct stacks per block profile.
    #[arg(long, default_value_t = 600)]
    block_samples: usize,
    /// Distinct stacks per mutex profile.
    #[arg(long, default_value_t = 300)]
    mutex_samples: usize,
    /// Cap on `seconds` for /debug/pprof/profile.
    #[arg(long, default_value_t = 60)]
    max_profile_seconds: u64,
    /// Compress every file in this directory (OTLP requests, e.g. what
    /// `profcol convert --to otlp IN -o DIR` writes) as the otlp_grpc
    /// exporter does by default, print the CPU per file as JSON and exit.
    #[arg(long)]
    compress_cost: Option<PathBuf>,
    /// How many times `--compress-cost` compresses each file.
    #[arg(long, default_value_t = 20)]
    repeat: u32,
    /// gzip level of `--compress-cost` (the exporter's default is 1).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=9))]
    gzip_level: u32,
    #[command(flatten)]
    push: push::PushArgs,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if let Some(dir) = &args.compress_cost {
        // On this thread, before any runtime thread exists.
        let r = compress_cost::run(dir, args.repeat, args.gzip_level)?;
        println!("{}", serde_json::to_string(&r)?);
        return Ok(());
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let report = rt.block_on(run(args))?;
    println!("{}", serde_json::to_string(&report)?);
    // Connections held open by the scraper keep tasks alive; end here.
    std::process::exit(0)
}

fn sizes(a: &Args) -> gen::Sizes {
    gen::Sizes {
        functions: a.functions,
        cpu: a.cpu_samples,
        allocs: a.allocs_samples,
        goroutine: a.goroutine_samples,
        block: a.block_samples,
        mutex: a.mutex_samples,
    }
}

fn kind_sizes(c: &gen::Corpus) -> serde_json::Value {
    let mut m = serde_json::Map::new();
    for k in gen::Kind::ALL {
        let vs = &c.variants[k.index()];
        let avg = vs.iter().map(|b| b.len()).sum::<usize>() / vs.len().max(1);
        m.insert(
            k.name().into(),
            json!({"variants": vs.len(), "samples": c.samples[k.index()], "avg_gzip_bytes": avg}),
        );
    }
    serde_json::Value::Object(m)
}

async fn run(a: Args) -> anyhow::Result<serde_json::Value> {
    let interval = a.interval.max(1);
    let kinds = a
        .kinds
        .iter()
        .map(|k| {
            gen::Kind::ALL
                .into_iter()
                .find(|c| c.name() == k.trim())
                .ok_or_else(|| anyhow::anyhow!("unknown kind {k:?}"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    // Cumulative kinds need one growing step per scrape of the whole run;
    // pushes cycle through `--variants` of every kind.
    let steps = if a.push.push.is_some() {
        a.variants.max(1)
    } else {
        ((a.warmup + a.window) / u64::from(interval)) as usize + 6
    };
    let corpus = tokio::task::spawn_blocking({
        let (seed, s, v) = (a.seed, sizes(&a), a.variants);
        move || gen::generate(seed, s, v, steps)
    })
    .await?;
    let sizes_json = kind_sizes(&corpus);
    eprintln!("loadgen: profiles {sizes_json}");

    if let Some(dir) = &a.dump {
        std::fs::create_dir_all(dir)?;
        let mut files = 0;
        for k in gen::Kind::ALL {
            for (i, b) in corpus.variants[k.index()].iter().enumerate() {
                std::fs::write(dir.join(format!("{}_{i:02}.pb.gz", k.name())), b)?;
                files += 1;
            }
        }
        return Ok(json!({"dumped": files, "dir": dir, "profiles": sizes_json}));
    }

    if let Some(mode) = a.push.push {
        raise_nofile(a.push.concurrency);
        let common = push::Common {
            kinds: &kinds,
            variants: a.variants,
            warmup: a.warmup,
            window: a.window,
            out_dir: &a.out_dir,
            sink_port: a.sink_port,
            watch_pid_file: &a.watch_pid_file,
            metrics_addr: &a.metrics_addr,
            wait_timeout: a.first_scrape_timeout,
        };
        return push::run(&a.push, mode, common, corpus, sizes_json).await;
    }

    let nofile = raise_nofile(a.targets);
    // Opened before the listeners so readings survive running out of descriptors.
    let me = procstat::Watcher::open("self");
    std::fs::create_dir_all(&a.out_dir)?;
    let stats = Arc::new(sink::SinkStats::default());
    let sink_addr = sink::start(a.sink_port, stats.clone()).await?;
    let shared = targets::Shared::new(a.targets, corpus, a.max_profile_seconds);
    let addrs = targets::start(shared.clone(), a.targets, a.port)
        .await
        .with_context(|| format!("binding 0.0.0.0:{}", a.port))?;
    let sd: Vec<_> = addrs
        .iter()
        .enumerate()
        .map(|(i, addr)| json!({"targets": [addr.to_string()], "labels": {"service_name": format!("svc-{i:05}")}}))
        .collect();
    write_atomic(&a.out_dir.join("targets.json"), &serde_json::to_vec(&sd)?)?;
    write_atomic(
        &a.out_dir.join("ready.json"),
        &serde_json::to_vec(&json!({"sink": sink_addr.to_string(), "targets": addrs.len()}))?,
    )?;
    eprintln!(
        "loadgen: {} targets, sink {sink_addr}, NOFILE {nofile}; waiting for the first scrape",
        addrs.len()
    );

    tokio::time::timeout(
        Duration::from_secs(a.first_scrape_timeout),
        shared.first_request.notified(),
    )
    .await
    .map_err(|_| anyhow::anyhow!("no scrape within {}s", a.first_scrape_timeout))?;
    let first_ms = shared.start.elapsed().as_millis() as u64;
    eprintln!(
        "loadgen: first scrape; warm-up {}s, window {}s",
        a.warmup, a.window
    );

    let watched = Arc::new(Mutex::new(Watch::default()));
    let target_pid = read_pid(&a.watch_pid_file);
    let pc = Arc::new(target_pid.and_then(|p| procstat::Watcher::open(&p.to_string())));
    if let Some(p) = target_pid {
        watched.lock().map(|mut w| w.pid = Some(p)).ok();
    }
    let sampler = tokio::spawn(sample_every_5s(pc.clone(), watched.clone()));

    tokio::time::sleep(Duration::from_secs(a.warmup)).await;
    let from_ms = shared.start.elapsed().as_millis() as u32;
    let sink0 = stats.snapshot();
    let me0 = me.as_ref().and_then(|w| w.read()).unwrap_or_default();
    let pc0 = pc.as_ref().as_ref().and_then(|w| w.read());
    let load0 = loadavg();
    let m0 = fetch_sums(&a.metrics_addr).await;
    tokio::time::sleep(Duration::from_secs(a.window)).await;
    let to_ms = shared.start.elapsed().as_millis() as u32;
    let sink1 = stats.snapshot();
    let me1 = me.as_ref().and_then(|w| w.read()).unwrap_or_default();
    let pc1 = pc.as_ref().as_ref().and_then(|w| w.read());
    let load1 = loadavg();
    let m1 = fetch_sums(&a.metrics_addr).await;
    sampler.abort();

    let secs = f64::from(to_ms - from_ms) / 1000.0;
    let got = sink1.minus(sink0);
    let scrapes = report::scrapes(&shared.arrivals, &kinds, interval * 1000, from_ms, to_ms);
    let w = match watched.lock() {
        Ok(w) => w.clone(),
        Err(p) => p.into_inner().clone(),
    };
    let profcol = match (pc0, pc1) {
        (Some(p0), Some(p1)) => {
            let cpu = p1.cpu_seconds - p0.cpu_seconds;
            json!({
                "pid": w.pid,
                "cpu_seconds": cpu,
                "avg_cores": cpu / secs,
                "cpu_seconds_per_profile": if got.scope_profiles > 0 { cpu / got.scope_profiles as f64 } else { 0.0 },
                "peak_rss_bytes": p1.peak_rss_bytes,
                "max_sampled_rss_bytes": w.max_rss.max(p1.rss_bytes),
                "rss_end_bytes": p1.rss_bytes,
                "max_sampled_fds": w.max_fds.max(p1.fds),
                "rss_samples": w.samples,
            })
        }
        _ => json!(null),
    };
    let me_cpu = me1.cpu_seconds - me0.cpu_seconds;
    Ok(json!({
        "n": a.targets,
        "interval_s": interval,
        "warmup_s": a.warmup,
        "window_s": secs,
        "first_scrape_after_s": first_ms as f64 / 1000.0,
        "kinds": kinds.iter().map(|k| k.name()).collect::<Vec<_>>(),
        "expected_profiles_per_s": (a.targets * kinds.len()) as f64 / f64::from(interval),
        "loadavg_1m": {
            "window_start": load0,
            "window_end": load1,
            "mean_of_samples": mean(w.samples.iter().filter(|s| s.0 >= a.warmup).map(|s| s.3)),
            "max_of_samples": w.samples.iter().filter(|s| s.0 >= a.warmup).map(|s| s.3).fold(0.0, f64::max),
        },
        "sink": {
            "total_in_window": got,
            "profiles_per_s": got.scope_profiles as f64 / secs,
            "resource_profiles_per_s": got.resource_profiles as f64 / secs,
            "otlp_profiles_per_s": got.otlp_profiles as f64 / secs,
            "requests_per_s": got.requests as f64 / secs,
            "samples_per_s": got.samples as f64 / secs,
        },
        "scrapes": scrapes,
        "scrape_requests_per_s": scrapes.requests as f64 / secs,
        "errors": {
            "not_found": shared.not_found.load(std::sync::atomic::Ordering::Relaxed),
            "accept_errors": shared.conn_errors.load(std::sync::atomic::Ordering::Relaxed),
            "missing_scrapes": scrapes.missing,
            "skipped_scrapes": scrapes.skipped,
            "expected_scrapes": scrapes.expected,
            "silent_loops": scrapes.loops_silent,
        },
        "profcol": profcol,
        "profcol_counters_in_window": match (m0, m1) {
            (Some(m0), Some(m1)) => json!(metrics::delta(&m0, &m1)),
            _ => json!(null),
        },
        "loadgen": {
            "cpu_seconds": me_cpu,
            "avg_cores": me_cpu / secs,
            "peak_rss_bytes": me1.peak_rss_bytes,
            "fds_end": me1.fds,
        },
        "nofile_limit": nofile,
        "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "profiles": sizes_json,
    }))
}

async fn fetch_sums(
    addr: &Option<String>,
) -> Option<std::collections::BTreeMap<&'static str, f64>> {
    Some(metrics::sums(&metrics::fetch(addr.as_deref()?).await?))
}

#[derive(Clone, Default, Debug)]
struct Watch {
    pid: Option<u32>,
    max_rss: u64,
    max_fds: u64,
    /// (seconds since sampling began, rss bytes, cpu seconds, 1-minute
    /// load average of the machine).
    samples: Vec<(u64, u64, f64, f64)>,
}

fn read_pid(path: &Option<PathBuf>) -> Option<u32> {
    let p = path.as_ref()?;
    std::fs::read_to_string(p).ok()?.trim().parse().ok()
}

async fn sample_every_5s(pc: Arc<Option<procstat::Watcher>>, out: Arc<Mutex<Watch>>) {
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    let mut t = 0u64;
    loop {
        tick.tick().await;
        if let Some(s) = pc.as_ref().as_ref().and_then(|w| w.read()) {
            let mut w = match out.lock() {
                Ok(w) => w,
                Err(p) => p.into_inner(),
            };
            w.max_rss = w.max_rss.max(s.rss_bytes);
            w.max_fds = w.max_fds.max(s.fds);
            w.samples.push((t, s.rss_bytes, s.cpu_seconds, loadavg()));
        }
        t += 5;
    }
}

/// The machine's 1-minute load average (0 when unreadable): other work on
/// the same cores is part of every result.
fn loadavg() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0)
}

fn mean(v: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = v.fold((0.0, 0u32), |(s, n), x| (s + x, n + 1));
    if n == 0 {
        0.0
    } else {
        sum / f64::from(n)
    }
}

/// Raises the soft NOFILE limit as far as the hard limit allows (one
/// accepted connection per scraper connection, ~1–2 per target).
fn raise_nofile(n: usize) -> u64 {
    let want = (n as u64) * 2 + 1024;
    match rlimit::increase_nofile_limit(want) {
        Ok(got) => {
            if got < want {
                eprintln!("loadgen: NOFILE {got} < {want} wanted; run `ulimit -n {want}` first");
            }
            got
        }
        Err(e) => {
            eprintln!("loadgen: cannot raise NOFILE: {e}");
            0
        }
    }
}

fn write_atomic(path: &std::path::Path, data: &[u8]) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, data)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}
