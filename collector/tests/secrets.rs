//! The secret-grep test: a pipeline with a distinctive secret in every place
//! one can be set (receiver and exporter auth, oauth2, a target URL's
//! userinfo, query parameters, a proxy, headers, the admin server, values
//! expanded from the environment and read from files) runs against local
//! servers — targets that sometimes fail, a backend that always fails — and
//! every log line (debug level), every admin page, `print-config` and
//! `validate` are searched for each secret, plainly and base64-encoded.
//! The servers' records prove each credential was really used.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod e2e;

use e2e::{free_port, profcol_bin};
use profcol_pdata::pprof;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const RECV_BASIC: &str = "rcvBasicPw-7f3a91";
const RECV_BEARER_ENV: &str = "envBearerTok-2c8e44";
const OAUTH_SECRET: &str = "oauthClientSecret-9d1b27";
const OAUTH_ACCESS: &str = "oauthAccessToken-5e6f10";
const URL_PASS: &str = "urlUserinfoPw-3a7c58";
const PARAM_TOKEN: &str = "paramToken-8b2d63";
const LABEL_PARAM_KEY: &str = "labelParamKey-6d0b35";
const PROXY_PASS: &str = "proxyPw-4f9e12";
const PROXY_HEADER: &str = "proxyConnectHdr-1a2b3c";
const FILE_PASS: &str = "filePw-5a1e90";
const EXP_BASIC: &str = "expBasicPw-6c3d77";
const EXP_TENANT: &str = "expTenantHdr-8f1e02";
const EXP_URL_PASS: &str = "expUrlPw-9a4b73";
const OTLP_HEADER: &str = "otlpHeaderTok-0e5f88";
const GRPC_HEADER: &str = "grpcHeaderTok-3c7d19";
const ADMIN_PASS: &str = "adminPw-2b9a66";

const ALL: &[&str] = &[
    RECV_BASIC,
    RECV_BEARER_ENV,
    OAUTH_SECRET,
    OAUTH_ACCESS,
    URL_PASS,
    PARAM_TOKEN,
    LABEL_PARAM_KEY,
    PROXY_PASS,
    PROXY_HEADER,
    FILE_PASS,
    EXP_BASIC,
    EXP_TENANT,
    EXP_URL_PASS,
    OTLP_HEADER,
    GRPC_HEADER,
    ADMIN_PASS,
];

fn b64(s: &str) -> String {
    const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let b = s.as_bytes();
    let mut out = String::new();
    for c in b.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// One request as a server saw it.
#[derive(Debug, Clone)]
struct Seen {
    line: String,
    headers: BTreeMap<String, String>,
    body: String,
}

/// A thread-per-connection HTTP/1.1 server answering with `handler`.
fn serve(
    handler: impl Fn(&Seen) -> (u16, &'static str, Vec<u8>) + Send + Sync + 'static,
) -> (u16, Arc<Mutex<Vec<Seen>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let handler = Arc::new(handler);
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            let log = log.clone();
            let handler = handler.clone();
            std::thread::spawn(move || {
                let _ = one_request(conn, &log, &*handler);
            });
        }
    });
    (port, seen)
}

type Handler = dyn Fn(&Seen) -> (u16, &'static str, Vec<u8>) + Send + Sync;

fn one_request(
    mut conn: TcpStream,
    log: &Mutex<Vec<Seen>>,
    handler: &Handler,
) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut headers = BTreeMap::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h)?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let len: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    reader.read_exact(&mut body)?;
    let seen = Seen {
        line: line.trim_end().to_string(),
        headers,
        body: String::from_utf8_lossy(&body).to_string(),
    };
    let (status, ctype, reply) = handler(&seen);
    log.lock().unwrap().push(seen);
    write!(
        conn,
        "HTTP/1.1 {status} X\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        reply.len()
    )?;
    conn.write_all(&reply)?;
    conn.flush()
}

fn heap_profile() -> Vec<u8> {
    let strings: Vec<String> = ["", "alloc_objects", "count", "alloc_space", "bytes", "main"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let p = pprof::Profile {
        sample_type: vec![
            pprof::ValueType { r#type: 1, unit: 2 },
            pprof::ValueType { r#type: 3, unit: 4 },
        ],
        sample: vec![pprof::Sample {
            location_id: vec![1],
            value: vec![3, 300],
            label: vec![],
        }],
        location: vec![pprof::Location {
            id: 1,
            line: vec![pprof::Line {
                function_id: 1,
                line: 7,
                column: 0,
            }],
            ..Default::default()
        }],
        function: vec![pprof::Function {
            id: 1,
            name: 5,
            system_name: 5,
            filename: 0,
            start_line: 0,
        }],
        string_table: strings,
        time_nanos: 1,
        period_type: Some(pprof::ValueType { r#type: 3, unit: 4 }),
        period: 1,
        ..Default::default()
    };
    profcol_pdata::pprof::encode_pprof_gzip(&p)
}

/// Everything a stream produced, read on a thread.
fn drain(r: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut s = String::new();
        let _ = BufReader::new(r).read_to_string(&mut s);
        s
    })
}

/// GET with optional credentials; (status, head + body as text).
fn get(port: u16, path: &str, auth: Option<(&str, &str)>) -> (u16, String) {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return (0, String::new());
    };
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let auth = auth
        .map(|(u, p)| format!("Authorization: Basic {}\r\n", b64(&format!("{u}:{p}"))))
        .unwrap_or_default();
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n{auth}\r\n").unwrap();
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).to_string();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, text)
}

fn run_cli(args: &[&str]) -> String {
    let out = Command::new(profcol_bin())
        .args(args)
        .env("PROFCOL_SECRETS_TEST", RECV_BEARER_ENV)
        .output()
        .unwrap();
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn no_secret_appears_in_logs_pages_or_printed_config() {
    let dir = tempfile::tempdir().unwrap();
    let profile = heap_profile();
    let scrapes = Arc::new(Mutex::new(0u32));

    // Targets (also the oauth2 token endpoint and the proxy): every third
    // scrape fails with 500.
    let (target, target_seen) = {
        let scrapes = scrapes.clone();
        serve(move |req| {
            if req.line.starts_with("POST /oauth2/token") {
                let body = format!(
                    "{{\"access_token\":\"{OAUTH_ACCESS}\",\"token_type\":\"Bearer\",\"expires_in\":3600}}"
                );
                return (200, "application/json", body.into_bytes());
            }
            if req.line.starts_with("GET /sd") {
                let host = req.headers.get("host").cloned().unwrap_or_default();
                let body = format!(
                    "[{{\"targets\": [\"{host}\"], \"labels\": {{\"service_name\": \"from_sd\"}}}}]"
                );
                return (200, "application/json", body.into_bytes());
            }
            let mut n = scrapes.lock().unwrap();
            *n += 1;
            if n.is_multiple_of(3) {
                (500, "text/plain", b"target failed on purpose".to_vec())
            } else {
                (200, "application/octet-stream", profile.clone())
            }
        })
    };
    // The backend: every push and export fails.
    let (backend, backend_seen) = serve(|_| (503, "text/plain", b"backend down".to_vec()));
    let closed = free_port();
    let admin = free_port();

    let pw_file = dir.path().join("password");
    std::fs::write(&pw_file, format!("{FILE_PASS}\n")).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&pw_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    }

    let only_memory = "profiling_config: {profile: {process_cpu: {enabled: false}, goroutine: {enabled: false}, block: {enabled: false}, mutex: {enabled: false}}}";
    let config = format!(
        r#"
receivers:
  pyroscope_scrape/basic:
    targets:
      - {{__address__: "127.0.0.1:{target}", service_name: basic, __param_api_key: "{LABEL_PARAM_KEY}"}}
      - {{__address__: "127.0.0.1:{closed}", service_name: down}}
    basic_auth: {{username: scrapeuser, password: "{RECV_BASIC}"}}
    params: {{token: ["{PARAM_TOKEN}"], debug: ["1"]}}
    scrape_interval: 1s
    scrape_timeout: 2s
    {only_memory}
  pyroscope_scrape/bearer:
    targets: [{{__address__: "127.0.0.1:{target}", service_name: bearer}}]
    bearer_token: "${{env:PROFCOL_SECRETS_TEST}}"
    scrape_interval: 1s
    scrape_timeout: 2s
    {only_memory}
  pyroscope_scrape/oauth:
    targets: [{{__address__: "127.0.0.1:{target}", service_name: oauth}}]
    oauth2:
      client_id: profcol-client
      client_secret: "{OAUTH_SECRET}"
      token_url: "http://127.0.0.1:{target}/oauth2/token"
    scrape_interval: 1s
    scrape_timeout: 2s
    {only_memory}
  pyroscope_scrape/oauth_down:
    targets: [{{__address__: "127.0.0.1:{target}", service_name: oauth_down}}]
    oauth2:
      client_id: profcol-client
      client_secret: "{OAUTH_SECRET}"
      token_url: "http://127.0.0.1:{closed}/oauth2/token?api_key={PARAM_TOKEN}"
    scrape_interval: 1s
    scrape_timeout: 2s
    {only_memory}
  pyroscope_scrape/userinfo:
    http_sd_configs:
      - url: "http://urluser:{URL_PASS}@127.0.0.1:{target}/sd?access_token={PARAM_TOKEN}"
        refresh_interval: 1s
      - url: "http://urluser:{URL_PASS}@127.0.0.1:{closed}/sd?access_token={PARAM_TOKEN}"
        refresh_interval: 1s
    scrape_interval: 1s
    scrape_timeout: 2s
    {only_memory}
  pyroscope_scrape/proxied:
    targets: [{{__address__: "proxied.invalid:6060", service_name: proxied}}]
    proxy_url: "http://proxyuser:{PROXY_PASS}@127.0.0.1:{target}"
    proxy_connect_header: {{X-Proxy-Token: ["{PROXY_HEADER}"]}}
    basic_auth: {{username: fileuser, password_file: "{pw_file}"}}
    scrape_interval: 1s
    scrape_timeout: 2s
    {only_memory}
exporters:
  pyroscope:
    endpoint:
      - url: "http://127.0.0.1:{backend}"
        name: main
        basic_auth: {{username: pushuser, password: "{EXP_BASIC}"}}
        headers: {{X-Scope-OrgID: "{EXP_TENANT}"}}
        min_backoff_period: 100ms
        max_backoff_period: 200ms
        max_backoff_retries: 2
      - url: "http://pushurl:{EXP_URL_PASS}@127.0.0.1:{closed}"
        name: userinfo
        min_backoff_period: 100ms
        max_backoff_period: 200ms
        max_backoff_retries: 2
  otlp_http:
    endpoint: "http://127.0.0.1:{backend}"
    headers: {{Authorization: "Bearer {OTLP_HEADER}"}}
    retry_on_failure: {{initial_interval: 100ms, max_interval: 200ms, max_elapsed_time: 1s}}
  otlp_grpc:
    endpoint: "127.0.0.1:{closed}"
    tls: {{insecure: true}}
    headers: {{x-api-key: "{GRPC_HEADER}"}}
    retry_on_failure: {{initial_interval: 100ms, max_interval: 200ms, max_elapsed_time: 1s}}
service:
  pipelines:
    profiles:
      receivers: [pyroscope_scrape/basic, pyroscope_scrape/bearer, pyroscope_scrape/oauth, pyroscope_scrape/oauth_down, pyroscope_scrape/userinfo, pyroscope_scrape/proxied]
      exporters: [pyroscope, otlp_http, otlp_grpc]
  telemetry:
    logs: {{level: debug}}
    metrics:
      address: "127.0.0.1:{admin}"
      basic_auth: {{username: admin, password: "{ADMIN_PASS}"}}
"#,
        pw_file = pw_file.display()
    );
    let cfg = dir.path().join("secrets.yaml");
    std::fs::write(&cfg, &config).unwrap();
    let cfg = cfg.to_str().unwrap();

    let mut everything: Vec<(String, String)> = Vec::new();
    let validate = run_cli(&["validate", "--config", cfg]);
    assert!(validate.contains("configuration is valid"), "{validate}");
    everything.push(("validate".into(), validate));
    let printed = run_cli(&["print-config", "--config", cfg]);
    assert!(printed.contains("pyroscope_scrape/proxied"), "{printed}");
    everything.push(("print-config".into(), printed));
    // A broken variant: the problems echo no secret either.
    let broken = dir.path().join("broken.yaml");
    std::fs::write(
        &broken,
        config
            .replace("http://proxyuser", "ftp://proxyuser")
            .replace("client_id: profcol-client", "client_id: ''")
            .replace(
                "service_name: down}",
                &format!("service_name: down}}\n      - {{__address__: \"urluser:{URL_PASS}@127.0.0.1:1\"}}"),
            ),
    )
    .unwrap();
    let invalid = run_cli(&["validate", "--config", broken.to_str().unwrap()]);
    assert!(invalid.contains("proxy_url"), "{invalid}");
    assert!(invalid.contains("__address__"), "{invalid}");
    everything.push(("validate (invalid)".into(), invalid));

    let mut child = Command::new(profcol_bin())
        .args(["--config", cfg])
        .env("PROFCOL_SECRETS_TEST", RECV_BEARER_ENV)
        .env("RUST_BACKTRACE", "1")
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = drain(child.stdout.take().unwrap());
    let err = drain(child.stderr.take().unwrap());

    let deadline = Instant::now() + Duration::from_secs(20);
    while get(admin, "/-/ready", Some(("admin", ADMIN_PASS))).0 != 200 {
        if Instant::now() > deadline || child.try_wait().unwrap().is_some() {
            let _ = child.kill();
            panic!("never became ready:\n{}", err.join().unwrap());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    // A few seconds of scrapes, failures and retries; longer on a slow
    // machine until both exporters have tried the backend.
    let started = Instant::now();
    loop {
        let seen = backend_seen.lock().unwrap().clone();
        let pushed = seen.iter().any(|s| s.line.starts_with("POST /push"));
        let exported = seen
            .iter()
            .any(|s| s.line.starts_with("POST /v1development/profiles"));
        if (pushed && exported && started.elapsed() > Duration::from_secs(5))
            || started.elapsed() > Duration::from_secs(30)
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }

    let (status, page) = get(admin, "/metrics", None);
    assert_eq!(status, 401, "{page}");
    assert!(page.contains("WWW-Authenticate") || page.contains("www-authenticate"));
    let (status, page) = get(admin, "/metrics", Some(("admin", "wrong")));
    assert_eq!(status, 401, "{page}");
    for path in [
        "/",
        "/metrics",
        "/targets",
        "/api/v1/targets",
        "/-/ready",
        "/-/healthy",
        "/components",
        "/api/v1/components",
    ] {
        let (status, page) = get(admin, path, Some(("admin", ADMIN_PASS)));
        assert_eq!(status, 200, "{path}: {page}");
        everything.push((path.to_string(), page));
    }
    let targets = everything
        .iter()
        .find(|(p, _)| p == "/api/v1/targets")
        .unwrap()
        .1
        .clone();
    for receiver in ["basic", "bearer", "oauth", "userinfo", "proxied"] {
        assert!(
            targets.contains(&format!("pyroscope_scrape/{receiver}")),
            "{receiver} missing: {targets}"
        );
    }

    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(15);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.wait();
    let logs = format!("{}\n{}", out.join().unwrap(), err.join().unwrap());
    everything.push(("logs".into(), logs.clone()));

    // The run went through the paths that could leak.
    let targets_seen = target_seen.lock().unwrap().clone();
    let backend_seen = backend_seen.lock().unwrap().clone();
    let auth_values = |seen: &[Seen], header: &str| -> Vec<String> {
        seen.iter()
            .filter_map(|s| s.headers.get(header).cloned())
            .collect()
    };
    let target_auth = auth_values(&targets_seen, "authorization");
    let expect = |list: &[String], value: String, what: &str| {
        assert!(
            list.contains(&value),
            "{what}: {value} not seen in {list:?}\n{logs}"
        );
    };
    expect(
        &target_auth,
        format!("Basic {}", b64(&format!("scrapeuser:{RECV_BASIC}"))),
        "receiver basic_auth",
    );
    expect(
        &target_auth,
        format!("Bearer {RECV_BEARER_ENV}"),
        "env-expanded bearer token",
    );
    expect(
        &target_auth,
        format!("Bearer {OAUTH_ACCESS}"),
        "oauth2 access token",
    );
    expect(
        &target_auth,
        format!("Basic {}", b64(&format!("fileuser:{FILE_PASS}"))),
        "password_file",
    );
    assert!(
        targets_seen
            .iter()
            .any(|s| s.line.starts_with("POST /oauth2/token")
                && (s.body.contains(OAUTH_SECRET)
                    || s.headers.get("authorization").is_some_and(|a| {
                        *a == format!("Basic {}", b64(&format!("profcol-client:{OAUTH_SECRET}")))
                    }))),
        "the token endpoint saw the client secret: {targets_seen:?}"
    );
    assert!(
        targets_seen
            .iter()
            .any(|s| s.line.contains(&format!("token={PARAM_TOKEN}"))
                && s.line.contains(&format!("api_key={LABEL_PARAM_KEY}"))),
        "query tokens sent: {targets_seen:?}"
    );
    assert!(
        targets_seen.iter().any(|s| {
            s.line.starts_with("GET http://proxied.invalid:6060/")
                && s.headers.get("proxy-authorization")
                    == Some(&format!(
                        "Basic {}",
                        b64(&format!("proxyuser:{PROXY_PASS}"))
                    ))
                // proxy_connect_header belongs to CONNECT (Go's rule; the
                // tunnel case is in http/tests/proxy.rs): a plain http
                // request through the proxy does not carry it.
                && !s.headers.contains_key("x-proxy-token")
        }),
        "the proxy saw its credentials: {targets_seen:?}"
    );
    assert!(
        targets_seen.iter().any(|s| s.line.starts_with("GET /sd")
            && s.line.contains(&format!("access_token={PARAM_TOKEN}"))
            && s.headers.get("authorization")
                == Some(&format!("Basic {}", b64(&format!("urluser:{URL_PASS}"))))),
        "the SD URL's userinfo was sent as basic auth: {targets_seen:?}"
    );
    assert!(targets.contains("from_sd"), "{targets}");
    assert!(
        backend_seen.iter().any(|s| s.line.starts_with("POST /push")
            && s.headers.get("authorization")
                == Some(&format!("Basic {}", b64(&format!("pushuser:{EXP_BASIC}"))))
            && s.headers.get("x-scope-orgid").map(String::as_str) == Some(EXP_TENANT)),
        "pyroscope pushes with credentials: {backend_seen:?}"
    );
    assert!(
        backend_seen
            .iter()
            .any(|s| s.line.starts_with("POST /v1development/profiles")
                && s.headers.get("authorization") == Some(&format!("Bearer {OTLP_HEADER}"))),
        "otlp_http exports with its header: {backend_seen:?}"
    );
    // Failures were logged (so error paths ran) and the world-readable
    // password file was reported by path, not content.
    assert!(logs.contains("500"), "a failed scrape was logged:\n{logs}");
    assert!(
        logs.contains("oauth2 token request to http://127.0.0.1:"),
        "a failed token request was logged:\n{logs}"
    );
    assert!(
        logs.contains(&pw_file.display().to_string()) && logs.contains("0644"),
        "world-readable warning:\n{logs}"
    );

    // For a person checking what was searched.
    if let Ok(path) = std::env::var("PROFCOL_SECRETS_DUMP") {
        let dump: Vec<String> = everything
            .iter()
            .map(|(source, text)| format!("==== {source}\n{text}"))
            .collect();
        std::fs::write(path, dump.join("\n")).unwrap();
    }
    let mut leaks = Vec::new();
    for (source, text) in &everything {
        for secret in ALL {
            for form in [secret.to_string(), b64(secret)] {
                if let Some(at) = text.find(form.as_str()) {
                    let start = text[..at].rfind('\n').map_or(0, |i| i + 1);
                    let end = text[at..].find('\n').map_or(text.len(), |i| at + i);
                    leaks.push(format!("{source}: {secret}: {}", &text[start..end]));
                }
            }
        }
        for (user, secret) in [
            ("scrapeuser", RECV_BASIC),
            ("fileuser", FILE_PASS),
            ("urluser", URL_PASS),
            ("proxyuser", PROXY_PASS),
            ("pushuser", EXP_BASIC),
            ("profcol-client", OAUTH_SECRET),
            ("admin", ADMIN_PASS),
        ] {
            let encoded = b64(&format!("{user}:{secret}"));
            if text.contains(&encoded) {
                leaks.push(format!("{source}: base64 {user}:{secret}"));
            }
        }
    }
    assert!(leaks.is_empty(), "secrets leaked:\n{}", leaks.join("\n"));
}
