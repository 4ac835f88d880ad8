//! Cost of turning one discovered target into its scrape jobs (URL, labels,
//! service_name inference, key hash): paid for every target on every
//! target-set change.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{criterion_group, criterion_main, Criterion};
use profcol_pdata::Labels;
use profcol_receiver::config::{ScrapeConfig, Settings};
use profcol_receiver::targets::expand;

fn bench(c: &mut Criterion) {
    let v = profcol_config::Body::parse("targets: []\nparams: {debug: ['0']}").unwrap();
    let cfg: ScrapeConfig = profcol_config::decode(&v, "r").unwrap();
    let settings = Settings::new("pyroscope_scrape/bench", &cfg);
    let target = Labels::from_pairs([
        ("__address__", "10.1.2.3:6060"),
        ("__meta_kubernetes_namespace", "shop"),
        ("__meta_kubernetes_pod_container_name", "checkout"),
        ("__meta_kubernetes_pod_name", "checkout-7d9f8c6b5-x2x9q"),
        ("__meta_kubernetes_pod_label_app", "checkout"),
        ("__meta_kubernetes_pod_node_name", "node-17"),
        ("env", "prod"),
        ("region", "eu-west-1"),
    ]);
    c.bench_function("expand one target into 5 jobs", |b| {
        b.iter(|| expand(&settings, std::hint::black_box(&target)).unwrap())
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
