//! profcol's own heap profile (jemalloc's sampled in-use allocations,
//! symbolized, gzipped pprof) for `/debug/pprof/heap` and `/allocs`. jemalloc
//! keeps no cumulative allocation totals, so both paths serve in-use memory.

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
        let mut ctl = ctl.lock().await;
        match ctl.dump_pprof() {
            Ok(bytes) => (
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
