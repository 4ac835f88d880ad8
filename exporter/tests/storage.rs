//! The persistent sending queue in process: batches round-trip through the
//! disk, in order; a restart resends what was left; damaged records are
//! skipped and counted; `max_bytes` refuses the newest; delivered records
//! give their disk space back; an unusable directory is an error naming
//! the key.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use profcol_exporter::config::StorageConfig;
use profcol_exporter::events::ExporterEvents;
use profcol_exporter::metrics::ExporterMetrics;
use profcol_exporter::pipeline::{Pipeline, Prepared, Sender};
use profcol_exporter::queue::QueueConfig;
use profcol_exporter::retry::{RetryPolicy, SendError};
use profcol_exporter::storage::exporter_dir;
use profcol_pdata::pprof::encode_pprof_gzip;
use profcol_pdata::{pprof, Labels, PprofData, ProfileBatch, ProfileRecord};
use profcol_runtime::Telemetry;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const ID: &str = "otlp_http/disk";

/// A backend that records what it was sent and can be switched off.
#[derive(Default)]
struct Backend {
    up: AtomicBool,
    got: Mutex<Vec<ProfileRecord>>,
}

impl Backend {
    fn new(up: bool) -> Arc<Self> {
        let b = Self::default();
        b.up.store(up, Ordering::SeqCst);
        Arc::new(b)
    }
    fn seqs(&self) -> Vec<u64> {
        self.got
            .lock()
            .unwrap()
            .iter()
            .map(|r| r.labels.get("seq").unwrap().parse().unwrap())
            .collect()
    }
    fn wait_for(&self, n: usize) -> Vec<u64> {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.got.lock().unwrap().len() < n && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        self.seqs()
    }
}

struct Shared(Arc<Backend>);

#[async_trait::async_trait]
impl Sender for Shared {
    type Request = ProfileBatch;
    fn prepare(&self, batch: ProfileBatch) -> Vec<Prepared<ProfileBatch>> {
        vec![Prepared {
            profiles: batch.len() as u64,
            bytes: batch.approx_bytes() as u64,
            request: batch,
        }]
    }
    async fn send(&self, request: &ProfileBatch) -> Result<(), SendError> {
        if !self.0.up.load(Ordering::SeqCst) {
            return Err(SendError::retryable("backend down"));
        }
        self.0
            .got
            .lock()
            .unwrap()
            .extend(request.records.iter().cloned());
        Ok(())
    }
}

fn profile(seq: u64) -> pprof::Profile {
    pprof::Profile {
        sample_type: vec![pprof::ValueType { r#type: 1, unit: 2 }],
        sample: vec![pprof::Sample {
            location_id: vec![],
            value: vec![seq as i64],
            label: vec![],
        }],
        string_table: vec![String::new(), "goroutine".into(), "count".into()],
        ..Default::default()
    }
}

/// One profile labelled `seq`; odd ones keep the bytes as served.
fn batch(seq: u64) -> ProfileBatch {
    let labels = Labels::from_pairs([
        ("__name__", "goroutine".to_string()),
        ("seq", seq.to_string()),
    ]);
    let r = if seq % 2 == 1 {
        let served = encode_pprof_gzip(&profile(seq)).into();
        let data = PprofData::from_served(served, &Default::default()).unwrap();
        ProfileRecord::new(labels, data)
    } else {
        ProfileRecord::from_profile(labels, &profile(seq)).unwrap()
    };
    ProfileBatch::new(vec![r])
}

fn queue_cfg(dir: &Path, max_bytes: u64) -> QueueConfig {
    QueueConfig {
        num_consumers: 1,
        max_batch_size: 1,
        flush_timeout: profcol_config::Duration::from_millis(0),
        storage: Some(StorageConfig {
            directory: dir.display().to_string(),
            max_bytes,
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn policy() -> RetryPolicy {
    RetryPolicy {
        enabled: true,
        initial_interval: Duration::from_millis(10),
        max_interval: Duration::from_millis(50),
        max_elapsed_time: Duration::ZERO,
        multiplier: 2.0,
        randomization_factor: 0.0,
        max_attempts: None,
    }
}

struct Started {
    pipeline: Arc<Pipeline>,
    telemetry: Telemetry,
}

fn start(dir: &Path, max_bytes: u64, backend: &Arc<Backend>) -> Started {
    let telemetry = Telemetry::default();
    let events = Arc::new(ExporterEvents::new(
        ID,
        telemetry.metrics::<ExporterMetrics>(),
    ));
    let pipeline = Pipeline::start(
        Arc::new(Shared(backend.clone())),
        &queue_cfg(dir, max_bytes),
        policy(),
        events,
    )
    .unwrap();
    Started {
        pipeline,
        telemetry,
    }
}

fn metric(t: &Telemetry, name: &str) -> f64 {
    let page = t.encode();
    page.lines()
        .find(|l| l.starts_with(name) && l.contains(&format!("exporter=\"{ID}\"")))
        .and_then(|l| l.rsplit(' ').next())
        .map(|v| v.parse().unwrap())
        .unwrap_or(0.0)
}

fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(exporter_dir(dir, ID))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "seg"))
        .collect();
    v.sort();
    v
}

fn disk_usage(dir: &Path) -> u64 {
    std::fs::read_dir(exporter_dir(dir, ID))
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum()
}

/// Queues `seqs` with the backend down, then stops; the batches stay on disk.
async fn leave_on_disk(dir: &Path, seqs: std::ops::Range<u64>) {
    let down = Backend::new(false);
    let s = start(dir, 1 << 30, &down);
    for i in seqs {
        assert!(s.pipeline.offer(batch(i)).await.is_ok());
    }
    s.pipeline.shutdown(Duration::from_millis(100)).await;
    assert!(down.seqs().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_round_trip_in_order_and_free_the_disk() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Backend::new(true);
    let s = start(dir.path(), 1 << 30, &backend);
    let sent: Vec<ProfileBatch> = (0..40).map(batch).collect();
    for b in &sent {
        assert!(s.pipeline.offer(b.clone()).await.is_ok());
    }
    let seqs = tokio::task::block_in_place(|| backend.wait_for(40));
    assert_eq!(seqs, (0..40).collect::<Vec<_>>(), "in order, each once");
    let got = backend.got.lock().unwrap().clone();
    for (a, b) in sent.iter().zip(&got) {
        let a = &a.records[0];
        assert_eq!(a.labels, b.labels);
        assert_eq!(a.profile(), b.profile());
        assert_eq!(
            a.pprof.served(),
            b.pprof.served(),
            "the served bytes are kept byte for byte"
        );
    }
    // Acks land right after delivery; give the worker a moment.
    let deadline = Instant::now() + Duration::from_secs(5);
    while disk_usage(dir.path()) > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(disk_usage(dir.path()), 0, "delivered segments are deleted");
    assert_eq!(metric(&s.telemetry, "profcol_exporter_storage_bytes"), 0.0);
    s.pipeline.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_resends_what_was_left_first_and_in_order() {
    let dir = tempfile::tempdir().unwrap();
    leave_on_disk(dir.path(), 0..25).await;
    assert!(disk_usage(dir.path()) > 0);

    let backend = Backend::new(true);
    let s = start(dir.path(), 1 << 30, &backend);
    for i in 25..30 {
        assert!(s.pipeline.offer(batch(i)).await.is_ok());
    }
    let seqs = tokio::task::block_in_place(|| backend.wait_for(30));
    assert_eq!(seqs, (0..30).collect::<Vec<_>>());
    assert_eq!(
        metric(
            &s.telemetry,
            "profcol_exporter_storage_corrupt_records_total"
        ),
        0.0
    );
    s.pipeline.shutdown(Duration::from_secs(1)).await;
    assert!(segments(dir.path()).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tail_cut_short_by_a_crash_is_skipped_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    leave_on_disk(dir.path(), 0..10).await;
    let seg = segments(dir.path()).pop().unwrap();
    let len = std::fs::metadata(&seg).unwrap().len();
    // Cut the last record in half, as a crash in the middle of a write would.
    let f = std::fs::OpenOptions::new().write(true).open(&seg).unwrap();
    f.set_len(len - 20).unwrap();
    drop(f);

    let backend = Backend::new(true);
    let s = start(dir.path(), 1 << 30, &backend);
    let seqs = tokio::task::block_in_place(|| backend.wait_for(9));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(backend.seqs(), (0..9).collect::<Vec<_>>(), "{seqs:?}");
    assert_eq!(
        metric(
            &s.telemetry,
            "profcol_exporter_storage_corrupt_records_total"
        ),
        1.0
    );
    s.pipeline.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_record_in_the_middle_is_skipped_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    leave_on_disk(dir.path(), 0..10).await;
    let seg = segments(dir.path()).pop().unwrap();
    let mut data = std::fs::read(&seg).unwrap();
    // Records are the same size give or take a few bytes: flip a byte in
    // the payload of the record that starts nearest the middle.
    let starts: Vec<usize> = data
        .windows(4)
        .enumerate()
        .filter(|(_, w)| *w == profcol_exporter::storage::MAGIC)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(starts.len(), 10);
    data[starts[5] + 20] ^= 0x55;
    std::fs::write(&seg, &data).unwrap();

    let (pending, corrupt) =
        profcol_exporter::storage::read_pending(&exporter_dir(dir.path(), ID)).unwrap();
    assert_eq!((pending.len(), corrupt), (9, 1));

    let backend = Backend::new(true);
    let s = start(dir.path(), 1 << 30, &backend);
    tokio::task::block_in_place(|| backend.wait_for(9));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(backend.seqs(), [0, 1, 2, 3, 4, 6, 7, 8, 9]);
    assert_eq!(
        metric(
            &s.telemetry,
            "profcol_exporter_storage_corrupt_records_total"
        ),
        1.0
    );
    s.pipeline.shutdown(Duration::from_secs(1)).await;
}

/// `name{exporter=ID, reason=reason}`.
fn metric_for(t: &Telemetry, name: &str, reason: &str) -> f64 {
    let page = t.encode();
    page.lines()
        .find(|l| {
            l.starts_with(name)
                && l.contains(&format!("exporter=\"{ID}\""))
                && l.contains(&format!("reason=\"{reason}\""))
        })
        .and_then(|l| l.rsplit(' ').next())
        .map(|v| v.parse().unwrap())
        .unwrap_or(0.0)
}

/// Appends a record holding `payload` to `seg` with a right checksum: what
/// the checksum cannot tell from a good record (another program's write, a
/// file from elsewhere).
fn append_record(seg: &Path, payload: &[u8]) {
    let mut crc = flate2::Crc::new();
    crc.update(payload);
    let mut record = profcol_exporter::storage::MAGIC.to_vec();
    record.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    record.extend_from_slice(&crc.sum().to_le_bytes());
    record.extend_from_slice(payload);
    let mut f = std::fs::OpenOptions::new().append(true).open(seg).unwrap();
    std::io::Write::write_all(&mut f, &record).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stored_profiles_failing_the_input_checks_are_dropped_and_the_rest_sent() {
    let dir = tempfile::tempdir().unwrap();
    leave_on_disk(dir.path(), 0..3).await;
    let seg = segments(dir.path()).pop().unwrap();
    // A batch whose layout is garbage behind a valid version and counts.
    let mut garbage = vec![2, 1, 0, 0, 0, 1, 0, 0, 0];
    garbage.extend_from_slice(&[0xff; 40]);
    append_record(&seg, &garbage);
    // A batch of three: seq 3 is fine; one profile has a label with an
    // empty name (no receiver lets one through), one a sample with 1,001
    // pprof labels (over the decoder's default cap of 1,000, which is what
    // this exporter was given to read back under).
    let wide = ProfileRecord::from_profile(
        Labels::from_pairs([("seq", "100"), ("", "v")]),
        &profile(100),
    )
    .unwrap();
    let mut many_pprof_labels = profile(101);
    many_pprof_labels.sample[0].label = (0..1001)
        .map(|_| pprof::Label {
            key: 1,
            num: 1,
            ..Default::default()
        })
        .collect();
    let deep =
        ProfileRecord::from_profile(Labels::from_pairs([("seq", "101")]), &many_pprof_labels)
            .unwrap();
    let mixed = ProfileBatch::new(vec![wide, batch(3).records.remove(0), deep]);
    append_record(&seg, &profcol_exporter::storage_codec::encode_batch(&mixed));
    leave_on_disk(dir.path(), 4..6).await;

    let backend = Backend::new(true);
    let s = start(dir.path(), 1 << 30, &backend);
    let seqs = tokio::task::block_in_place(|| backend.wait_for(6));
    assert_eq!(
        seqs,
        (0..6).collect::<Vec<_>>(),
        "every good profile, in order"
    );
    let t = &s.telemetry;
    assert_eq!(
        metric(t, "profcol_exporter_storage_corrupt_records_total"),
        1.0,
        "the garbage batch"
    );
    let refused = "profcol_exporter_storage_refused_total";
    assert_eq!(metric_for(t, refused, "labels"), 1.0);
    assert_eq!(metric_for(t, refused, "pprof"), 1.0);
    s.pipeline.shutdown(Duration::from_secs(1)).await;
    assert!(segments(dir.path()).is_empty(), "every record is done with");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_bytes_refuses_the_newest_and_counts_it() {
    let dir = tempfile::tempdir().unwrap();
    let down = Backend::new(false);
    let max = 4096;
    let s = start(dir.path(), max, &down);
    let mut accepted = Vec::new();
    let mut refused = 0;
    for i in 0..200 {
        if s.pipeline.offer(batch(i)).await.is_ok() {
            assert_eq!(refused, 0, "once full, everything newer is refused");
            accepted.push(i);
        } else {
            refused += 1;
        }
    }
    assert!(
        refused > 0 && accepted.len() > 5,
        "{} accepted",
        accepted.len()
    );
    assert!(disk_usage(dir.path()) <= max, "{}", disk_usage(dir.path()));
    assert_eq!(
        metric(
            &s.telemetry,
            "profcol_exporter_dropped_profiles_total{exporter=\"otlp_http/disk\",reason=\"queue_full\"}"
        ),
        refused as f64
    );
    // Once the backend is back, the accepted ones arrive and there is room
    // again.
    down.up.store(true, Ordering::SeqCst);
    let seqs = tokio::task::block_in_place(|| down.wait_for(accepted.len()));
    assert_eq!(seqs, accepted);
    assert!(s.pipeline.offer(batch(1000)).await.is_ok());
    s.pipeline.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn an_unusable_directory_is_an_error_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let telemetry = Telemetry::default();
    let events = Arc::new(ExporterEvents::new(
        ID,
        telemetry.metrics::<ExporterMetrics>(),
    ));
    let err = Pipeline::start(
        Arc::new(Shared(Backend::new(true))),
        &queue_cfg(&file.join("under"), 1 << 20),
        policy(),
        events,
    )
    .err()
    .expect("a directory under a file cannot be created");
    let msg = err.to_string();
    assert!(
        msg.contains("exporters::otlp_http/disk::sending_queue::storage::directory"),
        "{msg}"
    );
}

#[test]
fn the_storage_block_is_validated() {
    let id: profcol_config::ComponentId = "otlp_http/x".parse().unwrap();
    let body = profcol_config::Body::parse(
        "endpoint: http://127.0.0.1:1\nsending_queue:\n  enabled: false\n  storage: {max_bytes: 0, bogus: 1}\n",
    )
    .unwrap();
    let problems = profcol_exporter::EXPORTERS
        .decode(&id, &body, "exporters::otlp_http/x")
        .unwrap_err();
    let paths: Vec<String> = problems.iter().map(|p| p.path.clone()).collect();
    for want in [
        "exporters::otlp_http/x::sending_queue::storage",
        "exporters::otlp_http/x::sending_queue::storage::directory",
        "exporters::otlp_http/x::sending_queue::storage::max_bytes",
        "exporters::otlp_http/x::sending_queue::storage::bogus",
    ] {
        assert!(paths.iter().any(|p| p == want), "{want} in {paths:?}");
    }
    let ok = profcol_config::Body::parse(
        "endpoint: http://127.0.0.1:1\nsending_queue:\n  storage: {directory: /tmp/q}\n",
    )
    .unwrap();
    profcol_exporter::EXPORTERS.decode(&id, &ok, "e").unwrap();
}

#[tokio::test]
async fn each_pyroscope_endpoint_has_its_own_directory() {
    let dir = tempfile::tempdir().unwrap();
    let id: profcol_config::ComponentId = "pyroscope/p".parse().unwrap();
    let body = profcol_config::Body::parse(&format!(
        "endpoint:\n  - {{url: 'http://127.0.0.1:1', name: a}}\n  - {{url: 'http://127.0.0.1:2', name: b}}\nsending_queue:\n  storage: {{directory: '{}'}}\n",
        dir.path().display()
    ))
    .unwrap();
    let (ctx, _t) = common::ctx("pyroscope/p");
    let handle = profcol_exporter::start_exporter(&id, &body, ctx).unwrap();
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    names.sort();
    assert_eq!(names, ["pyroscope_p_a_", "pyroscope_p_b_"]);
    handle.shutdown(Duration::from_millis(10)).await;
}

/// Accepted batches per second into the persistent queue (one `fdatasync`
/// each) with the backend down, from 8 concurrent producers, and the drain
/// rate once it is up. Run with `--ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn throughput() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Backend::new(false);
    let s = start(dir.path(), 1 << 30, &backend);
    let n = 2000u64;
    let started = Instant::now();
    let producers: Vec<_> = (0..8u64)
        .map(|p| {
            let pipeline = s.pipeline.clone();
            tokio::spawn(async move {
                for i in (p..n).step_by(8) {
                    assert!(pipeline.offer(batch(i)).await.is_ok());
                }
            })
        })
        .collect();
    for p in producers {
        p.await.unwrap();
    }
    let queued = started.elapsed();
    let bytes = disk_usage(dir.path());
    backend.up.store(true, Ordering::SeqCst);
    let started = Instant::now();
    let got = tokio::task::block_in_place(|| backend.wait_for(n as usize));
    let drained = started.elapsed();
    assert_eq!(got.len(), n as usize);
    println!(
        "persistent queue: {n} batches ({bytes} bytes on disk) accepted in {queued:?} ({:.0}/s, fsync each); drained in {drained:?} ({:.0}/s, 1 consumer, batch size 1)",
        n as f64 / queued.as_secs_f64(),
        n as f64 / drained.as_secs_f64()
    );
    s.pipeline.shutdown(Duration::from_secs(1)).await;
}

#[test]
fn segments_are_deleted_once_all_their_records_are_done_and_acks_survive_reopening() {
    use profcol_exporter::storage::Store;
    let dir = tempfile::tempdir().unwrap();
    let telemetry = Telemetry::default();
    let events = Arc::new(ExporterEvents::new(
        ID,
        telemetry.metrics::<ExporterMetrics>(),
    ));
    let payload = |i: u64| profcol_exporter::storage_codec::encode_batch(&batch(i));
    let seg_count = || {
        std::fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| e.as_ref().unwrap().path().extension().unwrap() == "seg")
            .count()
    };
    // Small segments: a few records each.
    let mut store = Store::open(dir.path(), 1 << 20, 300, events.clone()).unwrap();
    for i in 0..12 {
        store.append(&payload(i), 1).unwrap();
    }
    let segments_before = seg_count();
    assert!(segments_before >= 3, "{segments_before}");
    let (_, bytes_before) = store.usage();
    let mut tickets = Vec::new();
    for i in 0..6 {
        let (p, t) = store.pop(None).unwrap();
        assert_eq!(
            profcol_exporter::storage_codec::decode_batch(&p)
                .unwrap()
                .records[0]
                .labels
                .get("seq"),
            Some(i.to_string().as_str())
        );
        tickets.push(t);
    }
    // Done out of order; the oldest segment goes once all of its are done.
    for t in tickets.iter().rev() {
        store.ack(*t);
    }
    assert!(seg_count() < segments_before);
    assert!(store.usage().1 < bytes_before);
    // Take one more and ack it, then "crash": reopen without the rest.
    let (_, t) = store.pop(None).unwrap();
    store.ack(t);
    drop(store);
    // A torn ack write must not misalign later acks.
    for e in std::fs::read_dir(dir.path()).unwrap() {
        let p = e.unwrap().path();
        if p.extension().unwrap() == "ack" {
            let mut f = std::fs::OpenOptions::new().append(true).open(&p).unwrap();
            std::io::Write::write_all(&mut f, &[1, 2, 3]).unwrap();
        }
    }
    let mut store = Store::open(dir.path(), 1 << 20, 300, events.clone()).unwrap();
    assert_eq!(store.usage().0, 5, "7 of 12 were done");
    // Ack one more into the segment whose ack file was torn, and reopen:
    // that ack must be read back.
    let (_, t) = store.pop(None).unwrap();
    store.ack(t);
    drop(store);
    let mut store = Store::open(dir.path(), 1 << 20, 300, events.clone()).unwrap();
    assert_eq!(store.usage().0, 4, "8 of 12 were done");
    let mut seen = Vec::new();
    while let Some((p, t)) = store.pop(None) {
        let b = profcol_exporter::storage_codec::decode_batch(&p).unwrap();
        seen.push(b.records[0].labels.get("seq").unwrap().to_string());
        store.ack(t);
    }
    assert_eq!(seen, ["8", "9", "10", "11"]);
    assert_eq!(store.usage(), (0, 0));
    assert_eq!(seg_count(), 0);
    drop(store);
    let store = Store::open(dir.path(), 1 << 20, 300, events).unwrap();
    assert_eq!(store.usage(), (0, 0), "nothing comes back once done");
}
