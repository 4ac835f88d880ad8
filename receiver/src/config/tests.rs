use super::*;

fn parse(yaml: &str) -> Result<ScrapeConfig, Vec<String>> {
    let v = profcol_config::Body::parse(yaml).unwrap();
    profcol_config::decode::<ScrapeConfig>(&v, "receivers::pyroscope_scrape/local")
        .map_err(|ps| ps.iter().map(|p| p.to_string()).collect())
}

const T: &str = "targets: [{__address__: 'localhost:4100', service_name: pyroscope}]\n";

#[test]
fn defaults_of_every_argument() {
    let c = parse(T).unwrap();
    assert_eq!(c.job_name, None);
    assert!(c.params.is_empty());
    assert_eq!(c.scrape_interval, Duration::from_secs(15));
    assert_eq!(c.scrape_timeout(), Duration::from_secs(18));
    assert_eq!(c.scheme, "http");
    assert_eq!(c.delta_profiling_duration, None);
    assert_eq!(c.delta_seconds(), 14);
    assert_eq!(c.max_body_size, ByteSize(64 * 1024 * 1024));
    assert_eq!(c.http, HttpClientConfig::default());
    assert!(c.http.enable_http2 && c.http.follow_redirects && !c.http.proxy_from_environment);
    assert!(c.http.bearer_token.is_none() && c.http.bearer_token_file.is_none());
    assert!(
        c.http.proxy_url.is_none()
            && c.http.no_proxy.is_none()
            && c.http.proxy_connect_header.is_empty()
    );
    assert!(
        c.http.basic_auth.is_none() && c.http.authorization.is_none() && c.http.oauth2.is_none()
    );
    assert!(c.http.tls_config.is_none());
    assert_eq!(c.profiling_config, ProfilingConfig::default());
    assert_eq!(c.profiling_config.path_prefix, None);
    assert_eq!(c.clustering, None);
    assert!(c.http_sd_configs.is_empty() && c.file_sd_configs.is_empty());
    let s = Settings::new("pyroscope_scrape/local", &c);
    assert_eq!(s.job_name, "pyroscope_scrape/local");
    assert_eq!(s.timeout, std::time::Duration::from_secs(18));
    let names: Vec<&str> = s.profiles.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        ["memory", "block", "goroutine", "mutex", "process_cpu"]
    );
}

#[test]
fn timeout_follows_the_interval_and_seconds_the_duration() {
    let c = parse(&format!("{T}scrape_interval: 60s")).unwrap();
    assert_eq!(c.scrape_timeout(), Duration::from_secs(63));
    assert_eq!(c.delta_seconds(), 59);
    let c = parse(&format!("{T}delta_profiling_duration: 5s")).unwrap();
    assert_eq!(c.delta_seconds(), 5);
}

#[test]
fn every_validation_error() {
    let p = "receivers::pyroscope_scrape/local";
    let cases: Vec<(String, Vec<String>)> = vec![
        (format!("{T}scrape_timeout: 10s"), vec![format!("{p}::scrape_timeout: scrape_timeout (10s) must be larger than scrape_interval (15s)")]),
        (format!("{T}scrape_timeout: 15s"), vec![format!("{p}::scrape_timeout: scrape_timeout (15s) must be larger than scrape_interval (15s)")]),
        (format!("{T}scrape_interval: 0s\nscrape_timeout: 1s\nprofiling_config: {{profile: {{process_cpu: {{delta: false}}}}}}"), vec![format!("{p}::scrape_interval: scrape_interval must be greater than 0")]),
        (format!("{T}scrape_interval: 1s"), vec![format!("{p}::scrape_interval: scrape_interval (1s) must be at least 2s when a profile type with delta: true is enabled (seconds = scrape_interval - 1s)")]),
        (format!("{T}scheme: ftp"), vec![format!("{p}::scheme: scheme must be \"http\" or \"https\" (got \"ftp\")")]),
        (format!("{T}job_name: ''"), vec![format!("{p}::job_name: job_name must not be empty (omit it to use the component id)")]),
        (format!("{T}params: {{foo: []}}"), vec![format!("{p}::params::foo: a query parameter needs at least one value")]),
        (format!("{T}delta_profiling_duration: 1s"), vec![format!("{p}::delta_profiling_duration: delta_profiling_duration (1s) must be larger than 1s")]),
        (format!("{T}delta_profiling_duration: 15s"), vec![format!("{p}::delta_profiling_duration: delta_profiling_duration (15s) must be at most scrape_interval - 1s (14s)")]),
        (format!("{T}max_body_size: 0"), vec![format!("{p}::max_body_size: max_body_size must be greater than 0")]),
        (format!("{T}relabel_configs: [{{source_labels: [a], modulus: 0, target_label: b, action: hashmod}}]"), vec![format!("{p}::relabel_configs::0::modulus: relabel action hashmod requires a modulus greater than 0")]),
        (format!("{T}relabel_configs: [{{source_labels: [a], regex: '(', target_label: b}}]"), vec![format!("{p}::relabel_configs::0::regex: invalid regular expression \"(\": unclosed group")]),
        (format!("{T}clustering: {{}}"), vec![format!("{p}::clustering::enabled: enabled is required")]),
        (format!("{T}bogus: 1\nforward_to: [x]"), vec![
            format!("{p}::bogus: unknown key `bogus` (valid keys: targets, http_sd_configs, file_sd_configs, docker_sd_configs, dockerswarm_sd_configs, kubernetes_sd_configs, target_allocator, relabel_configs, job_name, params, scrape_interval, scrape_timeout, scheme, delta_profiling_duration, max_body_size, max_samples_per_profile, max_labels_per_sample, max_stack_depth, label_limit, label_name_length_limit, label_value_length_limit, profiling_config, clustering, bearer_token, bearer_token_file, basic_auth, authorization, oauth2, tls_config, enable_http2, follow_redirects, proxy_url, no_proxy, proxy_from_environment, proxy_connect_header)"),
            format!("{p}::forward_to: forward_to is not used by profcol: list this receiver in a pipeline of service.pipelines instead"),
        ]),
        ("job_name: x".to_string(), vec![format!("{p}::targets: targets is required (list targets here, or discover them with http_sd_configs, file_sd_configs, kubernetes_sd_configs, docker_sd_configs, dockerswarm_sd_configs or target_allocator)")]),
        ("targets: [{service_name: a}, {__address__: '', 'bad-name': x}, {__address__: 'h:1/x'}, {__address__: '::1'}, {__address__: h, __scheme__: ftp}]".to_string(), vec![
            format!("{p}::targets::0: a target needs an __address__ label"),
            format!("{p}::targets::1: a target needs an __address__ label"),
            format!("{p}::targets::1::bad-name: invalid label name \"bad-name\" (must match [a-zA-Z_][a-zA-Z0-9_]*)"),
            format!("{p}::targets::2::__address__: __address__ \"h:1/x\" must be host[:port] (no path, query or credentials)"),
            format!("{p}::targets::3::__address__: __address__ \"::1\": write IPv6 addresses in brackets, e.g. [::1]:4040"),
            format!("{p}::targets::4::__scheme__: __scheme__ must be \"http\" or \"https\" (got \"ftp\")"),
        ]),
        (format!("{T}profiling_config: {{profile: {{memory: {{enabled: false}}, block: {{enabled: false}}, goroutine: {{enabled: false}}, mutex: {{enabled: false}}, process_cpu: {{enabled: false}}}}}}"), vec![format!("{p}::profiling_config::profile: every profile type is disabled: enable at least one")]),
        (format!("{T}profiling_config: {{path_prefix: app}}"), vec![format!("{p}::profiling_config::path_prefix: path_prefix must start with \"/\" (got \"app\")")]),
        (format!("{T}profiling_config: {{profile: {{custom: [{{name: x, enabled: true, path: /x}}, {{name: x, enabled: true, path: /y}}]}}}}"), vec![format!("{p}::profiling_config::profile::custom::x: duplicate custom profile type name \"x\": names must be unique")]),
        (format!("{T}bearer_token: a\nbearer_token_file: /f"), vec![format!("{p}::bearer_token: at most one of bearer_token & bearer_token_file must be configured")]),
        (format!("{T}no_proxy: 10.0.0.0/8"), vec![format!("{p}::no_proxy: proxy_url must be configured if no_proxy is configured")]),
        (format!("{T}http_sd_configs: [{{refresh_interval: 0s}}]"), vec![
            format!("{p}::http_sd_configs::0::url: url is required"),
            format!("{p}::http_sd_configs::0::refresh_interval: refresh_interval must be greater than 0"),
        ]),
        (format!("{T}http_sd_configs: [{{url: 'ftp://x/t'}}, {{url: 'not a url'}}]"), vec![
            format!("{p}::http_sd_configs::0::url: url must be an http or https URL"),
            format!("{p}::http_sd_configs::1::url: invalid URL: relative URL without a base"),
        ]),
        (format!("{T}file_sd_configs: [{{files: [/a.yml], refresh_interval: 0s}}]"), vec![
            format!("{p}::file_sd_configs::0::refresh_interval: refresh_interval must be greater than 0"),
        ]),
        (format!("{T}file_sd_configs: [{{files: []}}, {{files: ['/etc/t.txt', '/etc/[.json']}}]"), vec![
            format!("{p}::file_sd_configs::0::files: files must list at least one path or glob"),
            format!("{p}::file_sd_configs::1::files::0: file \"/etc/t.txt\" must end in .json, .yml or .yaml"),
            format!("{p}::file_sd_configs::1::files::1: invalid glob pattern \"/etc/[.json\": invalid range pattern"),
        ]),
    ];
    for (yaml, want) in cases {
        assert_eq!(parse(&yaml).unwrap_err(), want, "for:\n{yaml}");
    }
}

#[test]
fn all_problems_are_reported_together() {
    let errs = parse("scheme: gopher\nscrape_timeout: 1s\nrelabel_configs: [{action: drop}]\nx: 1")
        .unwrap_err();
    assert_eq!(errs.len(), 5, "{errs:#?}");
}

#[test]
fn a_full_config_is_valid() {
    let yaml = r#"
targets:
  - { __address__: "localhost:4100", service_name: "pyroscope" }
http_sd_configs: [{ url: "http://127.0.0.1:9000/targets", refresh_interval: 15s }]
file_sd_configs: [{ files: ["/etc/profcol/targets/*.json"], refresh_interval: 1m }]
job_name: my-job
params: { foo: [bar] }
scrape_interval: 15s
scrape_timeout: 18s
scheme: http
bearer_token_file: /var/run/token
tls_config: { ca_file: /etc/ca.pem, insecure_skip_verify: false, min_version: TLS12 }
enable_http2: true
follow_redirects: true
proxy_url: http://proxy:3128
no_proxy: "10.0.0.0/8,internal.example.com"
max_body_size: 32MiB
delta_profiling_duration: 10s
profiling_config:
  path_prefix: /app
  profile:
    memory:      { enabled: true, path: /debug/pprof/allocs, delta: false }
    process_cpu: { enabled: true, path: /debug/pprof/profile, delta: true }
    fgprof:      { enabled: true }
    godeltaprof_mutex: { enabled: true }
    custom:
      my_type:   { enabled: true, path: /debug/custom, delta: false }
clustering: { enabled: false }
"#;
    let c = parse(yaml).unwrap();
    assert_eq!(c.job_name.as_deref(), Some("my-job"));
    assert_eq!(c.max_body_size.0, 32 << 20);
    assert_eq!(c.http.bearer_token_file.as_deref(), Some("/var/run/token"));
    assert_eq!(c.profiling_config.enabled().len(), 8);
}

fn first_error(yaml: &str) -> String {
    let v = profcol_config::Body::parse(yaml).unwrap();
    let e = profcol_config::decode::<ScrapeConfig>(&v, "r").unwrap_err();
    e[0].to_string()
}

#[test]
fn decode_errors_name_their_key_path() {
    for (yaml, want) in [
        (
            "targets: []\nprofiling_config: {profile: {memroy: {}}}",
            "r::profiling_config::profile::memroy: unknown key `memroy`: did you mean `memory`? (valid keys: memory, ",
        ),
        (
            "targets: []\nprofiling_config: {profile: {memory: {enabled: maybe}}}",
            "r::profiling_config::profile::memory::enabled: expected true or false, got \"maybe\"",
        ),
        (
            "targets: []\nscrape_interval: 15",
            "r::scrape_interval: invalid duration 15: a unit is required",
        ),
        (
            "targets: []\nmax_body_size: 12XB",
            "r::max_body_size: invalid size \"12XB\"",
        ),
        (
            "targets: []\nclustering: {enabled: true, extra: 1}",
            "r::clustering::extra: unknown key `extra` (valid keys: enabled)",
        ),
        (
            "targets: []\nhttp_sd_configs: [{url: 'http://x', refresh: 1s}]",
            "r::http_sd_configs::0::refresh: unknown key `refresh`: did you mean `refresh_interval`? (valid keys: url, refresh_interval, ",
        ),
    ] {
        let got = first_error(yaml);
        assert!(got.starts_with(want), "{yaml}\n got: {got}\nwant: {want}…");
    }
}
