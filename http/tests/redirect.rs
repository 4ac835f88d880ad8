//! follow_redirects on (up to 10) and off (the 3xx reaches the caller).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::routing::get as route;
use axum::Router;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use support::servers::serve;
use support::{client, get};

async fn app() -> (String, Arc<AtomicUsize>) {
    let loops = Arc::new(AtomicUsize::new(0));
    let router = Router::new()
        .route(
            "/start",
            route(|| async { (StatusCode::FOUND, [(header::LOCATION, "/end")]) }),
        )
        .route("/end", route(|| async { "arrived" }))
        .route(
            "/loop",
            route(|State(n): State<Arc<AtomicUsize>>| async move {
                n.fetch_add(1, Ordering::SeqCst);
                (StatusCode::FOUND, [(header::LOCATION, "/loop")])
            }),
        )
        .with_state(loops.clone());
    (format!("http://{}", serve(router).await), loops)
}

#[tokio::test]
async fn redirects_are_followed_by_default_up_to_ten() {
    let (base, loops) = app().await;
    let c = client("");
    let (status, _, text) = get(&c, &format!("{base}/start")).await.unwrap();
    assert_eq!((status, text.as_str()), (StatusCode::OK, "arrived"));
    let err = get(&c, &format!("{base}/loop")).await.unwrap_err();
    assert!(err.to_string().contains("too many redirects"), "{err}");
    assert_eq!(
        loops.load(Ordering::SeqCst),
        11,
        "the first request and ten redirects"
    );
}

#[tokio::test]
async fn redirects_reach_the_caller_when_disabled() {
    let (base, _) = app().await;
    let c = client("follow_redirects: false");
    let req = c.request(
        reqwest::Method::GET,
        format!("{base}/start").parse().unwrap(),
    );
    let resp = c.send(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::FOUND);
    assert_eq!(resp.headers()[header::LOCATION], "/end");
}
