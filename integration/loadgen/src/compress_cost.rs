//! `--compress-cost DIR`: the CPU the `otlp_grpc` exporter spends
//! compressing a request, measured on request files (`profcol convert --to
//! otlp IN -o OUTDIR` writes one encoded `ExportProfilesServiceRequest` per
//! input profile).
//!
//! Each file is compressed the way exporter/src/grpc_unary.rs `frame` does
//! with the exporter's default codec (exporter/src/compression.rs:
//! `compression: gzip`, `DEFAULT_GZIP_LEVEL` 1): a `BytesMut` with the 5-byte
//! gRPC message header reserved, written through `flate2::write::GzEncoder`
//! at `flate2::Compression::new(level)`, with the workspace's flate2 (zlib-rs
//! backend). The clock is this thread's CPU time, not wall time.

use crate::procstat;
use bytes::{BufMut, BytesMut};
use serde_json::json;
use std::io::Write;
use std::path::Path;

/// Compresses every regular file in `dir` `repeat` times at gzip `level`;
/// returns the JSON summary (CPU seconds in total and per file).
pub fn run(dir: &Path, repeat: u32, level: u32) -> anyhow::Result<serde_json::Value> {
    let mut names: Vec<_> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().map(|t| t.is_file()).unwrap_or(false))
        .map(|e| e.path())
        .collect();
    names.sort();
    let files = names
        .iter()
        .map(std::fs::read)
        .collect::<Result<Vec<_>, _>>()?;
    anyhow::ensure!(!files.is_empty(), "no files in {}", dir.display());
    let repeat = repeat.max(1);
    let bytes_in: usize = files.iter().map(Vec::len).sum();
    // One untimed pass: page in the inputs, warm the allocator and caches.
    let mut bytes_out = 0usize;
    for f in &files {
        bytes_out += frame(f, level)?;
    }
    let (clock, t0) = procstat::thread_cpu_seconds();
    let wall = std::time::Instant::now();
    for _ in 0..repeat {
        for f in &files {
            std::hint::black_box(frame(std::hint::black_box(f), level)?);
        }
    }
    let wall = wall.elapsed().as_secs_f64();
    let (_, t1) = procstat::thread_cpu_seconds();
    let cpu = t1 - t0;
    let n = files.len() as f64 * f64::from(repeat);
    Ok(json!({
        "dir": dir,
        "files": files.len(),
        "repeat": repeat,
        "codec": format!("gzip level {level} (flate2, zlib-rs)"),
        "clock": clock,
        "bytes_in": bytes_in,
        "bytes_out": bytes_out,
        "cpu_seconds": cpu,
        "wall_seconds": wall,
        "cpu_ms_per_file": cpu / n * 1000.0,
        "mib_per_cpu_second": if cpu > 0.0 { bytes_in as f64 * f64::from(repeat) / cpu / 1048576.0 } else { 0.0 },
    }))
}

/// One gRPC message frame of `message`, gzip-compressed at `level`, as the
/// exporter builds it; returns its length.
fn frame(message: &[u8], level: u32) -> std::io::Result<usize> {
    let mut out = BytesMut::with_capacity(5 + message.len() / 3);
    out.put_bytes(0, 5);
    let mut w = flate2::write::GzEncoder::new(out.writer(), flate2::Compression::new(level));
    w.write_all(message)?;
    let out = w.finish()?.into_inner();
    Ok(out.len())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::io::Read;

    #[test]
    fn frames_round_trip_and_costs_are_reported() {
        let dir = std::env::temp_dir().join(format!("loadgen-compress-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let data: Vec<u8> = (0..200_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        std::fs::write(dir.join("a.pb"), &data).unwrap();
        std::fs::write(dir.join("b.pb"), &data[..1000]).unwrap();

        let mut out = BytesMut::new();
        out.put_bytes(0, 5);
        let mut w = flate2::write::GzEncoder::new(out.writer(), flate2::Compression::new(1));
        w.write_all(&data).unwrap();
        let out = w.finish().unwrap().into_inner();
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(&out[5..])
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, data);
        assert_eq!(frame(&data, 1).unwrap(), out.len());

        let r = run(&dir, 3, 1).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(r["files"], 2);
        assert_eq!(r["bytes_in"], data.len() + 1000);
        assert!(r["bytes_out"].as_u64().unwrap() < r["bytes_in"].as_u64().unwrap());
        assert!(r["cpu_seconds"].as_f64().unwrap() >= 0.0);
    }
}
