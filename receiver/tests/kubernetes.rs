//! `kubernetes_sd_configs` against a local server speaking the Kubernetes
//! API (`kube_api`): no real cluster runs here. Targets follow watch events,
//! each role carries Prometheus' `__meta_kubernetes_*` labels, selectors and
//! namespaces reach the API as it expects, a dropped watch resumes from its
//! resource version and a 410 re-lists, an unreachable server is reported
//! while the last targets stay, bad configs name their keys, and a
//! discovered pod is scraped end to end after annotation-driven relabeling.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod kube_api;

use axum::routing::get;
use axum::Router;
use common::*;
use kube_api::*;
use profcol_config::ComponentId;
use profcol_pdata::Labels;
use profcol_receiver::discovery::kubernetes::{self, KubernetesSdConfig};
use profcol_receiver::discovery::{DiscoveryContext, DiscoveryRegistry, TargetGroup, Update};
use profcol_receiver::metrics::ScrapeMetrics;
use profcol_receiver::RECEIVERS;
use profcol_runtime::Telemetry;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

const SOURCE: &str = "kubernetes_sd_configs/0";

/// One discovery source run on its own, its publications read directly.
struct Sd {
    rx: mpsc::Receiver<Update>,
    registry: Arc<DiscoveryRegistry>,
    stop: CancellationToken,
}

impl Sd {
    fn start(yaml: &str) -> Sd {
        let cfg: KubernetesSdConfig = profcol_config::yaml::from_str(yaml).unwrap();
        let (tx, rx) = mpsc::channel(16);
        let registry = Arc::new(DiscoveryRegistry::default());
        let ctx = DiscoveryContext {
            component: "pyroscope_scrape/k8s".into(),
            registry: registry.clone(),
            metrics: Telemetry::default().metrics::<ScrapeMetrics>(),
            updates: tx,
        };
        let stop = CancellationToken::new();
        tokio::spawn(kubernetes::run(cfg, SOURCE.into(), ctx, stop.clone()));
        Sd { rx, registry, stop }
    }

    /// The next publication's targets, each with its group's labels.
    async fn next(&mut self) -> Vec<Labels> {
        let (source, groups) = tokio::time::timeout(Duration::from_secs(5), self.rx.recv())
            .await
            .expect("no publication within 5s")
            .expect("discovery stopped");
        assert_eq!(source, SOURCE);
        flatten(&groups)
    }

    /// Publications until one satisfies `f`.
    async fn until(&mut self, mut f: impl FnMut(&[Labels]) -> bool) -> Vec<Labels> {
        loop {
            let t = self.next().await;
            if f(&t) {
                return t;
            }
        }
    }
}

impl Drop for Sd {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

fn flatten(groups: &[TargetGroup]) -> Vec<Labels> {
    groups.iter().flat_map(|g| g.label_sets()).collect()
}

fn find<'a>(targets: &'a [Labels], pairs: &[(&str, &str)]) -> &'a Labels {
    targets
        .iter()
        .find(|t| pairs.iter().all(|(k, v)| t.get(k) == Some(*v)))
        .unwrap_or_else(|| panic!("no target with {pairs:?} in {targets:#?}"))
}

/// Asserts the target carries exactly these labels.
fn exactly(t: &Labels, want: &[(&str, &str)]) {
    let got: BTreeMap<String, String> = t.iter().map(|(k, v)| (k.into(), v.into())).collect();
    let want: BTreeMap<String, String> = want
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_eq!(got, want);
}

fn addresses(targets: &[Labels]) -> Vec<String> {
    let mut v: Vec<String> = targets
        .iter()
        .map(|t| {
            format!(
                "{} {}",
                t.get("__address__").unwrap_or(""),
                t.get("__meta_kubernetes_pod_container_name").unwrap_or("")
            )
        })
        .collect();
    v.sort();
    v
}

const POD_LABELS: &[(&str, &str)] = &[
    ("__meta_kubernetes_namespace", "shop"),
    ("__meta_kubernetes_pod_name", "web-1"),
    ("__meta_kubernetes_pod_ip", "10.1.0.5"),
    ("__meta_kubernetes_pod_ready", "true"),
    ("__meta_kubernetes_pod_phase", "Running"),
    ("__meta_kubernetes_pod_node_name", "node-1"),
    ("__meta_kubernetes_pod_host_ip", "192.168.0.10"),
    ("__meta_kubernetes_pod_uid", "uid-web-1"),
    ("__meta_kubernetes_pod_controller_kind", "ReplicaSet"),
    ("__meta_kubernetes_pod_controller_name", "shop-7d9f"),
    ("__meta_kubernetes_pod_label_app_kubernetes_io_name", "shop"),
    (
        "__meta_kubernetes_pod_labelpresent_app_kubernetes_io_name",
        "true",
    ),
    ("__meta_kubernetes_pod_label_tier", "web"),
    ("__meta_kubernetes_pod_labelpresent_tier", "true"),
    (
        "__meta_kubernetes_pod_annotation_pyroscope_io_scrape",
        "true",
    ),
    (
        "__meta_kubernetes_pod_annotationpresent_pyroscope_io_scrape",
        "true",
    ),
];

#[tokio::test]
async fn pod_targets_follow_added_modified_and_deleted_events() {
    let k = FakeKube::start().await;
    k.put(
        "pods",
        pod(
            "shop",
            "web-1",
            "10.1.0.5",
            json!({"pyroscope.io/scrape": "true"}),
        ),
    );
    let mut sd = Sd::start(&format!("role: pod\napi_server: {}", k.url()));

    let t = sd.next().await;
    assert_eq!(
        addresses(&t),
        ["10.1.0.5 init-db", "10.1.0.5 sidecar", "10.1.0.5:8080 app"]
    );
    let mut want = POD_LABELS.to_vec();
    want.extend([
        ("__address__", "10.1.0.5:8080"),
        ("__meta_kubernetes_pod_container_name", "app"),
        ("__meta_kubernetes_pod_container_id", "containerd://abc123"),
        ("__meta_kubernetes_pod_container_image", "shop:1.2"),
        ("__meta_kubernetes_pod_container_port_name", "http"),
        ("__meta_kubernetes_pod_container_port_number", "8080"),
        ("__meta_kubernetes_pod_container_port_protocol", "TCP"),
        ("__meta_kubernetes_pod_container_init", "false"),
    ]);
    exactly(
        find(&t, &[("__meta_kubernetes_pod_container_name", "app")]),
        &want,
    );
    let mut want = POD_LABELS.to_vec();
    want.extend([
        ("__address__", "10.1.0.5"),
        ("__meta_kubernetes_pod_container_name", "sidecar"),
        ("__meta_kubernetes_pod_container_id", "containerd://def456"),
        ("__meta_kubernetes_pod_container_image", "proxy:3"),
        ("__meta_kubernetes_pod_container_init", "false"),
    ]);
    exactly(
        find(&t, &[("__meta_kubernetes_pod_container_name", "sidecar")]),
        &want,
    );
    let init = find(&t, &[("__meta_kubernetes_pod_container_name", "init-db")]);
    assert_eq!(
        init.get("__meta_kubernetes_pod_container_init"),
        Some("true")
    );
    assert_eq!(
        init.get("__meta_kubernetes_pod_container_id"),
        Some("containerd://init1")
    );

    // ADDED: a second pod; a pod without an IP yet gives no target.
    k.put("pods", pod("shop", "web-2", "10.1.0.6", json!({})));
    k.put("pods", {
        let mut p = pod("shop", "pending", "", json!({}));
        p["status"]["phase"] = json!("Pending");
        p
    });
    let t = sd.until(|t| t.len() == 6).await;
    assert!(t
        .iter()
        .all(|l| l.get("__meta_kubernetes_pod_name") != Some("pending")));

    // MODIFIED: the annotation changes on the next publication.
    let mut p = pod(
        "shop",
        "web-1",
        "10.1.0.5",
        json!({"pyroscope.io/scrape": "false"}),
    );
    p["status"]["conditions"][1]["status"] = json!("False");
    k.put("pods", p);
    let t = sd
        .until(|t| {
            t.iter().any(|l| {
                l.get("__meta_kubernetes_pod_annotation_pyroscope_io_scrape") == Some("false")
            })
        })
        .await;
    let web1 = find(&t, &[("__meta_kubernetes_pod_name", "web-1")]);
    assert_eq!(web1.get("__meta_kubernetes_pod_ready"), Some("false"));

    // DELETED: its targets go.
    k.delete("pods", "shop", "web-1");
    let t = sd.until(|t| t.len() == 3).await;
    assert!(t
        .iter()
        .all(|l| l.get("__meta_kubernetes_pod_name") == Some("web-2")));
    assert_eq!(sd.registry.snapshot()[0].targets, 3);
}

#[tokio::test]
async fn service_endpointslice_endpoints_node_and_ingress_labels() {
    let k = FakeKube::start().await;
    k.put("pods", pod("shop", "web-1", "10.1.0.5", json!({})));
    k.put("services", service("shop", "web"));
    k.put(
        "endpointslices",
        endpoint_slice("shop", "web-abc", "web", "10.1.0.5", "web-1"),
    );
    k.put("endpoints", endpoints("shop", "web", "10.1.0.5", "web-1"));
    k.put("nodes", node("node-1", "192.168.0.10"));
    k.put("ingresses", ingress("shop", "shop"));
    let api = k.url();

    // service
    let t = Sd::start(&format!("role: service\napi_server: {api}"))
        .next()
        .await;
    exactly(
        &t[0],
        &[
            ("__address__", "web.shop.svc:80"),
            ("__meta_kubernetes_namespace", "shop"),
            ("__meta_kubernetes_service_name", "web"),
            ("__meta_kubernetes_service_label_app", "web"),
            ("__meta_kubernetes_service_labelpresent_app", "true"),
            ("__meta_kubernetes_service_annotation_team", "core"),
            ("__meta_kubernetes_service_annotationpresent_team", "true"),
            ("__meta_kubernetes_service_port_name", "http"),
            ("__meta_kubernetes_service_port_number", "80"),
            ("__meta_kubernetes_service_port_protocol", "TCP"),
            ("__meta_kubernetes_service_type", "ClusterIP"),
            ("__meta_kubernetes_service_cluster_ip", "10.96.0.12"),
        ],
    );

    // endpointslice: the endpoint with the pod's and the service's labels,
    // plus nothing uncovered (the pod's only port is the endpoint's).
    let t = Sd::start(&format!("role: endpointslice\napi_server: {api}"))
        .next()
        .await;
    assert_eq!(t.len(), 1, "{t:#?}");
    let e = &t[0];
    for (k, v) in [
        ("__address__", "10.1.0.5:8080"),
        ("__meta_kubernetes_endpointslice_name", "web-abc"),
        ("__meta_kubernetes_endpointslice_address_type", "IPv4"),
        (
            "__meta_kubernetes_endpointslice_label_kubernetes_io_service_name",
            "web",
        ),
        ("__meta_kubernetes_endpointslice_port", "8080"),
        ("__meta_kubernetes_endpointslice_port_name", "http"),
        ("__meta_kubernetes_endpointslice_port_protocol", "TCP"),
        ("__meta_kubernetes_endpointslice_port_app_protocol", "http"),
        (
            "__meta_kubernetes_endpointslice_endpoint_conditions_ready",
            "true",
        ),
        (
            "__meta_kubernetes_endpointslice_endpoint_conditions_serving",
            "true",
        ),
        (
            "__meta_kubernetes_endpointslice_endpoint_conditions_terminating",
            "false",
        ),
        (
            "__meta_kubernetes_endpointslice_endpoint_node_name",
            "node-1",
        ),
        ("__meta_kubernetes_endpointslice_endpoint_zone", "eu-1a"),
        ("__meta_kubernetes_endpointslice_address_target_kind", "Pod"),
        (
            "__meta_kubernetes_endpointslice_address_target_name",
            "web-1",
        ),
        ("__meta_kubernetes_service_name", "web"),
        ("__meta_kubernetes_pod_name", "web-1"),
        ("__meta_kubernetes_pod_container_name", "app"),
        ("__meta_kubernetes_pod_container_port_number", "8080"),
        ("__meta_kubernetes_pod_container_init", "false"),
        ("__meta_kubernetes_namespace", "shop"),
    ] {
        assert_eq!(e.get(k), Some(v), "{k} in {e:#?}");
    }

    // endpoints: a ready address backed by the pod, a not-ready one without.
    let t = Sd::start(&format!("role: endpoints\napi_server: {api}"))
        .next()
        .await;
    assert_eq!(t.len(), 2, "{t:#?}");
    let ready = find(&t, &[("__meta_kubernetes_endpoint_ready", "true")]);
    for (k, v) in [
        ("__address__", "10.1.0.5:8080"),
        ("__meta_kubernetes_endpoints_name", "web"),
        ("__meta_kubernetes_endpoint_port_name", "http"),
        ("__meta_kubernetes_endpoint_port_protocol", "TCP"),
        ("__meta_kubernetes_endpoint_node_name", "node-1"),
        ("__meta_kubernetes_endpoint_address_target_kind", "Pod"),
        ("__meta_kubernetes_endpoint_address_target_name", "web-1"),
        ("__meta_kubernetes_service_name", "web"),
        ("__meta_kubernetes_pod_name", "web-1"),
        ("__meta_kubernetes_pod_container_port_name", "http"),
    ] {
        assert_eq!(ready.get(k), Some(v), "{k} in {ready:#?}");
    }
    let warming = find(&t, &[("__meta_kubernetes_endpoint_ready", "false")]);
    assert_eq!(warming.get("__address__"), Some("10.1.9.9:8080"));
    assert_eq!(
        warming.get("__meta_kubernetes_endpoint_hostname"),
        Some("warming")
    );
    assert_eq!(warming.get("__meta_kubernetes_pod_name"), None);

    // node
    let t = Sd::start(&format!("role: node\napi_server: {api}"))
        .next()
        .await;
    exactly(
        &t[0],
        &[
            ("__address__", "192.168.0.10:10250"),
            ("instance", "node-1"),
            ("__meta_kubernetes_node_name", "node-1"),
            ("__meta_kubernetes_node_provider_id", "aws:///eu-1a/node-1"),
            ("__meta_kubernetes_node_condition_ready", "true"),
            ("__meta_kubernetes_node_condition_memorypressure", "false"),
            (
                "__meta_kubernetes_node_label_kubernetes_io_hostname",
                "node-1",
            ),
            (
                "__meta_kubernetes_node_labelpresent_kubernetes_io_hostname",
                "true",
            ),
            (
                "__meta_kubernetes_node_label_topology_kubernetes_io_zone",
                "eu-1a",
            ),
            (
                "__meta_kubernetes_node_labelpresent_topology_kubernetes_io_zone",
                "true",
            ),
            (
                "__meta_kubernetes_node_annotation_node_alpha_kubernetes_io_ttl",
                "0",
            ),
            (
                "__meta_kubernetes_node_annotationpresent_node_alpha_kubernetes_io_ttl",
                "true",
            ),
            ("__meta_kubernetes_node_address_Hostname", "node-1"),
            ("__meta_kubernetes_node_address_InternalIP", "192.168.0.10"),
        ],
    );

    // ingress: two paths of a TLS host, one rule without paths.
    let t = Sd::start(&format!("role: ingress\napi_server: {api}"))
        .next()
        .await;
    assert_eq!(t.len(), 3, "{t:#?}");
    exactly(
        find(&t, &[("__meta_kubernetes_ingress_path", "/api")]),
        &[
            ("__address__", "shop.example.com"),
            ("__meta_kubernetes_namespace", "shop"),
            ("__meta_kubernetes_ingress_name", "shop"),
            ("__meta_kubernetes_ingress_class_name", "nginx"),
            ("__meta_kubernetes_ingress_label_app", "shop"),
            ("__meta_kubernetes_ingress_labelpresent_app", "true"),
            ("__meta_kubernetes_ingress_scheme", "https"),
            ("__meta_kubernetes_ingress_host", "shop.example.com"),
            ("__meta_kubernetes_ingress_path", "/api"),
        ],
    );
    let plain = find(&t, &[("__address__", "plain.internal")]);
    assert_eq!(plain.get("__meta_kubernetes_ingress_scheme"), Some("http"));
    assert_eq!(plain.get("__meta_kubernetes_ingress_path"), Some("/"));
}

#[tokio::test]
async fn selectors_and_namespaces_are_sent_as_the_api_expects() {
    let k = FakeKube::start().await;
    let mut sd = Sd::start(&format!(
        "role: endpoints\napi_server: {}\nnamespaces: {{names: [shop, pay]}}\nselectors:\n  - {{role: endpoints, label: 'app in (web,api)'}}\n  - {{role: pod, label: 'tier=web', field: 'status.phase=Running'}}\n  - {{role: service, field: 'metadata.name=web'}}",
        k.url()
    ));
    assert!(sd.next().await.is_empty());
    for ns in ["shop", "pay"] {
        let q = |res: &str| {
            let path = format!("/api/v1/namespaces/{ns}/{res}");
            let r = k
                .requests()
                .into_iter()
                .find(|r| r.path == path && !r.is_watch());
            r.unwrap_or_else(|| panic!("no list of {path}: {:#?}", k.requests()))
                .query
        };
        assert_eq!(
            q("endpoints").get("labelSelector").map(String::as_str),
            Some("app in (web,api)")
        );
        assert_eq!(q("endpoints").get("fieldSelector"), None);
        assert_eq!(
            q("pods").get("labelSelector").map(String::as_str),
            Some("tier=web")
        );
        assert_eq!(
            q("pods").get("fieldSelector").map(String::as_str),
            Some("status.phase=Running")
        );
        assert_eq!(
            q("services").get("fieldSelector").map(String::as_str),
            Some("metadata.name=web")
        );
        // The watches carry the same selectors, from the list's version, with bookmarks.
        let w = eventually(5, || {
            k.watches(&format!("/api/v1/namespaces/{ns}/pods"))
                .into_iter()
                .next()
        })
        .await;
        assert_eq!(
            w.query.get("labelSelector").map(String::as_str),
            Some("tier=web")
        );
        assert_eq!(
            w.query.get("allowWatchBookmarks").map(String::as_str),
            Some("true")
        );
        assert!(w.query.contains_key("resourceVersion"));
    }
    assert!(
        k.requests()
            .iter()
            .all(|r| r.path.starts_with("/api/v1/namespaces/")),
        "only the listed namespaces: {:#?}",
        k.requests()
    );
}

#[tokio::test]
async fn attach_metadata_adds_node_and_namespace_labels() {
    let k = FakeKube::start().await;
    k.put("nodes", node("node-1", "192.168.0.10"));
    k.put("namespaces", namespace("shop"));
    k.put("pods", pod("shop", "web-1", "10.1.0.5", json!({})));
    let mut orphan = pod("shop", "orphan", "10.1.0.7", json!({}));
    orphan["spec"]["nodeName"] = json!("node-gone");
    k.put("pods", orphan);
    let mut sd = Sd::start(&format!(
        "role: pod\napi_server: {}\nattach_metadata: {{node: true, namespace: true}}\nselectors: [{{role: node, label: 'kubernetes.io/os=linux'}}]",
        k.url()
    ));
    let t = sd.next().await;
    // A pod on a node the node watch does not know is left out, as Prometheus does.
    assert!(
        t.iter()
            .all(|l| l.get("__meta_kubernetes_pod_name") == Some("web-1")),
        "{t:#?}"
    );
    let app = find(&t, &[("__meta_kubernetes_pod_container_name", "app")]);
    for (k, v) in [
        ("__meta_kubernetes_node_name", "node-1"),
        (
            "__meta_kubernetes_node_label_topology_kubernetes_io_zone",
            "eu-1a",
        ),
        (
            "__meta_kubernetes_node_labelpresent_topology_kubernetes_io_zone",
            "true",
        ),
        ("__meta_kubernetes_namespace_label_env", "prod"),
        ("__meta_kubernetes_namespace_labelpresent_env", "true"),
        ("__meta_kubernetes_namespace_annotation_owner", "team-a"),
        (
            "__meta_kubernetes_namespace_annotationpresent_owner",
            "true",
        ),
    ] {
        assert_eq!(app.get(k), Some(v), "{k} in {app:#?}");
    }
    let nodes = k
        .requests()
        .into_iter()
        .find(|r| r.path == "/api/v1/nodes")
        .unwrap();
    assert_eq!(
        nodes.query.get("labelSelector").map(String::as_str),
        Some("kubernetes.io/os=linux")
    );
    assert!(k.lists("/api/v1/namespaces") >= 1);

    // A namespace label change reaches the pod's targets.
    let mut ns = namespace("shop");
    ns["metadata"]["labels"]["env"] = json!("staging");
    k.put("namespaces", ns);
    sd.until(|t| {
        t.iter()
            .all(|l| l.get("__meta_kubernetes_namespace_label_env") == Some("staging"))
    })
    .await;
}

#[tokio::test]
async fn a_dropped_watch_resumes_from_its_version_and_410_relists() {
    let k = FakeKube::start().await;
    k.put("pods", pod("shop", "web-1", "10.1.0.5", json!({})));
    let mut sd = Sd::start(&format!("role: pod\napi_server: {}", k.url()));
    assert_eq!(sd.next().await.len(), 3);
    // Let the first watch open, then drop it; web-2 is added meanwhile.
    eventually(5, || (!k.watches("/api/v1/pods").is_empty()).then_some(())).await;
    let seen = k.resource_version();
    k.disconnect(|c| c.put("pods", pod("shop", "web-2", "10.1.0.6", json!({}))));
    let t = sd.until(|t| t.len() == 6).await;
    assert_eq!(addresses(&t).len(), 6);
    let mut unique = addresses(&t);
    unique.dedup();
    assert_eq!(unique.len(), 6, "duplicated targets: {t:#?}");
    assert_eq!(k.lists("/api/v1/pods"), 1, "resumed without listing again");
    let w = k.watches("/api/v1/pods");
    assert_eq!(w.len(), 2);
    assert_eq!(
        w[1].query.get("resourceVersion").map(String::as_str),
        Some(seen.to_string().as_str()),
        "resumed from the last version seen"
    );

    // The version expires (410 Gone) while web-1 goes and web-3 comes: the
    // watcher lists again and the store is replaced whole.
    k.expire(|c| {
        c.delete("pods", "shop", "web-1");
        c.put("pods", pod("shop", "web-3", "10.1.0.8", json!({})));
    });
    let t = sd
        .until(|t| {
            t.iter()
                .any(|l| l.get("__meta_kubernetes_pod_name") == Some("web-3"))
        })
        .await;
    let mut names: Vec<&str> = t
        .iter()
        .filter_map(|l| l.get("__meta_kubernetes_pod_name"))
        .collect();
    names.dedup();
    assert_eq!(names, ["web-2", "web-3"]);
    assert_eq!(t.len(), 6);
    assert_eq!(k.lists("/api/v1/pods"), 2, "a 410 leads to a re-list");
    // A 410 is routine, not a failure.
    assert!(sd.registry.snapshot()[0].last_error.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_api_server_is_reported_and_the_last_targets_stay() {
    let k = FakeKube::start().await;
    k.put("pods", pod("shop", "web-1", "10.1.0.5", json!({})));
    let r = start(
        "pyroscope_scrape/k8s",
        &format!(
            "kubernetes_sd_configs: [{{role: pod, api_server: '{}'}}]\n{ONLY_GOROUTINE}",
            k.url()
        ),
    );
    eventually(5, || (r.handle.targets().len() == 3).then_some(())).await;
    k.stop();
    let d = eventually(5, || {
        r.handle
            .discovery()
            .into_iter()
            .find(|d| d.last_error.is_some())
    })
    .await;
    assert_eq!(d.source, SOURCE);
    let err = d.last_error.unwrap();
    assert!(err.contains("pods in all namespaces"), "{err}");
    assert_eq!(r.handle.targets().len(), 3, "the last known targets stay");
    let metrics = r.telemetry.encode();
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("pyroscope_scrape_discovery_errors_total")
                && l.contains("kubernetes_sd_configs/0")),
        "{metrics}"
    );
    r.stop().await;

    // Never reachable: the error is there from the start.
    let r = start(
        "pyroscope_scrape/k8s",
        &format!("kubernetes_sd_configs: [{{role: node, api_server: 'http://127.0.0.1:1'}}]\n{ONLY_GOROUTINE}"),
    );
    let d = eventually(5, || {
        r.handle
            .discovery()
            .into_iter()
            .find(|d| d.last_error.is_some())
    })
    .await;
    assert!(d.last_error.unwrap().contains("nodes"));
    assert!(r.handle.targets().is_empty());
    r.stop().await;
}

#[test]
fn config_errors_name_their_key_paths() {
    let id: ComponentId = "pyroscope_scrape/k8s".parse().unwrap();
    let p = "receivers::pyroscope_scrape/k8s::kubernetes_sd_configs";
    let cases: &[(&str, &str)] = &[
        ("[{role: pods}]", "::0::role: unknown value `pods` for role: did you mean `pod`?"),
        ("[{role: pod, api_server: 'http://a', kubeconfig_file: /k}]", "::0::kubeconfig_file: cannot use 'kubeconfig_file' and 'api_server' simultaneously"),
        ("[{role: pod}, {role: service, selectors: [{role: pod, label: 'a=b'}]}]", "::1::selectors::0::role: service role supports only service selectors"),
        ("[{role: service, attach_metadata: {node: true}}]", "::0::attach_metadata::node: attach_metadata.node applies only to the pod, endpoints and endpointslice roles"),
        ("[{role: pod, bogus: 1}]", "::0::bogus: unknown key `bogus` (valid keys: role, api_server, "),
        ("[{role: pod, attach_metadata: {bogus: true}}]", "::0::attach_metadata::bogus: unknown key `bogus` (valid keys: node, namespace)"),
        ("[{role: pod, namespaces: {own_namespace: true}, api_server: 'http://a'}]", "::0::namespaces::own_namespace: cannot use 'api_server' and 'namespaces.own_namespace' simultaneously"),
    ];
    for (sd, want) in cases {
        let body = profcol_config::Body::parse(&format!("kubernetes_sd_configs: {sd}")).unwrap();
        let problems = RECEIVERS
            .decode(&id, &body, "receivers::pyroscope_scrape/k8s")
            .unwrap_err();
        let got: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        let want = format!("{p}{want}");
        assert!(
            got.iter().any(|g| g.starts_with(&want)),
            "{sd}: want {want:?}, got {got:?}"
        );
    }
    // Discovery alone satisfies "targets is required".
    let body = profcol_config::Body::parse("kubernetes_sd_configs: [{role: pod}]").unwrap();
    assert!(RECEIVERS.decode(&id, &body, "r").is_ok());
}

/// The README's annotation-driven setup (profiles.grafana.com/<type>.*).
const ANNOTATION_RELABEL: &str = r#"
relabel_configs:
  - { source_labels: [__meta_kubernetes_pod_annotation_profiles_grafana_com_goroutine_scrape], regex: "true", action: keep }
  - { source_labels: [__meta_kubernetes_pod_annotation_profiles_grafana_com_goroutine_port], target_label: __tmp_port }
  - { source_labels: [__meta_kubernetes_pod_container_port_number], target_label: __tmp_port, action: keepequal }
  - { source_labels: [__meta_kubernetes_pod_annotation_profiles_grafana_com_goroutine_path], regex: "(.+)", target_label: __profile_path__ }
  - { source_labels: [__meta_kubernetes_namespace], target_label: namespace }
  - { source_labels: [__meta_kubernetes_pod_name], target_label: pod }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_discovered_pod_is_relabeled_from_annotations_and_scraped() {
    let body = gz(&profile(&[("goroutine", "count")], 1));
    let app =
        serve(Router::new().route("/custom/goroutine", get(move || async move { body }))).await;
    let port = app.port();
    let k = FakeKube::start().await;
    let annotated = |name: &str, extra: serde_json::Value| {
        let mut ann = json!({
            "profiles.grafana.com/goroutine.scrape": "true",
            "profiles.grafana.com/goroutine.port": port.to_string(),
            "profiles.grafana.com/goroutine.path": "/custom/goroutine",
        });
        for (k, v) in extra.as_object().unwrap() {
            ann[k] = v.clone();
        }
        let mut p = pod("shop", name, "127.0.0.1", ann);
        p["spec"]["containers"][0]["ports"][0]["containerPort"] = json!(port);
        p
    };
    k.put("pods", annotated("web-1", json!({})));
    // Not annotated: dropped by the keep rule.
    k.put("pods", pod("shop", "quiet", "127.0.0.2", json!({})));
    let r = start(
        "pyroscope_scrape/k8s",
        &format!("kubernetes_sd_configs: [{{role: pod, api_server: '{}'}}]\n{ONLY_GOROUTINE}{ANNOTATION_RELABEL}", k.url()),
    );
    let rec = eventually(8, || r.out.all().into_iter().next()).await;
    assert_eq!(
        rec.labels.get("service_name"),
        Some("shop/app"),
        "{:?}",
        rec.labels
    );
    assert_eq!(rec.labels.get("namespace"), Some("shop"));
    assert_eq!(rec.labels.get("pod"), Some("web-1"));
    assert_eq!(
        rec.labels.get("instance"),
        Some(format!("127.0.0.1:{port}").as_str())
    );
    let targets = r.handle.targets();
    assert_eq!(
        targets.len(),
        1,
        "only the annotated container port: {targets:#?}"
    );
    assert!(
        targets[0].url.ends_with("/custom/goroutine"),
        "{}",
        targets[0].url
    );
    r.stop().await;

    // The pyroscope.io/service_name annotation wins over namespace/container.
    let k2 = FakeKube::start().await;
    k2.put(
        "pods",
        annotated("web-2", json!({"pyroscope.io/service_name": "checkout"})),
    );
    let r = start(
        "pyroscope_scrape/k8s",
        &format!("kubernetes_sd_configs: [{{role: pod, api_server: '{}'}}]\n{ONLY_GOROUTINE}{ANNOTATION_RELABEL}", k2.url()),
    );
    let rec = eventually(8, || r.out.all().into_iter().next()).await;
    assert_eq!(rec.labels.get("service_name"), Some("checkout"));
    r.stop().await;
}
