//! A clustered receiver follows the membership it is handed: it runs jobs
//! only for the targets the local node owns, and on a change stops and
//! starts only the targets that moved — the jobs it keeps are not restarted.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use profcol_config::ComponentId;
use profcol_pdata::{Consumer, Labels, ProfileBatch};
use profcol_receiver::{start_receiver, ReceiverHandle};
use profcol_runtime::target_key;
use profcol_runtime::{ClusterView, ComponentContext, Telemetry};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

const TARGETS: usize = 60;

struct Nowhere;

#[async_trait::async_trait]
impl Consumer for Nowhere {
    async fn consume(&self, _: ProfileBatch) -> Result<(), profcol_pdata::Error> {
        Ok(())
    }
}

fn view(members: &[&str]) -> ClusterView {
    ClusterView::new("a", members.iter().map(|m| m.to_string()))
}

/// `t` label value → scrapes so far, for every running job.
fn jobs(h: &ReceiverHandle) -> BTreeMap<String, u64> {
    h.targets()
        .into_iter()
        .map(|s| (s.discovered_labels["__param_t"].clone(), s.scrapes_total))
        .collect()
}

/// The targets node `a` owns in `v`, computed on the discovered labels.
fn expected(port: u16, v: &ClusterView) -> BTreeSet<String> {
    (0..TARGETS)
        .map(|t| t.to_string())
        .filter(|t| {
            let l = Labels::from_pairs([
                ("__address__", format!("127.0.0.1:{port}")),
                ("__param_t", t.clone()),
            ]);
            v.owns(target_key(&l))
        })
        .collect()
}

async fn until(limit: Duration, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !ok() {
        assert!(Instant::now() < deadline, "condition not met in {limit:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_moved_targets_start_or_stop() {
    // Nothing listens: every scrape fails at once, and still counts.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let targets: Vec<String> = (0..TARGETS)
        .map(|t| format!("{{__address__: '127.0.0.1:{port}', __param_t: '{t}'}}"))
        .collect();
    let yaml = format!(
        "targets: [{}]\nclustering: {{enabled: true}}\nscrape_interval: 1s\nscrape_timeout: 2s\nprofiling_config: {{profile: {{memory: {{enabled: false}}, block: {{enabled: false}}, mutex: {{enabled: false}}, process_cpu: {{enabled: false}}}}}}\n",
        targets.join(", ")
    );
    let (tx, rx) = watch::channel(view(&["a", "b", "c"]));
    let shutdown = CancellationToken::new();
    let ctx = ComponentContext {
        id: "pyroscope_scrape".into(),
        shutdown: shutdown.clone(),
        telemetry: Telemetry::default(),
        memory: Default::default(),
        cluster: Some(rx),
        scrape_budget: Default::default(),
        read_back_limits: Default::default(),
    };
    let id: ComponentId = "pyroscope_scrape".parse().unwrap();
    let body = profcol_config::Body::parse(&yaml).unwrap();
    let h = start_receiver(&id, &body, ctx, Arc::new(Nowhere)).unwrap();

    let three = expected(port, &view(&["a", "b", "c"]));
    assert!(three.len() > 5 && three.len() < 40, "{}", three.len());
    assert_eq!(jobs(&h).keys().cloned().collect::<BTreeSet<_>>(), three);
    let share = h.cluster().unwrap();
    assert_eq!(share.members, ["a", "b", "c"]);
    assert_eq!(share.owned_targets, three.len());
    let elsewhere: usize = share.targets_elsewhere.values().sum();
    assert_eq!(share.owned_targets + elsewhere, TARGETS);

    // Every job scraped at least twice before the change.
    until(Duration::from_secs(10), || {
        jobs(&h).values().all(|n| *n >= 2)
    })
    .await;
    let before = jobs(&h);

    // c dies: a keeps every target it had and takes some of c's.
    tx.send(view(&["a", "b"])).unwrap();
    let two = expected(port, &view(&["a", "b"]));
    assert!(two.is_superset(&three) && two.len() > three.len());
    until(Duration::from_secs(5), || {
        jobs(&h).keys().cloned().collect::<BTreeSet<_>>() == two
    })
    .await;
    let after = jobs(&h);
    for (t, n) in &before {
        assert!(
            after[t] >= *n,
            "target {t} restarted: {n} scrapes before, {} after",
            after[t]
        );
    }
    assert_eq!(h.cluster().unwrap().owned_targets, two.len());

    // a is no longer a member (it is leaving): it owns nothing.
    tx.send(view(&["b", "c"])).unwrap();
    until(Duration::from_secs(5), || jobs(&h).is_empty()).await;
    assert_eq!(h.cluster().unwrap().owned_targets, 0);

    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(5), h.wait())
        .await
        .unwrap();
}
