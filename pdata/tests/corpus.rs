//! The real-profile corpus in `testdata/` (Go runtime profiles written by
//! `testdata/gen`): decoding, pprof → OTLP → pprof round trips, folded
//! stacks against `go tool pprof -raw`, and deltas between two scrapes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use profcol_pdata::delta::DeltaComputer;
use profcol_pdata::oracle::to_otlp;
use profcol_pdata::otlp::{folded_otlp, from_otlp};
use profcol_pdata::pprof::canonical;
use profcol_pdata::pprof::{
    decode_pprof, encode_pprof, encode_pprof_gzip, folded_pprof, DecodeLimits,
};
use profcol_pdata::PprofData;
use profcol_pdata::{pprof, Labels, ProfileRecord};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn corpus() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".pb.gz"))
        .collect();
    files.sort();
    assert!(files.len() >= 6, "corpus missing: {files:?}");
    files
}

fn load(path: &Path) -> pprof::Profile {
    decode_pprof(&std::fs::read(path).unwrap(), &DecodeLimits::default())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn every_profile_round_trips_through_otlp() {
    let files = corpus();
    let profiles: Vec<pprof::Profile> = files.iter().map(|f| load(f)).collect();
    let records: Vec<ProfileRecord> = files
        .iter()
        .zip(&profiles)
        .map(|(f, p)| {
            let name = f
                .file_name()
                .unwrap()
                .to_string_lossy()
                .replace(".pb.gz", "");
            ProfileRecord::from_profile(
                Labels::from_pairs([("service_name", "gen"), ("__name__", name.as_str())]),
                p,
            )
            .unwrap()
        })
        .collect();
    let req = to_otlp(&records);
    let back = from_otlp(&req).unwrap();
    assert_eq!(back.len(), profiles.len());
    for ((f, p), b) in files.iter().zip(&profiles).zip(&back) {
        assert!(!p.sample.is_empty(), "{} has no samples", f.display());
        // `__name__` is a Pyroscope push label, never a resource attribute.
        assert_eq!(b.labels, Labels::from_pairs([("service_name", "gen")]));
        // Exact, once equal samples are combined and all-zero ones dropped
        // (what OTLP profiles carry).
        assert_eq!(
            canonical(&b.profile()).normalized(),
            canonical(p).normalized(),
            "{}",
            f.display()
        );
        assert_eq!(
            folded_pprof(&b.profile()),
            folded_pprof(p),
            "{}",
            f.display()
        );
        // The converted profile is itself valid pprof.
        decode_pprof(&encode_pprof(&b.profile()), &DecodeLimits::default()).unwrap();
    }
    // One profile at a time folds the same from OTLP as from pprof.
    for (f, p) in files.iter().zip(&profiles) {
        let one = to_otlp(&[ProfileRecord::from_profile(Labels::new(), p).unwrap()]);
        assert_eq!(folded_otlp(&one), folded_pprof(p), "{}", f.display());
    }
}

#[test]
fn encode_decode_is_lossless() {
    for f in corpus() {
        let p = load(&f);
        assert_eq!(
            decode_pprof(&encode_pprof_gzip(&p), &DecodeLimits::default()).unwrap(),
            p
        );
        assert_eq!(
            decode_pprof(&encode_pprof(&p), &DecodeLimits::default()).unwrap(),
            p
        );
    }
}

/// Sums folded lines per key (`type/unit;stack`).
fn folded_map(lines: &[String]) -> BTreeMap<String, i64> {
    lines
        .iter()
        .map(|l| {
            let (k, v) = l.rsplit_once(' ').unwrap();
            (k.to_string(), v.parse().unwrap())
        })
        .collect()
}

#[test]
fn delta_of_two_allocs_scrapes() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
    let first = load(&dir.join("allocs.pb.gz"));
    let second = load(&dir.join("allocs2.pb.gz"));
    let mut d = DeltaComputer::new();
    let data = |p: &pprof::Profile| PprofData::from_profile(p).unwrap();
    assert!(d.apply(data(&first), 1_000_000_000).is_none());
    let delta = d.apply(data(&second), 16_000_000_000).unwrap().to_profile();
    // The window between the two profiles, in the target's clock.
    assert_eq!(
        (delta.time_nanos, delta.duration_nanos),
        (first.time_nanos, second.time_nanos - first.time_nanos)
    );
    assert!(delta.sample.len() < second.sample.len());
    let (a, b, got) = (
        folded_map(&folded_pprof(&first)),
        folded_map(&folded_pprof(&second)),
        folded_map(&folded_pprof(&delta)),
    );
    for (k, v) in &b {
        if k.starts_with("alloc_") {
            let want = v - a.get(k).copied().unwrap_or(0);
            assert_eq!(got.get(k).copied().unwrap_or(0), want, "{k}");
        } else {
            assert_eq!(
                got.get(k).copied().unwrap_or(0),
                *v,
                "inuse passes through: {k}"
            );
        }
    }
    assert!(got.keys().all(|k| b.contains_key(k)));
}

/// Folded lines computed from `go tool pprof -raw` output.
fn go_raw_folded(path: &Path) -> Option<Vec<String>> {
    let out = match Command::new("go")
        .args(["tool", "pprof", "-raw"])
        .arg(path)
        .output()
    {
        Ok(o) if o.status.success() => o,
        Ok(o) => {
            eprintln!(
                "skipping: go tool pprof failed: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            return None;
        }
        Err(e) => {
            eprintln!("skipping the go tool pprof comparison: `go` is not runnable ({e})");
            return None;
        }
    };
    let text = String::from_utf8(out.stdout).unwrap();
    let mut types: Vec<String> = Vec::new();
    let mut samples: Vec<(Vec<i64>, Vec<u64>)> = Vec::new();
    let mut locations: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    let mut section = "";
    let mut current: Option<u64> = None;
    for line in text.lines() {
        match line.trim() {
            "Samples:" => {
                section = "header";
                continue;
            }
            "Locations" => {
                section = "locations";
                continue;
            }
            "Mappings" => break,
            _ => {}
        }
        match section {
            "header" => {
                types = line
                    .split_whitespace()
                    .map(|t| t.trim_end_matches("[dflt]").to_string())
                    .collect();
                section = "samples";
            }
            "samples" => {
                let Some((vals, ids)) = line.split_once(':') else {
                    continue;
                };
                let vals: Result<Vec<i64>, _> = vals.split_whitespace().map(str::parse).collect();
                let Ok(vals) = vals else { continue }; // a label line
                let ids = ids.split_whitespace().map(|s| s.parse().unwrap()).collect();
                samples.push((vals, ids));
            }
            "locations" => {
                let t = line.trim_start();
                let head = t
                    .split_once(": ")
                    .filter(|(id, _)| id.chars().all(|c| c.is_ascii_digit()));
                if let Some((id, rest)) = head {
                    let id: u64 = id.parse().unwrap();
                    let mut parts = rest.splitn(3, ' ');
                    let addr = parts.next().unwrap().to_string();
                    let _mapping = parts.next();
                    let name = parts.next().and_then(raw_function_name);
                    locations.entry(id).or_default().push(name.unwrap_or(addr));
                    current = Some(id);
                } else if let (Some(id), Some(name)) = (current, raw_function_name(t)) {
                    locations.get_mut(&id).unwrap().push(name);
                }
            }
            _ => {}
        }
    }
    let mut acc: BTreeMap<String, i64> = BTreeMap::new();
    for (vals, ids) in &samples {
        let mut frames: Vec<&str> = Vec::new();
        for id in ids {
            frames.extend(locations[id].iter().map(String::as_str));
        }
        frames.reverse();
        for (t, v) in types.iter().zip(vals) {
            *acc.entry(format!("{t};{}", frames.join(";"))).or_default() += v;
        }
    }
    Some(
        acc.into_iter()
            .filter(|(_, v)| *v != 0)
            .map(|(k, v)| format!("{k} {v}"))
            .collect(),
    )
}

/// The function name of a `-raw` line tail `name file:line s=N` (names may
/// hold spaces; file names are assumed not to).
fn raw_function_name(tail: &str) -> Option<String> {
    let (left, _start) = tail.trim().rsplit_once(" s=")?;
    let (name, _file) = left.rsplit_once(' ')?;
    Some(name.to_string())
}

#[test]
fn folded_stacks_match_go_tool_pprof() {
    for f in corpus() {
        let Some(want) = go_raw_folded(&f) else {
            return;
        };
        assert!(!want.is_empty(), "{}", f.display());
        let p = load(&f);
        assert_eq!(folded_pprof(&p), want, "{}", f.display());
        let otlp = to_otlp(&[ProfileRecord::from_profile(Labels::new(), &p).unwrap()]);
        assert_eq!(folded_otlp(&otlp), want, "{}", f.display());
    }
}
