//! Every metric's HELP text ends with exactly one period. prometheus-client's
//! `Registry::register` appends the period itself, so a help string written
//! with one shows `..` on `/metrics`; this test encodes every metric set the
//! process registers, each family given a series (an empty family prints no
//! HELP), and reads the page as a scraper would.

use profcol_exporter::metrics::{CodeLabels, ExporterLabel, ExporterMetrics, ReasonLabels};
use profcol_exporter::pyroscope::metrics::{EndpointLabels, WriteMetrics};
use profcol_receiver::metrics::{
    ComponentLabels, ErrorLabels, ScrapeMetrics, SourceLabels, TargetLabels,
};
use profcol_runtime::Telemetry;

#[test]
fn every_help_text_ends_with_exactly_one_period() {
    let t = Telemetry::default();
    let s = t.metrics::<ScrapeMetrics>();
    let c = ComponentLabels {
        component: "c".into(),
    };
    let tl = TargetLabels {
        component: "c".into(),
        job: "j".into(),
        instance: "i".into(),
        profile_type: "p".into(),
    };
    let el = ErrorLabels {
        component: "c".into(),
        reason: "r".into(),
    };
    s.fanout_latency.get_or_create(&c).observe(0.1);
    for f in [&s.up, &s.bytes, &s.samples] {
        f.get_or_create(&tl).set(1);
    }
    s.duration.get_or_create(&tl).set(1.0);
    s.errors.get_or_create(&el).inc();
    s.refused.get_or_create(&el).inc();
    s.forwarded.get_or_create(&c).inc();
    s.dropped.get_or_create(&c).inc();
    s.discovery_errors
        .get_or_create(&SourceLabels {
            component: "c".into(),
            source: "s".into(),
        })
        .inc();
    for f in [
        &s.active_jobs,
        &s.scrape_slots,
        &s.owned_targets,
        &s.cluster_targets,
    ] {
        f.get_or_create(&c).set(1);
    }

    let e = t.metrics::<ExporterMetrics>();
    let x = ExporterLabel {
        exporter: "e".into(),
    };
    let r = ReasonLabels {
        exporter: "e".into(),
        reason: "r".into(),
    };
    for f in [
        &e.sent_profiles,
        &e.sent_bytes,
        &e.retries,
        &e.rejected_profiles,
        &e.storage_corrupt_records,
    ] {
        f.get_or_create(&x).inc();
    }
    for f in [
        &e.failed_profiles,
        &e.failed_bytes,
        &e.dropped_profiles,
        &e.dropped_bytes,
        &e.storage_errors,
        &e.storage_refused,
    ] {
        f.get_or_create(&r).inc();
    }
    e.send_errors
        .get_or_create(&CodeLabels {
            exporter: "e".into(),
            code: "c".into(),
        })
        .inc();
    for f in [
        &e.queue_length,
        &e.queue_capacity,
        &e.queue_bytes,
        &e.storage_bytes,
    ] {
        f.get_or_create(&x).set(1);
    }
    e.request_duration.get_or_create(&x).observe(0.1);

    let w = t.metrics::<WriteMetrics>();
    let ep = EndpointLabels {
        component_id: "c".into(),
        endpoint: "e".into(),
    };
    for f in [
        &w.sent_bytes,
        &w.dropped_bytes,
        &w.sent_profiles,
        &w.dropped_profiles,
        &w.retries,
    ] {
        f.get_or_create(&ep).inc();
    }
    w.latency.get_or_create(&ep).observe(0.1);

    let b = t.metrics::<profcol_processor::batch::metrics::BatchMetrics>();
    let bl = profcol_processor::batch::metrics::ComponentLabel {
        component: "batch".into(),
    };
    b.send_size.get_or_create(&bl).observe(1.0);
    for f in [&b.size_trigger_sends, &b.timeout_trigger_sends] {
        f.get_or_create(&bl).inc();
    }
    b.metadata_cardinality.get_or_create(&bl).set(1);
    b.dropped_profiles
        .get_or_create(&profcol_processor::batch::metrics::DropLabels {
            component: "batch".into(),
            reason: "r".into(),
        })
        .inc();
    let ml = t.metrics::<profcol_processor::memory_limiter::metrics::MemoryLimiterMetrics>();
    let mll = profcol_processor::memory_limiter::metrics::ComponentLabel {
        component: "memory_limiter".into(),
    };
    ml.refused_profiles.get_or_create(&mll).inc();
    for f in [&ml.refusing, &ml.usage, &ml.limit, &ml.soft_limit] {
        f.get_or_create(&mll).set(1);
    }

    t.metrics::<crate::cluster::ClusterMetrics>();
    t.metrics::<crate::memory::MemoryMetrics>();
    t.metrics::<profcol_receiver::LastProfiles>();
    let rl = t.metrics::<crate::reload::status::ReloadMetrics>();
    rl.reloads
        .get_or_create(&crate::reload::status::ResultLabels { result: "success" })
        .inc();
    t.with_registry(|r| r.register_collector(Box::new(crate::process_metrics::ProcessCollector)));

    let page = t.encode();
    let helps: Vec<&str> = page.lines().filter(|l| l.starts_with("# HELP ")).collect();
    // 45 registered families plus the process collector's: a page that
    // lost families would pass vacuously.
    assert!(
        helps.len() >= 45,
        "too few HELP lines ({}):\n{page}",
        helps.len()
    );
    let bad: Vec<&&str> = helps
        .iter()
        .filter(|l| l.ends_with("..") || !l.ends_with('.'))
        .collect();
    assert!(
        bad.is_empty(),
        "HELP lines not ending in exactly one period:\n{bad:#?}"
    );
}
