//! `/api/v1/targets` (JSON) and the handler of `/targets` (the HTML is
//! built by `targets_page`): the status of every scrape job of every receiver. Statuses carry no secrets.
//! In a cluster the pages also show the members, the owner of each listed
//! job (this node: a node lists only what it scrapes) and, per receiver, how
//! many targets each other member owns.

use super::targets_page::{render, ReceiverTargets};
use super::AdminState;
use axum::extract::State;
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use profcol_receiver::ClusterStatus;
use profcol_runtime::ClusterView;
use serde_json::{json, Value};
use std::time::SystemTime;

/// Each scrape receiver's jobs (push receivers have no targets: the
/// components page shows them) (with `owner` when it splits targets with the
/// cluster) and its share of the cluster's targets.
fn receivers(s: &AdminState) -> Vec<(String, Vec<Value>, Option<ClusterStatus>)> {
    let receivers = s.receivers.lock();
    receivers
        .iter()
        .map(|(id, r)| (id.to_string(), &r.handle))
        .filter(|(_, h)| !h.is_push())
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
            (id, list, share)
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

/// `/targets`: see [`super::targets_page`].
pub async fn html(State(s): State<AdminState>) -> Html<String> {
    let list: Vec<ReceiverTargets> = {
        let receivers = s.receivers.lock();
        receivers
            .iter()
            .map(|(id, r)| (id, &r.handle))
            .filter(|(_, h)| !h.is_push())
            .map(|(id, h)| ReceiverTargets {
                id: id.to_string(),
                targets: h.targets(),
                share: h.cluster(),
            })
            .collect()
    };
    Html(render(&list, cluster(&s).as_ref(), SystemTime::now()))
}
