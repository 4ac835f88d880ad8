use super::*;
use crate::config::ScrapeConfig;

fn settings(yaml: &str) -> Settings {
    let v = profcol_config::Body::parse(yaml).unwrap();
    let c: ScrapeConfig = profcol_config::decode(&v, "r").unwrap();
    Settings::new("pyroscope_scrape/local", &c)
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs.iter().copied())
}

/// Every URL a config scrapes, for its static targets, in order.
fn urls(yaml: &str) -> Vec<String> {
    let v = profcol_config::Body::parse(yaml).unwrap();
    let c: ScrapeConfig = profcol_config::decode(&v, "r").unwrap();
    let s = Settings::new("pyroscope_scrape/local", &c);
    c.targets
        .unwrap()
        .iter()
        .flat_map(|t| expand(&s, &t.iter().collect()).unwrap())
        .map(|t| t.url.to_string())
        .collect()
}

#[test]
fn seed_example_default_endpoints_of_static_targets() {
    let got = urls(
        r#"targets: [{"__address__": "localhost:4100", "service_name": "pyroscope"}, {"__address__": "localhost:12345", "service_name": "agent"}]"#,
    );
    assert_eq!(
        got,
        [
            "http://localhost:4100/debug/pprof/allocs",
            "http://localhost:4100/debug/pprof/block",
            "http://localhost:4100/debug/pprof/goroutine",
            "http://localhost:4100/debug/pprof/mutex",
            "http://localhost:4100/debug/pprof/profile?seconds=14",
            "http://localhost:12345/debug/pprof/allocs",
            "http://localhost:12345/debug/pprof/block",
            "http://localhost:12345/debug/pprof/goroutine",
            "http://localhost:12345/debug/pprof/mutex",
            "http://localhost:12345/debug/pprof/profile?seconds=14",
        ]
    );
}

#[test]
fn seed_example_enabling_and_disabling_profiles() {
    let mut got = urls(
        r#"
targets: [{"__address__": "localhost:12345", "service_name": "agent"}]
profiling_config:
  profile:
    fgprof: {enabled: true}
    block: {enabled: false}
    mutex: {enabled: false}
"#,
    );
    got.sort();
    let mut want = [
        "http://localhost:12345/debug/pprof/allocs",
        "http://localhost:12345/debug/pprof/goroutine",
        "http://localhost:12345/debug/pprof/profile?seconds=14",
        "http://localhost:12345/debug/fgprof?seconds=14",
    ];
    want.sort();
    assert_eq!(got, want);
}

#[test]
fn url_of_every_builtin_type_with_and_without_prefix() {
    let all = "profile: {fgprof: {enabled: true}, godeltaprof_memory: {enabled: true}, godeltaprof_mutex: {enabled: true}, godeltaprof_block: {enabled: true}}";
    let cases = [
        ("memory", "/debug/pprof/allocs", "memory"),
        ("block", "/debug/pprof/block", "block"),
        ("goroutine", "/debug/pprof/goroutine", "goroutine"),
        ("mutex", "/debug/pprof/mutex", "mutex"),
        (
            "process_cpu",
            "/debug/pprof/profile?seconds=14",
            "process_cpu",
        ),
        ("fgprof", "/debug/fgprof?seconds=14", "fgprof"),
        ("godeltaprof_memory", "/debug/pprof/delta_heap", "memory"),
        ("godeltaprof_mutex", "/debug/pprof/delta_mutex", "mutex"),
        ("godeltaprof_block", "/debug/pprof/delta_block", "block"),
    ];
    for prefix in ["", "/app", "/app/"] {
        let s = settings(&format!(
            "targets: [{{__address__: 'h:1'}}]\nprofiling_config: {{path_prefix: '{prefix}', {all}}}"
        ));
        let jobs = expand(&s, &labels(&[("__address__", "h:1")])).unwrap();
        assert_eq!(jobs.len(), cases.len());
        for (job, (name, path, reported)) in jobs.iter().zip(cases) {
            assert_eq!(job.profile.name, name);
            let want = format!("http://h:1{}{path}", prefix.trim_end_matches('/'));
            assert_eq!(job.url.as_str(), want, "{name} with prefix {prefix:?}");
            assert_eq!(job.labels.get(Labels::NAME), Some(reported), "{name}");
        }
    }
}

#[test]
fn url_building_from_labels_and_config() {
    // (extra config, target labels, expected memory URL)
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);
    let cases: &[Case] = &[
        // The URL leaves a default port implicit; the instance label shows it.
        ("", &[("__address__", "h")], "http://h/debug/pprof/allocs"),
        (
            "scheme: https",
            &[("__address__", "h")],
            "https://h/debug/pprof/allocs",
        ),
        (
            "",
            &[("__address__", "h"), ("__scheme__", "https")],
            "https://h/debug/pprof/allocs",
        ),
        (
            "scheme: https",
            &[("__address__", "h:8443"), ("__scheme__", "http")],
            "http://h:8443/debug/pprof/allocs",
        ),
        (
            "",
            &[("__address__", "[::1]")],
            "http://[::1]/debug/pprof/allocs",
        ),
        (
            "",
            &[("__address__", "[::1]:6060")],
            "http://[::1]:6060/debug/pprof/allocs",
        ),
        (
            "params: {foo: [bar]}",
            &[("__address__", "h:1")],
            "http://h:1/debug/pprof/allocs?foo=bar",
        ),
        (
            "params: {foo: [bar, baz], a: [b]}",
            &[("__address__", "h:1")],
            "http://h:1/debug/pprof/allocs?a=b&foo=bar&foo=baz",
        ),
        (
            "params: {foo: [bar, baz]}",
            &[("__address__", "h:1"), ("__param_foo", "x")],
            "http://h:1/debug/pprof/allocs?foo=x&foo=baz",
        ),
        (
            "",
            &[("__address__", "h:1"), ("__param_debug", "0")],
            "http://h:1/debug/pprof/allocs?debug=0",
        ),
        (
            "",
            &[("__address__", "h:1"), ("__profile_path__", "/heap")],
            "http://h:1/heap",
        ),
        (
            "profiling_config: {path_prefix: /app}",
            &[("__address__", "h:1")],
            "http://h:1/app/debug/pprof/allocs",
        ),
        (
            "",
            &[("__address__", "h:1"), ("__profile_path_prefix__", "/p")],
            "http://h:1/p/debug/pprof/allocs",
        ),
        (
            "profiling_config: {path_prefix: /app}",
            &[("__address__", "h:1"), ("__profile_path_prefix__", "/p")],
            "http://h:1/p/debug/pprof/allocs",
        ),
    ];
    for (extra, target, want) in cases {
        let s = settings(&format!("targets: [{{__address__: 'h'}}]\n{extra}"));
        let jobs = expand(&s, &labels(target)).unwrap();
        let memory = jobs.iter().find(|j| j.profile.name == "memory").unwrap();
        assert_eq!(memory.url.as_str(), *want, "{extra} {target:?}");
    }
}

#[test]
fn missing_ports_follow_the_scheme() {
    for (addr, scheme, instance) in [
        ("h", "http", "h:80"),
        ("h", "https", "h:443"),
        ("[::1]", "https", "[::1]:443"),
        ("h:8080", "https", "h:8080"),
    ] {
        assert_eq!(address_with_port(addr, scheme).unwrap(), instance);
        let s = settings(&format!(
            "targets: [{{__address__: 'h'}}]\nscheme: {scheme}"
        ));
        let jobs = expand(&s, &labels(&[("__address__", addr)])).unwrap();
        assert_eq!(jobs[0].instance(), instance);
        assert_eq!(
            jobs[0].url.port_or_known_default().map(|p| p.to_string()),
            instance.rsplit(':').next().map(str::to_string)
        );
    }
}

#[test]
fn seconds_is_set_never_appended() {
    let s = settings("targets: [{__address__: 'h:1'}]\nparams: {seconds: ['99']}");
    let cpu = expand(&s, &labels(&[("__address__", "h:1")]))
        .unwrap()
        .into_iter()
        .find(|j| j.profile.name == "process_cpu")
        .unwrap();
    assert_eq!(
        cpu.url.as_str(),
        "http://h:1/debug/pprof/profile?seconds=14"
    );
    let s = settings("targets: [{__address__: 'h:1'}]\ndelta_profiling_duration: 5s");
    let cpu = expand(&s, &labels(&[("__address__", "h:1")]))
        .unwrap()
        .into_iter()
        .find(|j| j.profile.name == "process_cpu")
        .unwrap();
    assert_eq!(cpu.url.as_str(), "http://h:1/debug/pprof/profile?seconds=5");
    let s = settings("targets: [{__address__: 'h:1'}]\nscrape_interval: 30s");
    assert_eq!(s.delta_seconds, 29);
}

#[test]
fn bad_addresses_are_refused() {
    let s = settings("targets: [{__address__: 'h:1'}]");
    for (addr, scheme) in [
        ("", None),
        ("h:1/x", None),
        ("user:pw@h:1", None),
        ("::1", None),
        ("[::1", None),
        ("h:", None),
        ("h:http", None),
        ("h:70000", None),
        ("h\\:1", None),
        ("h\t:1", None),
        ("h:1", Some("ftp")),
    ] {
        let mut l = labels(&[("__address__", addr)]);
        if let Some(s) = scheme {
            l.set("__scheme__", s);
        }
        assert!(
            matches!(expand(&s, &l), Err(Error::InvalidTarget(_))),
            "{addr:?} {scheme:?}"
        );
    }
}

#[test]
fn service_name_inference_in_order() {
    let k8s_ann = (
        "__meta_kubernetes_pod_annotation_pyroscope_io_service_name",
        "ann",
    );
    let ns = ("__meta_kubernetes_namespace", "ns");
    let container = ("__meta_kubernetes_pod_container_name", "ctr");
    let docker = ("__meta_docker_container_name", "dock");
    let swarm_label = ("__meta_dockerswarm_container_label_service_name", "swl");
    let swarm_service = ("__meta_dockerswarm_service_name", "sws");
    let cases: &[(&[(&str, &str)], &str)] = &[
        (
            &[k8s_ann, ns, container, docker, swarm_label, swarm_service],
            "ann",
        ),
        (
            &[ns, container, docker, swarm_label, swarm_service],
            "ns/ctr",
        ),
        (&[ns, docker, swarm_label, swarm_service], "dock"),
        (&[container, swarm_label, swarm_service], "swl"),
        (&[swarm_service], "sws"),
        (&[], "unspecified"),
    ];
    let s = settings("targets: [{__address__: 'h:1'}]");
    for (meta, want) in cases {
        let mut l = labels(meta);
        l.set("__address__", "h:1");
        let jobs = expand(&s, &l).unwrap();
        assert_eq!(jobs[0].labels.get("service_name"), Some(*want), "{meta:?}");
        assert_eq!(jobs[0].service_name_unspecified, *want == "unspecified");
    }
    // A service_name the target sets wins over inference.
    let l = labels(&[("__address__", "h:1"), ("service_name", "mine"), k8s_ann]);
    assert_eq!(
        expand(&s, &l).unwrap()[0].labels.get("service_name"),
        Some("mine")
    );
}

#[test]
fn labels_are_injected_and_internal_ones_dropped() {
    let s = settings("targets: [{__address__: 'h'}]");
    let discovered = labels(&[
        ("__address__", "h"),
        ("__meta_consul_tag", "t"),
        ("__param_x", "1"),
        ("__scheme__", "http"),
        ("__custom", "c"),
        ("env", "prod"),
    ]);
    let jobs = expand(&s, &discovered).unwrap();
    let by = |n: &str| jobs.iter().find(|j| j.profile.name == n).unwrap();
    assert_eq!(
        by("memory").labels.to_string(),
        r#"{__delta__="false", __name__="memory", env="prod", instance="h:80", job="pyroscope_scrape/local", service_name="unspecified"}"#
    );
    assert_eq!(
        by("goroutine").labels.to_string(),
        r#"{__name__="goroutine", env="prod", instance="h:80", job="pyroscope_scrape/local", service_name="unspecified"}"#
    );
    // Deltas made by profcol (memory, block, mutex) or by the target
    // (`seconds`) are marked so that Pyroscope does not subtract again.
    for n in ["memory", "block", "mutex", "process_cpu"] {
        assert_eq!(by(n).labels.get("__delta__"), Some("false"), "{n}");
    }
    // The status keeps what was discovered.
    assert_eq!(*by("memory").discovered, discovered);

    // job_name, and a target's own job and instance labels.
    let s = settings("targets: [{__address__: 'h'}]\njob_name: my-job");
    let j = &expand(&s, &labels(&[("__address__", "h:1")])).unwrap()[0];
    assert_eq!((j.job(), j.instance()), ("my-job", "h:1"));
    let j = &expand(
        &s,
        &labels(&[("__address__", "h:1"), ("job", "theirs"), ("instance", "i")]),
    )
    .unwrap()[0];
    assert_eq!((j.job(), j.instance()), ("theirs", "i"));
}

#[test]
fn a_targets_tenant_travels_with_its_profiles() {
    let s = settings("targets: [{__address__: 'h'}]");
    let jobs = expand(
        &s,
        &labels(&[("__address__", "h:1"), ("__tenant_id__", "team-a")]),
    )
    .unwrap();
    assert!(jobs
        .iter()
        .all(|j| j.labels.get("__tenant_id__") == Some("team-a")));
    let jobs = expand(
        &s,
        &labels(&[("__address__", "h:1"), ("__tenant_id__", "")]),
    )
    .unwrap();
    assert!(jobs.iter().all(|j| j.labels.get("__tenant_id__").is_none()));
}

#[test]
fn relabeling_runs_before_expansion_and_sees_meta_labels() {
    let s = settings(
        "targets: [{__address__: 'h'}]\nrelabel_configs:\n  - {source_labels: [__meta_kubernetes_namespace], regex: kube-system, action: drop}\n  - {source_labels: [__meta_kubernetes_namespace], target_label: namespace}\n  - {source_labels: [__address__], modulus: 2, target_label: __tmp_shard, action: hashmod}\n  - {source_labels: [__tmp_shard], regex: '1', action: keep}",
    );
    let apply = |pairs: &[(&str, &str)]| crate::relabel::apply(&s.relabel, labels(pairs));
    assert!(apply(&[
        ("__address__", "a:1"),
        ("__meta_kubernetes_namespace", "kube-system")
    ])
    .is_none());
    // md5("c:1") and md5("a:1") land in different shards of 2 (Python's
    // hashlib: last 8 bytes big-endian mod 2 = 1 and 0).
    let kept = apply(&[
        ("__address__", "c:1"),
        ("__meta_kubernetes_namespace", "prod"),
    ])
    .unwrap();
    assert!(apply(&[
        ("__address__", "a:1"),
        ("__meta_kubernetes_namespace", "prod")
    ])
    .is_none());
    let jobs = expand(&s, &kept).unwrap();
    assert_eq!(jobs[0].labels.get("namespace"), Some("prod"));
    assert!(jobs[0]
        .labels
        .iter()
        .all(|(k, _)| !k.starts_with("__meta") && k != "__tmp_shard"));
}

#[test]
fn a_target_cannot_set_delta_and_custom_types_without_seconds_get_none() {
    let s = settings(
        "targets: [{__address__: 'h:1'}]\nprofiling_config: {profile: {custom: {snap: {enabled: true, path: /debug/snap}}}}",
    );
    let jobs = expand(
        &s,
        &labels(&[("__address__", "h:1"), ("__delta__", "true")]),
    )
    .unwrap();
    let by = |n: &str| jobs.iter().find(|j| j.profile.name == n).unwrap();
    assert_eq!(by("memory").labels.get(Labels::DELTA), Some("false"));
    assert_eq!(by("goroutine").labels.get(Labels::DELTA), None);
    assert_eq!(by("snap").labels.get(Labels::DELTA), None);
    assert_eq!(by("snap").url.query(), None);
}

#[test]
fn godeltaprof_and_custom_names() {
    let s = settings(
        "targets: [{__address__: 'h:1'}]\nprofiling_config: {profile: {godeltaprof_mutex: {enabled: true}, custom: {my_type: {enabled: true, path: /debug/custom, delta: true}}}}",
    );
    let jobs = expand(&s, &labels(&[("__address__", "h:1")])).unwrap();
    let gd = jobs
        .iter()
        .find(|j| j.profile.name == "godeltaprof_mutex")
        .unwrap();
    assert_eq!(gd.labels.get(Labels::NAME), Some("mutex"));
    assert_eq!(gd.labels.get(Labels::DELTA), Some("false"));
    let c = jobs.iter().find(|j| j.profile.name == "my_type").unwrap();
    assert_eq!(c.url.as_str(), "http://h:1/debug/custom?seconds=14");
    assert_eq!(c.labels.get(Labels::NAME), Some("my_type"));
    assert_eq!(c.labels.get(Labels::DELTA), Some("false"));
    // Same URL, different types: distinct keys.
    let mut keys: Vec<u64> = jobs.iter().map(|j| j.key).collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), jobs.len());
}

proptest::proptest! {
    /// Discovered labels come from the network: any values either expand
    /// or are refused, never panic, and an accepted job scrapes the address.
    #[test]
    fn arbitrary_discovered_labels_never_panic(
        addr in "\\PC{0,24}",
        scheme in proptest::option::of("(http|https|\\PC{0,6})"),
        path in proptest::option::of("\\PC{0,16}"),
        prefix in proptest::option::of("\\PC{0,16}"),
        param in proptest::option::of("\\PC{0,16}"),
    ) {
        let s = settings("targets: [{__address__: 'h:1'}]\nparams: {a: [b]}");
        let mut l = labels(&[("__address__", addr.as_str())]);
        if let Some(v) = &scheme { l.set("__scheme__", v.as_str()); }
        if let Some(v) = &path { l.set("__profile_path__", v.as_str()); }
        if let Some(v) = &prefix { l.set("__profile_path_prefix__", v.as_str()); }
        if let Some(v) = &param { l.set("__param_a", v.as_str()); }
        if let Ok(jobs) = expand(&s, &l) {
            proptest::prop_assert_eq!(jobs.len(), 5);
            for j in jobs {
                // Hosts may be normalised (IDNA, case); the port never changes.
                let port = j.instance().rsplit(':').next().and_then(|p| p.parse::<u16>().ok());
                proptest::prop_assert_eq!(j.url.port_or_known_default(), port, "{}", j.url);
            }
        }
    }
}

#[test]
fn label_limits_refuse_a_target_and_name_the_limit() {
    let s = settings(
        "targets: [{__address__: 'h'}]\nlabel_limit: 5\nlabel_name_length_limit: 12\nlabel_value_length_limit: 24",
    );
    // job, instance, service_name and two more: at the limit.
    let ok = labels(&[("__address__", "h"), ("a", "1"), ("b", "2")]);
    assert!(expand(&s, &ok).unwrap().iter().all(|j| j.refused.is_none()));
    // Meta labels are gone by then and do not count.
    let meta = labels(&[("__address__", "h"), ("a", "1"), ("__meta_x", "y")]);
    assert!(expand(&s, &meta).unwrap()[0].refused.is_none());

    let many = labels(&[("__address__", "h"), ("a", "1"), ("b", "2"), ("c", "3")]);
    let jobs = expand(&s, &many).unwrap();
    let err = jobs[0].refused.as_ref().unwrap().error();
    assert_eq!(
        err.to_string(),
        "target has 6 labels, more than label_limit (5)"
    );
    assert_eq!(err.reason(), "label_limit");
    assert!(jobs.iter().all(|j| j.refused.is_some()));

    let long_name = labels(&[("__address__", "h"), ("abcdefghijklm", "1")]);
    let err = expand(&s, &long_name).unwrap()[0]
        .refused
        .clone()
        .unwrap()
        .error();
    assert_eq!(
        err.to_string(),
        "label name \"abcdefghijklm\" is 13 bytes long, more than label_name_length_limit (12)"
    );
    let long_value = labels(&[("__address__", "h"), ("a", "secret-value-secret-value")]);
    let err = expand(&s, &long_value).unwrap()[0]
        .refused
        .clone()
        .unwrap()
        .error();
    assert_eq!(
        err.to_string(),
        "the value of label \"a\" is 25 bytes long, more than label_value_length_limit (24)"
    );
    assert!(!err.to_string().contains("secret"));

    // 0 turns a limit off.
    let off = settings("targets: [{__address__: 'h'}]\nlabel_limit: 0");
    let mut huge = vec![("__address__".to_string(), "h".to_string())];
    huge.extend((0..10_000).map(|i| (format!("l{i}"), "v".to_string())));
    let huge = Labels::from_pairs(huge);
    assert!(expand(&off, &huge).unwrap()[0].refused.is_none());
    let on = settings("targets: [{__address__: 'h'}]");
    assert!(expand(&on, &huge).unwrap()[0].refused.is_some());
}
