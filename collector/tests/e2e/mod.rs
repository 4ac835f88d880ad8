//! Helpers for the end-to-end tests: run the `profcol` binary Cargo built
//! for these integration tests, pick free ports, and speak just enough
//! HTTP/1.0 to fetch its pages.
//!
//! Every end-to-end test file includes it with `mod e2e;` and imports what it
//! needs (`use e2e::{free_port, Running};`); each test binary uses only part
//! of it, hence `dead_code` allowed here.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The `profcol` binary: Cargo builds it before the package's integration
/// tests and passes its path at compile time.
pub fn profcol_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_profcol"))
}

/// Runs profcol to completion with `args`.
pub fn run(args: &[&str]) -> Output {
    Command::new(profcol_bin())
        .args(args)
        .output()
        .expect("run profcol")
}

/// A loopback port nobody listens on right now, below the kernel's range
/// of ephemeral ports, and never handed out before in this test process.
/// Below that range no outgoing connection (of profcol or of a test) can
/// take the port between this call and the bind that uses it — or while a
/// test's backend is down for an outage and binds it again; and a test that
/// asks for several ports gets them distinct.
pub fn free_port() -> u16 {
    use std::hash::{BuildHasher, RandomState};
    static HANDED_OUT: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut handed_out = HANDED_OUT.lock().unwrap_or_else(|e| e.into_inner());
    let (low, high) = (FIXED_PORTS_FROM, ephemeral_ports_from());
    let random = RandomState::new();
    for attempt in 0u64.. {
        let span = u64::from(high.saturating_sub(low).max(1));
        let port = low + u16::try_from(random.hash_one(attempt) % span).unwrap_or(0);
        if handed_out.contains(&port) || TcpListener::bind(("127.0.0.1", port)).is_err() {
            continue;
        }
        handed_out.push(port);
        return port;
    }
    unreachable!("the loop only ends by returning")
}

/// Where the ports [`free_port`] picks from start.
const FIXED_PORTS_FROM: u16 = 10_000;

/// The first port the kernel hands out for outgoing connections
/// (`net.ipv4.ip_local_port_range`; Linux's default is 32768).
fn ephemeral_ports_from() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .filter(|&p: &u16| p > FIXED_PORTS_FROM + 1_000)
        .unwrap_or(32_768)
}

/// A running profcol, killed when dropped.
pub struct Running {
    pub child: Child,
}

impl Running {
    pub fn start(args: &[&str], cwd: &std::path::Path) -> Self {
        let child = Command::new(profcol_bin())
            .args(args)
            .current_dir(cwd)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn profcol");
        Self { child }
    }

    /// Waits until `path` on `port` answers 200. Panics if the process exits
    /// first or `limit` passes, with its exit status and everything it wrote
    /// to stderr, so a failure says why.
    pub fn expect_ready(&mut self, port: u16, path: &str, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            if matches!(http_get(port, path), Ok((200, _))) {
                return;
            }
            let exited = self.child.try_wait().ok().flatten();
            if exited.is_some() || Instant::now() > deadline {
                let _ = self.child.kill();
                let status = self.child.wait().ok();
                let mut err = String::new();
                if let Some(mut e) = self.child.stderr.take() {
                    let _ = e.read_to_string(&mut err);
                }
                panic!(
                    "profcol never answered 200 on 127.0.0.1:{port}{path} within {limit:?} \
                     (exit: {status:?}); its stderr:\n{err}"
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Sends SIGINT and waits up to `limit`; returns the exit status and stderr.
    pub fn interrupt(mut self, limit: Duration) -> (Option<std::process::ExitStatus>, String) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-INT", &pid]).status();
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Ok(Some(s)) = self.child.try_wait() {
                break Some(s);
            }
            if Instant::now() > deadline {
                break None;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let _ = self.child.kill();
        let mut err = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            let _ = e.read_to_string(&mut err);
        }
        (status, err)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// GET over HTTP/1.0; returns the status code and the body.
pub fn http_get(port: u16, path: &str) -> std::io::Result<(u16, Vec<u8>)> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no header end"))?;
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other("no status"))?;
    Ok((status, raw[split + 4..].to_vec()))
}

/// Polls `path` until it answers 200 or `limit` passes.
pub fn wait_ready(port: u16, path: &str, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if matches!(http_get(port, path), Ok((200, _))) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

/// profcol's own heap profile (`/debug/pprof/heap` on `port`) once it holds
/// a sample, or the last one fetched after `limit`. The allocator samples
/// about one allocation per 512 KiB allocated, so right after start (or on
/// a slow machine) there may be none yet.
pub fn own_heap_profile(port: u16, limit: Duration) -> profcol_pdata::pprof::Profile {
    use profcol_pdata::pprof::{decode_pprof, DecodeLimits};
    let deadline = Instant::now() + limit;
    loop {
        let (status, body) = http_get(port, "/debug/pprof/heap").expect("GET /debug/pprof/heap");
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        let heap = decode_pprof(&body, &DecodeLimits::default()).expect("own heap profile decodes");
        if !heap.sample.is_empty() || Instant::now() > deadline {
            return heap;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Reads one HTTP/1.1 request: the head and a `Content-Length` body.
pub fn read_request(s: &mut TcpStream) -> std::io::Result<(String, Vec<u8>)> {
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16 << 10];
    let head_end = loop {
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p;
        }
        let n = s.read(&mut chunk)?;
        if n == 0 {
            return Err(std::io::Error::other("closed before the head ended"));
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let len: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())
                .flatten()
        })
        .unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < len {
        let n = s.read(&mut chunk)?;
        if n == 0 {
            return Err(std::io::Error::other("closed before the body ended"));
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Ok((head, body))
}

/// Answers with `status` and `body`, closing the connection.
pub fn respond(s: &mut TcpStream, status: &str, body: &[u8]) {
    let _ = write!(
        s,
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = s.write_all(body);
}

/// The marker functions (`mark-…`) a profile's samples go through: the
/// tests' targets name one function per served profile so that each can be
/// followed through the pipeline.
pub fn markers_of(p: &profcol_pdata::pprof::Profile) -> std::collections::BTreeSet<String> {
    let mut out = std::collections::BTreeSet::new();
    for s in &p.sample {
        for loc_id in &s.location_id {
            let Some(loc) = p.location.iter().find(|l| l.id == *loc_id) else {
                continue;
            };
            for line in &loc.line {
                if let Some(f) = p.function.iter().find(|f| f.id == line.function_id) {
                    let name = p.str(f.name);
                    if name.starts_with("mark-") {
                        out.insert(name.to_string());
                    }
                }
            }
        }
    }
    out
}

/// Serves each connection on its own thread, until the test process ends.
pub fn serve(listener: TcpListener, handle: impl Fn(TcpStream) + Send + Sync + 'static) {
    let handle = std::sync::Arc::new(handle);
    std::thread::spawn(move || {
        for s in listener.incoming().flatten() {
            let h = handle.clone();
            std::thread::spawn(move || h(s));
        }
    });
}

/// A goroutine profile with one sample whose function is `marker`.
pub fn marked_profile(marker: &str) -> Vec<u8> {
    let p = profcol_pdata::pprof::Profile {
        sample_type: vec![profcol_pdata::pprof::ValueType { r#type: 1, unit: 2 }],
        sample: vec![profcol_pdata::pprof::Sample {
            location_id: vec![1],
            value: vec![1],
            label: vec![],
        }],
        location: vec![profcol_pdata::pprof::Location {
            id: 1,
            line: vec![profcol_pdata::pprof::Line {
                function_id: 1,
                line: 1,
                column: 0,
            }],
            ..Default::default()
        }],
        function: vec![profcol_pdata::pprof::Function {
            id: 1,
            name: 3,
            system_name: 3,
            ..Default::default()
        }],
        string_table: vec![
            String::new(),
            "goroutine".into(),
            "count".into(),
            marker.to_string(),
        ],
        ..Default::default()
    };
    profcol_pdata::pprof::encode_pprof_gzip(&p)
}

/// A target serving `/debug/pprof/goroutine` on a loopback port of its own
/// until the test process ends: each answer is `profile(marker)` with the
/// next marker `mark-{prefix}{n}`, recorded in the returned list in the
/// order served; other paths get a 404.
pub fn marked_goroutine_target(
    prefix: &str,
    profile: fn(&str) -> Vec<u8>,
) -> (u16, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use std::sync::atomic::{AtomicU64, Ordering};
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let served: std::sync::Arc<std::sync::Mutex<Vec<String>>> = Default::default();
    let log = served.clone();
    let prefix = prefix.to_string();
    let next = AtomicU64::new(0);
    serve(listener, move |mut s| {
        let Ok((head, _)) = read_request(&mut s) else {
            return;
        };
        if !head.contains("/debug/pprof/goroutine") {
            respond(&mut s, "404 Not Found", b"");
            return;
        }
        let marker = format!("mark-{prefix}{}", next.fetch_add(1, Ordering::SeqCst));
        log.lock().unwrap().push(marker.clone());
        respond(&mut s, "200 OK", &profile(&marker));
    });
    (port, served)
}

/// The sum of the series of `name` on the metrics page of the admin server
/// at `admin` whose labels contain all of `labels` (`component="filter"`).
pub fn metric(admin: u16, name: &str, labels: &[&str]) -> f64 {
    let (status, body) = http_get(admin, "/metrics").unwrap();
    assert_eq!(status, 200, "/metrics");
    String::from_utf8(body)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with(['{', ' ']))
        })
        .filter(|l| labels.iter().all(|want| l.contains(want)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}
