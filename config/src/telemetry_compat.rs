//! The OpenTelemetry Collector's forms of `service.telemetry`, rewritten
//! into profcol's own keys before the block is decoded:
//!
//! - `logs.encoding` (`console` → `format: text`, `json` → `format: json`);
//!   given beside `format`, the two must agree.
//! - `metrics.readers: [{pull: {exporter: {prometheus: {host, port}}}}]` →
//!   `metrics.address: host:port` (the admin server, which serves
//!   `/metrics`); other readers (periodic push, several readers) are refused
//!   with `address` as the alternative.
//! - `metrics.level`: `basic`, `normal` and `detailed` are accepted (profcol
//!   exports the same metrics at every level); `none` is refused, since the
//!   admin server also serves health, profiles and the UI.
//!
//! Everything else is left for the typed decoding to check.

use crate::error::{join_path, Problem};
use crate::expand::key_name;
use crate::yaml::{Mapping, Value};

/// Rewrites `telemetry` (the value of `service.telemetry`, at `path`) in
/// place; problems are pushed and the offending keys removed.
pub fn normalize(telemetry: &mut Value, path: &str, problems: &mut Vec<Problem>) {
    let Value::Mapping(t) = telemetry else {
        return;
    };
    if let Some(Value::Mapping(logs)) = get_mut(t, "logs") {
        logs_encoding(logs, &join_path(path, "logs"), problems);
    }
    if let Some(Value::Mapping(metrics)) = get_mut(t, "metrics") {
        let mp = join_path(path, "metrics");
        metrics_level(metrics, &mp, problems);
        metrics_readers(metrics, &mp, problems);
    }
}

fn get_mut<'a>(m: &'a mut Mapping, key: &str) -> Option<&'a mut Value> {
    m.iter_mut()
        .find(|(k, _)| key_name(k) == key)
        .map(|(_, v)| v)
}

fn take(m: &mut Mapping, key: &str) -> Option<Value> {
    let k = m.keys().find(|k| key_name(k) == key)?.clone();
    m.remove(&k)
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn logs_encoding(logs: &mut Mapping, path: &str, problems: &mut Vec<Problem>) {
    let Some(encoding) = take(logs, "encoding") else {
        return;
    };
    let ep = join_path(path, "encoding");
    let mapped = match text(&encoding).as_deref() {
        Some("console") => "text",
        Some("json") => "json",
        _ => {
            problems.push(Problem::new(
                ep,
                format!(
                    "unknown encoding {} (use console or json, or format: logfmt)",
                    show(&encoding)
                ),
            ));
            return;
        }
    };
    match get_mut(logs, "format").map(|f| text(f)) {
        None => {
            logs.insert(Value::from("format"), Value::from(mapped));
        }
        Some(Some(format)) if format == mapped => {}
        Some(format) => problems.push(Problem::new(
            ep,
            format!(
                "encoding {} and format {} disagree (encoding {} is format {mapped}); give one of service::telemetry::logs::encoding and service::telemetry::logs::format",
                show(&encoding),
                format.as_deref().unwrap_or("?"),
                show(&encoding),
            ),
        )),
    }
}

fn metrics_level(metrics: &mut Mapping, path: &str, problems: &mut Vec<Problem>) {
    let Some(level) = take(metrics, "level") else {
        return;
    };
    let lp = join_path(path, "level");
    match text(&level).map(|l| l.to_ascii_lowercase()).as_deref() {
        Some("basic" | "normal" | "detailed") => {}
        Some("none") => problems.push(Problem::new(
            lp,
            "level none turns the Collector's own metrics off; profcol's admin server also serves health, profiles and the UI: set service::telemetry::metrics::address to \"\" to turn it off",
        )),
        _ => problems.push(Problem::new(
            lp,
            format!(
                "unknown level {} (use none, basic, normal or detailed)",
                show(&level)
            ),
        )),
    }
}

const READERS_HINT: &str = "profcol serves its metrics to be pulled, on the admin server: set service::telemetry::metrics::address (host:port) instead";

fn metrics_readers(metrics: &mut Mapping, path: &str, problems: &mut Vec<Problem>) {
    let Some(readers) = take(metrics, "readers") else {
        return;
    };
    let rp = join_path(path, "readers");
    if get_mut(metrics, "address").is_some() {
        problems.push(Problem::new(
            rp,
            "give one of service::telemetry::metrics::readers and service::telemetry::metrics::address, not both",
        ));
        return;
    }
    let list = match readers {
        Value::Sequence(list) if list.len() == 1 => list,
        Value::Sequence(list) if list.is_empty() => {
            problems.push(Problem::new(
                rp,
                "an empty list turns the metrics off; set service::telemetry::metrics::address to \"\" to turn profcol's admin server off",
            ));
            return;
        }
        Value::Sequence(_) => {
            problems.push(Problem::new(
                rp,
                format!("several readers are not supported: profcol has one metrics endpoint, the admin server; {READERS_HINT}"),
            ));
            return;
        }
        _ => {
            problems.push(Problem::new(rp, "must be a list of readers"));
            return;
        }
    };
    let reader_path = join_path(&rp, "0");
    match prometheus_pull(&list[0], &reader_path) {
        Ok(address) => {
            metrics.insert(Value::from("address"), Value::from(address));
        }
        Err(p) => problems.push(p),
    }
}

/// `host:port` of a `{pull: {exporter: {prometheus: {host, port}}}}` reader.
fn prometheus_pull(reader: &Value, path: &str) -> Result<String, Problem> {
    let only = |v: &Value, key: &str, path: &str| -> Result<Value, Problem> {
        let Value::Mapping(m) = v else {
            return Err(Problem::new(path, "must be a mapping"));
        };
        for k in m.keys().map(key_name) {
            if k != key {
                return Err(Problem::new(
                    join_path(path, &k),
                    format!("only {key} is supported here: {READERS_HINT}"),
                ));
            }
        }
        m.iter()
            .find(|(k, _)| key_name(k) == key)
            .map(|(_, v)| v.clone())
            .ok_or_else(|| {
                Problem::new(
                    join_path(path, key),
                    format!("is required ({READERS_HINT})"),
                )
            })
    };
    let pull = only(reader, "pull", path)?;
    let pp = join_path(path, "pull");
    let exporter = only(&pull, "exporter", &pp)?;
    let ep = join_path(&pp, "exporter");
    let prom = only(&exporter, "prometheus", &ep)?;
    let prom_path = join_path(&ep, "prometheus");
    let Value::Mapping(m) = &prom else {
        return Err(Problem::new(
            prom_path,
            "must be a mapping with host and port",
        ));
    };
    let mut host = "localhost".to_string();
    let mut port = None;
    for (k, v) in m {
        let key = key_name(k);
        match key.as_str() {
            "host" => match v {
                Value::String(h) => host = h.clone(),
                _ => return Err(Problem::new(join_path(&prom_path, "host"), "must be a string")),
            },
            "port" => match v.as_u64().filter(|p| *p <= u64::from(u16::MAX)) {
                Some(p) => port = Some(p),
                None => {
                    return Err(Problem::new(
                        join_path(&prom_path, "port"),
                        "must be a port number (0-65535)",
                    ))
                }
            },
            _ => {
                return Err(Problem::new(
                    join_path(&prom_path, &key),
                    "not supported: profcol's metric names and labels are fixed; only host and port are read",
                ))
            }
        }
    }
    let Some(port) = port else {
        return Err(Problem::new(join_path(&prom_path, "port"), "is required"));
    };
    Ok(if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    })
}

fn show(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        other => crate::yaml::to_string(other)
            .map(|s| s.trim().to_string())
            .unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(yaml: &str) -> (Value, Vec<String>) {
        let mut v: Value = crate::yaml::from_str(yaml).unwrap();
        let mut problems = Vec::new();
        normalize(&mut v, "service::telemetry", &mut problems);
        (v, problems.iter().map(ToString::to_string).collect())
    }

    fn yaml(text: &str) -> Value {
        crate::yaml::from_str(text).unwrap()
    }

    #[test]
    fn logs_encoding_maps_to_format() {
        assert_eq!(
            run("logs: {encoding: console, level: debug}"),
            (yaml("logs: {level: debug, format: text}"), vec![])
        );
        assert_eq!(
            run("logs: {encoding: json}"),
            (yaml("logs: {format: json}"), vec![])
        );
        assert_eq!(
            run("logs: {encoding: json, format: json}"),
            (yaml("logs: {format: json}"), vec![])
        );
        assert_eq!(
            run("logs: {encoding: console, format: logfmt}").1,
            ["service::telemetry::logs::encoding: encoding \"console\" and format logfmt disagree (encoding \"console\" is format text); give one of service::telemetry::logs::encoding and service::telemetry::logs::format"]
        );
        assert_eq!(
            run("logs: {encoding: xml}").1,
            ["service::telemetry::logs::encoding: unknown encoding \"xml\" (use console or json, or format: logfmt)"]
        );
    }

    #[test]
    fn a_prometheus_pull_reader_becomes_the_admin_address() {
        assert_eq!(
            run("metrics: {readers: [{pull: {exporter: {prometheus: {host: 0.0.0.0, port: 8889}}}}]}"),
            (yaml("metrics: {address: '0.0.0.0:8889'}"), vec![])
        );
        assert_eq!(
            run("metrics: {readers: [{pull: {exporter: {prometheus: {port: 9000}}}}]}").0,
            yaml("metrics: {address: 'localhost:9000'}")
        );
        assert_eq!(
            run(
                "metrics: {readers: [{pull: {exporter: {prometheus: {host: '::1', port: 9000}}}}]}"
            )
            .0,
            yaml("metrics: {address: '[::1]:9000'}")
        );
    }

    #[test]
    fn other_readers_are_refused_with_the_alternative() {
        let hint = "profcol serves its metrics to be pulled, on the admin server: set service::telemetry::metrics::address (host:port) instead";
        assert_eq!(
            run("metrics: {readers: [{periodic: {exporter: {otlp: {endpoint: x}}}}]}").1,
            [format!("service::telemetry::metrics::readers::0::periodic: only pull is supported here: {hint}")]
        );
        assert_eq!(
            run("metrics: {readers: [{pull: {exporter: {prometheus: {port: 1}}}}, {pull: {exporter: {prometheus: {port: 2}}}}]}").1,
            [format!("service::telemetry::metrics::readers: several readers are not supported: profcol has one metrics endpoint, the admin server; {hint}")]
        );
        assert_eq!(
            run("metrics: {readers: [{pull: {exporter: {prometheus: {port: 1, without_units: true}}}}]}").1,
            ["service::telemetry::metrics::readers::0::pull::exporter::prometheus::without_units: not supported: profcol's metric names and labels are fixed; only host and port are read"]
        );
        assert_eq!(
            run("metrics: {readers: [{pull: {exporter: {prometheus: {host: h}}}}]}").1,
            ["service::telemetry::metrics::readers::0::pull::exporter::prometheus::port: is required"]
        );
        assert_eq!(
            run("metrics: {address: 'h:1', readers: [{pull: {exporter: {prometheus: {port: 1}}}}]}").1,
            ["service::telemetry::metrics::readers: give one of service::telemetry::metrics::readers and service::telemetry::metrics::address, not both"]
        );
        assert_eq!(run("metrics: {readers: []}").1.len(), 1);
    }

    #[test]
    fn metrics_levels() {
        for level in ["basic", "normal", "detailed", "Detailed"] {
            assert_eq!(
                run(&format!("metrics: {{level: {level}}}")),
                (yaml("metrics: {}"), vec![]),
                "{level}"
            );
        }
        assert!(run("metrics: {level: none}").1[0].starts_with(
            "service::telemetry::metrics::level: level none turns the Collector's own metrics off"
        ));
        assert_eq!(
            run("metrics: {level: loud}").1,
            ["service::telemetry::metrics::level: unknown level \"loud\" (use none, basic, normal or detailed)"]
        );
    }
}
