//! `/api/v1/targets` (JSON) and `/targets` (an HTML page a person reads): the
//! status of every scrape job of every receiver. Statuses carry no secrets.

use super::AdminState;
use axum::extract::State;
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

pub async fn json(State(s): State<AdminState>) -> Response {
    let receivers: serde_json::Map<String, Value> = s
        .targets()
        .into_iter()
        .map(|(id, list)| (id, Value::Array(list)))
        .collect();
    Json(json!({ "status": "success", "data": { "receivers": receivers } })).into_response()
}

pub async fn html(State(s): State<AdminState>) -> Html<String> {
    let mut page = String::from(concat!(
        "<!doctype html><meta charset=utf-8><title>profcol targets</title>",
        "<style>body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse;margin-bottom:2em}",
        "td,th{border:1px solid #ccc;padding:4px 8px;vertical-align:top;font-size:13px;text-align:left}",
        "th{background:#f3f3f3}.up{color:#176f2c;font-weight:bold}.down{color:#b00020;font-weight:bold}",
        ".unknown{color:#777}code{font-size:12px}</style><h1>Targets</h1>"
    ));
    let all = s.targets();
    if all.is_empty() {
        page.push_str("<p>No scrape receivers are running.</p>");
    }
    for (id, list) in all {
        page.push_str(&format!(
            "<h2>{} <small>({} jobs)</small></h2>",
            escape(&id),
            list.len()
        ));
        page.push_str(&table(&list));
    }
    Html(page)
}

/// One row per status, one column per field (in first-seen order).
fn table(list: &[Value]) -> String {
    let mut columns: Vec<String> = Vec::new();
    for v in list {
        if let Value::Object(m) = v {
            for k in m.keys() {
                if !columns.contains(k) {
                    columns.push(k.clone());
                }
            }
        }
    }
    let mut out = String::from("<table><tr>");
    for c in &columns {
        out.push_str(&format!("<th>{}</th>", escape(c)));
    }
    out.push_str("</tr>");
    for v in list {
        out.push_str("<tr>");
        for c in &columns {
            let cell = v.get(c).unwrap_or(&Value::Null);
            out.push_str(&cell_html(c, cell));
        }
        out.push_str("</tr>");
    }
    out.push_str("</table>");
    out
}

fn cell_html(column: &str, v: &Value) -> String {
    match v {
        Value::Null => "<td></td>".into(),
        Value::String(s) if column == "health" => {
            format!("<td class=\"{0}\">{0}</td>", escape(s))
        }
        Value::String(s) => format!("<td>{}</td>", escape(s)),
        Value::Object(m) => {
            let pairs: Vec<String> = m
                .iter()
                .map(|(k, v)| {
                    format!(
                        "{}=\"{}\"",
                        escape(k),
                        escape(v.as_str().unwrap_or(&v.to_string()))
                    )
                })
                .collect();
            format!("<td><code>{}</code></td>", pairs.join("<br>"))
        }
        other => format!("<td>{}</td>", escape(&other.to_string())),
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_rows_and_escapes() {
        let list = vec![json!({"url": "http://a/<x>", "health": "up", "labels": {"job": "j"}})];
        let html = table(&list);
        assert!(html.contains("<td class=\"up\">up</td>"));
        assert!(html.contains("http://a/&lt;x&gt;"));
        assert!(html.contains("job=&quot;j&quot;") || html.contains("job=\"j\""));
    }
}
