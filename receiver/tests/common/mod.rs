//! Helpers shared by the receiver's integration tests: a small valid pprof
//! profile, a consumer that records what it gets, local servers and
//! bounded waiting.

#![allow(dead_code)]

use async_trait::async_trait;
use profcol_config::ComponentId;
use profcol_pdata::pprof::{Function, Line, Location, Profile, Sample, ValueType};
use profcol_pdata::{Consumer, ProfileBatch, ProfileRecord};
use profcol_receiver::{start_receiver, ReceiverHandle, TargetStatus};
use profcol_runtime::{ComponentContext, Telemetry};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// A one-stack profile with the given sample types, every value `value`.
pub fn profile(types: &[(&str, &str)], value: i64) -> Profile {
    let mut strings = vec![String::new()];
    let mut s = |x: &str| {
        strings.push(x.to_string());
        (strings.len() - 1) as i64
    };
    let sample_type: Vec<ValueType> = types
        .iter()
        .map(|(t, u)| ValueType {
            r#type: s(t),
            unit: s(u),
        })
        .collect();
    let name = s("main.work");
    let file = s("main.go");
    Profile {
        sample: vec![Sample {
            location_id: vec![1],
            value: vec![value; types.len()],
            label: vec![],
        }],
        location: vec![Location {
            id: 1,
            mapping_id: 0,
            address: 0,
            line: vec![Line {
                function_id: 1,
                line: 10,
                column: 0,
            }],
            is_folded: false,
        }],
        function: vec![Function {
            id: 1,
            name,
            system_name: name,
            filename: file,
            start_line: 1,
        }],
        sample_type,
        string_table: strings,
        time_nanos: 1,
        ..Default::default()
    }
}

pub fn gz(p: &Profile) -> Vec<u8> {
    profcol_pdata::pprof::encode_pprof_gzip(p)
}

/// Records every batch it is handed, or refuses them when `refuse` is set.
#[derive(Default)]
pub struct Collect {
    pub records: Mutex<Vec<ProfileRecord>>,
    pub refuse: std::sync::atomic::AtomicBool,
}

#[async_trait]
impl Consumer for Collect {
    async fn consume(&self, batch: ProfileBatch) -> Result<(), profcol_pdata::Error> {
        if self.refuse.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(profcol_pdata::Error::Refused("queue full".into()));
        }
        self.records.lock().unwrap().extend(batch.records);
        Ok(())
    }
}

impl Collect {
    pub fn all(&self) -> Vec<ProfileRecord> {
        self.records.lock().unwrap().clone()
    }
}

/// Serves `app` on 127.0.0.1 on a free port.
pub async fn serve(app: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    addr
}

pub struct Running {
    pub handle: ReceiverHandle,
    pub out: Arc<Collect>,
    pub shutdown: CancellationToken,
    pub telemetry: Telemetry,
}

pub fn start(id: &str, yaml: &str) -> Running {
    start_with_memory(id, yaml, profcol_runtime::MemoryGuard::default())
}

/// Like [`start`], with the given process memory guard.
pub fn start_with_memory(id: &str, yaml: &str, memory: profcol_runtime::MemoryGuard) -> Running {
    let id: ComponentId = id.parse().unwrap();
    let body = profcol_config::Body::parse(yaml).unwrap();
    let out = Arc::new(Collect::default());
    let shutdown = CancellationToken::new();
    let telemetry = Telemetry::default();
    let ctx = ComponentContext {
        id: id.to_string(),
        shutdown: shutdown.clone(),
        telemetry: telemetry.clone(),
        memory,
        cluster: None,
        scrape_budget: Default::default(),
        read_back_limits: Default::default(),
    };
    let handle = start_receiver(&id, &body, ctx, out.clone()).unwrap();
    Running {
        handle,
        out,
        shutdown,
        telemetry,
    }
}

impl Running {
    /// Stops the receiver; every task must be done within 5s.
    pub async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(5), self.handle.wait())
            .await
            .expect("receiver did not stop within 5s");
    }
}

/// Polls `f` every 50ms until it returns Some, for at most `secs` seconds.
pub async fn eventually<T>(secs: u64, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "condition not met within {secs}s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The status of the job whose URL ends with `suffix`.
pub fn status_of(h: &ReceiverHandle, suffix: &str) -> Option<TargetStatus> {
    h.targets().into_iter().find(|t| t.url.ends_with(suffix))
}

/// Only the goroutine type enabled (instant, not subtracted), 1s interval.
pub const ONLY_GOROUTINE: &str = "profiling_config: {profile: {memory: {enabled: false}, block: {enabled: false}, mutex: {enabled: false}, process_cpu: {enabled: false}}}\nscrape_interval: 1s\nscrape_timeout: 2s\n";
