//! profcol's own heap profile (jemalloc's sampled in-use allocations,
//! gzipped pprof) for `/debug/pprof/heap` and `/allocs`. jemalloc keeps no
//! cumulative allocation totals, so both paths serve in-use memory.
//!
//! jemalloc dumps its raw profile to a temporary file; profcol parses it
//! (`pprof_util::parse_jeheap`), names the addresses from the symbol tables
//! (`symbols.rs`, not `backtrace`'s DWARF reader, which kept ~160 MB) and
//! drops the allocator's own frames at the leaf end of every stack
//! ([`super::symbols::allocator_frames`]), so that each stack ends in the
//! code that asked for the memory.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

pub async fn handler() -> Response {
    #[cfg(not(target_env = "msvc"))]
    {
        let Some(ctl) = jemalloc_pprof::PROF_CTL.as_ref() else {
            return (
                StatusCode::NOT_IMPLEMENTED,
                "jemalloc heap profiling is not enabled in this build\n",
            )
                .into_response();
        };
        let ctl = ctl.clone().lock_owned().await;
        let built = tokio::task::spawn_blocking(move || {
            let mut ctl = ctl;
            let dump = ctl.dump();
            drop(ctl);
            dump.and_then(|f| {
                let profile = pprof_util::parse_jeheap(std::io::BufReader::new(f), None)?;
                Ok(profcol_pdata::pprof::encode_pprof_gzip(&to_pprof(&profile)))
            })
        })
        .await;
        match built {
            Ok(Ok(bytes)) => (
                [
                    (header::CONTENT_TYPE, "application/octet-stream"),
                    (
                        header::CONTENT_DISPOSITION,
                        "attachment; filename=\"heap.pb.gz\"",
                    ),
                ],
                bytes,
            )
                .into_response(),
            Ok(Err(e)) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("heap profile failed: {e}\n"),
            )
                .into_response(),
            Err(e) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("heap profile failed: {e}\n"),
            )
                .into_response(),
        }
    }
    #[cfg(target_env = "msvc")]
    {
        (
            StatusCode::NOT_IMPLEMENTED,
            "heap profiling needs jemalloc\n",
        )
            .into_response()
    }
}

/// The pprof of a parsed jemalloc dump: `inuse_space/bytes`, leaf first,
/// allocator frames dropped.
#[cfg(not(target_env = "msvc"))]
fn to_pprof(p: &pprof_util::StackProfile) -> profcol_pdata::pprof::Profile {
    use super::pprof_build::{names_of, Builder};
    use super::symbols::{allocator_frames, lookup_address};
    // jemalloc's stacks are return addresses, except the sampled leaf.
    let stacks: Vec<Vec<usize>> = p
        .stacks
        .iter()
        .map(|(s, _)| {
            s.addrs
                .iter()
                .rev()
                .enumerate()
                .map(|(i, &a)| lookup_address(a, i == 0))
                .collect()
        })
        .collect();
    let names = names_of(&stacks);
    let mut b = Builder::new(&[("inuse_space", "bytes")], ("space", "bytes"), 0);
    for (stack, (s, _)) in stacks.iter().zip(&p.stacks) {
        let leaf_names: Vec<&str> = stack
            .iter()
            .map(|a| names.get(a).map_or("?", |n| n.as_ref()))
            .collect();
        let skip = allocator_frames(&leaf_names);
        b.sample(&stack[skip..], &names, vec![s.weight.round() as i64]);
    }
    b.profile.time_nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or_default();
    b.profile
}
