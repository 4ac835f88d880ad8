//! The Kubernetes manifests in `deploy/kubernetes/` against the config they
//! carry: every workload (DaemonSet, Deployment) in a manifest file is
//! checked with the ConfigMap, ServiceAccount, RBAC and Services of the same
//! file. No cluster is involved: what is checked is that the manifests and
//! the config agree with each other and with profcol.
//!
//! `configmap_configs_pass_validate` needs the receiver's
//! `kubernetes_sd_configs` (until it is merged, `validate` refuses the key).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod e2e;

use e2e::profcol_bin;
use profcol_config::yaml::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// One manifest file: its documents in order.
struct Manifest {
    file: String,
    docs: Vec<Value>,
}

impl Manifest {
    fn parse(file: &str, text: &str) -> Self {
        // Documents are separated by `---` lines (none of ours starts with a
        // directive or sits inside a block scalar).
        let mut chunks = vec![String::new()];
        for line in text.lines() {
            if line.trim_end() == "---" {
                chunks.push(String::new());
            } else {
                let last = chunks.last_mut().unwrap();
                last.push_str(line);
                last.push('\n');
            }
        }
        let docs = chunks
            .iter()
            .map(|c| {
                profcol_config::yaml::from_str::<Value>(c).unwrap_or_else(|e| panic!("{file}: {e}"))
            })
            .filter(|d| !d.is_null())
            .collect();
        Self {
            file: file.to_string(),
            docs,
        }
    }

    fn of_kind<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
        self.docs.iter().filter(move |d| d["kind"] == kind)
    }

    fn find<'a>(&'a self, kind: &'a str, name: &str) -> Option<&'a Value> {
        self.of_kind(kind).find(|d| d["metadata"]["name"] == name)
    }
}

/// Every `deploy/kubernetes/*.yaml`.
fn manifests() -> Vec<Manifest> {
    let dir = repo_root().join("deploy/kubernetes");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().and_then(|e| e.to_str()) == Some("yaml"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            Manifest::parse(&name, &std::fs::read_to_string(p).unwrap())
        })
        .collect()
}

const WORKLOAD_KINDS: [&str; 3] = ["DaemonSet", "Deployment", "StatefulSet"];

/// A workload running profcol, with what the checks need of it.
struct Workload<'a> {
    manifest: &'a Manifest,
    doc: &'a Value,
    /// `file: Kind/name`, for messages.
    what: String,
}

impl<'a> Workload<'a> {
    fn pod(&self) -> &'a Value {
        &self.doc["spec"]["template"]["spec"]
    }

    fn namespace(&self) -> &'a str {
        self.doc["metadata"]["namespace"]
            .as_str()
            .unwrap_or("default")
    }

    /// The profcol container (the only one).
    fn container(&self) -> &'a Value {
        let containers = self.pod()["containers"].as_sequence().unwrap();
        assert_eq!(containers.len(), 1, "{}: one container expected", self.what);
        &containers[0]
    }

    /// The arguments profcol gets: `command` after the binary, then `args`.
    fn profcol_args(&self) -> Vec<String> {
        let c = self.container();
        let strings = |v: &Value| -> Vec<String> {
            v.as_sequence()
                .map(|s| s.iter().map(|x| x.as_str().unwrap().to_string()).collect())
                .unwrap_or_default()
        };
        let command = strings(&c["command"]);
        let bin = command.first().unwrap_or_else(|| {
            panic!(
                "{}: set command to the binary, not the image's entrypoint",
                self.what
            )
        });
        assert!(
            bin.ends_with("/profcol"),
            "{}: command runs {bin}",
            self.what
        );
        command[1..]
            .iter()
            .cloned()
            .chain(strings(&c["args"]))
            .collect()
    }

    /// The `--config` file path in the arguments.
    fn config_path(&self) -> String {
        let args = self.profcol_args();
        let mut paths = Vec::new();
        for (i, a) in args.iter().enumerate() {
            if a == "--config" || a == "-c" {
                paths.push(args[i + 1].clone());
            } else if let Some(p) = a.strip_prefix("--config=") {
                paths.push(p.to_string());
            }
        }
        assert_eq!(
            paths.len(),
            1,
            "{}: one --config expected: {args:?}",
            self.what
        );
        paths.remove(0)
    }

    fn mounts(&self) -> &'a [Value] {
        self.container()["volumeMounts"]
            .as_sequence()
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    fn volume(&self, name: &str) -> &'a Value {
        self.pod()["volumes"]
            .as_sequence()
            .and_then(|v| v.iter().find(|v| v["name"] == name))
            .unwrap_or_else(|| panic!("{}: no volume {name}", self.what))
    }

    /// The mount holding `path` (the deepest one) and the path inside it.
    fn mount_of(&self, path: &str) -> Option<(&'a Value, String)> {
        self.mounts()
            .iter()
            .filter_map(|m| {
                let at = m["mountPath"].as_str()?.trim_end_matches('/');
                let rest = path.strip_prefix(at)?;
                (rest.is_empty() || rest.starts_with('/'))
                    .then(|| (m, rest.trim_start_matches('/').to_string()))
            })
            .max_by_key(|(m, _)| m["mountPath"].as_str().unwrap_or("").len())
    }

    /// The config file's text, found through its mount, volume and ConfigMap.
    fn config_text(&self) -> String {
        let path = self.config_path();
        let (mount, inside) = self
            .mount_of(&path)
            .unwrap_or_else(|| panic!("{}: nothing is mounted at {path}", self.what));
        let volume = self.volume(mount["name"].as_str().unwrap());
        let cm_name = volume["configMap"]["name"]
            .as_str()
            .unwrap_or_else(|| panic!("{}: {path} is not on a ConfigMap volume", self.what));
        let cm = self
            .manifest
            .find("ConfigMap", cm_name)
            .unwrap_or_else(|| panic!("{}: ConfigMap {cm_name} is not in the file", self.what));
        let key = match mount["subPath"].as_str() {
            Some(sub) => sub.to_string(),
            None => inside,
        };
        // With `items`, a key appears under the item's path.
        let key = match volume["configMap"]["items"].as_sequence() {
            Some(items) => items
                .iter()
                .find(|i| i["path"] == key.as_str())
                .and_then(|i| i["key"].as_str())
                .unwrap_or_else(|| panic!("{}: no item has path {key}", self.what))
                .to_string(),
            None => key,
        };
        cm["data"][key.as_str()]
            .as_str()
            .unwrap_or_else(|| panic!("{}: ConfigMap {cm_name} has no key {key}", self.what))
            .to_string()
    }

    fn config(&self) -> Value {
        profcol_config::yaml::from_str(&self.config_text())
            .unwrap_or_else(|e| panic!("{}: the config is not YAML: {e}", self.what))
    }

    /// The container's port `port` names (or is), with its protocol.
    fn container_port(&self, port: &Value) -> (u64, String) {
        let ports = self.container()["ports"].as_sequence().unwrap();
        let found = match port {
            Value::Number(n) => ports
                .iter()
                .find(|p| p["containerPort"].as_u64() == n.as_u64()),
            Value::String(name) => ports.iter().find(|p| p["name"] == name.as_str()),
            _ => None,
        }
        .unwrap_or_else(|| panic!("{}: no container port {port:?}", self.what));
        (
            found["containerPort"].as_u64().unwrap(),
            found["protocol"].as_str().unwrap_or("TCP").to_string(),
        )
    }

    /// The container's environment as the kubelet would set it, with sample
    /// values for the downward API fields.
    fn env(&self) -> BTreeMap<String, String> {
        let mut env = BTreeMap::new();
        for e in self.container()["env"].as_sequence().into_iter().flatten() {
            let name = e["name"].as_str().unwrap().to_string();
            let value = if let Some(v) = e["value"].as_str() {
                v.to_string()
            } else {
                match e["valueFrom"]["fieldRef"]["fieldPath"].as_str() {
                    Some("spec.nodeName") => "node-a".to_string(),
                    Some("metadata.name") => "profcol-7d9f8b-x2k4q".to_string(),
                    Some("metadata.namespace") => self.namespace().to_string(),
                    Some("status.podIP") => "10.42.0.17".to_string(),
                    other => panic!("{}: env {name}: unexpected source {other:?}", self.what),
                }
            };
            env.insert(name, value);
        }
        env
    }

    fn env_field(&self, var: &str) -> Option<&'a str> {
        self.container()["env"]
            .as_sequence()?
            .iter()
            .find(|e| e["name"] == var)?["valueFrom"]["fieldRef"]["fieldPath"]
            .as_str()
    }
}

fn workloads(manifests: &[Manifest]) -> Vec<Workload<'_>> {
    let mut found = Vec::new();
    for m in manifests {
        for kind in WORKLOAD_KINDS {
            for doc in m.of_kind(kind) {
                found.push(Workload {
                    manifest: m,
                    doc,
                    what: format!(
                        "{}: {kind}/{}",
                        m.file,
                        doc["metadata"]["name"].as_str().unwrap_or("?")
                    ),
                });
            }
        }
    }
    found
}

/// Runs `check` on every workload; there must be the DaemonSet and the
/// clustered Deployment at least.
fn each_workload(check: impl Fn(&Workload)) {
    let manifests = manifests();
    let all = workloads(&manifests);
    let kinds: BTreeSet<&str> = all
        .iter()
        .map(|w| w.doc["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains("DaemonSet") && kinds.contains("Deployment"),
        "found only {kinds:?}"
    );
    for w in &all {
        check(w);
    }
}

fn receivers(config: &Value) -> Vec<&Value> {
    config["receivers"]
        .as_mapping()
        .map(|m| m.values().collect())
        .unwrap_or_default()
}

/// `(apiGroup, resource)` pairs that the config's `kubernetes_sd_configs`
/// read (list + watch), as Prometheus' Kubernetes discovery does per role.
fn needed_resources(config: &Value) -> BTreeSet<(String, String)> {
    let mut needed = BTreeSet::new();
    let mut add = |group: &str, resource: &str| {
        needed.insert((group.to_string(), resource.to_string()));
    };
    for r in receivers(config) {
        for sd in r["kubernetes_sd_configs"]
            .as_sequence()
            .into_iter()
            .flatten()
        {
            let role = sd["role"]
                .as_str()
                .expect("kubernetes_sd_configs needs role");
            match role {
                "pod" => add("", "pods"),
                "node" => add("", "nodes"),
                "service" => add("", "services"),
                "endpoints" => {
                    add("", "endpoints");
                    add("", "services");
                    add("", "pods");
                }
                "endpointslice" => {
                    add("discovery.k8s.io", "endpointslices");
                    add("", "services");
                    add("", "pods");
                }
                "ingress" => add("networking.k8s.io", "ingresses"),
                other => panic!("unknown kubernetes_sd_configs role {other}"),
            }
            // Node metadata is attached to pod, endpoints and endpointslice
            // targets only; namespace metadata to every role but node.
            if sd["attach_metadata"]["node"].as_bool() == Some(true)
                && ["pod", "endpoints", "endpointslice"].contains(&role)
            {
                add("", "nodes");
            }
            if sd["attach_metadata"]["namespace"].as_bool() == Some(true) && role != "node" {
                add("", "namespaces");
            }
        }
    }
    needed
}

/// The ClusterRoles bound (in the same file) to the workload's ServiceAccount.
fn bound_cluster_roles<'a>(w: &Workload<'a>) -> Vec<&'a Value> {
    let sa = w.pod()["serviceAccountName"]
        .as_str()
        .unwrap_or_else(|| panic!("{}: no serviceAccountName", w.what));
    let mut roles = Vec::new();
    for binding in w.manifest.of_kind("ClusterRoleBinding") {
        let binds_sa = binding["subjects"]
            .as_sequence()
            .into_iter()
            .flatten()
            .any(|s| {
                s["kind"] == "ServiceAccount" && s["name"] == sa && s["namespace"] == w.namespace()
            });
        if !binds_sa {
            continue;
        }
        assert_eq!(
            binding["roleRef"]["kind"], "ClusterRole",
            "{}: binding {:?}",
            w.what, binding["metadata"]["name"]
        );
        let role_name = binding["roleRef"]["name"].as_str().unwrap();
        roles.push(
            w.manifest
                .find("ClusterRole", role_name)
                .unwrap_or_else(|| {
                    panic!("{}: ClusterRole {role_name} is not in the file", w.what)
                }),
        );
    }
    roles
}

#[test]
fn config_files_come_from_configmaps_in_the_same_file() {
    each_workload(|w| {
        let path = w.config_path();
        let (mount, _) = w.mount_of(&path).unwrap();
        assert!(
            mount["subPath"].is_null(),
            "{}: {path} is a subPath mount, which never sees ConfigMap updates (live reload)",
            w.what
        );
        assert_eq!(mount["readOnly"].as_bool(), Some(true), "{}", w.what);
        // Every ConfigMap volume names a ConfigMap of the file, and its items
        // name existing keys.
        for v in w.pod()["volumes"].as_sequence().unwrap() {
            if let Some(name) = v["configMap"]["name"].as_str() {
                let cm = w
                    .manifest
                    .find("ConfigMap", name)
                    .unwrap_or_else(|| panic!("{}: no ConfigMap {name}", w.what));
                assert_eq!(cm["metadata"]["namespace"], w.namespace(), "{}", w.what);
                for item in v["configMap"]["items"].as_sequence().into_iter().flatten() {
                    let key = item["key"].as_str().unwrap();
                    assert!(
                        cm["data"][key].is_string(),
                        "{}: no key {key} in {name}",
                        w.what
                    );
                }
            }
        }
        // Every mount names a volume of the pod.
        for m in w.mounts() {
            w.volume(m["name"].as_str().unwrap());
        }
        assert!(w.config_text().contains("receivers:"), "{}", w.what);
    });
}

#[test]
fn configmap_configs_equal_their_examples() {
    let manifests = manifests();
    let all = workloads(&manifests);
    for (manifest, example) in [
        ("profcol-daemonset.yaml", "kubernetes-daemonset.yaml"),
        ("profcol-clustering.yaml", "clustering.yaml"),
    ] {
        let w = all
            .iter()
            .find(|w| w.manifest.file == manifest)
            .unwrap_or_else(|| panic!("no workload in {manifest}"));
        let expected = std::fs::read_to_string(repo_root().join("examples").join(example)).unwrap();
        assert!(
            w.config_text() == expected,
            "{}: the ConfigMap's config.yaml differs from examples/{example}: copy it over (indented by 4)",
            w.what
        );
    }
}

/// Needs the receiver's `kubernetes_sd_configs`. The config is validated
/// with the container's own arguments (its path swapped for a temporary
/// copy) and environment, so the flags are ones the CLI accepts too.
#[test]
fn configmap_configs_pass_validate() {
    each_workload(|w| {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config.yaml");
        std::fs::write(&file, w.config_text()).unwrap();
        let path = w.config_path();
        let args: Vec<String> = std::iter::once("validate".to_string())
            .chain(w.profcol_args().into_iter().map(|a| {
                if a == path {
                    file.to_string_lossy().to_string()
                } else {
                    a.replace(&path, file.to_str().unwrap())
                }
            }))
            .collect();
        let out = Command::new(profcol_bin())
            .args(&args)
            .env_clear()
            .envs(w.env())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}: profcol {args:?}:\n{}",
            w.what,
            String::from_utf8_lossy(&out.stderr)
        );
    });
}

/// The `${env:NAME}` references (without default) in the config's values.
fn env_refs(value: &Value, out: &mut BTreeSet<String>) {
    match value {
        Value::String(s) => {
            for part in s.split("${").skip(1) {
                let reference = part.split('}').next().unwrap();
                let name = reference.strip_prefix("env:").unwrap_or(reference);
                if !name.contains(":-") && !name.starts_with("file:") {
                    out.insert(name.to_string());
                }
            }
        }
        Value::Sequence(s) => s.iter().for_each(|v| env_refs(v, out)),
        Value::Mapping(m) => m.values().for_each(|v| env_refs(v, out)),
        _ => {}
    }
}

#[test]
fn the_config_reads_only_env_vars_the_container_sets() {
    each_workload(|w| {
        let config = w.config();
        let mut refs = BTreeSet::new();
        env_refs(&config, &mut refs);
        let env = w.env();
        for name in &refs {
            assert!(
                env.contains_key(name),
                "{}: the config reads ${{env:{name}}}, the container does not set it",
                w.what
            );
        }
        // A node-local field selector must get this node's name.
        for r in receivers(&config) {
            for sd in r["kubernetes_sd_configs"]
                .as_sequence()
                .into_iter()
                .flatten()
            {
                for sel in sd["selectors"].as_sequence().into_iter().flatten() {
                    let field = sel["field"].as_str().unwrap_or("");
                    if let Some(v) = field.strip_prefix("spec.nodeName=${env:") {
                        let var = v.trim_end_matches('}');
                        assert_eq!(w.env_field(var), Some("spec.nodeName"), "{}: {var}", w.what);
                    }
                }
            }
        }
    });
}

#[test]
fn rbac_grants_exactly_what_discovery_needs() {
    each_workload(|w| {
        let needed = needed_resources(&w.config());
        assert!(
            needed.contains(&(String::new(), "pods".to_string())),
            "{}: the config discovers no pods: {needed:?}",
            w.what
        );
        let mut granted: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
        for role in bound_cluster_roles(w) {
            for rule in role["rules"].as_sequence().unwrap() {
                assert!(rule["nonResourceURLs"].is_null(), "{}: {rule:?}", w.what);
                assert!(rule["resourceNames"].is_null(), "{}: {rule:?}", w.what);
                let list = |key: &str| -> Vec<String> {
                    rule[key]
                        .as_sequence()
                        .unwrap_or_else(|| panic!("{}: rule without {key}", w.what))
                        .iter()
                        .map(|v| v.as_str().unwrap().to_string())
                        .collect()
                };
                let verbs = list("verbs");
                for v in &verbs {
                    assert!(
                        ["get", "list", "watch"].contains(&v.as_str()),
                        "{}: verb {v:?} granted; discovery only reads",
                        w.what
                    );
                }
                for group in list("apiGroups") {
                    for resource in list("resources") {
                        assert!(
                            group != "*" && resource != "*",
                            "{}: wildcard in {rule:?}",
                            w.what
                        );
                        granted
                            .entry((group.clone(), resource))
                            .or_default()
                            .extend(verbs.iter().cloned());
                    }
                }
            }
        }
        for need in &needed {
            let verbs = granted.get(need).cloned().unwrap_or_default();
            assert!(
                verbs.contains("list") && verbs.contains("watch"),
                "{}: discovery needs list and watch on {need:?}, granted {verbs:?}",
                w.what
            );
        }
        for have in granted.keys() {
            assert!(
                needed.contains(have),
                "{}: {have:?} is granted but the config does not read it (needs {needed:?})",
                w.what
            );
        }
    });
}

#[test]
fn workloads_run_as_their_bound_service_account() {
    each_workload(|w| {
        let sa = w.pod()["serviceAccountName"].as_str().unwrap();
        let account = w
            .manifest
            .find("ServiceAccount", sa)
            .unwrap_or_else(|| panic!("{}: ServiceAccount {sa} is not in the file", w.what));
        assert_eq!(
            account["metadata"]["namespace"],
            w.namespace(),
            "{}",
            w.what
        );
        assert_ne!(
            w.pod()["automountServiceAccountToken"].as_bool(),
            Some(false),
            "{}: discovery needs the token",
            w.what
        );
        assert!(
            !bound_cluster_roles(w).is_empty(),
            "{}: no ClusterRoleBinding binds ServiceAccount {sa} in {}",
            w.what,
            w.namespace()
        );
    });
}

/// `host:port` of the admin server the config sets (profcol's default when
/// it sets none).
fn admin_address(config: &Value) -> String {
    config["service"]["telemetry"]["metrics"]["address"]
        .as_str()
        .unwrap_or("127.0.0.1:8888")
        .to_string()
}

#[test]
fn probes_ask_health_and_readiness_on_the_admin_port() {
    each_workload(|w| {
        let config = w.config();
        let address = admin_address(&config);
        let (host, port) = address.rsplit_once(':').unwrap();
        let port: u64 = port.parse().unwrap();
        assert!(
            !(host.starts_with("127.")
                || host == "localhost"
                || host == "[::1]"
                || host.is_empty()),
            "{}: the admin server listens on {address}: the kubelet's probes cannot reach loopback",
            w.what
        );
        let metrics = &config["service"]["telemetry"]["metrics"];
        let auth = !metrics["basic_auth"].is_null()
            || !metrics["bearer_token"].is_null()
            || !metrics["bearer_token_file"].is_null();
        let scheme = if metrics["tls"].is_null() {
            "HTTP"
        } else {
            "HTTPS"
        };
        for (probe, path) in [
            ("livenessProbe", "/-/ready"),
            ("readinessProbe", "/-/healthy"),
        ] {
            let get = &w.container()[probe]["httpGet"];
            assert_eq!(get["path"], path, "{}: {probe}", w.what);
            let (number, protocol) = w.container_port(&get["port"]);
            assert_eq!(number, port, "{}: {probe} port vs {address}", w.what);
            assert_eq!(protocol, "TCP", "{}", w.what);
            assert_eq!(
                get["scheme"].as_str().unwrap_or("HTTP"),
                scheme,
                "{}: {probe}",
                w.what
            );
            if auth {
                let headers = get["httpHeaders"].as_sequence();
                assert!(
                    headers.is_some_and(|h| h.iter().any(|x| x["name"] == "Authorization")),
                    "{}: the admin server wants auth, {probe} sends none",
                    w.what
                );
            }
        }
    });
}

/// Directories the config's exporters write to.
fn written_directories(config: &Value) -> Vec<String> {
    let mut dirs = Vec::new();
    for (_, e) in config["exporters"].as_mapping().into_iter().flatten() {
        for dir in [&e["directory"], &e["sending_queue"]["storage"]["directory"]] {
            if let Some(d) = dir.as_str() {
                dirs.push(d.to_string());
            }
        }
    }
    dirs
}

#[test]
fn containers_are_locked_down_and_write_only_where_needed() {
    each_workload(|w| {
        let pod_sc = &w.pod()["securityContext"];
        let sc = &w.container()["securityContext"];
        let either = |key: &str| {
            if sc[key].is_null() {
                &pod_sc[key]
            } else {
                &sc[key]
            }
        };
        assert_eq!(either("runAsNonRoot").as_bool(), Some(true), "{}", w.what);
        assert_ne!(either("runAsUser").as_u64(), Some(0), "{}", w.what);
        assert_eq!(
            sc["readOnlyRootFilesystem"].as_bool(),
            Some(true),
            "{}",
            w.what
        );
        assert_eq!(
            sc["allowPrivilegeEscalation"].as_bool(),
            Some(false),
            "{}",
            w.what
        );
        assert_ne!(sc["privileged"].as_bool(), Some(true), "{}", w.what);
        assert!(
            sc["capabilities"]["drop"]
                .as_sequence()
                .is_some_and(|d| d.iter().any(|c| c == "ALL")),
            "{}: drop ALL capabilities",
            w.what
        );
        for host in ["hostNetwork", "hostPID", "hostIPC"] {
            assert_ne!(w.pod()[host].as_bool(), Some(true), "{}: {host}", w.what);
        }
        // Whatever the config writes is on a writable volume ...
        let written = written_directories(&w.config());
        for dir in &written {
            assert!(
                dir.starts_with('/'),
                "{}: {dir} is relative; the root is read-only",
                w.what
            );
            let (mount, _) = w.mount_of(dir).unwrap_or_else(|| {
                panic!(
                    "{}: the config writes to {dir}, nothing is mounted there",
                    w.what
                )
            });
            assert_ne!(mount["readOnly"].as_bool(), Some(true), "{}: {dir}", w.what);
        }
        // ... and nothing else is writable but $TMPDIR (profcol's own heap
        // profile has jemalloc write a temporary file).
        for m in w.mounts() {
            if m["readOnly"].as_bool() == Some(true) {
                continue;
            }
            let at = m["mountPath"].as_str().unwrap();
            assert!(
                at == "/tmp" || written.iter().any(|d| Path::new(d).starts_with(at)),
                "{}: {at} is writable but the config writes nothing there ({written:?})",
                w.what
            );
            let volume = w.volume(m["name"].as_str().unwrap());
            assert!(
                volume["emptyDir"].is_mapping(),
                "{}: writable {at} is not an emptyDir",
                w.what
            );
            assert!(
                volume["emptyDir"]["sizeLimit"].is_string(),
                "{}: emptyDir for {at} has no sizeLimit",
                w.what
            );
        }
    });
}

/// A memory quantity (`512Mi`, `1Gi`, `1G`, bytes) in MiB.
fn mib(quantity: &str) -> f64 {
    let units: [(&str, f64); 6] = [
        ("Ki", 1.0 / 1024.0),
        ("Mi", 1.0),
        ("Gi", 1024.0),
        ("K", 1e3 / 1048576.0),
        ("M", 1e6 / 1048576.0),
        ("G", 1e9 / 1048576.0),
    ];
    for (suffix, factor) in units {
        if let Some(n) = quantity.strip_suffix(suffix) {
            return n.parse::<f64>().unwrap() * factor;
        }
    }
    quantity.parse::<f64>().unwrap() / 1048576.0
}

#[test]
fn memory_limit_of_the_config_is_below_the_containers() {
    assert_eq!(mib("512Mi"), 512.0);
    assert_eq!(mib("1Gi"), 1024.0);
    each_workload(|w| {
        let res = &w.container()["resources"];
        for key in ["cpu", "memory"] {
            assert!(
                !res["requests"][key].is_null(),
                "{}: no {key} request",
                w.what
            );
        }
        let limit = res["limits"]["memory"]
            .as_str()
            .unwrap_or_else(|| panic!("{}: no memory limit", w.what));
        let config = w.config();
        let soft = config["service"]["memory_limit_mib"].as_u64().unwrap_or(0);
        assert!(
            soft > 0,
            "{}: set service.memory_limit_mib so profcol refuses scrapes before the OOM killer acts",
            w.what
        );
        assert!(
            (soft as f64) < mib(limit),
            "{}: memory_limit_mib {soft} is not below the container limit {limit}",
            w.what
        );
    });
}

#[test]
fn clustered_workloads_gossip_through_their_headless_service() {
    let manifests = manifests();
    let mut clustered = 0;
    for w in workloads(&manifests) {
        let config = w.config();
        let cluster = &config["service"]["cluster"];
        if cluster["enabled"].as_bool() != Some(true) {
            for r in receivers(&config) {
                assert_ne!(
                    r["clustering"]["enabled"].as_bool(),
                    Some(true),
                    "{}: clustering without service.cluster",
                    w.what
                );
            }
            continue;
        }
        clustered += 1;
        assert!(
            w.doc["spec"]["replicas"].as_u64().unwrap_or(1) > 1,
            "{}",
            w.what
        );
        // node_name and advertise_address come from the pod itself.
        let var = |key: &str| -> String {
            let v = cluster[key]
                .as_str()
                .unwrap_or_else(|| panic!("{}: service.cluster.{key} unset", w.what));
            v.split("${env:")
                .nth(1)
                .and_then(|r| r.split('}').next())
                .unwrap_or_else(|| panic!("{}: {key} {v} is not per pod", w.what))
                .to_string()
        };
        assert_eq!(
            w.env_field(&var("node_name")),
            Some("metadata.name"),
            "{}",
            w.what
        );
        assert_eq!(
            w.env_field(&var("advertise_address")),
            Some("status.podIP"),
            "{}",
            w.what
        );
        let listen = cluster["listen_address"].as_str().unwrap_or("0.0.0.0:7946");
        let gossip_port: u64 = listen.rsplit_once(':').unwrap().1.parse().unwrap();
        assert_eq!(
            w.container_port(&Value::from(gossip_port)),
            (gossip_port, "UDP".to_string()),
            "{}",
            w.what
        );
        let labels = &w.doc["spec"]["template"]["metadata"]["labels"];
        let peers = cluster["join_peers"].as_sequence().unwrap();
        assert!(!peers.is_empty(), "{}: no join_peers", w.what);
        for peer in peers {
            let peer = peer.as_str().unwrap();
            let (host, port) = peer.rsplit_once(':').unwrap();
            let mut parts = host.split('.');
            let (svc_name, ns) = (parts.next().unwrap(), parts.next().unwrap_or(w.namespace()));
            assert_eq!(ns, w.namespace(), "{}: {peer}", w.what);
            let svc = w
                .manifest
                .find("Service", svc_name)
                .unwrap_or_else(|| panic!("{}: join peer {peer}: no Service {svc_name}", w.what));
            assert_eq!(
                svc["spec"]["clusterIP"], "None",
                "{}: {svc_name} must be headless",
                w.what
            );
            assert_eq!(
                svc["spec"]["publishNotReadyAddresses"].as_bool(),
                Some(true),
                "{}: {svc_name}",
                w.what
            );
            for (k, v) in svc["spec"]["selector"].as_mapping().unwrap() {
                assert_eq!(
                    &labels[k], v,
                    "{}: {svc_name} does not select the pods",
                    w.what
                );
            }
            let sp = svc["spec"]["ports"]
                .as_sequence()
                .unwrap()
                .iter()
                .find(|p| p["port"].as_u64() == port.parse().ok())
                .unwrap_or_else(|| panic!("{}: {svc_name} has no port {port}", w.what));
            assert_eq!(sp["protocol"], "UDP", "{}", w.what);
            let target = if sp["targetPort"].is_null() {
                &sp["port"]
            } else {
                &sp["targetPort"]
            };
            assert_eq!(
                w.container_port(target),
                (gossip_port, "UDP".to_string()),
                "{}",
                w.what
            );
        }
    }
    assert!(clustered >= 1, "no clustered workload found");
}
