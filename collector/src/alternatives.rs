//! What profcol offers instead of OpenTelemetry Collector components it does
//! not have, for the "unknown type" message of a config written for the
//! Collector: [`instead`]`(Kind::Extension, "zpages")` names the admin
//! server's pages. Types of logs, metrics and traces get a plain "profiles
//! only". An entry that points at a profcol component type says so in
//! `needs`, and is shown only while that type is built in, so a message
//! never names something this build lacks.

use crate::components::types;
use profcol_config::Kind;

struct Alternative {
    kind: Kind,
    /// The Collector's type names this entry answers.
    names: &'static [&'static str],
    instead: &'static str,
    /// profcol component types `instead` names.
    needs: &'static [(Kind, &'static str)],
}

const SCRAPE: (Kind, &str) = (Kind::Receiver, "pyroscope_scrape");

const TABLE: &[Alternative] = &[
    Alternative {
        kind: Kind::Receiver,
        names: &["prometheus", "prometheus_simple", "pprof"],
        instead: "profcol scrapes pprof endpoints with the pyroscope_scrape receiver, which takes Prometheus' scrape keys (targets, *_sd_configs, relabel_configs)",
        needs: &[SCRAPE],
    },
    Alternative {
        kind: Kind::Receiver,
        names: &["receiver_creator"],
        instead: "pyroscope_scrape discovers its targets itself with kubernetes_sd_configs, docker_sd_configs, dockerswarm_sd_configs, http_sd_configs or file_sd_configs",
        needs: &[SCRAPE],
    },
    Alternative {
        kind: Kind::Extension,
        names: &["k8s_observer", "docker_observer", "host_observer"],
        instead: "pyroscope_scrape discovers its targets itself with kubernetes_sd_configs, docker_sd_configs, dockerswarm_sd_configs, http_sd_configs or file_sd_configs",
        needs: &[SCRAPE],
    },
    Alternative {
        kind: Kind::Processor,
        names: &["k8sattributes"],
        instead: "pyroscope_scrape's kubernetes_sd_configs gives each target its pod, namespace and node metadata as __meta_kubernetes_* labels; keep the ones you want with relabel_configs",
        needs: &[SCRAPE],
    },
    Alternative {
        kind: Kind::Processor,
        names: &["transform"],
        instead: "profcol's resource, attributes and filter processors set and delete attributes and drop profiles",
        needs: &[
            (Kind::Processor, "resource"),
            (Kind::Processor, "attributes"),
            (Kind::Processor, "filter"),
        ],
    },
    Alternative {
        kind: Kind::Exporter,
        names: &["loadbalancing"],
        instead: "profcol nodes share the scrape targets among themselves: enable service.cluster and set clustering: {enabled: true} on pyroscope_scrape",
        needs: &[SCRAPE],
    },
    Alternative {
        kind: Kind::Exporter,
        names: &["logging"],
        instead: "the Collector renamed it debug, and so does profcol: use the debug exporter",
        needs: &[(Kind::Exporter, "debug")],
    },
    Alternative {
        kind: Kind::Extension,
        names: &["zpages"],
        instead: "profcol's admin server (service.telemetry.metrics.address) shows /components, /targets and /metrics",
        needs: &[],
    },
    Alternative {
        kind: Kind::Extension,
        names: &["healthcheckv2"],
        instead: "use the health_check extension, or the admin server's /-/healthy and /-/ready (service.telemetry.metrics.address)",
        needs: &[(Kind::Extension, "health_check")],
    },
    Alternative {
        kind: Kind::Extension,
        names: &["basicauth"],
        instead: "set basic_auth on the otlp and pyroscope receivers (to check it) or on pyroscope_scrape and the pyroscope exporter's endpoint (to send it)",
        needs: &[SCRAPE, (Kind::Receiver, "otlp"), (Kind::Receiver, "pyroscope"), (Kind::Exporter, "pyroscope")],
    },
    Alternative {
        kind: Kind::Extension,
        names: &["bearertokenauth"],
        instead: "set bearer_token or bearer_token_file on the otlp and pyroscope receivers, pyroscope_scrape or the pyroscope exporter's endpoint; the OTLP exporters send one in headers (Authorization: Bearer ...)",
        needs: &[SCRAPE, (Kind::Receiver, "otlp"), (Kind::Receiver, "pyroscope"), (Kind::Exporter, "pyroscope")],
    },
    Alternative {
        kind: Kind::Extension,
        names: &["oauth2client"],
        instead: "set oauth2 on pyroscope_scrape or on the pyroscope exporter's endpoint",
        needs: &[SCRAPE, (Kind::Exporter, "pyroscope")],
    },
    Alternative {
        kind: Kind::Extension,
        names: &["headers_setter"],
        instead: "exporters send fixed headers from their headers key",
        needs: &[],
    },
];

/// Collector types for logs, metrics or traces only.
const NOT_PROFILES: &[(Kind, &[&str])] = &[
    (
        Kind::Receiver,
        &[
            "filelog",
            "hostmetrics",
            "kafka",
            "jaeger",
            "zipkin",
            "journald",
            "syslog",
            "fluentforward",
            "kubeletstats",
            "k8s_cluster",
            "k8sobjects",
            "k8s_events",
            "statsd",
            "opencensus",
            "docker_stats",
            "sqlquery",
            "carbon",
            "influxdb",
            "httpcheck",
            "windowseventlog",
        ],
    ),
    (
        Kind::Processor,
        &[
            "probabilistic_sampler",
            "tail_sampling",
            "metricstransform",
            "cumulativetodelta",
            "span",
            "spanmetrics",
            "groupbytrace",
        ],
    ),
    (
        Kind::Exporter,
        &[
            "kafka",
            "prometheus",
            "prometheusremotewrite",
            "loki",
            "zipkin",
            "jaeger",
            "elasticsearch",
            "opensearch",
            "clickhouse",
            "splunk_hec",
            "influxdb",
            "carbon",
            "awsxray",
            "awsemf",
        ],
    ),
];

/// What profcol offers instead of the Collector's `kind` type `name`, if
/// it is one profcol knows to lack.
pub fn instead(kind: Kind, name: &str) -> Option<String> {
    let built_in = |(k, t): &(Kind, &str)| types(*k).iter().any(|(n, _)| n == t);
    if let Some(alt) = TABLE
        .iter()
        .find(|a| a.kind == kind && a.names.contains(&name))
    {
        return alt
            .needs
            .iter()
            .all(built_in)
            .then(|| alt.instead.to_string());
    }
    NOT_PROFILES
        .iter()
        .any(|(k, names)| *k == kind && names.contains(&name))
        .then(|| {
            format!(
                "profcol handles profiles only and has no {name} {}; run an OpenTelemetry Collector next to it for logs, metrics and traces",
                kind.singular()
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collector_components_point_at_profcols() {
        assert_eq!(
            instead(Kind::Extension, "zpages").as_deref(),
            Some("profcol's admin server (service.telemetry.metrics.address) shows /components, /targets and /metrics")
        );
        assert!(instead(Kind::Receiver, "prometheus")
            .unwrap()
            .contains("pyroscope_scrape"));
        assert_eq!(
            instead(Kind::Exporter, "kafka").as_deref(),
            Some("profcol handles profiles only and has no kafka exporter; run an OpenTelemetry Collector next to it for logs, metrics and traces")
        );
        assert_eq!(instead(Kind::Receiver, "zpages"), None);
        assert_eq!(instead(Kind::Exporter, "otlphtp"), None);
    }

    #[test]
    fn an_entry_shows_only_while_what_it_names_is_built_in() {
        for alt in TABLE {
            let built = alt
                .needs
                .iter()
                .all(|(k, t)| types(*k).iter().any(|(n, _)| n == t));
            for name in alt.names {
                assert_eq!(instead(alt.kind, name).is_some(), built, "{name}");
                assert!(
                    !types(alt.kind).iter().any(|(n, _)| n == name),
                    "{name} is built in: its entry would never show"
                );
            }
        }
    }
}
