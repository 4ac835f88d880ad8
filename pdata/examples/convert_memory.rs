//! Memory of conversion, per profile file: peak heap while converting
//! pprof → OTLP protobuf bytes (output included) relative to the profile's
//! decompressed size, for the zero-copy path (`PprofView` →
//! `views_to_otlp_bytes`), what `profcol convert --to otlp` runs
//! (`OtlpWriter::add_pprof`, the body dropped, then `write`, here into
//! `io::sink()`: "stream"), the general path (`decode_pprof` →
//! `to_otlp` → `encode_to_vec`: "prost") and what the exporters run
//! (`decode_pprof` → `to_otlp_bytes`: "bytes"); and the heap a `DeltaComputer` keeps per series after
//! one and after two scrapes (allocator-measured), with its series count and
//! `state_bytes()` per series after the second.
//!
//! `cargo run --release -p profcol-pdata --example convert_memory [FILES…]`
//! (default: every `testdata/*.pb.gz`). A counting global allocator tracks
//! live and peak heap bytes; the compressed input is read before measuring.
//! The decompressed body is part of every peak.
#![allow(unsafe_code, clippy::unwrap_used, clippy::expect_used)]

use profcol_pdata::delta::DeltaComputer;
use profcol_pdata::oracle::to_otlp;
use profcol_pdata::otlp::{to_otlp_bytes, views_to_otlp_bytes, OtlpWriter, ViewRecord};
use profcol_pdata::pprof::{decode_pprof, DecodeLimits, PprofView};
use profcol_pdata::{Labels, PprofData, ProfileRecord};
use prost::Message;
use std::alloc::{GlobalAlloc, Layout, System};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Counts live heap bytes and their high-water mark.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(n: usize) {
    let live = LIVE.fetch_add(n, Ordering::Relaxed) + n;
    PEAK.fetch_max(live, Ordering::Relaxed);
}

// SAFETY: forwards every call to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size >= layout.size() {
                grew(new_size - layout.size());
            } else {
                LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        p
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Runs `f` and returns its result with the peak heap it added above the
/// heap live when it started.
fn peak_of<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let out = f();
    (out, PEAK.load(Ordering::Relaxed) - base)
}

fn main() {
    let mut files: Vec<PathBuf> = std::env::args().skip(1).map(PathBuf::from).collect();
    if files.is_empty() {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata");
        files = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.to_string_lossy().ends_with(".pb.gz"))
            .collect();
        files.sort();
    }
    let limits = DecodeLimits::default();
    println!(
        "{:<20} {:>10} {:>10} {:>10} {:>12} {:>8} {:>12} {:>8} {:>9} {:>12} {:>8} {:>12} {:>8} {:>11} {:>7} {:>11} {:>7} {:>7} {:>8}",
        "file",
        "gz bytes",
        "raw bytes",
        "otlp bytes",
        "fast peak",
        "x raw",
        "stream peak",
        "x raw",
        "w/o infl.",
        "prost peak",
        "x raw",
        "bytes peak",
        "x raw",
        "delta 1st",
        "% raw",
        "delta 2nd",
        "% raw",
        "series",
        "B/series"
    );
    for f in &files {
        let body = std::fs::read(f).unwrap();
        let raw_len = PprofView::decompress(&body, &limits).unwrap().len();

        let (out_len, fast) = peak_of(|| {
            let raw = PprofView::decompress(&body, &limits).unwrap();
            let view = PprofView::decode(bytes::Bytes::from(raw.into_owned()), &limits).unwrap();
            let out = views_to_otlp_bytes(&[ViewRecord {
                labels: Labels::new(),
                view: &view,
            }]);
            (out.len(), out.capacity())
        });
        let (out_len, out_cap) = out_len;
        let (_, general) = peak_of(|| {
            let p = decode_pprof(&body, &limits).unwrap();
            to_otlp(&[ProfileRecord::from_profile(Labels::new(), &p).unwrap()])
                .encode_to_vec()
                .len()
        });
        let (_, exporters) = peak_of(|| {
            let data = PprofData::from_served(bytes::Bytes::from(body.clone()), &limits).unwrap();
            to_otlp_bytes(&[ProfileRecord::new(Labels::new(), data)]).len()
        });
        assert!(out_len > 0 && out_cap >= out_len);
        // As `profcol convert` does it: the body is dropped once added,
        // before the output is written.
        let convert = |raw: std::borrow::Cow<'_, [u8]>| {
            let mut w = OtlpWriter::new();
            let raw = bytes::Bytes::from(raw.into_owned());
            w.add_pprof(Labels::new(), &raw, &limits).unwrap();
            drop(raw);
            w.write(std::io::sink()).unwrap();
        };
        let ((), stream) = peak_of(|| convert(PprofView::decompress(&body, &limits).unwrap()));
        // The inflate state is a fixed ~54 KiB whatever the size and
        // dominates the small files: also measured from the decompressed
        // body (which is counted).
        let raw = PprofView::decompress(&body, &limits).unwrap();
        let ((), after_inflate) = peak_of(move || convert(raw));

        // Delta state: what the computer keeps once the scraped profiles
        // (given by value) and its outputs are dropped.
        let p = PprofData::from_served(bytes::Bytes::from(body.clone()), &limits).unwrap();
        let base = LIVE.load(Ordering::Relaxed);
        let mut d = DeltaComputer::new();
        drop(d.apply(p.clone(), 1));
        let first = LIVE.load(Ordering::Relaxed) - base;
        drop(d.apply(p.clone(), 2));
        let second = LIVE.load(Ordering::Relaxed) - base;
        let (series, state) = (d.len(), d.state_bytes());
        drop(d);

        let name = f.file_name().unwrap().to_string_lossy();
        let x = |n: usize| n as f64 / raw_len as f64;
        println!(
            "{:<20} {:>10} {:>10} {:>10} {:>12} {:>8.2} {:>12} {:>8.2} {:>9.2} {:>12} {:>8.2} {:>12} {:>8.2} {:>11} {:>6.1}% {:>11} {:>6.1}% {:>7} {:>8.2}",
            name.trim_end_matches(".pb.gz"),
            body.len(),
            raw_len,
            out_len,
            fast,
            x(fast),
            stream,
            x(stream),
            x(raw_len + after_inflate),
            general,
            x(general),
            exporters,
            x(exporters),
            first,
            100.0 * x(first),
            second,
            100.0 * x(second),
            series,
            state as f64 / series.max(1) as f64
        );
    }
}
