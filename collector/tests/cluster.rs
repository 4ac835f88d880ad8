//! Clustering for real: three profcol processes on loopback share 300
//! targets served by one local HTTP server that records which node scraped
//! which target when. From that record: every target is scraped by exactly
//! one node per interval; after one node is killed (SIGKILL) the other two
//! take its targets over, none twice; after it comes back the targets
//! rebalance to the very split of the start, none lost, none doubled.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod e2e;

use e2e::{free_port, http_get, profcol_bin};
use profcol_pdata::pprof::{Function, Line, Location, Profile, Sample, ValueType};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const TARGETS: usize = 300;
const NODES: usize = 3;
/// scrape_interval, seconds.
const INTERVAL: u64 = 1;
/// Length of each steady-state window that is checked.
const WINDOW: Duration = Duration::from_secs(4);

/// One scrape as the server saw it.
#[derive(Clone, Copy)]
struct Hit {
    at: Instant,
    node: usize,
    target: usize,
}

type Record = Arc<Mutex<Vec<Hit>>>;

fn goroutine_profile() -> Vec<u8> {
    let strings: Vec<String> = ["", "goroutine", "count", "main.work", "main.go"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let p = Profile {
        sample_type: vec![ValueType { r#type: 1, unit: 2 }],
        sample: vec![Sample {
            location_id: vec![1],
            value: vec![1],
            label: vec![],
        }],
        location: vec![Location {
            id: 1,
            line: vec![Line {
                function_id: 1,
                line: 1,
                column: 0,
            }],
            ..Default::default()
        }],
        function: vec![Function {
            id: 1,
            name: 3,
            system_name: 3,
            filename: 4,
            start_line: 1,
        }],
        string_table: strings,
        time_nanos: 1,
        ..Default::default()
    };
    profcol_pdata::pprof::encode_pprof_gzip(&p)
}

/// `?node=2&t=17` → (2, 17).
fn parse_query(path: &str) -> Option<(usize, usize)> {
    let q = path.split_once('?')?.1;
    let (mut node, mut target) = (None, None);
    for pair in q.split('&') {
        match pair.split_once('=') {
            Some(("node", v)) => node = v.parse().ok(),
            Some(("t", v)) => target = v.parse().ok(),
            _ => {}
        }
    }
    Some((node?, target?))
}

/// Serves every connection on its own thread, keep-alive, recording each
/// request's node and target.
fn serve(listener: TcpListener, record: Record) {
    let body = Arc::new(goroutine_profile());
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            let (record, body) = (record.clone(), body.clone());
            std::thread::spawn(move || handle(conn, &record, &body));
        }
    });
}

fn handle(conn: TcpStream, record: &Record, body: &[u8]) {
    let mut out = conn.try_clone().unwrap();
    let mut reader = BufReader::new(conn);
    loop {
        let mut request = String::new();
        if reader.read_line(&mut request).unwrap_or(0) == 0 {
            return;
        }
        // Headers until the blank line; GET has no body.
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            if h == "\r\n" || h == "\n" {
                break;
            }
        }
        let path = request.split_whitespace().nth(1).unwrap_or("");
        if let Some((node, target)) = parse_query(path) {
            record.lock().unwrap().push(Hit {
                at: Instant::now(),
                node,
                target,
            });
        }
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        if out.write_all(head.as_bytes()).is_err() || out.write_all(body).is_err() {
            return;
        }
    }
}

struct Node {
    index: usize,
    admin: u16,
    config: std::path::PathBuf,
    child: Option<Child>,
}

impl Node {
    fn start(&mut self, dir: &Path, run: usize) {
        let log = |kind: &str| {
            std::fs::File::create(dir.join(format!("n{}-{run}.{kind}", self.index))).unwrap()
        };
        let child = Command::new(profcol_bin())
            .args(["--config", self.config.to_str().unwrap()])
            .current_dir(dir)
            .stdout(Stdio::from(log("out")))
            .stderr(Stdio::from(log("err")))
            .spawn()
            .expect("spawn profcol");
        self.child = Some(child);
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().unwrap(); // SIGKILL
            c.wait().unwrap();
        }
    }

    /// `(members, owned targets)` from `/api/v1/targets`, once the node
    /// answers and its receiver has split the targets with this member list.
    fn cluster(&self) -> Option<(Vec<String>, usize)> {
        let (status, body) = http_get(self.admin, "/api/v1/targets").ok()?;
        if status != 200 {
            return None;
        }
        let v: serde_json::Value = serde_json::from_slice(&body).ok()?;
        let data = &v["data"];
        let members: Vec<String> = data["cluster"]["members"]
            .as_array()?
            .iter()
            .filter_map(|m| m.as_str().map(str::to_string))
            .collect();
        let share = &data["ownership"]["pyroscope_scrape"];
        let owned = share["owned_targets"].as_u64()? as usize;
        let elsewhere: u64 = share["targets_elsewhere"]
            .as_object()?
            .values()
            .filter_map(|n| n.as_u64())
            .sum();
        (owned + elsewhere as usize == TARGETS).then_some((members, owned))
    }
}

/// The pages of node `i`: each listed job is owned by `i` and there is one
/// per owned target (one profile type); the HTML names the members.
fn check_pages(node: &Node, owned: usize) {
    let (_, body) = http_get(node.admin, "/api/v1/targets").unwrap();
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let jobs = v["data"]["receivers"]["pyroscope_scrape"]
        .as_array()
        .unwrap();
    assert_eq!(jobs.len(), owned);
    let me = format!("n{}", node.index);
    assert!(jobs.iter().all(|j| j["owner"] == me.as_str()), "{jobs:?}");
    let (_, html) = http_get(node.admin, "/targets").unwrap();
    let html = String::from_utf8_lossy(&html);
    assert!(
        html.contains(&format!(
            "this node is <b>{me}</b>; 3 live members: n0, n1, n2"
        )),
        "{html}"
    );
    assert!(html.contains(&format!("This node owns {owned} of {TARGETS} targets")));
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

fn config_yaml(index: usize, gossip: &[u16], admin: u16, server: u16) -> String {
    let mut targets = String::new();
    for t in 0..TARGETS {
        targets.push_str(&format!(
            "      - {{__address__: '127.0.0.1:{server}', __param_t: '{t}', service_name: cluster-e2e}}\n"
        ));
    }
    let peers: Vec<String> = gossip
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != index)
        .map(|(_, p)| format!("'127.0.0.1:{p}'"))
        .collect();
    format!(
        "receivers:
  pyroscope_scrape:
    scrape_interval: {INTERVAL}s
    scrape_timeout: {timeout}s
    params: {{node: ['{index}']}}
    clustering: {{enabled: true}}
    profiling_config:
      profile:
        memory: {{enabled: false}}
        block: {{enabled: false}}
        mutex: {{enabled: false}}
        process_cpu: {{enabled: false}}
    targets:
{targets}exporters:
  debug: {{verbosity: basic}}
service:
  pipelines:
    profiles: {{receivers: [pyroscope_scrape], exporters: [debug]}}
  telemetry:
    logs: {{level: 'info,profcol_exporter=warn'}}
    metrics: {{address: '127.0.0.1:{admin}'}}
  cluster:
    enabled: true
    node_name: n{index}
    listen_address: '127.0.0.1:{port}'
    join_peers: [{peers}]
    rejoin_interval: 2s
    gossip_interval: 200ms
    failure_detection_threshold: 12
",
        timeout = INTERVAL + 1,
        port = gossip[index],
        peers = peers.join(", "),
    )
}

/// Polls until every node in `nodes` reports `expected` as its members and
/// a split made with them; returns when that happened, or fails after `limit`.
fn wait_members(nodes: &[&Node], expected: &[&str], limit: Duration, what: &str) -> Instant {
    let deadline = Instant::now() + limit;
    loop {
        let views: Vec<Option<(Vec<String>, usize)>> = nodes.iter().map(|n| n.cluster()).collect();
        let agreed = views
            .iter()
            .all(|v| v.as_ref().is_some_and(|(m, _)| m == expected));
        let owned: usize = views.iter().flatten().map(|(_, o)| o).sum();
        if agreed && owned == TARGETS {
            return Instant::now();
        }
        assert!(
            Instant::now() < deadline,
            "{what}: nodes did not agree on {expected:?} within {limit:?}: {views:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Scrapes per (target, node) with `from <= at < to`.
fn window(record: &Record, from: Instant, to: Instant) -> BTreeMap<usize, BTreeMap<usize, usize>> {
    let mut out: BTreeMap<usize, BTreeMap<usize, usize>> = BTreeMap::new();
    for h in record.lock().unwrap().iter() {
        if h.at >= from && h.at < to {
            *out.entry(h.target).or_default().entry(h.node).or_default() += 1;
        }
    }
    out
}

/// Records a window starting now and checks that every target was scraped
/// by exactly one node of `alive`, once per interval (±1 at the edges);
/// returns each target's scraper.
fn steady_window(record: &Record, alive: &[usize], what: &str) -> BTreeMap<usize, usize> {
    let from = Instant::now();
    std::thread::sleep(WINDOW);
    let seen = window(record, from, Instant::now());
    let per_interval = WINDOW.as_secs() / INTERVAL;
    let mut owner = BTreeMap::new();
    let missing: Vec<usize> = (0..TARGETS).filter(|t| !seen.contains_key(t)).collect();
    assert!(missing.is_empty(), "{what}: never scraped: {missing:?}");
    for (t, by) in &seen {
        assert_eq!(
            by.len(),
            1,
            "{what}: target {t} scraped by several nodes: {by:?}"
        );
        let (&node, &count) = by.iter().next().unwrap();
        assert!(
            alive.contains(&node),
            "{what}: target {t} scraped by node {node}"
        );
        assert!(
            (per_interval - 1..=per_interval + 1).contains(&(count as u64)),
            "{what}: target {t} scraped {count} times in {WINDOW:?} by node {node}"
        );
        owner.insert(*t, node);
    }
    owner
}

#[test]
fn three_nodes_share_targets_and_heal() {
    let dir = tempfile::tempdir().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let server = listener.local_addr().unwrap().port();
    let record: Record = Arc::default();
    serve(listener, record.clone());

    let gossip: Vec<u16> = (0..NODES).map(|_| free_port()).collect();
    let mut nodes: Vec<Node> = (0..NODES)
        .map(|i| {
            let admin = free_port();
            let config = dir.path().join(format!("n{i}.yaml"));
            std::fs::write(&config, config_yaml(i, &gossip, admin, server)).unwrap();
            Node {
                index: i,
                admin,
                config,
                child: None,
            }
        })
        .collect();
    for n in nodes.iter_mut() {
        n.start(dir.path(), 0);
    }
    let all = ["n0", "n1", "n2"];
    let started = Instant::now();
    wait_members(
        &nodes.iter().collect::<Vec<_>>(),
        &all,
        Duration::from_secs(30),
        "start",
    );
    eprintln!("converged after {:?}", started.elapsed());
    // Loops of targets that moved during the convergence start within one
    // interval; let them settle.
    std::thread::sleep(Duration::from_secs(2 * INTERVAL));
    let first = steady_window(&record, &[0, 1, 2], "three nodes");
    let shares: Vec<usize> = (0..NODES)
        .map(|n| first.values().filter(|o| **o == n).count())
        .collect();
    assert!(shares.iter().all(|s| *s >= 50), "uneven split: {shares:?}");
    for n in &nodes {
        check_pages(n, shares[n.index]);
    }

    // Kill n2: once both survivors notice, its targets move within two
    // intervals, and the survivors keep their own.
    nodes[2].kill();
    let killed = Instant::now();
    let noticed = wait_members(
        &[&nodes[0], &nodes[1]],
        &all[..2],
        Duration::from_secs(20),
        "after SIGKILL",
    );
    eprintln!("death noticed after {:?}", noticed - killed);
    std::thread::sleep(Duration::from_secs(2 * INTERVAL));
    let second = steady_window(&record, &[0, 1], "after SIGKILL");
    for (t, o) in &first {
        if *o != 2 {
            assert_eq!(second[t], *o, "target {t} moved off a live node");
        }
    }

    // Bring n2 back: the split returns to the first one exactly.
    nodes[2].start(dir.path(), 1);
    let restarted = Instant::now();
    wait_members(
        &nodes.iter().collect::<Vec<_>>(),
        &all,
        Duration::from_secs(30),
        "after restart",
    );
    eprintln!("rejoined after {:?}", restarted.elapsed());
    std::thread::sleep(Duration::from_secs(2 * INTERVAL));
    let third = steady_window(&record, &[0, 1, 2], "after restart");
    assert_eq!(third, first, "the split after the restart differs");
}
