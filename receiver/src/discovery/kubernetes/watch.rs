//! The watches of one `kubernetes_sd_configs` entry and its run loop.
//!
//! Every watched resource (per namespace where namespaced) is a
//! `kube::runtime::watcher` stream with kube's default back-off; the
//! watcher lists, then watches from the list's resource version, follows
//! bookmarks, resumes a dropped watch from the last version it saw and
//! re-lists on `410 Gone`. Each stream feeds its own store: a re-list
//! replaces the store whole once it is complete, so an object deleted while
//! the watch was down disappears. Once every store has listed, each
//! settled burst of changes rebuilds the role's target groups from the
//! stores and publishes them (see `publish`).

use super::client;
use super::config::KubernetesSdConfig;
use super::publish::Coalescer;
use super::{endpoints, endpointslice, ingress, node, pod, service, Role};
use crate::discovery::{DiscoveryContext, TargetGroup};
use futures::stream::{BoxStream, StreamExt};
use k8s_openapi::api::core::v1::{Endpoints, Namespace, Node, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::Ingress;
use kube::runtime::watcher::{self, watcher, Event};
use kube::runtime::WatchStreamExt;
use kube::{Api, Resource};
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
use std::fmt::Debug;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// How long to wait before building the client again after it failed (a
/// missing kubeconfig file, no service account yet).
pub(crate) const CLIENT_RETRY: std::time::Duration = std::time::Duration::from_secs(30);

/// One stored object of any watched kind.
#[derive(Debug, Clone)]
pub(crate) enum Object {
    Pod(Box<Pod>),
    Service(Box<Service>),
    Endpoints(Box<Endpoints>),
    EndpointSlice(Box<EndpointSlice>),
    Node(Box<Node>),
    Namespace(Box<Namespace>),
    Ingress(Box<Ingress>),
}

/// What the role builders read: every stored object by kind, keyed
/// `namespace/name` (nodes and namespaces by name).
#[derive(Default)]
pub(crate) struct Objects<'a> {
    pub pods: BTreeMap<&'a str, &'a Pod>,
    pub services: BTreeMap<&'a str, &'a Service>,
    pub endpoints: BTreeMap<&'a str, &'a Endpoints>,
    pub endpoint_slices: BTreeMap<&'a str, &'a EndpointSlice>,
    pub nodes: BTreeMap<&'a str, &'a Node>,
    pub namespaces: BTreeMap<&'a str, &'a Namespace>,
    pub ingresses: BTreeMap<&'a str, &'a Ingress>,
}

/// `attach_metadata`, as the builders need it.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct BuildOptions {
    pub attach_node: bool,
    pub attach_namespace: bool,
}

/// The store of one watch.
#[derive(Debug, Default)]
pub(crate) struct Store {
    /// Shown in errors: "pods in namespace a", "nodes".
    what: String,
    objects: BTreeMap<String, Object>,
    /// Filled during a (re-)list; replaces `objects` when it is complete.
    relist: Option<BTreeMap<String, Object>>,
    synced: bool,
}

fn key_of(o: &Object) -> String {
    let meta = match o {
        Object::Pod(x) => &x.metadata,
        Object::Service(x) => &x.metadata,
        Object::Endpoints(x) => &x.metadata,
        Object::EndpointSlice(x) => &x.metadata,
        Object::Node(x) => &x.metadata,
        Object::Namespace(x) => &x.metadata,
        Object::Ingress(x) => &x.metadata,
    };
    super::meta::key(meta)
}

impl Store {
    fn new(what: String) -> Self {
        Self {
            what,
            ..Default::default()
        }
    }

    /// Applies one watcher event; true when the stored objects changed.
    pub(crate) fn apply(&mut self, event: Event<Object>) -> bool {
        match event {
            Event::Init => {
                self.relist = Some(BTreeMap::new());
                false
            }
            Event::InitApply(o) => {
                let target = self.relist.get_or_insert_with(BTreeMap::new);
                target.insert(key_of(&o), o);
                false
            }
            Event::InitDone => {
                if let Some(listed) = self.relist.take() {
                    self.objects = listed;
                }
                self.synced = true;
                true
            }
            Event::Apply(o) => {
                self.objects.insert(key_of(&o), o);
                true
            }
            Event::Delete(o) => self.objects.remove(&key_of(&o)).is_some(),
        }
    }
}

/// Gathers the objects of every store by kind.
pub(crate) fn objects(stores: &[Store]) -> Objects<'_> {
    let mut out = Objects::default();
    for s in stores {
        for (k, o) in &s.objects {
            let k = k.as_str();
            match o {
                Object::Pod(x) => {
                    out.pods.insert(k, x);
                }
                Object::Service(x) => {
                    out.services.insert(k, x);
                }
                Object::Endpoints(x) => {
                    out.endpoints.insert(k, x);
                }
                Object::EndpointSlice(x) => {
                    out.endpoint_slices.insert(k, x);
                }
                Object::Node(x) => {
                    out.nodes.insert(k, x);
                }
                Object::Namespace(x) => {
                    out.namespaces.insert(k, x);
                }
                Object::Ingress(x) => {
                    out.ingresses.insert(k, x);
                }
            }
        }
    }
    out
}

/// The target groups of `role` from the stored objects, one per object that
/// yields targets, in key order.
pub(crate) fn build(role: Role, o: &Objects<'_>, opts: &BuildOptions) -> Vec<TargetGroup> {
    let groups: Vec<TargetGroup> = match role {
        Role::Pod => o
            .pods
            .values()
            .filter_map(|p| pod::build(p, o, opts))
            .collect(),
        Role::Service => o
            .services
            .values()
            .map(|s| service::build(s, o, opts))
            .collect(),
        Role::Endpoints => o
            .endpoints
            .values()
            .map(|e| endpoints::build(e, o, opts))
            .collect(),
        Role::EndpointSlice => o
            .endpoint_slices
            .values()
            .map(|e| endpointslice::build(e, o, opts))
            .collect(),
        Role::Node => o.nodes.values().filter_map(|n| node::build(n)).collect(),
        Role::Ingress => o
            .ingresses
            .values()
            .map(|i| ingress::build(i, o, opts))
            .collect(),
    };
    groups
        .into_iter()
        .filter(|g| !g.targets.is_empty())
        .collect()
}

type Msg = (usize, Result<Event<Object>, watcher::Error>);

fn map_event<K>(e: Event<K>, wrap: fn(K) -> Object) -> Event<Object> {
    match e {
        Event::Apply(k) => Event::Apply(wrap(k)),
        Event::Delete(k) => Event::Delete(wrap(k)),
        Event::Init => Event::Init,
        Event::InitApply(k) => Event::InitApply(wrap(k)),
        Event::InitDone => Event::InitDone,
    }
}

/// The watches of one entry and their streams.
struct Plan {
    client: kube::Client,
    namespaces: Vec<String>,
    stores: Vec<Store>,
    streams: Vec<BoxStream<'static, Msg>>,
}

impl Plan {
    fn add<K>(
        &mut self,
        api: Api<K>,
        what: String,
        selector: (Option<String>, Option<String>),
        wrap: fn(K) -> Object,
    ) where
        K: Resource + Clone + DeserializeOwned + Debug + Send + 'static,
    {
        let mut wc = watcher::Config::default();
        if let Some(l) = &selector.0 {
            wc = wc.labels(l);
        }
        if let Some(f) = &selector.1 {
            wc = wc.fields(f);
        }
        let id = self.stores.len();
        self.stores.push(Store::new(what));
        self.streams.push(
            watcher(api, wc)
                .default_backoff()
                .map(move |r| (id, r.map(|e| map_event(e, wrap))))
                .boxed(),
        );
    }

    /// One watch per namespace (or one over all namespaces).
    fn namespaced<K>(
        &mut self,
        plural: &str,
        selector: (Option<String>, Option<String>),
        wrap: fn(K) -> Object,
    ) where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope>
            + Clone
            + DeserializeOwned
            + Debug
            + Send
            + 'static,
        K::DynamicType: Default,
    {
        if self.namespaces.is_empty() {
            let api = Api::<K>::all(self.client.clone());
            self.add(api, format!("{plural} in all namespaces"), selector, wrap);
            return;
        }
        for ns in self.namespaces.clone() {
            let api = Api::<K>::namespaced(self.client.clone(), &ns);
            self.add(
                api,
                format!("{plural} in namespace {ns}"),
                selector.clone(),
                wrap,
            );
        }
    }
}

/// Stored objects drop `metadata.managedFields` (server-side apply's
/// bookkeeping, often the largest part of an object): no label reads it.
fn wrap_pod(mut x: Pod) -> Object {
    x.metadata.managed_fields = None;
    Object::Pod(Box::new(x))
}
fn wrap_service(mut x: Service) -> Object {
    x.metadata.managed_fields = None;
    Object::Service(Box::new(x))
}
fn wrap_endpoints(mut x: Endpoints) -> Object {
    x.metadata.managed_fields = None;
    Object::Endpoints(Box::new(x))
}
fn wrap_slice(mut x: EndpointSlice) -> Object {
    x.metadata.managed_fields = None;
    Object::EndpointSlice(Box::new(x))
}
fn wrap_node(mut x: Node) -> Object {
    x.metadata.managed_fields = None;
    Object::Node(Box::new(x))
}
fn wrap_namespace(mut x: Namespace) -> Object {
    x.metadata.managed_fields = None;
    Object::Namespace(Box::new(x))
}
fn wrap_ingress(mut x: Ingress) -> Object {
    x.metadata.managed_fields = None;
    Object::Ingress(Box::new(x))
}

/// The namespaces to watch (empty: all), as Prometheus chooses them.
pub(crate) fn namespaces(cfg: &KubernetesSdConfig, own: Option<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let extra = if cfg.namespaces.own_namespace {
        own
    } else {
        None
    };
    for n in cfg.namespaces.names.iter().cloned().chain(extra) {
        if !out.contains(&n) {
            out.push(n);
        }
    }
    out
}

fn plan(
    role: Role,
    cfg: &KubernetesSdConfig,
    client: kube::Client,
    namespaces: Vec<String>,
) -> Plan {
    let mut p = Plan {
        client,
        namespaces,
        stores: Vec::new(),
        streams: Vec::new(),
    };
    let attach = cfg.attach_metadata;
    let node_meta =
        attach.node && matches!(role, Role::Pod | Role::Endpoints | Role::EndpointSlice);
    match role {
        Role::Pod => p.namespaced("pods", cfg.selector(Role::Pod), wrap_pod),
        Role::Service => p.namespaced("services", cfg.selector(Role::Service), wrap_service),
        Role::Endpoints => {
            p.namespaced("endpoints", cfg.selector(Role::Endpoints), wrap_endpoints);
            p.namespaced("services", cfg.selector(Role::Service), wrap_service);
            p.namespaced("pods", cfg.selector(Role::Pod), wrap_pod);
        }
        Role::EndpointSlice => {
            p.namespaced(
                "endpointslices",
                cfg.selector(Role::EndpointSlice),
                wrap_slice,
            );
            p.namespaced("services", cfg.selector(Role::Service), wrap_service);
            p.namespaced("pods", cfg.selector(Role::Pod), wrap_pod);
        }
        Role::Node => {}
        Role::Ingress => p.namespaced("ingresses", cfg.selector(Role::Ingress), wrap_ingress),
    }
    if role == Role::Node || node_meta {
        let api = Api::<Node>::all(p.client.clone());
        p.add(
            api,
            "nodes".to_string(),
            cfg.selector(Role::Node),
            wrap_node,
        );
    }
    if attach.namespace && role != Role::Node {
        let api = Api::<Namespace>::all(p.client.clone());
        p.add(api, "namespaces".to_string(), (None, None), wrap_namespace);
    }
    p
}

/// Watches until `shutdown`, publishing the targets of `cfg` as `source`.
pub async fn run(
    cfg: KubernetesSdConfig,
    source: String,
    ctx: DiscoveryContext,
    shutdown: CancellationToken,
) {
    let Some(role) = cfg.role() else { return };
    let (client, own) = loop {
        match client::build(&cfg).await {
            Ok(c) => break c,
            Err(message) => {
                ctx.failed(&source, message);
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(CLIENT_RETRY) => {}
                }
            }
        }
    };
    let namespaces = namespaces(&cfg, own);
    let Plan {
        mut stores,
        streams,
        ..
    } = plan(role, &cfg, client, namespaces);
    let mut events = futures::stream::select_all(streams);
    let opts = BuildOptions {
        attach_node: cfg.attach_metadata.node,
        attach_namespace: cfg.attach_metadata.namespace,
    };
    tracing::debug!(source = %source, role = role.as_str(), watches = stores.len(), "Kubernetes discovery started.");
    let mut coalescer = Coalescer::default();
    let mut last: Option<Vec<TargetGroup>> = None;
    loop {
        let deadline = coalescer.deadline();
        tokio::select! {
            _ = shutdown.cancelled() => return,
            msg = events.next() => {
                let Some((id, result)) = msg else { return };
                let Some(store) = stores.get_mut(id) else { continue };
                match result {
                    Ok(event) => {
                        if store.apply(event) {
                            coalescer.changed(Instant::now());
                        }
                    }
                    Err(watcher::Error::WatchError(status)) if status.code == 410 => {
                        tracing::debug!(source = %source, watch = %store.what, "Resource version expired (410 Gone); listing again.");
                    }
                    Err(e) => {
                        ctx.failed(&source, format!("watching {}: {}", store.what, client::chain(&e)));
                    }
                }
            }
            _ = sleep_until(deadline), if deadline.is_some() => {
                if !stores.iter().all(|s| s.synced) {
                    coalescer.postpone();
                    continue;
                }
                let groups = build(role, &objects(&stores), &opts);
                coalescer.published(Instant::now());
                if last.as_ref() == Some(&groups) {
                    ctx.publish_unchanged(&source);
                    continue;
                }
                last = Some(groups.clone());
                if !ctx.publish(&source, groups).await {
                    return;
                }
            }
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}
