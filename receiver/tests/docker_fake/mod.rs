//! A fake Docker daemon on a Unix socket: it answers the Engine API calls
//! Docker discovery makes (`/_ping`, `/v*/containers/json`, `/v*/networks`,
//! `/v*/services`, `/v*/tasks`, `/v*/nodes`) with JSON fixtures shaped like
//! the Engine API reference, and records every request's path and query.

#![allow(dead_code)]

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// What the fake daemon answers; change it between refreshes.
pub struct Answers {
    pub api_version: String,
    pub containers: Value,
    pub networks: Value,
    pub services: Value,
    pub tasks: Value,
    pub nodes: Value,
    /// When set, every versioned call answers 500 with this message.
    pub fail: Option<String>,
    /// `(path, query)` of every request, in order.
    pub requests: Vec<(String, Option<String>)>,
}

impl Default for Answers {
    fn default() -> Self {
        Self {
            api_version: "1.47".into(),
            containers: containers(),
            networks: networks(),
            services: services(),
            tasks: tasks(),
            nodes: nodes(),
            fail: None,
            requests: Vec::new(),
        }
    }
}

pub type Shared = Arc<Mutex<Answers>>;

/// A running fake daemon; the socket lives in `dir`.
pub struct FakeDocker {
    pub answers: Shared,
    pub socket: PathBuf,
    _dir: tempfile::TempDir,
}

impl FakeDocker {
    pub async fn start() -> FakeDocker {
        Self::start_with(Answers::default()).await
    }

    pub async fn start_with(answers: Answers) -> FakeDocker {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("docker.sock");
        let answers = Arc::new(Mutex::new(answers));
        serve_at(&socket, answers.clone());
        FakeDocker {
            answers,
            socket,
            _dir: dir,
        }
    }

    /// `unix:///…/docker.sock`.
    pub fn host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    /// The queries of requests whose path ends with `suffix`.
    pub fn queries(&self, suffix: &str) -> Vec<Option<String>> {
        self.answers
            .lock()
            .unwrap()
            .requests
            .iter()
            .filter(|(p, _)| p.ends_with(suffix))
            .map(|(_, q)| q.clone())
            .collect()
    }

    pub fn paths(&self) -> Vec<String> {
        let a = self.answers.lock().unwrap();
        a.requests.iter().map(|(p, _)| p.clone()).collect()
    }
}

fn serve_at(socket: &Path, answers: Shared) {
    let listener = tokio::net::UnixListener::bind(socket).unwrap();
    let app = Router::new().fallback(handle).with_state(answers);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
}

fn json_response(v: &Value) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        v.to_string(),
    )
        .into_response()
}

async fn handle(State(answers): State<Shared>, uri: Uri) -> Response {
    let mut a = answers.lock().unwrap();
    let path = uri.path().to_string();
    a.requests
        .push((path.clone(), uri.query().map(str::to_string)));
    let version = HeaderValue::from_str(&a.api_version).unwrap();
    if path == "/_ping" {
        let mut r = "OK".into_response();
        r.headers_mut().insert("API-Version", version);
        return r;
    }
    // Versioned (/v1.47/containers/json) or not (/containers/json), as
    // the daemon takes both.
    let rest = match path.strip_prefix("/v").and_then(|r| r.split_once('/')) {
        Some((version, rest)) if version.chars().all(|c| c.is_ascii_digit() || c == '.') => rest,
        _ => path.trim_start_matches('/'),
    };
    if let Some(msg) = &a.fail {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            [(header::CONTENT_TYPE, "application/json")],
            json!({ "message": msg }).to_string(),
        )
            .into_response();
    }
    match rest {
        "containers/json" => json_response(&a.containers),
        "networks" => json_response(&a.networks),
        "services" => json_response(&a.services),
        "tasks" => json_response(&a.tasks),
        "nodes" => json_response(&a.nodes),
        _ => (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "application/json")],
            json!({ "message": format!("page not found: {path}") }).to_string(),
        )
            .into_response(),
    }
}

/// One container summary as `GET /containers/json` lists it.
pub fn container(
    id: &str,
    name: &str,
    mode: &str,
    labels: Value,
    ports: Value,
    networks: Value,
) -> Value {
    json!({
        "Id": id,
        "Names": [format!("/{name}")],
        "Image": "example/app:1",
        "ImageID": "sha256:0123",
        "Command": "/app",
        "Created": 1_700_000_000,
        "Ports": ports,
        "Labels": labels,
        "State": "running",
        "Status": "Up 5 minutes",
        "HostConfig": { "NetworkMode": mode },
        "NetworkSettings": { "Networks": networks },
        "Mounts": []
    })
}

/// An endpoint of a container on one network.
pub fn endpoint(network_id: &str, ip: &str) -> Value {
    json!({
        "IPAMConfig": null,
        "Links": null,
        "Aliases": null,
        "MacAddress": "02:42:ac:11:00:02",
        "NetworkID": network_id,
        "EndpointID": format!("ep-{network_id}"),
        "Gateway": "",
        "IPAddress": ip,
        "IPPrefixLen": 16,
        "IPv6Gateway": "",
        "GlobalIPv6Address": "",
        "GlobalIPv6PrefixLen": 0,
        "DriverOpts": null
    })
}

/// web (bridge, published + exposed + udp port, labels with dots and
/// dashes), host-app (host mode), multi (two networks), quiet (no port),
/// sidecar (shares web's network).
pub fn containers() -> Value {
    json!([
        container(
            "c1",
            "web",
            "bridge",
            json!({"pyroscope.io/scrape": "true", "com.example.team-name": "a"}),
            json!([
                {"IP": "0.0.0.0", "PrivatePort": 8080, "PublicPort": 18080, "Type": "tcp"},
                {"PrivatePort": 9090, "Type": "tcp"},
                {"PrivatePort": 53, "Type": "udp"}
            ]),
            json!({"bridge": endpoint("net-bridge", "172.17.0.2")}),
        ),
        container(
            "c2",
            "host-app",
            "host",
            json!({}),
            json!([]),
            json!({"host": endpoint("net-host", "")})
        ),
        container(
            "c3",
            "multi",
            "backend",
            json!({}),
            json!([{"PrivatePort": 4040, "Type": "tcp"}]),
            json!({
                "frontend": endpoint("net-front", "10.1.0.3"),
                "backend": endpoint("net-back", "10.2.0.3")
            })
        ),
        container(
            "c4",
            "quiet",
            "bridge",
            json!({}),
            json!([]),
            json!({"bridge": endpoint("net-bridge", "172.17.0.5")})
        ),
        container(
            "c5",
            "sidecar",
            "container:c1",
            json!({}),
            json!([]),
            json!({})
        ),
    ])
}

fn network(
    id: &str,
    name: &str,
    scope: &str,
    internal: bool,
    ingress: bool,
    labels: Value,
) -> Value {
    json!({
        "Name": name,
        "Id": id,
        "Created": "2024-01-01T00:00:00.000000000Z",
        "Scope": scope,
        "Driver": if scope == "swarm" { "overlay" } else { "bridge" },
        "EnableIPv6": false,
        "Internal": internal,
        "Attachable": false,
        "Ingress": ingress,
        "IPAM": {"Driver": "default", "Config": []},
        "Options": {},
        "Labels": labels
    })
}

pub fn networks() -> Value {
    json!([
        network("net-bridge", "bridge", "local", false, false, json!({})),
        network("net-host", "host", "local", false, false, json!({})),
        network(
            "net-front",
            "frontend",
            "local",
            false,
            false,
            json!({"com.example.tier": "front"})
        ),
        network("net-back", "backend", "local", true, false, json!({})),
        network("ingress-id", "ingress", "swarm", false, true, json!({})),
        network(
            "ov-id",
            "shop_net",
            "swarm",
            false,
            false,
            json!({"com.docker.stack.namespace": "shop"})
        ),
    ])
}

/// api (replicated, one published TCP port, VIPs on ingress and shop_net)
/// and worker (global, no port, one VIP).
pub fn services() -> Value {
    json!([
        {
            "ID": "s1",
            "Version": {"Index": 10},
            "CreatedAt": "2024-01-01T00:00:00Z",
            "UpdatedAt": "2024-01-01T00:00:00Z",
            "Spec": {
                "Name": "api",
                "Labels": {"com.docker.stack.namespace": "shop"},
                "TaskTemplate": {"ContainerSpec": {"Image": "api:1.2", "Hostname": "api-host"}},
                "Mode": {"Replicated": {"Replicas": 2}}
            },
            "Endpoint": {
                "Spec": {"Mode": "vip"},
                "Ports": [
                    {"Name": "http", "Protocol": "tcp", "TargetPort": 8080, "PublishedPort": 30080, "PublishMode": "ingress"},
                    {"Name": "dns", "Protocol": "udp", "TargetPort": 53, "PublishedPort": 30053, "PublishMode": "ingress"}
                ],
                "VirtualIPs": [
                    {"NetworkID": "ingress-id", "Addr": "10.0.0.5/24"},
                    {"NetworkID": "ov-id", "Addr": "10.0.1.5/24"}
                ]
            },
            "UpdateStatus": {"State": "completed", "Message": "update completed"}
        },
        {
            "ID": "s2",
            "Version": {"Index": 11},
            "Spec": {
                "Name": "worker",
                "TaskTemplate": {"ContainerSpec": {"Image": "worker:3"}},
                "Mode": {"Global": {}}
            },
            "Endpoint": {
                "Spec": {"Mode": "vip"},
                "VirtualIPs": [{"NetworkID": "ov-id", "Addr": "10.0.1.9/24"}]
            }
        }
    ])
}

/// t1 (api's, on shop_net) and t2 (worker's, publishes a host-mode port).
pub fn tasks() -> Value {
    json!([
        {
            "ID": "t1",
            "Version": {"Index": 20},
            "Spec": {"ContainerSpec": {"Image": "api:1.2", "Labels": {"service_name": "api-svc", "pyroscope.io/scrape": "true"}}},
            "ServiceID": "s1",
            "Slot": 1,
            "NodeID": "n1",
            "Status": {
                "Timestamp": "2024-01-01T00:00:00Z",
                "State": "running",
                "Message": "started",
                "ContainerStatus": {"ContainerID": "cid1", "PID": 100, "ExitCode": 0},
                "PortStatus": {}
            },
            "DesiredState": "running",
            "NetworksAttachments": [
                {"Network": {"ID": "ov-id", "Spec": {"Name": "shop_net"}}, "Addresses": ["10.0.1.7/24"]}
            ]
        },
        {
            "ID": "t2",
            "Version": {"Index": 21},
            "Spec": {"ContainerSpec": {"Image": "worker:3"}},
            "ServiceID": "s2",
            "NodeID": "n2",
            "Status": {
                "State": "running",
                "ContainerStatus": {"ContainerID": "cid2"},
                "PortStatus": {"Ports": [
                    {"Protocol": "tcp", "TargetPort": 6060, "PublishedPort": 16060, "PublishMode": "host"}
                ]}
            },
            "DesiredState": "running",
            "NetworksAttachments": [
                {"Network": {"ID": "ov-id"}, "Addresses": ["10.0.1.8/24"]}
            ]
        }
    ])
}

/// n1 (manager, leader) and n2 (worker).
pub fn nodes() -> Value {
    json!([
        {
            "ID": "n1",
            "Version": {"Index": 5},
            "Spec": {"Role": "manager", "Availability": "active", "Labels": {"zone": "eu-1a"}},
            "Description": {
                "Hostname": "node-1",
                "Platform": {"Architecture": "x86_64", "OS": "linux"},
                "Engine": {"EngineVersion": "27.3.1"}
            },
            "Status": {"State": "ready", "Addr": "192.168.1.11"},
            "ManagerStatus": {"Leader": true, "Reachability": "reachable", "Addr": "192.168.1.11:2377"}
        },
        {
            "ID": "n2",
            "Spec": {"Role": "worker", "Availability": "active"},
            "Description": {
                "Hostname": "node-2",
                "Platform": {"Architecture": "aarch64", "OS": "linux"},
                "Engine": {"EngineVersion": "27.3.1"}
            },
            "Status": {"State": "ready", "Addr": "192.168.1.12"}
        }
    ])
}
