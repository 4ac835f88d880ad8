//! Every event that is both logged and counted, in one place, so a log
//! line and its metric never drift apart.

use crate::metrics::{ComponentLabels, ErrorLabels, ScrapeMetrics, SourceLabels, TargetLabels};
use crate::Error;
use tracing::{debug, info, warn};

fn component(c: &str) -> ComponentLabels {
    ComponentLabels {
        component: c.to_string(),
    }
}

pub fn job_started(m: &ScrapeMetrics, t: &TargetLabels, url: &str) {
    m.active_jobs.get_or_create(&component(&t.component)).inc();
    debug!(component = %t.component, target = %url, profile_type = %t.profile_type, "Scrape job started.");
}

pub fn job_stopped(m: &ScrapeMetrics, t: &TargetLabels, url: &str) {
    m.active_jobs.get_or_create(&component(&t.component)).dec();
    m.forget(t);
    debug!(component = %t.component, target = %url, profile_type = %t.profile_type, "Scrape job stopped.");
}

/// What one successful scrape brought.
#[derive(Clone, Copy)]
pub struct Scraped {
    pub secs: f64,
    /// Bytes as served.
    pub bytes: usize,
    pub samples: usize,
    /// Samples whose stack was cut to `max_stack_depth`.
    pub truncated: usize,
}

pub fn scrape_succeeded(
    m: &ScrapeMetrics,
    t: &TargetLabels,
    url: &str,
    s: &Scraped,
    recovered: bool,
) {
    let Scraped {
        secs,
        bytes,
        samples,
        truncated,
    } = *s;
    m.up.get_or_create(t).set(1);
    if truncated > 0 {
        m.truncated_stacks
            .get_or_create(&ComponentLabels {
                component: t.component.clone(),
            })
            .inc_by(truncated as u64);
        debug!(component = %t.component, target = %url, truncated, "Stacks deeper than max_stack_depth were truncated.");
    }
    m.duration.get_or_create(t).set(secs);
    m.bytes
        .get_or_create(t)
        .set(i64::try_from(bytes).unwrap_or(i64::MAX));
    m.samples
        .get_or_create(t)
        .set(i64::try_from(samples).unwrap_or(i64::MAX));
    if recovered {
        info!(component = %t.component, target = %url, profile_type = %t.profile_type, "Scrape succeeded again.");
    } else {
        debug!(component = %t.component, target = %url, bytes, samples, duration_seconds = secs, "Scraped.");
    }
}

/// `changed` is true when this error differs from the previous scrape's:
/// only then is it logged at warn level.
pub fn scrape_failed(
    m: &ScrapeMetrics,
    t: &TargetLabels,
    url: &str,
    secs: f64,
    err: &Error,
    changed: bool,
) {
    m.up.get_or_create(t).set(0);
    m.duration.get_or_create(t).set(secs);
    m.errors
        .get_or_create(&ErrorLabels {
            component: t.component.clone(),
            reason: err.reason().to_string(),
        })
        .inc();
    if changed {
        warn!(component = %t.component, target = %url, profile_type = %t.profile_type, reason = err.reason(), error = %err, "Scrape failed.");
    } else {
        debug!(component = %t.component, target = %url, reason = err.reason(), error = %err, "Scrape failed.");
    }
}

/// A scrape not started because the collector is over its memory bound.
/// The collector logs the crossing once; each refusal is only counted (and
/// logged at debug), so a thousand targets do not flood the log.
pub fn scrape_refused(m: &ScrapeMetrics, t: &TargetLabels, url: &str, err: &Error) {
    m.up.get_or_create(t).set(0);
    m.refused
        .get_or_create(&ErrorLabels {
            component: t.component.clone(),
            reason: err.reason().to_string(),
        })
        .inc();
    debug!(component = %t.component, target = %url, profile_type = %t.profile_type, error = %err, "Scrape refused.");
}

pub fn forwarded(m: &ScrapeMetrics, component_id: &str, latency_secs: f64) {
    let c = component(component_id);
    m.fanout_latency.get_or_create(&c).observe(latency_secs);
    m.forwarded.get_or_create(&c).inc();
}

pub fn forward_failed(
    m: &ScrapeMetrics,
    component_id: &str,
    url: &str,
    latency_secs: f64,
    err: &profcol_pdata::Error,
) {
    let c = component(component_id);
    m.fanout_latency.get_or_create(&c).observe(latency_secs);
    m.dropped.get_or_create(&c).inc();
    warn!(component = %component_id, target = %url, error = %err, "Downstream refused a scraped profile; it is dropped.");
}

/// A hop below the job (a full sending queue with `block_on_overflow`)
/// started making the job wait.
pub fn pipeline_wait_started(m: &ScrapeMetrics, component_id: &str) {
    m.backpressure_waiting
        .get_or_create(&component(component_id))
        .inc();
}

/// The wait that [`pipeline_wait_started`] counted ended after `secs`.
pub fn pipeline_wait_ended(m: &ScrapeMetrics, component_id: &str, secs: f64) {
    let c = component(component_id);
    m.backpressure_waiting.get_or_create(&c).dec();
    m.backpressure_seconds.get_or_create(&c).inc_by(secs);
}

/// The job's slots that passed while its hand-off waited: those scrapes
/// are skipped, not made up for.
pub fn scrapes_skipped(
    m: &ScrapeMetrics,
    t: &TargetLabels,
    url: &str,
    skipped: u64,
    waited_secs: f64,
) {
    m.refused
        .get_or_create(&ErrorLabels {
            component: t.component.clone(),
            reason: BACKPRESSURE.to_string(),
        })
        .inc_by(skipped);
    warn!(component = %t.component, target = %url, profile_type = %t.profile_type, skipped, waited_seconds = waited_secs, "The pipeline held the hand-off past this job's next scrapes; they were skipped and the job resumes at its next slot.");
}

/// The `reason` of scrapes skipped while the job waited for its pipeline.
pub const BACKPRESSURE: &str = "backpressure";

pub fn discovery_failed(m: &ScrapeMetrics, component_id: &str, source: &str, err: &Error) {
    m.discovery_errors
        .get_or_create(&SourceLabels {
            component: component_id.to_string(),
            source: source.to_string(),
        })
        .inc();
    warn!(component = %component_id, source = %source, error = %err, "Service discovery failed; keeping the last good targets.");
}

pub fn invalid_target(m: &ScrapeMetrics, component_id: &str, address: &str, err: &Error) {
    m.errors
        .get_or_create(&ErrorLabels {
            component: component_id.to_string(),
            reason: err.reason().to_string(),
        })
        .inc();
    warn!(component = %component_id, address = %address, error = %err, "Target dropped.");
}

pub fn service_name_unspecified(component_id: &str, instance: &str) {
    warn!(
        component = %component_id,
        instance = %instance,
        "Target has no service_name and none could be inferred; using \"unspecified\"."
    );
}

/// A reconcile split the targets between the cluster members: sets the
/// ownership gauges; logs when this node's share or the member list changed.
pub fn ownership_computed(
    m: &ScrapeMetrics,
    component_id: &str,
    now: &crate::cluster::ClusterStatus,
    before: &crate::cluster::ClusterStatus,
) {
    let c = component(component_id);
    let elsewhere: usize = now.targets_elsewhere.values().sum();
    let total = now.owned_targets + elsewhere;
    m.owned_targets
        .get_or_create(&c)
        .set(i64::try_from(now.owned_targets).unwrap_or(i64::MAX));
    m.cluster_targets
        .get_or_create(&c)
        .set(i64::try_from(total).unwrap_or(i64::MAX));
    if now.members != before.members || now.owned_targets != before.owned_targets {
        info!(
            component = %component_id,
            node = %now.local,
            members = now.members.len(),
            owned_targets = now.owned_targets,
            total_targets = total,
            "Cluster target ownership updated."
        );
    }
}
