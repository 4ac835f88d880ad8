//! docker_sd_configs and dockerswarm_sd_configs against a fake Docker
//! daemon on a Unix socket (no Docker engine runs here): the exact labels
//! and addresses of each kind of target, the filters sent, targets coming
//! and going, failures keeping the last good targets, config errors, and a
//! discovered container scraped end to end.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod docker_fake;

use axum::routing::get;
use axum::Router;
use common::*;
use docker_fake::FakeDocker;
use profcol_receiver::discovery::docker::client::DockerClient;
use profcol_receiver::discovery::docker::run::{run_docker, run_swarm};
use profcol_receiver::discovery::docker::{DockerSdConfig, DockerSwarmSdConfig};
use profcol_receiver::discovery::{DiscoveryContext, DiscoveryRegistry, Update};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

type Target = BTreeMap<String, String>;

/// One discovery task fed straight into a channel.
struct Disc {
    rx: mpsc::Receiver<Update>,
    registry: Arc<DiscoveryRegistry>,
    shutdown: CancellationToken,
}

impl Drop for Disc {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl Disc {
    fn new() -> (Self, DiscoveryContext) {
        let (tx, rx) = mpsc::channel(16);
        let registry = Arc::new(DiscoveryRegistry::default());
        let ctx = DiscoveryContext {
            component: "pyroscope_scrape/test".into(),
            registry: registry.clone(),
            metrics: Arc::default(),
            updates: tx,
        };
        (
            Disc {
                rx,
                registry,
                shutdown: CancellationToken::new(),
            },
            ctx,
        )
    }

    fn docker(yaml: &str) -> Self {
        let cfg: DockerSdConfig = profcol_config::yaml::from_str(yaml).unwrap();
        let client = client_for(
            cfg.host.as_deref().unwrap(),
            &cfg.http,
            &cfg.refresh_interval,
        );
        let (d, ctx) = Self::new();
        tokio::spawn(run_docker(
            cfg,
            client,
            "docker_sd_configs/0".into(),
            ctx,
            d.shutdown.clone(),
        ));
        d
    }

    fn swarm(yaml: &str) -> Self {
        let cfg: DockerSwarmSdConfig = profcol_config::yaml::from_str(yaml).unwrap();
        let client = client_for(
            cfg.host.as_deref().unwrap(),
            &cfg.http,
            &cfg.refresh_interval,
        );
        let (d, ctx) = Self::new();
        tokio::spawn(run_swarm(
            cfg,
            client,
            "dockerswarm_sd_configs/0".into(),
            ctx,
            d.shutdown.clone(),
        ));
        d
    }

    /// The targets of the next update, sorted by address.
    async fn next(&mut self) -> Vec<Target> {
        let (_, groups) = tokio::time::timeout(Duration::from_secs(10), self.rx.recv())
            .await
            .expect("no update within 10s")
            .expect("discovery stopped");
        let mut out: Vec<Target> = groups
            .iter()
            .flat_map(|g| g.label_sets())
            .map(|l| {
                l.iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect()
            })
            .collect();
        out.sort_by(|a: &Target, b: &Target| {
            (a.get("__address__"), a.get("__meta_docker_container_id"))
                .cmp(&(b.get("__address__"), b.get("__meta_docker_container_id")))
        });
        out
    }
}

fn client_for(
    host: &str,
    http: &profcol_config::HttpClientConfig,
    refresh: &profcol_config::Duration,
) -> DockerClient {
    DockerClient::new(host, http, 1 << 20, refresh.get(), "profcol-test", "sd").unwrap()
}

/// Whether a query string carries a `filters` parameter.
fn has_filters(q: &Option<String>) -> bool {
    q.as_deref()
        .is_some_and(|q| url::form_urlencoded::parse(q.as_bytes()).any(|(k, _)| k == "filters"))
}

fn addresses(ts: &[Target]) -> Vec<&str> {
    ts.iter().map(|t| t["__address__"].as_str()).collect()
}

fn labels(pairs: &[(&str, &str)]) -> Target {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn find<'a>(ts: &'a [Target], address: &str) -> &'a Target {
    ts.iter()
        .find(|t| t["__address__"] == address)
        .unwrap_or_else(|| panic!("no target {address} in {ts:#?}"))
}

const BRIDGE: [(&str, &str); 5] = [
    ("__meta_docker_network_id", "net-bridge"),
    ("__meta_docker_network_name", "bridge"),
    ("__meta_docker_network_scope", "local"),
    ("__meta_docker_network_internal", "false"),
    ("__meta_docker_network_ingress", "false"),
];

fn web(extra: &[(&str, &str)]) -> Target {
    let mut l = labels(&[
        ("__meta_docker_container_id", "c1"),
        ("__meta_docker_container_name", "/web"),
        ("__meta_docker_container_network_mode", "bridge"),
        ("__meta_docker_container_label_pyroscope_io_scrape", "true"),
        ("__meta_docker_container_label_com_example_team_name", "a"),
        ("__meta_docker_network_ip", "172.17.0.2"),
    ]);
    l.extend(labels(&BRIDGE));
    l.extend(labels(extra));
    l
}

#[tokio::test]
async fn containers_give_prometheus_labels_and_addresses() {
    let fake = FakeDocker::start().await;
    let mut d = Disc::docker(&format!(
        "host: {}\nport: 9999\nhost_networking_host: dockerhost\nrefresh_interval: 1h",
        fake.host()
    ));
    let ts = d.next().await;
    assert_eq!(
        addresses(&ts),
        [
            "10.2.0.3:4040",   // multi: only "backend", the first network by name
            "172.17.0.2:8080", // web: published port
            "172.17.0.2:9090", // web: exposed, unpublished port (udp 53 gives none)
            "172.17.0.2:9999", // sidecar: web's network, no port of its own
            "172.17.0.5:9999", // quiet: no port → `port`
            "dockerhost",      // host-app: host network mode
        ]
    );
    assert_eq!(
        find(&ts, "172.17.0.2:8080"),
        &web(&[
            ("__address__", "172.17.0.2:8080"),
            ("__meta_docker_port_private", "8080"),
            ("__meta_docker_port_public", "18080"),
            ("__meta_docker_port_public_ip", "0.0.0.0"),
        ])
    );
    assert_eq!(
        find(&ts, "172.17.0.2:9090"),
        &web(&[
            ("__address__", "172.17.0.2:9090"),
            ("__meta_docker_port_private", "9090"),
        ])
    );
    assert_eq!(
        find(&ts, "dockerhost"),
        &labels(&[
            ("__address__", "dockerhost"),
            ("__meta_docker_container_id", "c2"),
            ("__meta_docker_container_name", "/host-app"),
            ("__meta_docker_container_network_mode", "host"),
            ("__meta_docker_network_id", "net-host"),
            ("__meta_docker_network_name", "host"),
            ("__meta_docker_network_scope", "local"),
            ("__meta_docker_network_internal", "false"),
            ("__meta_docker_network_ingress", "false"),
            ("__meta_docker_network_ip", ""),
        ])
    );
    let mut quiet = labels(&[
        ("__address__", "172.17.0.5:9999"),
        ("__meta_docker_container_id", "c4"),
        ("__meta_docker_container_name", "/quiet"),
        ("__meta_docker_container_network_mode", "bridge"),
        ("__meta_docker_network_ip", "172.17.0.5"),
    ]);
    quiet.extend(labels(&BRIDGE));
    assert_eq!(find(&ts, "172.17.0.5:9999"), &quiet);
    let sidecar = find(&ts, "172.17.0.2:9999");
    assert_eq!(
        sidecar["__meta_docker_container_network_mode"],
        "container:c1"
    );
    assert_eq!(sidecar["__meta_docker_network_name"], "bridge");
    let multi = find(&ts, "10.2.0.3:4040");
    assert_eq!(multi["__meta_docker_network_name"], "backend");
    assert_eq!(multi["__meta_docker_network_internal"], "true");

    // The API version is the daemon's (1.47), lower than bollard's own.
    let paths = fake.paths();
    assert_eq!(paths[0], "/_ping");
    assert!(
        paths.contains(&"/v1.47/containers/json".to_string()),
        "{paths:?}"
    );
    assert!(paths.contains(&"/v1.47/networks".to_string()), "{paths:?}");
}

#[tokio::test]
async fn match_first_network_false_gives_a_target_per_network() {
    let fake = FakeDocker::start().await;
    let mut d = Disc::docker(&format!(
        "host: {}\nmatch_first_network: false\nrefresh_interval: 1h",
        fake.host()
    ));
    let ts = d.next().await;
    let multi: Vec<&Target> = ts
        .iter()
        .filter(|t| t["__meta_docker_container_id"] == "c3")
        .collect();
    assert_eq!(multi.len(), 2);
    assert_eq!(multi[0]["__address__"], "10.1.0.3:4040");
    assert_eq!(multi[0]["__meta_docker_network_name"], "frontend");
    assert_eq!(
        multi[0]["__meta_docker_network_label_com_example_tier"],
        "front"
    );
    assert_eq!(multi[1]["__address__"], "10.2.0.3:4040");
    // Defaults: port 80, host_networking_host localhost.
    assert!(ts.iter().any(|t| t["__address__"] == "172.17.0.5:80"));
    assert!(ts.iter().any(|t| t["__address__"] == "localhost"));
}

#[tokio::test]
async fn filters_are_sent_as_the_engine_api_expects() {
    let fake = FakeDocker::start().await;
    let mut d = Disc::docker(&format!(
        "host: {}\nrefresh_interval: 1h\nfilters:\n  - {{name: label, values: ['pyroscope.io/scrape=true']}}\n  - {{name: status, values: [running, paused]}}",
        fake.host()
    ));
    d.next().await;
    let q = fake.queries("/containers/json");
    let query = q[0].clone().expect("a query string");
    let pairs: BTreeMap<String, String> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let filters: serde_json::Value = serde_json::from_str(&pairs["filters"]).unwrap();
    assert_eq!(
        filters,
        json!({"label": ["pyroscope.io/scrape=true"], "status": ["running", "paused"]})
    );
    // Only running containers are listed (no all=true).
    assert_eq!(pairs.get("all").map(String::as_str), Some("false"));

    // Swarm tasks: filters on the task list only; services and nodes are
    // listed whole for the labels.
    let fake = FakeDocker::start().await;
    let mut d = Disc::swarm(&format!(
        "host: {}\nrole: tasks\nrefresh_interval: 1h\nfilters: [{{name: desired-state, values: [running]}}]",
        fake.host()
    ));
    d.next().await;
    let q = fake.queries("/tasks")[0].clone().unwrap();
    let pairs: BTreeMap<String, String> = url::form_urlencoded::parse(q.as_bytes())
        .into_owned()
        .collect();
    assert_eq!(pairs["filters"], r#"{"desired-state":["running"]}"#);
    let services = fake.queries("/v1.47/services");
    assert_eq!(services.len(), 1);
    assert!(!has_filters(&services[0]), "{services:?}");
    // No filters: no filters parameter.
    let fake = FakeDocker::start().await;
    let mut d = Disc::swarm(&format!(
        "host: {}\nrole: nodes\nrefresh_interval: 1h",
        fake.host()
    ));
    d.next().await;
    let nodes = fake.queries("/v1.47/nodes");
    assert_eq!(nodes.len(), 1);
    assert!(!has_filters(&nodes[0]), "{nodes:?}");
}

#[tokio::test]
async fn swarm_services_labels() {
    let fake = FakeDocker::start().await;
    let mut d = Disc::swarm(&format!(
        "host: {}\nrole: services\nport: 7070\nrefresh_interval: 1h",
        fake.host()
    ));
    let ts = d.next().await;
    assert_eq!(
        addresses(&ts),
        ["10.0.0.5:30080", "10.0.1.5:30080", "10.0.1.9:7070"]
    );
    assert_eq!(
        ts[0],
        labels(&[
            ("__address__", "10.0.0.5:30080"),
            ("__meta_dockerswarm_service_id", "s1"),
            ("__meta_dockerswarm_service_name", "api"),
            ("__meta_dockerswarm_service_mode", "replicated"),
            ("__meta_dockerswarm_service_updating_status", "completed"),
            (
                "__meta_dockerswarm_service_label_com_docker_stack_namespace",
                "shop"
            ),
            (
                "__meta_dockerswarm_service_task_container_hostname",
                "api-host"
            ),
            ("__meta_dockerswarm_service_task_container_image", "api:1.2"),
            ("__meta_dockerswarm_service_endpoint_port_name", "http"),
            (
                "__meta_dockerswarm_service_endpoint_port_publish_mode",
                "ingress"
            ),
            ("__meta_dockerswarm_network_id", "ingress-id"),
            ("__meta_dockerswarm_network_name", "ingress"),
            ("__meta_dockerswarm_network_scope", "swarm"),
            ("__meta_dockerswarm_network_internal", "false"),
            ("__meta_dockerswarm_network_ingress", "true"),
        ])
    );
    assert_eq!(ts[1]["__meta_dockerswarm_network_name"], "shop_net");
    assert_eq!(
        ts[1]["__meta_dockerswarm_network_label_com_docker_stack_namespace"],
        "shop"
    );
    assert_eq!(
        ts[2],
        labels(&[
            ("__address__", "10.0.1.9:7070"),
            ("__meta_dockerswarm_service_id", "s2"),
            ("__meta_dockerswarm_service_name", "worker"),
            ("__meta_dockerswarm_service_mode", "global"),
            ("__meta_dockerswarm_service_task_container_hostname", ""),
            (
                "__meta_dockerswarm_service_task_container_image",
                "worker:3"
            ),
            ("__meta_dockerswarm_network_id", "ov-id"),
            ("__meta_dockerswarm_network_name", "shop_net"),
            ("__meta_dockerswarm_network_scope", "swarm"),
            ("__meta_dockerswarm_network_internal", "false"),
            ("__meta_dockerswarm_network_ingress", "false"),
            (
                "__meta_dockerswarm_network_label_com_docker_stack_namespace",
                "shop"
            ),
        ])
    );
}

#[tokio::test]
async fn swarm_tasks_labels() {
    let fake = FakeDocker::start().await;
    let mut d = Disc::swarm(&format!(
        "host: {}\nrole: tasks\nport: 7070\nrefresh_interval: 1h",
        fake.host()
    ));
    let ts = d.next().await;
    assert_eq!(
        addresses(&ts),
        ["10.0.1.7:30080", "10.0.1.8:7070", "192.168.1.12:16060"]
    );
    let node1 = [
        ("__meta_dockerswarm_node_id", "n1"),
        ("__meta_dockerswarm_node_role", "manager"),
        ("__meta_dockerswarm_node_address", "192.168.1.11"),
        ("__meta_dockerswarm_node_availability", "active"),
        ("__meta_dockerswarm_node_hostname", "node-1"),
        ("__meta_dockerswarm_node_platform_architecture", "x86_64"),
        ("__meta_dockerswarm_node_platform_os", "linux"),
        ("__meta_dockerswarm_node_status", "ready"),
        ("__meta_dockerswarm_node_label_zone", "eu-1a"),
    ];
    let mut t1 = labels(&[
        ("__address__", "10.0.1.7:30080"),
        ("__meta_dockerswarm_task_id", "t1"),
        ("__meta_dockerswarm_task_container_id", "cid1"),
        ("__meta_dockerswarm_task_desired_state", "running"),
        ("__meta_dockerswarm_task_state", "running"),
        ("__meta_dockerswarm_task_slot", "1"),
        ("__meta_dockerswarm_task_port_publish_mode", "ingress"),
        ("__meta_dockerswarm_container_label_service_name", "api-svc"),
        (
            "__meta_dockerswarm_container_label_pyroscope_io_scrape",
            "true",
        ),
        ("__meta_dockerswarm_service_id", "s1"),
        ("__meta_dockerswarm_service_name", "api"),
        ("__meta_dockerswarm_service_mode", "replicated"),
        (
            "__meta_dockerswarm_service_label_com_docker_stack_namespace",
            "shop",
        ),
        ("__meta_dockerswarm_network_id", "ov-id"),
        ("__meta_dockerswarm_network_name", "shop_net"),
        ("__meta_dockerswarm_network_scope", "swarm"),
        ("__meta_dockerswarm_network_internal", "false"),
        ("__meta_dockerswarm_network_ingress", "false"),
        (
            "__meta_dockerswarm_network_label_com_docker_stack_namespace",
            "shop",
        ),
    ]);
    t1.extend(labels(&node1));
    assert_eq!(ts[0], t1);
    // t2's own host-mode port: at its node's address, without network labels.
    let own = &ts[2];
    assert_eq!(own["__meta_dockerswarm_task_id"], "t2");
    assert_eq!(own["__meta_dockerswarm_task_port_publish_mode"], "host");
    assert_eq!(own["__meta_dockerswarm_node_address"], "192.168.1.12");
    assert_eq!(own["__meta_dockerswarm_task_slot"], "0");
    assert!(!own.contains_key("__meta_dockerswarm_network_id"));
    // t2 on shop_net: its service has no port → `port`.
    assert_eq!(ts[1]["__meta_dockerswarm_service_mode"], "global");
    assert_eq!(ts[1]["__meta_dockerswarm_network_name"], "shop_net");
    assert!(!ts[1].contains_key("__meta_dockerswarm_task_port_publish_mode"));
}

#[tokio::test]
async fn swarm_nodes_labels() {
    let fake = FakeDocker::start().await;
    let mut d = Disc::swarm(&format!(
        "host: {}\nrole: nodes\nport: 9100\nrefresh_interval: 1h",
        fake.host()
    ));
    let ts = d.next().await;
    assert_eq!(
        ts[0],
        labels(&[
            ("__address__", "192.168.1.11:9100"),
            ("__meta_dockerswarm_node_id", "n1"),
            ("__meta_dockerswarm_node_role", "manager"),
            ("__meta_dockerswarm_node_address", "192.168.1.11"),
            ("__meta_dockerswarm_node_availability", "active"),
            ("__meta_dockerswarm_node_hostname", "node-1"),
            ("__meta_dockerswarm_node_platform_architecture", "x86_64"),
            ("__meta_dockerswarm_node_platform_os", "linux"),
            ("__meta_dockerswarm_node_engine_version", "27.3.1"),
            ("__meta_dockerswarm_node_status", "ready"),
            ("__meta_dockerswarm_node_label_zone", "eu-1a"),
            ("__meta_dockerswarm_node_manager_leader", "true"),
            ("__meta_dockerswarm_node_manager_reachability", "reachable"),
            (
                "__meta_dockerswarm_node_manager_address",
                "192.168.1.11:2377"
            ),
        ])
    );
    assert_eq!(ts[1]["__address__"], "192.168.1.12:9100");
    assert_eq!(ts[1]["__meta_dockerswarm_node_role"], "worker");
    assert!(!ts[1].contains_key("__meta_dockerswarm_node_manager_leader"));
}

#[tokio::test]
async fn containers_come_and_go_between_refreshes() {
    let fake = FakeDocker::start().await;
    fake.answers.lock().unwrap().containers = json!([docker_fake::container(
        "a1",
        "one",
        "bridge",
        json!({}),
        json!([]),
        json!({"bridge": docker_fake::endpoint("net-bridge", "172.17.0.10")})
    )]);
    let mut d = Disc::docker(&format!("host: {}\nrefresh_interval: 200ms", fake.host()));
    assert_eq!(addresses(&d.next().await), ["172.17.0.10:80"]);
    fake.answers.lock().unwrap().containers = json!([
        docker_fake::container(
            "a1",
            "one",
            "bridge",
            json!({}),
            json!([]),
            json!({"bridge": docker_fake::endpoint("net-bridge", "172.17.0.10")})
        ),
        docker_fake::container(
            "a2",
            "two",
            "bridge",
            json!({}),
            json!([]),
            json!({"bridge": docker_fake::endpoint("net-bridge", "172.17.0.11")})
        ),
    ]);
    assert_eq!(
        addresses(&d.next().await),
        ["172.17.0.10:80", "172.17.0.11:80"]
    );
    fake.answers.lock().unwrap().containers = json!([]);
    assert!(d.next().await.is_empty());
}

#[tokio::test]
async fn an_unreachable_daemon_is_reported_and_the_last_targets_stay() {
    // No socket at all.
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nothing.sock");
    let mut d = Disc::docker(&format!(
        "host: unix://{}\nrefresh_interval: 200ms",
        missing.display()
    ));
    let st = eventually(5, || {
        d.registry
            .snapshot()
            .into_iter()
            .find(|s| s.last_error.is_some())
    })
    .await;
    let err = st.last_error.unwrap();
    assert!(
        err.starts_with("docker_sd_configs/0: cannot reach the Docker daemon"),
        "{err}"
    );
    assert!(err.contains("nothing.sock"), "{err}");
    assert!(
        d.rx.try_recv().is_err(),
        "a failed refresh published targets"
    );

    // A daemon that answers, then fails: the error is recorded, nothing is
    // published (the manager keeps the last good targets).
    let fake = FakeDocker::start().await;
    let mut d = Disc::docker(&format!("host: {}\nrefresh_interval: 200ms", fake.host()));
    assert_eq!(d.next().await.len(), 6);
    fake.answers.lock().unwrap().fail = Some("daemon is restarting".into());
    let st = eventually(5, || {
        d.registry
            .snapshot()
            .into_iter()
            .find(|s| s.last_error.is_some())
    })
    .await;
    let err = st.last_error.unwrap();
    assert!(err.contains("listing containers"), "{err}");
    assert!(
        err.contains("500") && err.contains("daemon is restarting"),
        "{err}"
    );
    assert_eq!(st.targets, 6);
    assert!(d.rx.try_recv().is_err());
    // It recovers; an unchanged answer publishes nothing new.
    fake.answers.lock().unwrap().fail = None;
    eventually(5, || {
        d.registry
            .snapshot()
            .into_iter()
            .find(|s| s.last_error.is_none())
    })
    .await;
    assert!(d.rx.try_recv().is_err());
}

#[tokio::test]
async fn an_answer_over_max_response_size_fails_the_refresh() {
    let fake = FakeDocker::start().await;
    let cfg: DockerSdConfig =
        profcol_config::yaml::from_str(&format!("host: {}\nrefresh_interval: 1h", fake.host()))
            .unwrap();
    let client = DockerClient::new(
        &fake.host(),
        &cfg.http,
        2048,
        Duration::from_secs(5),
        "t",
        "sd",
    )
    .unwrap();
    let (d, ctx) = Disc::new();
    tokio::spawn(run_docker(
        cfg,
        client,
        "docker_sd_configs/0".into(),
        ctx,
        d.shutdown.clone(),
    ));
    let st = eventually(5, || {
        d.registry
            .snapshot()
            .into_iter()
            .find(|s| s.last_error.is_some())
    })
    .await;
    let err = st.last_error.unwrap();
    assert!(
        err.contains("larger than max_response_size (2048 bytes)"),
        "{err}"
    );
}

#[test]
fn config_errors_name_their_key_path() {
    let id: profcol_config::ComponentId = "pyroscope_scrape/d".parse().unwrap();
    let check = |yaml: &str| -> Vec<String> {
        let body = profcol_config::Body::parse(yaml).unwrap();
        profcol_receiver::RECEIVERS
            .decode(&id, &body, "receivers::pyroscope_scrape/d")
            .err()
            .unwrap_or_default()
            .iter()
            .map(|p| p.to_string())
            .collect()
    };
    let p = check("docker_sd_configs: [{port: 80}]");
    assert_eq!(
        p,
        ["receivers::pyroscope_scrape/d::docker_sd_configs::0::host: host is required"]
    );
    let p = check("dockerswarm_sd_configs: [{host: 'unix:///run/docker.sock', role: pods}]");
    assert_eq!(
        p,
        [
            "receivers::pyroscope_scrape/d::dockerswarm_sd_configs::0::role: unknown value `pods` for role (expected one of services, tasks, nodes)"
        ]
    );
    let p = check("dockerswarm_sd_configs: [{host: 'unix:///run/docker.sock'}]");
    assert_eq!(
        p,
        ["receivers::pyroscope_scrape/d::dockerswarm_sd_configs::0::role: role is required (one of: services, tasks, nodes)"]
    );
    let p = check("docker_sd_configs: [{host: 'ssh://me@docker'}]");
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(
        p[0].starts_with("receivers::pyroscope_scrape/d::docker_sd_configs::0::host: unsupported host scheme \"ssh\""),
        "{p:?}"
    );
    let p = check("docker_sd_configs: [{host: 'unix:///run/docker.sock', refresh: 5s}]");
    assert_eq!(
        p,
        ["receivers::pyroscope_scrape/d::docker_sd_configs::0::refresh: unknown key `refresh`: did you mean `refresh_interval`? (valid keys: host, port, host_networking_host, match_first_network, filters, refresh_interval, max_response_size, bearer_token, bearer_token_file, basic_auth, authorization, oauth2, tls_config, enable_http2, follow_redirects, proxy_url, no_proxy, proxy_from_environment, proxy_connect_header)"]
    );
    let p = check("docker_sd_configs: [{host: 'unix:///run/docker.sock', filters: [{name: label, value: [x]}]}]");
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(p[0].contains("docker_sd_configs"), "{p:?}");
    assert!(p[0].contains("value"), "{p:?}");
    let p =
        check("docker_sd_configs: [{host: 'unix:///run/docker.sock', basic_auth: {username: u}}]");
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(p[0].starts_with("receivers::pyroscope_scrape/d::docker_sd_configs::0::basic_auth: basic_auth is not supported"), "{p:?}");
    // Either block alone is a target source.
    assert!(check("docker_sd_configs: [{host: 'unix:///run/docker.sock'}]").is_empty());
    assert!(
        check("dockerswarm_sd_configs: [{host: 'tcp://manager:2375', role: nodes}]").is_empty()
    );
}

/// A container labelled for scraping is relabeled to its pprof port, the
/// real scrape loop scrapes it, and `service_name` is its container name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_discovered_container_is_scraped_with_its_service_name() {
    let body = gz(&profile(&[("goroutine", "count")], 1));
    let pprof = serve(Router::new().route(
        "/app/debug/pprof/goroutine",
        get(move || async move { body }),
    ))
    .await;
    let fake = FakeDocker::start().await;
    fake.answers.lock().unwrap().containers = json!([
        docker_fake::container(
            "app1",
            "checkout",
            "bridge",
            json!({
                "pyroscope.io/scrape": "true",
                "pyroscope.io/port": pprof.port().to_string(),
                "pyroscope.io/path-prefix": "/app"
            }),
            json!([]),
            json!({"bridge": docker_fake::endpoint("net-bridge", "127.0.0.1")})
        ),
        docker_fake::container(
            "db1",
            "postgres",
            "bridge",
            json!({}),
            json!([{"PrivatePort": 5432, "Type": "tcp"}]),
            json!({"bridge": docker_fake::endpoint("net-bridge", "127.0.0.1")})
        ),
    ]);
    let yaml = format!(
        r#"docker_sd_configs:
  - host: {host}
    refresh_interval: 1s
relabel_configs:
  - source_labels: [__meta_docker_container_label_pyroscope_io_scrape]
    regex: "true"
    action: keep
  - source_labels: [__meta_docker_network_ip, __meta_docker_container_label_pyroscope_io_port]
    regex: "(.+);(\\d+)"
    replacement: "$1:$2"
    target_label: __address__
  - source_labels: [__meta_docker_container_label_pyroscope_io_path_prefix]
    regex: "(.+)"
    target_label: __profile_path_prefix__
{ONLY_GOROUTINE}"#,
        host = fake.host()
    );
    let r = start("pyroscope_scrape/docker", &yaml);
    let rec = eventually(10, || r.out.all().into_iter().next()).await;
    assert_eq!(rec.labels.get("service_name"), Some("/checkout"));
    assert_eq!(rec.labels.get("instance"), Some(pprof.to_string().as_str()));
    let targets = r.handle.targets();
    assert_eq!(targets.len(), 1, "only the labelled container is scraped");
    assert!(
        targets[0].url.ends_with("/app/debug/pprof/goroutine"),
        "{}",
        targets[0].url
    );

    // The daemon fails: the error shows in the discovery status and the
    // metric, and the container is still scraped.
    let before = targets[0].scrapes_total;
    fake.answers.lock().unwrap().fail = Some("daemon is restarting".into());
    let st = eventually(8, || {
        r.handle
            .discovery()
            .into_iter()
            .find(|s| s.source == "docker_sd_configs/0" && s.last_error.is_some())
    })
    .await;
    assert!(st.last_error.unwrap().contains("daemon is restarting"));
    assert!(r
        .telemetry
        .encode()
        .contains(r#"pyroscope_scrape_discovery_errors_total{component="pyroscope_scrape/docker",source="docker_sd_configs/0"}"#));
    eventually(8, || {
        r.handle
            .targets()
            .into_iter()
            .find(|t| t.scrapes_total > before + 1)
    })
    .await;
    r.stop().await;
}
