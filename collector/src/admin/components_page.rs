//! `/components` (HTML), `/api/v1/components` (JSON) and `/-/healthy`:
//! every configured receiver, processor, exporter and extension with its
//! health, its arguments (secrets redacted) and its debug information,
//! under a server-drawn diagram of the pipelines. The health rule is in
//! [`crate::component_status`]. Every piece of outside text (ids, errors,
//! arguments, discovery sources) is escaped.

use super::layout::{escape, page, Nav};
use super::{pipeline_svg, AdminState};
use crate::component_status::{ComponentStatus, Snapshot};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

fn snapshot(s: &AdminState) -> Snapshot {
    s.components.snapshot(&s.receivers, &s.exporters)
}

/// `GET /-/healthy`: `200 OK` unless a component is unhealthy, then `500`
/// with one line per unhealthy component and its reason — Alloy's
/// `/-/healthy`, with the seed's rule for a component's health: a
/// component is unhealthy only when it was given an invalid configuration
/// (here: a reload refused the configuration it names; the previous one
/// keeps running). An exporter that cannot reach its backend is *degraded*
/// and a target that is down is the receiver's debug information; neither
/// fails this check, because restarting profcol fixes neither and would
/// lose what the sending queues hold. Stopped components (used by no
/// pipeline, or during shutdown) do not fail it either.
pub async fn healthy(State(s): State<AdminState>) -> Response {
    let snap = snapshot(&s);
    let bad = snap.unhealthy();
    if bad.is_empty() {
        return (StatusCode::OK, "OK\n").into_response();
    }
    let mut body = String::from("unhealthy components:\n");
    for (kind, id, reason) in bad {
        body.push_str(&format!("{kind} {id}: {reason}\n"));
    }
    (StatusCode::INTERNAL_SERVER_ERROR, body).into_response()
}

/// `GET /api/v1/components`.
pub async fn json(State(s): State<AdminState>) -> Response {
    let data = serde_json::to_value(snapshot(&s)).unwrap_or(Value::Null);
    Json(json!({ "status": "success", "data": data })).into_response()
}

/// `GET /components`.
pub async fn html(State(s): State<AdminState>) -> Html<String> {
    Html(render(&snapshot(&s)))
}

const STYLE: &str = concat!(
    ".card{border:1px solid var(--line);border-radius:6px;padding:.5em .9em;margin:.6em 0}",
    ".card h3{font-size:15px;margin:.1em 0 .3em}.card h3 code{font-size:14px}",
    ".badge{border:1px solid currentColor;border-radius:9px;padding:0 .5em;font-size:12px;margin-left:.5em}",
    ".degraded{color:var(--warn);font-weight:600}",
    ".reason{margin:.2em 0}.kv td:first-child{width:14em;color:var(--muted)}",
    "details{margin:.3em 0}summary{cursor:pointer}",
);

/// The whole page.
pub fn render(snap: &Snapshot) -> String {
    let mut body = String::from("<h1>Components</h1>");
    body.push_str("<h2>Pipelines</h2>");
    if snap.pipelines.is_empty() && snap.components.is_empty() {
        body.push_str("<p class=muted>Nothing is running yet.</p>");
    } else {
        body.push_str(&format!(
            "<div class=diagram>{}</div>",
            pipeline_svg::render(snap)
        ));
    }
    for (kind, title) in [
        ("receiver", "Receivers"),
        ("processor", "Processors"),
        ("exporter", "Exporters"),
        ("extension", "Extensions"),
    ] {
        body.push_str(&format!("<h2 id=\"{kind}s\">{title}</h2>"));
        let list: Vec<&ComponentStatus> =
            snap.components.iter().filter(|c| c.kind == kind).collect();
        if list.is_empty() {
            body.push_str("<p class=muted>none configured</p>");
        }
        for c in list {
            body.push_str(&card(c));
        }
    }
    let head = format!("<style>{STYLE}{}</style>", pipeline_svg::STYLE);
    page("Components", Nav::Components, &head, &body)
}

fn card(c: &ComponentStatus) -> String {
    let health = c.health.name();
    let mut out = format!(
        "<section class=\"card {kind}\" data-id=\"{id}\"><h3><code>{id}</code>\
         <span class=\"badge {health}\">{health}</span></h3>\
         <div class=muted>type <code>{ty}</code></div>",
        kind = c.kind,
        id = escape(&c.id),
        ty = escape(&c.type_name),
    );
    if let Some(reason) = c.health.reason() {
        out.push_str(&format!(
            "<p class=\"reason {health}\">{}</p>",
            escape(reason)
        ));
    }
    out.push_str(&debug_html(c));
    out.push_str(&format!(
        "<details class=arguments><summary>Arguments</summary><pre>{}</pre></details></section>",
        escape(&c.arguments)
    ));
    out
}

fn debug_html(c: &ComponentStatus) -> String {
    match c.kind {
        "receiver" => receiver_html(&c.debug),
        "exporter" => exporter_html(&c.debug),
        _ => String::new(),
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::Null => "—".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn receiver_html(d: &Value) -> String {
    if d.get("running") != Some(&Value::Bool(true)) {
        return "<p class=muted>not running</p>".into();
    }
    if let Some(listening) = d["listening"].as_array() {
        return push_receiver_html(listening, d);
    }
    let mut out = format!(
        "<table class=kv><tr><td>scrape jobs</td><td>{} — <span class=up>{} up</span>, \
         <span class=down>{} down</span>, <span class=unknown>{} unknown</span> \
         (<a href=\"/targets\">targets</a>)</td></tr></table>",
        escape(&text(&d["jobs"])),
        escape(&text(&d["targets_up"])),
        escape(&text(&d["targets_down"])),
        escape(&text(&d["targets_unknown"])),
    );
    let sources = d["discovery"].as_array().cloned().unwrap_or_default();
    if sources.is_empty() {
        out.push_str("<p class=muted>discovery: static targets only, or no refresh yet</p>");
        return out;
    }
    out.push_str(
        "<table class=discovery><tr><th>discovery source</th><th>targets</th>\
         <th>last refresh</th><th>last error</th></tr>",
    );
    for s in &sources {
        let error = &s["last_error"];
        let class = if error.is_null() { "" } else { " class=down" };
        out.push_str(&format!(
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td{class}>{}</td></tr>",
            escape(&text(&s["source"])),
            escape(&text(&s["targets"])),
            escape(&text(&s["last_refresh"])),
            escape(&text(error)),
        ));
    }
    out.push_str("</table>");
    out
}

/// A push receiver: where it listens, what it took, what it refused.
fn push_receiver_html(listening: &[Value], d: &Value) -> String {
    let endpoints: Vec<String> = listening
        .iter()
        .map(|l| {
            format!(
                "{} <code>{}</code>",
                escape(&text(&l["protocol"])),
                escape(&text(&l["address"]))
            )
        })
        .collect();
    let refusal = &d["last_refusal"];
    let class = if refusal.is_null() { "" } else { " class=down" };
    format!(
        "<table class=kv><tr><td>listening</td><td>{}</td></tr>\
         <tr><td>requests accepted</td><td>{}</td></tr>\
         <tr><td>profiles accepted</td><td>{}</td></tr>\
         <tr><td>requests refused</td><td>{}</td></tr>\
         <tr><td>last refusal</td><td{class}>{}</td></tr></table>",
        endpoints.join(", "),
        escape(&text(&d["requests_accepted"])),
        escape(&text(&d["profiles_accepted"])),
        escape(&text(&d["requests_refused"])),
        escape(&text(refusal)),
    )
}

const EXPORTER_FIELDS: [(&str, &str); 11] = [
    ("queue_length", "queue length"),
    ("queue_capacity", "queue capacity"),
    ("queue_bytes", "queued bytes"),
    ("in_flight", "requests in flight"),
    ("sent_profiles", "profiles sent"),
    ("retries", "retries"),
    ("failed_profiles", "profiles given up"),
    ("dropped_profiles", "profiles dropped"),
    ("last_success_at", "last success"),
    ("last_error_at", "last error at"),
    ("last_error", "last error"),
];

fn exporter_html(d: &Value) -> String {
    let endpoints = d.as_array().cloned().unwrap_or_default();
    if endpoints.is_empty() {
        return "<p class=muted>no sending queue (nothing to report)</p>".into();
    }
    let mut out = String::new();
    for e in &endpoints {
        if endpoints.len() > 1 {
            out.push_str(&format!(
                "<div>endpoint <code>{}</code></div>",
                escape(&text(&e["endpoint"]))
            ));
        }
        out.push_str("<table class=kv>");
        for (key, label) in EXPORTER_FIELDS {
            let class = if key == "last_error" && !e[key].is_null() {
                " class=down"
            } else {
                ""
            };
            out.push_str(&format!(
                "<tr><td>{label}</td><td data-field=\"{key}\"{class}>{}</td></tr>",
                escape(&text(&e[key]))
            ));
        }
        out.push_str("</table>");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admin::pipeline_svg::tests::{check_xml, component};
    use crate::component_status::{Health, PipelineView};

    #[test]
    fn a_push_receiver_shows_where_it_listens_and_its_refusals_escaped() {
        let d = serde_json::json!({
            "running": true,
            "listening": [{"protocol": "grpc", "address": "127.0.0.1:4317"},
                          {"protocol": "http", "address": "127.0.0.1:4318"}],
            "requests_accepted": 7, "profiles_accepted": 21, "requests_refused": 1,
            "last_refusal": "unknown format \"<jfr>\"",
        });
        let html = receiver_html(&d);
        assert!(
            html.contains("grpc <code>127.0.0.1:4317</code>, http <code>127.0.0.1:4318</code>"),
            "{html}"
        );
        assert!(html.contains("<td>21</td>"), "{html}");
        assert!(
            html.contains("<td class=down>unknown format &quot;&lt;jfr&gt;&quot;</td>"),
            "{html}"
        );
        assert!(!html.contains("scrape jobs"));
    }

    #[test]
    fn empty_kinds_say_none_configured_and_text_is_escaped() {
        let mut r = component(
            "receiver",
            "pyroscope_scrape/<script>x</script>",
            Health::Healthy,
        );
        r.arguments = "targets: ['<script>y</script>']\n".into();
        r.debug = json!({"running": true, "jobs": 1, "targets_up": 1, "targets_down": 0,
            "targets_unknown": 0, "discovery": [{"source": "http_sd_configs[0]", "targets": 2,
            "last_error": "<img src=x>", "last_refresh": null}]});
        let mut e = component(
            "exporter",
            "otlp_http",
            Health::Degraded {
                reason: "<script>z</script>".into(),
            },
        );
        e.debug = json!([{"endpoint": "otlp_http", "retries": 3, "last_error": "<b>no</b>"}]);
        let snap = Snapshot {
            components: vec![r, e],
            pipelines: vec![PipelineView {
                name: "profiles".into(),
                receivers: vec!["pyroscope_scrape/<script>x</script>".into()],
                processors: vec![],
                exporters: vec!["otlp_http".into()],
            }],
        };
        let html = render(&snap);
        assert!(!html.contains("<script>"), "{html}");
        assert!(!html.contains("<img"));
        assert!(!html.contains("<b>no"));
        assert!(html.contains("&lt;script&gt;x&lt;/script&gt;"));
        assert_eq!(html.matches("none configured").count(), 2, "{html}");
        assert!(html.contains("<span class=\"badge degraded\">degraded</span>"));
        assert!(html.contains("<td data-field=\"retries\">3</td>"));
        // The diagram inside the page is well-formed on its own.
        let start = html.find("<svg").unwrap_or(0);
        let end = html.find("</svg>").map(|e| e + 6).unwrap_or(0);
        check_xml(&html[start..end]).unwrap();
    }
}
