//! `/profile` against a real receiver scraping a local pprof target whose
//! cumulative memory profile grows by the same amounts every scrape, so
//! that every delta after the baseline is that profile: the flame graph,
//! the folded text and the pprof download are checked against it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::super::flame::tests::build;
use super::*;
use axum::body::to_bytes;
use profcol_pdata::pprof::{decode_pprof, folded_pprof, DecodeLimits, Profile};
use profcol_pdata::{Consumer, ProfileBatch};
use profcol_runtime::{ComponentContext, Telemetry};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

const RECEIVER: &str = "pyroscope_scrape/flame";
const EVIL: &str = "<script>alert(1)</script>";
const TYPES: [(&str, &str); 4] = [
    ("alloc_objects", "count"),
    ("alloc_space", "bytes"),
    ("inuse_objects", "count"),
    ("inuse_space", "bytes"),
];

/// The cumulative profile after `n` scrapes: `n` times the per-interval one.
fn memory(n: i64) -> Profile {
    let stacks: [(&[&str], [i64; 4]); 3] = [
        (
            &["main.main", "main.work", "runtime.mallocgc"],
            [2, 2048, 1, 10],
        ),
        (&["main.main", "main.serve"], [1, 512, 1, 10]),
        (&["main.main", EVIL], [3, 96, 1, 10]),
    ];
    let scaled: Vec<(&[&str], Vec<i64>)> = stacks
        .iter()
        .map(|(f, v)| (*f, v.iter().map(|x| x * n).collect()))
        .collect();
    let refs: Vec<(&[&str], &[i64])> = scaled.iter().map(|(f, v)| (*f, &v[..])).collect();
    let mut p = build(&TYPES, &refs);
    p.time_nanos = 1;
    p
}

struct Nowhere;

#[async_trait::async_trait]
impl Consumer for Nowhere {
    async fn consume(&self, _: ProfileBatch) -> Result<(), profcol_pdata::Error> {
        Ok(())
    }
}

struct Setup {
    state: AdminState,
    telemetry: Telemetry,
    stop: CancellationToken,
    memory_key: String,
}

async fn setup() -> Setup {
    let scrapes = Arc::new(AtomicI64::new(0));
    let app = axum::Router::new().route(
        "/debug/pprof/allocs",
        axum::routing::get(move || {
            let n = scrapes.fetch_add(1, Ordering::SeqCst) + 1;
            async move { profcol_pdata::pprof::encode_pprof_gzip(&memory(n)) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let telemetry = Telemetry::default();
    let stop = CancellationToken::new();
    let yaml = format!(
        "targets: [{{__address__: '{addr}', service_name: flame}}]\nscrape_interval: 1s\nscrape_timeout: 3s\n\
         profiling_config: {{profile: {{block: {{enabled: false}}, goroutine: {{enabled: false}}, mutex: {{enabled: false}}, process_cpu: {{enabled: false}}}}}}\n"
    );
    let id: profcol_config::ComponentId = RECEIVER.parse().unwrap();
    let ctx = ComponentContext {
        id: RECEIVER.into(),
        shutdown: stop.clone(),
        telemetry: telemetry.clone(),
        memory: Default::default(),
        cluster: None,
        scrape_budget: Default::default(),
        read_back_limits: Default::default(),
    };
    let body = profcol_config::Body::parse(&yaml).unwrap();
    let handle = profcol_receiver::start_receiver(&id, &body, ctx, Arc::new(Nowhere)).unwrap();
    let memory_key = handle
        .targets()
        .into_iter()
        .find(|t| t.profile_type == "memory")
        .unwrap()
        .key
        .to_string();
    let state = AdminState::new(telemetry.clone());
    state.receivers.insert(
        id.clone(),
        crate::topology::RunningReceiver {
            slot: crate::topology::ReceiverSlot::detached(),
            handle,
        },
    );
    Setup {
        state,
        telemetry,
        stop,
        memory_key,
    }
}

async fn get(s: &AdminState, query: &[(&str, &str)]) -> (StatusCode, String, String) {
    let (code, ct, body) = get_bytes(s, query).await;
    (code, ct, String::from_utf8(body).unwrap())
}

async fn get_bytes(s: &AdminState, query: &[(&str, &str)]) -> (StatusCode, String, Vec<u8>) {
    let q: HashMap<String, String> = query
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let r = handler(State(s.clone()), Query(q)).await;
    let code = r.status();
    let ct = r
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body = to_bytes(r.into_body(), 1 << 26).await.unwrap();
    (code, ct, body.to_vec())
}

/// The folded lines of `p`'s sample type `ty`, prefix removed: the oracle.
fn folded_of(p: &Profile, ty: &str) -> String {
    let prefix = format!("{ty};");
    folded_pprof(p)
        .into_iter()
        .filter_map(|l| l.strip_prefix(&prefix).map(|l| format!("{l}\n")))
        .collect()
}

#[tokio::test]
async fn shows_downloads_and_escapes_the_last_delta() {
    let s = setup().await;
    let job = s.memory_key.clone();
    let q = |extra: &[(&'static str, &'static str)]| {
        let mut v = vec![
            ("receiver", RECEIVER),
            ("job", job.as_str()),
            ("type", "memory"),
        ];
        v.extend_from_slice(extra);
        v
    };
    // The first scrape is only the baseline: wait for the first delta.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let page = loop {
        let (code, ct, body) = get(&s.state, &q(&[])).await;
        if code == StatusCode::OK {
            assert!(ct.starts_with("text/html"), "{ct}");
            break body;
        }
        assert_eq!(code, StatusCode::NOT_FOUND, "{body}");
        assert!(body.contains("No flame graph"), "{body}");
        assert!(
            tokio::time::Instant::now() < deadline,
            "no delta kept: {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // The delta of every scrape is memory(1); the default sample type is
    // the last one, inuse_space, which passes through (not subtracted).
    for name in ["main.main", "main.work", "runtime.mallocgc", "main.serve"] {
        assert!(page.contains(name), "{name} missing");
    }
    assert!(!page.contains(EVIL), "unescaped frame name");
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(page.contains("<svg "), "inline SVG");
    assert!(!page.contains("onload=\"init(evt)\""));
    assert!(page.contains("init(null)"));
    assert!(
        page.contains("delta of a cumulative profile"),
        "window shown"
    );
    assert!(page.contains("Sample type <b>inuse_space</b>"));
    assert!(page.contains("sample_type=0"), "sample type switch links");

    // alloc_space: the delta, equal to the per-interval profile.
    let (code, ct, folded) = get(
        &s.state,
        &q(&[("sample_type", "alloc_space"), ("format", "folded")]),
    )
    .await;
    assert_eq!(code, StatusCode::OK);
    assert!(ct.starts_with("text/plain"), "{ct}");
    assert_eq!(folded, folded_of(&memory(1), "alloc_space/bytes"));
    assert!(
        folded.contains(&format!("main.main;{EVIL} 96\n")),
        "{folded}"
    );
    let (_, _, page1) = get(&s.state, &q(&[("sample_type", "1")])).await;
    assert!(page1.contains("total <b>2.6 KiB</b> (2656 bytes)"), "total");

    // The pprof download decodes to the delta (what was exported).
    let (code, ct, gz) = get_bytes(&s.state, &q(&[("format", "pprof")])).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(ct, "application/octet-stream");
    let p = decode_pprof(&gz, &DecodeLimits::default()).unwrap();
    assert_eq!(
        folded_of(&p, "alloc_objects/count"),
        folded_of(&memory(1), "alloc_objects/count")
    );
    assert!(p.duration_nanos > 0, "a delta's window");

    // The bare SVG.
    let (code, ct, svg) = get(&s.state, &q(&[("format", "svg")])).await;
    assert_eq!((code, ct.as_str()), (StatusCode::OK, "image/svg+xml"));
    assert!(svg.starts_with("<?xml") && svg.contains("onload=\"init(evt)\""));
    assert!(svg.contains("main.work") && !svg.contains(EVIL));

    // Unknown sample type, bad job key, other type, unknown receiver.
    let (code, _, body) = get(&s.state, &q(&[("sample_type", "9")])).await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert!(body.contains("unknown sample type"), "{body}");
    let (code, _, _) = get(
        &s.state,
        &[("receiver", RECEIVER), ("job", "xyz"), ("type", "memory")],
    )
    .await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    let (code, _, body) = get(
        &s.state,
        &[("receiver", RECEIVER), ("job", &job), ("type", "block")],
    )
    .await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    assert!(body.contains("the link is stale"), "{body}");
    let (code, _, _) = get(
        &s.state,
        &[("receiver", "nope"), ("job", &job), ("type", "memory")],
    )
    .await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    let (code, _, _) = get(&s.state, &[("receiver", RECEIVER)]).await;
    assert_eq!(code, StatusCode::BAD_REQUEST);

    // Keeping disabled: nothing to show, and the page says why.
    s.telemetry
        .metrics::<profcol_receiver::LastProfiles>()
        .set_max_bytes(0);
    let (code, ct, body) = get(&s.state, &q(&[("format", "folded")])).await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    assert!(ct.starts_with("text/plain"));
    assert!(body.contains("kept_profiles_mib: 0"), "{body}");
    assert!(s
        .telemetry
        .encode()
        .contains("profcol_kept_profiles_bytes 0"));
    s.stop.cancel();
}
