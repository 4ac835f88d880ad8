//! Which profile a push is: `__name__` and, for text formats, the sample
//! type, named the way Grafana Pyroscope names them so that a profile pushed
//! through profcol lands in the same series as one pushed to Pyroscope.
//!
//! - Text (`folded`, `lines`): the application name's last `.`-suffix is the
//!   type (`checkout.alloc_space` → `memory`, `alloc_space`/`bytes`); a name
//!   without a `.` is CPU; an unknown suffix is refused. CPU and wall
//!   profiles sampled at `sampleRate` Hz become `cpu`/`wall` in nanoseconds,
//!   each sample worth 1e9/`sampleRate` ns.
//! - pprof: the sample types decide (`wall` wins; then the first that reads
//!   as CPU, memory, mutex, block or goroutines, by its `sample_type_config`
//!   display name when the SDK sent one; else the last sample type's name).

use serde::Deserialize;
use std::collections::HashMap;

/// What a text profile's suffix makes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextType {
    /// `__name__`.
    pub metric: &'static str,
    /// The sample type and unit before any `sampleRate` scaling.
    pub sample_type: &'static str,
    pub unit: &'static str,
}

impl TextType {
    /// CPU or wall: a sampling profile whose count becomes time.
    pub fn is_sampled_time(&self) -> bool {
        self.metric == "process_cpu" || self.metric == "wall"
    }
}

const fn t(metric: &'static str, sample_type: &'static str, unit: &'static str) -> TextType {
    TextType {
        metric,
        sample_type,
        unit,
    }
}

/// The profile type of a text profile's suffix, as Pyroscope maps them.
pub fn text_type(suffix: &str) -> Option<TextType> {
    Some(match suffix {
        "cpu" | "itimer" => t("process_cpu", "samples", "count"),
        "wall" => t("wall", "samples", "count"),
        "seconds" | "nanoseconds" | "microseconds" | "milliseconds" => {
            t("wall", "samples", "count")
        }
        "inuse_objects" => t("memory", "inuse_objects", "count"),
        "inuse_space" => t("memory", "inuse_space", "bytes"),
        "alloc_objects" => t("memory", "alloc_objects", "count"),
        "alloc_space" => t("memory", "alloc_space", "bytes"),
        "alloc_in_new_tlab_objects" => t("memory", "alloc_in_new_tlab_objects", "count"),
        "alloc_in_new_tlab_bytes" => t("memory", "alloc_in_new_tlab_bytes", "bytes"),
        "alloc_outside_tlab_objects" => t("memory", "alloc_outside_tlab_objects", "count"),
        "alloc_outside_tlab_bytes" => t("memory", "alloc_outside_tlab_bytes", "bytes"),
        "live" => t("memory", "live", "count"),
        "bytes" => t("memory", "samples", "bytes"),
        "goroutines" => t("goroutine", "goroutines", "count"),
        "mutex_count" => t("mutex", "contentions", "count"),
        "mutex_duration" => t("mutex", "delay", "nanoseconds"),
        "block_count" | "lock_count" => t("block", "contentions", "count"),
        "block_duration" | "lock_duration" => t("block", "delay", "nanoseconds"),
        "exceptions" => t("exceptions", "samples", "count"),
        _ => return None,
    })
}

/// Every suffix [`text_type`] knows, for error messages.
pub const TEXT_SUFFIXES: &[&str] = &[
    "cpu",
    "itimer",
    "wall",
    "seconds",
    "nanoseconds",
    "microseconds",
    "milliseconds",
    "inuse_objects",
    "inuse_space",
    "alloc_objects",
    "alloc_space",
    "alloc_in_new_tlab_objects",
    "alloc_in_new_tlab_bytes",
    "alloc_outside_tlab_objects",
    "alloc_outside_tlab_bytes",
    "live",
    "bytes",
    "goroutines",
    "mutex_count",
    "mutex_duration",
    "block_count",
    "block_duration",
    "lock_count",
    "lock_duration",
    "exceptions",
];

/// Splits a text profile's application name at its last `.`: the service
/// name and the type suffix (`cpu` when there is no `.`).
pub fn split_suffix(app: &str) -> (&str, &str) {
    match app.rsplit_once('.') {
        Some((service, suffix)) => (service, suffix),
        None => (app, "cpu"),
    }
}

/// One entry of the `sample_type_config` part pyroscope-go sends: how the
/// server should read a pprof sample type. Only `display-name` changes
/// what profcol does (the profile's `__name__`); the rest is kept for
/// completeness and otherwise ignored, as Pyroscope ignores it today.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
pub struct SampleTypeConfig {
    #[serde(default)]
    pub units: Option<String>,
    #[serde(default)]
    pub aggregation: Option<String>,
    #[serde(default, rename = "display-name")]
    pub display_name: Option<String>,
    #[serde(default)]
    pub sampled: bool,
    #[serde(default)]
    pub cumulative: bool,
}

/// The `sample_type_config` part: sample type name → its config.
pub type SampleTypeConfigs = HashMap<String, SampleTypeConfig>;

/// Display names Pyroscope assumes for Go's sample types when no
/// `sample_type_config` came with the profile.
fn default_display_name(sample_type: &str) -> Option<&'static str> {
    match sample_type {
        "samples" => Some("cpu"),
        "goroutine" => Some("goroutines"),
        "contentions" => Some("mutex_count"),
        "delay" => Some("mutex_duration"),
        _ => None,
    }
}

/// `__name__` of a pprof profile with these sample types (in order).
pub fn pprof_metric_name(sample_types: &[&str], config: Option<&SampleTypeConfigs>) -> String {
    if sample_types.contains(&"wall") {
        return "wall".to_string();
    }
    let mut last = "";
    for &st in sample_types {
        let shown = match config {
            Some(c) => c
                .get(st)
                .and_then(|c| c.display_name.as_deref())
                .filter(|d| !d.is_empty())
                .unwrap_or(st),
            None => default_display_name(st).unwrap_or(st),
        };
        last = shown;
        if shown.contains("cpu") {
            return "process_cpu".to_string();
        }
        if shown.contains("alloc_")
            || shown.contains("inuse_")
            || shown == "space"
            || shown == "objects"
        {
            return "memory".to_string();
        }
        if shown.contains("mutex_") {
            return "mutex".to_string();
        }
        if shown.contains("block_") {
            return "block".to_string();
        }
        if shown.contains("goroutines") {
            return "goroutines".to_string();
        }
    }
    last.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffixes_map_like_pyroscope() {
        assert_eq!(split_suffix("app.cpu"), ("app", "cpu"));
        assert_eq!(
            split_suffix("my.app.alloc_space"),
            ("my.app", "alloc_space")
        );
        assert_eq!(split_suffix("app"), ("app", "cpu"));
        let cpu = text_type("cpu").unwrap();
        assert_eq!(
            (cpu.metric, cpu.sample_type, cpu.unit),
            ("process_cpu", "samples", "count")
        );
        assert!(cpu.is_sampled_time());
        let m = text_type("mutex_duration").unwrap();
        assert_eq!(
            (m.metric, m.sample_type, m.unit),
            ("mutex", "delay", "nanoseconds")
        );
        assert!(!m.is_sampled_time());
        assert_eq!(text_type("goroutines").unwrap().metric, "goroutine");
        assert_eq!(text_type("inuse_space").unwrap().unit, "bytes");
        assert!(text_type("frobs").is_none());
        for s in TEXT_SUFFIXES {
            assert!(text_type(s).is_some(), "{s}");
        }
    }

    #[test]
    fn pprof_names_follow_the_sample_types() {
        assert_eq!(pprof_metric_name(&["samples", "cpu"], None), "process_cpu");
        assert_eq!(pprof_metric_name(&["samples", "wall"], None), "wall");
        assert_eq!(
            pprof_metric_name(
                &[
                    "alloc_objects",
                    "alloc_space",
                    "inuse_objects",
                    "inuse_space"
                ],
                None
            ),
            "memory"
        );
        assert_eq!(pprof_metric_name(&["objects", "space"], None), "memory");
        assert_eq!(pprof_metric_name(&["goroutine"], None), "goroutines");
        assert_eq!(pprof_metric_name(&["contentions", "delay"], None), "mutex");
        assert_eq!(pprof_metric_name(&["exceptions"], None), "exceptions");
        // pyroscope-go's block profile names its sample types.
        let block: SampleTypeConfigs = serde_json::from_str(
            r#"{"contentions":{"display-name":"block_count","units":"lock_samples"},
                "delay":{"display-name":"block_duration","units":"lock_nanoseconds"}}"#,
        )
        .unwrap();
        assert_eq!(
            pprof_metric_name(&["contentions", "delay"], Some(&block)),
            "block"
        );
        // A config replaces the defaults: "samples" is no longer "cpu".
        let none = SampleTypeConfigs::new();
        assert_eq!(pprof_metric_name(&["samples"], Some(&none)), "samples");
    }
}
