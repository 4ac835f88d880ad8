//! A local server speaking the part of the Kubernetes API that discovery
//! uses: list (`GET /api/v1/pods`, `/api/v1/namespaces/{ns}/pods`, …,
//! `/apis/discovery.k8s.io/v1/endpointslices`,
//! `/apis/networking.k8s.io/v1/ingresses`) answering a `<Kind>List` with
//! its `metadata.resourceVersion`, and streaming watch (`?watch=true`)
//! answering newline-delimited `{"type": …, "object": …}` events from the
//! requested resource version on, a `BOOKMARK` when asked for, and an
//! `ERROR` event with a `Status` of code 410 when that version has expired.
//! Every request's path and query are recorded.
//!
//! Tests change objects with [`FakeKube::put`]/[`FakeKube::delete`] (live
//! watchers get the event), drop every watch connection with
//! [`FakeKube::disconnect`] (changes made inside it are only seen by a
//! watch resumed from an older version), expire old versions with
//! [`FakeKube::expire`], and take the server away with [`FakeKube::stop`].

#![allow(dead_code)]

use axum::body::{Body, Bytes};
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use futures::channel::mpsc;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio_util::sync::CancellationToken;

/// `(plural, kind, apiVersion, namespaced)` of every resource served.
const RESOURCES: [(&str, &str, &str, bool); 7] = [
    ("pods", "Pod", "v1", true),
    ("services", "Service", "v1", true),
    ("endpoints", "Endpoints", "v1", true),
    ("nodes", "Node", "v1", false),
    ("namespaces", "Namespace", "v1", false),
    (
        "endpointslices",
        "EndpointSlice",
        "discovery.k8s.io/v1",
        true,
    ),
    ("ingresses", "Ingress", "networking.k8s.io/v1", true),
];

fn resource(plural: &str) -> Option<(&'static str, &'static str, &'static str, bool)> {
    RESOURCES.iter().copied().find(|r| r.0 == plural)
}

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub path: String,
    pub query: BTreeMap<String, String>,
}

impl Seen {
    pub fn is_watch(&self) -> bool {
        matches!(
            self.query.get("watch").map(String::as_str),
            Some("true" | "1")
        )
    }
}

struct Watcher {
    plural: String,
    namespace: Option<String>,
    tx: mpsc::UnboundedSender<Result<Bytes, std::io::Error>>,
}

struct Logged {
    rv: u64,
    plural: String,
    namespace: String,
    line: String,
}

/// The objects, the event log and the open watches.
#[derive(Default)]
pub struct Cluster {
    rv: u64,
    objects: BTreeMap<(String, String, String), Value>,
    log: Vec<Logged>,
    watchers: Vec<Watcher>,
    expired_below: u64,
    requests: Vec<Seen>,
    broadcast: bool,
}

fn ns_name(obj: &Value) -> (String, String) {
    let m = &obj["metadata"];
    (
        m["namespace"].as_str().unwrap_or("").to_string(),
        m["name"].as_str().unwrap_or("").to_string(),
    )
}

impl Cluster {
    fn record(&mut self, plural: &str, namespace: &str, kind: &str, mut obj: Value) {
        self.rv += 1;
        obj["metadata"]["resourceVersion"] = json!(self.rv.to_string());
        let line = format!("{}\n", json!({"type": kind, "object": obj}));
        if self.broadcast {
            self.watchers.retain(|w| {
                if w.plural != plural || w.namespace.as_deref().is_some_and(|n| n != namespace) {
                    return true;
                }
                w.tx.unbounded_send(Ok(Bytes::from(line.clone()))).is_ok()
            });
        }
        self.log.push(Logged {
            rv: self.rv,
            plural: plural.to_string(),
            namespace: namespace.to_string(),
            line,
        });
    }

    /// Creates or replaces an object (ADDED or MODIFIED).
    pub fn put(&mut self, plural: &str, obj: Value) {
        let (ns, name) = ns_name(&obj);
        let key = (plural.to_string(), ns.clone(), name);
        let kind = if self.objects.contains_key(&key) {
            "MODIFIED"
        } else {
            "ADDED"
        };
        let mut obj = obj;
        obj["metadata"]["resourceVersion"] = json!((self.rv + 1).to_string());
        self.objects.insert(key, obj.clone());
        self.record(plural, &ns, kind, obj);
    }

    /// Deletes an object (DELETED).
    pub fn delete(&mut self, plural: &str, namespace: &str, name: &str) {
        let key = (plural.to_string(), namespace.to_string(), name.to_string());
        if let Some(obj) = self.objects.remove(&key) {
            self.record(plural, namespace, "DELETED", obj);
        }
    }
}

/// The running server.
#[derive(Clone)]
pub struct FakeKube {
    pub addr: SocketAddr,
    cluster: Arc<Mutex<Cluster>>,
    stop: CancellationToken,
}

impl FakeKube {
    pub async fn start() -> FakeKube {
        let cluster = Arc::new(Mutex::new(Cluster {
            broadcast: true,
            ..Default::default()
        }));
        let stop = CancellationToken::new();
        let state = cluster.clone();
        let app = axum::Router::new().fallback(move |uri: Uri| {
            let state = state.clone();
            async move { handle(&state, &uri) }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let token = stop.clone();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move { token.cancelled().await })
                .await;
        });
        FakeKube {
            addr,
            cluster,
            stop,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn put(&self, plural: &str, obj: Value) {
        self.cluster.lock().unwrap().put(plural, obj);
    }

    pub fn delete(&self, plural: &str, namespace: &str, name: &str) {
        self.cluster.lock().unwrap().delete(plural, namespace, name);
    }

    /// Drops every watch connection; changes made in `f` reach only a watch
    /// resumed from a version before them.
    pub fn disconnect(&self, f: impl FnOnce(&mut Cluster)) {
        let mut c = self.cluster.lock().unwrap();
        c.watchers.clear();
        c.broadcast = false;
        f(&mut c);
        c.broadcast = true;
    }

    /// Like [`disconnect`], then every version before now is expired: a
    /// watch resumed from one gets `410 Gone`.
    pub fn expire(&self, f: impl FnOnce(&mut Cluster)) {
        self.disconnect(f);
        let mut c = self.cluster.lock().unwrap();
        c.expired_below = c.rv;
    }

    /// Closes the listener and every watch: the address refuses connections.
    pub fn stop(&self) {
        self.stop.cancel();
        self.cluster.lock().unwrap().watchers.clear();
    }

    pub fn requests(&self) -> Vec<Seen> {
        self.cluster.lock().unwrap().requests.clone()
    }

    /// The list (not watch) requests made to `path`.
    pub fn lists(&self, path: &str) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.path == path && !r.is_watch())
            .count()
    }

    /// The watch requests made to `path`.
    pub fn watches(&self, path: &str) -> Vec<Seen> {
        self.requests()
            .into_iter()
            .filter(|r| r.path == path && r.is_watch())
            .collect()
    }

    pub fn resource_version(&self) -> u64 {
        self.cluster.lock().unwrap().rv
    }
}

fn json_response(status: StatusCode, body: Value) -> Response {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

fn status(code: u16, reason: &str, message: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
           "message": message, "reason": reason, "code": code})
}

/// `(plural, namespace)` of an API path.
fn parse_path(path: &str) -> Option<(String, Option<String>)> {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let rest = match parts.as_slice() {
        ["api", "v1", rest @ ..] => rest,
        ["apis", _group, _version, rest @ ..] => rest,
        _ => return None,
    };
    match rest {
        [plural] => Some((plural.to_string(), None)),
        ["namespaces", ns, plural] => Some((plural.to_string(), Some(ns.to_string()))),
        _ => None,
    }
}

fn handle(state: &Mutex<Cluster>, uri: &Uri) -> Response {
    let query: BTreeMap<String, String> =
        url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    let seen = Seen {
        path: uri.path().to_string(),
        query: query.clone(),
    };
    let mut c = state.lock().unwrap();
    c.requests.push(seen.clone());
    let Some((plural, namespace)) = parse_path(uri.path()) else {
        return json_response(
            StatusCode::NOT_FOUND,
            status(404, "NotFound", "no such path"),
        );
    };
    let Some((_, kind, api_version, _)) = resource(&plural) else {
        return json_response(
            StatusCode::NOT_FOUND,
            status(404, "NotFound", "no such resource"),
        );
    };
    if !seen.is_watch() {
        let items: Vec<Value> = c
            .objects
            .iter()
            .filter(|((p, ns, _), _)| *p == plural && namespace.as_ref().is_none_or(|n| n == ns))
            .map(|(_, v)| v.clone())
            .collect();
        return json_response(
            StatusCode::OK,
            json!({"kind": format!("{kind}List"), "apiVersion": api_version,
                   "metadata": {"resourceVersion": c.rv.to_string()}, "items": items}),
        );
    }
    let from: u64 = query
        .get("resourceVersion")
        .and_then(|v| v.parse().ok())
        .unwrap_or(c.rv);
    let (tx, rx) = mpsc::unbounded();
    if from < c.expired_below {
        let line = format!(
            "{}\n",
            json!({"type": "ERROR", "object": status(410, "Expired", &format!("too old resource version: {from} ({})", c.expired_below))})
        );
        let _ = tx.unbounded_send(Ok(Bytes::from(line)));
    } else {
        for l in &c.log {
            if l.rv > from
                && l.plural == plural
                && namespace.as_ref().is_none_or(|n| *n == l.namespace)
            {
                let _ = tx.unbounded_send(Ok(Bytes::from(l.line.clone())));
            }
        }
        if query.get("allowWatchBookmarks").map(String::as_str) == Some("true") {
            let line = format!(
                "{}\n",
                json!({"type": "BOOKMARK", "object": {"kind": kind, "apiVersion": api_version,
                        "metadata": {"resourceVersion": c.rv.to_string()}}})
            );
            let _ = tx.unbounded_send(Ok(Bytes::from(line)));
        }
        c.watchers.push(Watcher {
            plural,
            namespace,
            tx,
        });
    }
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/json")
        .body(Body::from_stream(rx))
        .unwrap()
}

// ---- fixtures shaped like the API reference's objects ----

/// A running pod with one container port, a container without ports and an
/// init container, owned by a ReplicaSet.
pub fn pod(ns: &str, name: &str, ip: &str, annotations: Value) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": name, "namespace": ns, "uid": format!("uid-{name}"),
            "labels": {"app.kubernetes.io/name": "shop", "tier": "web"},
            "annotations": annotations,
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "shop-7d9f",
                                 "uid": "rs-uid", "controller": true, "blockOwnerDeletion": true}]
        },
        "spec": {
            "nodeName": "node-1",
            "initContainers": [{"name": "init-db", "image": "busybox:1.36"}],
            "containers": [
                {"name": "app", "image": "shop:1.2",
                 "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]},
                {"name": "sidecar", "image": "proxy:3"}
            ]
        },
        "status": {
            "phase": "Running", "podIP": ip, "hostIP": "192.168.0.10",
            "conditions": [{"type": "Initialized", "status": "True"}, {"type": "Ready", "status": "True"}],
            "initContainerStatuses": [{"name": "init-db", "containerID": "containerd://init1", "image": "busybox:1.36",
                                       "imageID": "", "ready": true, "restartCount": 0}],
            "containerStatuses": [
                {"name": "app", "containerID": "containerd://abc123", "image": "shop:1.2", "imageID": "", "ready": true, "restartCount": 0},
                {"name": "sidecar", "containerID": "containerd://def456", "image": "proxy:3", "imageID": "", "ready": true, "restartCount": 0}
            ]
        }
    })
}

pub fn service(ns: &str, name: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name, "namespace": ns, "labels": {"app": name}, "annotations": {"team": "core"}},
        "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.12",
                 "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}],
                 "selector": {"app": name}}
    })
}

pub fn endpoint_slice(ns: &str, name: &str, svc: &str, ip: &str, pod: &str) -> Value {
    json!({
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": name, "namespace": ns,
                     "labels": {"kubernetes.io/service-name": svc, "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": [ip], "conditions": {"ready": true, "serving": true, "terminating": false},
                       "nodeName": "node-1", "zone": "eu-1a",
                       "targetRef": {"kind": "Pod", "namespace": ns, "name": pod, "uid": format!("uid-{pod}")}}],
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP", "appProtocol": "http"}]
    })
}

pub fn endpoints(ns: &str, name: &str, ip: &str, pod: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Endpoints",
        "metadata": {"name": name, "namespace": ns},
        "subsets": [{
            "addresses": [{"ip": ip, "nodeName": "node-1",
                           "targetRef": {"kind": "Pod", "namespace": ns, "name": pod}}],
            "notReadyAddresses": [{"ip": "10.1.9.9", "hostname": "warming"}],
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]
        }]
    })
}

pub fn node(name: &str, ip: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, "topology.kubernetes.io/zone": "eu-1a"},
                     "annotations": {"node.alpha.kubernetes.io/ttl": "0"}},
        "spec": {"providerID": format!("aws:///eu-1a/{name}")},
        "status": {
            "addresses": [{"type": "Hostname", "address": name}, {"type": "InternalIP", "address": ip}],
            "conditions": [{"type": "Ready", "status": "True"}, {"type": "MemoryPressure", "status": "False"}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}}
        }
    })
}

pub fn namespace(name: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name, "env": "prod"},
                     "annotations": {"owner": "team-a"}},
        "status": {"phase": "Active"}
    })
}

pub fn ingress(ns: &str, name: &str) -> Value {
    json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": name, "namespace": ns, "labels": {"app": "shop"}},
        "spec": {
            "ingressClassName": "nginx",
            "tls": [{"hosts": ["*.example.com"], "secretName": "tls"}],
            "rules": [
                {"host": "shop.example.com", "http": {"paths": [
                    {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "shop", "port": {"number": 80}}}},
                    {"path": "/api", "pathType": "Prefix", "backend": {"service": {"name": "api", "port": {"number": 80}}}}
                ]}},
                {"host": "plain.internal"}
            ]
        }
    })
}
