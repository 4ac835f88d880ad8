//! `/api/v1/targets` (JSON) and `/targets` (an HTML page a person reads): the
//! status of every scrape job of every receiver. Statuses carry no secrets.
//! In a cluster the pages also show the members, the owner of each listed
//! job (this node: a node lists only what it scrapes) and, per receiver, how
//! many targets each other member owns.

use super::layout::escape;
use super::AdminState;
use axum::extract::State;
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use profcol_receiver::ClusterStatus;
use profcol_runtime::ClusterView;
use serde_json::{json, Value};
use std::sync::PoisonError;

/// Each receiver's jobs (with `owner` when it splits targets with the
/// cluster) and its share of the cluster's targets.
fn receivers(s: &AdminState) -> Vec<(String, Vec<Value>, Option<ClusterStatus>)> {
    let receivers = s.receivers.lock().unwrap_or_else(PoisonError::into_inner);
    receivers
        .iter()
        .map(|(id, h)| {
            let share = h.cluster();
            let list = h
                .targets()
                .iter()
                .filter_map(|t| serde_json::to_value(t).ok())
                .map(|mut v| {
                    if let (Some(c), Value::Object(m)) = (&share, &mut v) {
                        m.insert("owner".into(), Value::String(c.local.clone()));
                    }
                    v
                })
                .collect();
            (id.clone(), list, share)
        })
        .collect()
}

fn cluster(s: &AdminState) -> Option<ClusterView> {
    s.cluster.as_ref().map(|w| w.borrow().clone())
}

pub async fn json(State(s): State<AdminState>) -> Response {
    let mut lists = serde_json::Map::new();
    let mut ownership = serde_json::Map::new();
    for (id, list, share) in receivers(&s) {
        if let Some(c) = share {
            ownership.insert(
                id.clone(),
                json!({ "owned_targets": c.owned_targets, "targets_elsewhere": c.targets_elsewhere }),
            );
        }
        lists.insert(id, Value::Array(list));
    }
    let mut data = json!({ "receivers": lists });
    if let Some(view) = cluster(&s) {
        data["cluster"] = json!({ "local": view.local, "members": view.members });
        data["ownership"] = Value::Object(ownership);
    }
    Json(json!({ "status": "success", "data": data })).into_response()
}

pub async fn html(State(s): State<AdminState>) -> Html<String> {
    let mut page = String::from(concat!(
        "<!doctype html><meta charset=utf-8><title>profcol targets</title>",
        "<style>body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse;margin-bottom:2em}",
        "td,th{border:1px solid #ccc;padding:4px 8px;vertical-align:top;font-size:13px;text-align:left}",
        "th{background:#f3f3f3}.up{color:#176f2c;font-weight:bold}.down{color:#b00020;font-weight:bold}",
        ".unknown{color:#777}code{font-size:12px}</style><h1>Targets</h1>"
    ));
    if let Some(view) = cluster(&s) {
        page.push_str(&format!(
            "<p>Cluster: this node is <b>{}</b>; {} live members: {}.</p>",
            escape(&view.local),
            view.members.len(),
            escape(&view.members.join(", "))
        ));
    }
    let all = receivers(&s);
    if all.is_empty() {
        page.push_str("<p>No scrape receivers are running.</p>");
    }
    for (id, list, share) in all {
        page.push_str(&format!(
            "<h2>{} <small>({} jobs)</small></h2>",
            escape(&id),
            list.len()
        ));
        if let Some(c) = share {
            page.push_str(&share_html(&c));
        }
        page.push_str(&table(&list));
    }
    Html(page)
}

/// `owns 97 of 300 targets; the others: n1 101, n2 102`.
fn share_html(c: &ClusterStatus) -> String {
    let elsewhere: usize = c.targets_elsewhere.values().sum();
    let others: Vec<String> = c
        .targets_elsewhere
        .iter()
        .map(|(node, n)| format!("{} {n}", escape(node)))
        .collect();
    format!(
        "<p>This node owns {} of {} targets; owned elsewhere: {}.</p>",
        c.owned_targets,
        c.owned_targets + elsewhere,
        if others.is_empty() {
            "none".to_string()
        } else {
            others.join(", ")
        }
    )
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

    #[test]
    fn a_share_names_the_other_owners() {
        let c = ClusterStatus {
            local: "a".into(),
            members: vec!["a".into(), "b<".into(), "c".into()],
            owned_targets: 3,
            targets_elsewhere: [("b<".to_string(), 4), ("c".to_string(), 5)].into(),
        };
        assert_eq!(
            share_html(&c),
            "<p>This node owns 3 of 12 targets; owned elsewhere: b&lt; 4, c 5.</p>"
        );
    }
}
