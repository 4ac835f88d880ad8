//! The `file` exporter: writes every profile to its own file (gzipped pprof
//! by default, or OTLP protobuf / OTLP JSON), named by time, service and
//! type, and deletes the oldest files beyond `max_files` / `max_bytes`. It
//! is the sink of the embedded default pipeline.

use crate::config::{unknown_keys, NumericSampleAttributes, Unknown};
use crate::events::ExporterEvents;
use crate::pipeline::{Pipeline, Prepared, Sender};
use crate::queue::QueueConfig;
use crate::retry::{RetryPolicy, SendError};
use crate::Error;
use opentelemetry_proto::tonic::common::v1::any_value;
use profcol_config::{join_path, Problem, Validate};
use profcol_pdata::otlp::collector::ExportProfilesServiceRequest;
use profcol_pdata::otlp::OtlpPayload;
use profcol_pdata::{ProfileBatch, ProfileRecord};
use prost::Message;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileFormat {
    #[default]
    Pprof,
    Otlp,
    OtlpJson,
}

impl FileFormat {
    fn extension(self) -> &'static str {
        match self {
            Self::Pprof => ".pb.gz",
            Self::Otlp => ".otlp.pb",
            Self::OtlpJson => ".otlp.json",
        }
    }
}

/// The keys of [`FileConfig`].
pub const FILE_KEYS: &[&str] = &[
    "directory",
    "format",
    "max_files",
    "max_bytes",
    "numeric_sample_attributes",
    "sending_queue",
];

/// The keys of [`FileQueueConfig`].
pub const FILE_QUEUE_KEYS: &[&str] = &["block_on_overflow"];

/// The file exporter's `sending_queue`: its size and its one writer are
/// fixed; only what a full queue does is the user's choice.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FileQueueConfig {
    /// When full, `consume()` waits for room instead of refusing.
    pub block_on_overflow: bool,
    #[serde(flatten, skip_serializing)]
    pub unknown: Unknown,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FileConfig {
    pub directory: String,
    pub format: FileFormat,
    /// 0 = no limit.
    pub max_files: usize,
    /// 0 = no limit.
    pub max_bytes: u64,
    /// OTLP formats only: keep or drop numeric pprof labels as sample
    /// attributes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub numeric_sample_attributes: Option<NumericSampleAttributes>,
    pub sending_queue: FileQueueConfig,
    #[serde(flatten, skip_serializing)]
    pub unknown: Unknown,
}

impl Validate for FileQueueConfig {
    fn validate(&self, path: &str, problems: &mut Vec<Problem>) {
        unknown_keys(&self.unknown, path, FILE_QUEUE_KEYS, problems);
    }
}

impl Default for FileConfig {
    fn default() -> Self {
        Self {
            directory: "./profcol-data".to_string(),
            format: FileFormat::Pprof,
            max_files: 1000,
            max_bytes: 1024 * 1024 * 1024,
            numeric_sample_attributes: None,
            sending_queue: FileQueueConfig::default(),
            unknown: Unknown::new(),
        }
    }
}

impl Validate for FileConfig {
    fn validate(&self, path: &str, problems: &mut Vec<Problem>) {
        if self.directory.trim().is_empty() {
            problems.push(Problem::new(
                join_path(path, "directory"),
                "must not be empty",
            ));
        }
        if self.format == FileFormat::Pprof && self.numeric_sample_attributes.is_some() {
            problems.push(Problem::new(
                join_path(path, "numeric_sample_attributes"),
                "applies only to format otlp or otlp_json (pprof files keep every label as served)",
            ));
        }
        self.sending_queue
            .validate(&join_path(path, "sending_queue"), problems);
        unknown_keys(&self.unknown, path, FILE_KEYS, problems);
    }
}

/// File names keep `[A-Za-z0-9._-]`; anything else becomes `_`.
pub fn sanitize(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    if out.is_empty() || out.chars().all(|c| c == '.') {
        out = "unknown".to_string();
    }
    out
}

/// `20261125T114237.123Z` (UTC), so names sort by time.
pub fn utc_stamp(t: SystemTime) -> String {
    let d = t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (year, month, day) = profcol_runtime::calendar::civil_from_days(days);
    format!(
        "{year:04}{month:02}{day:02}T{:02}{:02}{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_millis()
    )
}

/// The files written so far, oldest first, and the retention limits.
struct Retention {
    files: VecDeque<(PathBuf, u64)>,
    bytes: u64,
    max_files: usize,
    max_bytes: u64,
}

impl Retention {
    fn add(&mut self, path: PathBuf, size: u64) -> Vec<PathBuf> {
        self.files.push_back((path, size));
        self.bytes += size;
        let mut evicted = Vec::new();
        // The newest file always stays.
        while self.files.len() > 1
            && ((self.max_files > 0 && self.files.len() > self.max_files)
                || (self.max_bytes > 0 && self.bytes > self.max_bytes))
        {
            if let Some((p, s)) = self.files.pop_front() {
                self.bytes -= s;
                evicted.push(p);
            }
        }
        evicted
    }
}

fn is_ours(name: &str) -> bool {
    let b = name.as_bytes();
    b.len() > 20
        && b[..8].iter().all(u8::is_ascii_digit)
        && b[8] == b'T'
        && [".pb.gz", ".otlp.pb", ".otlp.json"]
            .iter()
            .any(|e| name.ends_with(e))
}

/// Files this exporter wrote earlier (by name pattern), oldest first.
fn existing(dir: &Path) -> Vec<(PathBuf, u64)> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<(PathBuf, u64)> = rd
        .flatten()
        .filter(|e| e.file_name().to_str().is_some_and(is_ours))
        .filter_map(|e| Some((e.path(), e.metadata().ok().filter(|m| m.is_file())?.len())))
        .collect();
    found.sort();
    found
}

pub struct FileWrite {
    name: String,
    data: Vec<u8>,
}

struct FileSender {
    dir: PathBuf,
    format: FileFormat,
    otlp_options: profcol_pdata::otlp::OtlpOptions,
    seq: AtomicU64,
    retention: Mutex<Retention>,
    events: Arc<ExporterEvents>,
}

impl FileSender {
    fn encode(&self, record: &ProfileRecord) -> Result<Vec<u8>, String> {
        Ok(match self.format {
            FileFormat::Pprof => record.pprof.pprof_gzip().to_vec(),
            FileFormat::Otlp => profcol_pdata::otlp::to_otlp_bytes_with(
                std::slice::from_ref(record),
                &self.otlp_options,
            ),
            FileFormat::OtlpJson => {
                let records = std::slice::from_ref(record);
                let bytes = profcol_pdata::otlp::to_otlp_bytes_with(records, &self.otlp_options);
                let req = ExportProfilesServiceRequest::decode(bytes.as_slice())
                    .map_err(|e| format!("re-reading the OTLP request: {e}"))?;
                profcol_pdata::otlp::json::to_otlp_json_string(&req, false)
                    .map_err(|e| e.to_string())?
                    .into_bytes()
            }
        })
    }

    /// A received OTLP request's file: its bytes as they came (`otlp`) or
    /// their OTLP/JSON, with the first resource's `service.name`.
    fn encode_otlp(&self, payload: &OtlpPayload) -> Result<(String, Vec<u8>), String> {
        let req = payload.request().map_err(|e| e.to_string())?;
        let service = req
            .resource_profiles
            .iter()
            .filter_map(|r| r.resource.as_ref())
            .flat_map(|r| &r.attributes)
            .find(|kv| kv.key == "service.name")
            .and_then(|kv| match &kv.value.as_ref()?.value {
                Some(any_value::Value::StringValue(s)) => Some(s.clone()),
                _ => None,
            })
            .unwrap_or_else(|| "unknown".to_string());
        let data = match self.format {
            FileFormat::OtlpJson => profcol_pdata::otlp::json::to_otlp_json_string(&req, false)
                .map_err(|e| e.to_string())?
                .into_bytes(),
            _ => payload.bytes().to_vec(),
        };
        Ok((service, data))
    }

    fn file_name(&self, record: &ProfileRecord) -> String {
        let service = record
            .labels
            .get(profcol_pdata::Labels::SERVICE_NAME)
            .unwrap_or("unknown");
        self.name_file(service, record.name())
    }

    fn name_file(&self, service: &str, profile_type: &str) -> String {
        format!(
            "{}_{}_{}_{:06}{}",
            utc_stamp(SystemTime::now()),
            sanitize(service),
            sanitize(profile_type),
            self.seq.fetch_add(1, Ordering::Relaxed),
            self.format.extension()
        )
    }
}

fn write_atomically(dir: &Path, name: &str, data: &[u8]) -> std::io::Result<PathBuf> {
    let tmp = dir.join(format!(".{name}.tmp"));
    let dest = dir.join(name);
    if let Err(e) = std::fs::write(&tmp, data) {
        if e.kind() != std::io::ErrorKind::NotFound {
            return Err(e);
        }
        // The directory was removed while running: make it again.
        std::fs::create_dir_all(dir)?;
        std::fs::write(&tmp, data)?;
    }
    std::fs::rename(&tmp, &dest)?;
    Ok(dest)
}

#[async_trait::async_trait]
impl Sender for FileSender {
    type Request = FileWrite;

    fn prepare(&self, batch: ProfileBatch) -> Vec<Prepared<FileWrite>> {
        let mut out = Vec::with_capacity(batch.len());
        // A received OTLP request is one file as it came (otlp, otlp_json);
        // pprof files need it converted, one file per profile.
        let (records, otlp) = if self.format == FileFormat::Pprof {
            let (records, unconvertible) = batch.into_pprof_records();
            for e in unconvertible {
                self.events.dropped("convert_failed", 1, 0, &e.to_string());
            }
            (records, Vec::new())
        } else {
            (batch.records, batch.otlp)
        };
        for payload in otlp {
            let profiles = payload.profile_count() as u64;
            match self.encode_otlp(&payload) {
                Ok((service, data)) => out.push(Prepared {
                    bytes: data.len() as u64,
                    profiles,
                    request: FileWrite {
                        name: self.name_file(&service, "otlp"),
                        data,
                    },
                }),
                Err(e) => self.events.dropped("encode_failed", profiles, 0, &e),
            }
        }
        for record in &records {
            match self.encode(record) {
                Ok(data) => out.push(Prepared {
                    bytes: data.len() as u64,
                    profiles: 1,
                    request: FileWrite {
                        name: self.file_name(record),
                        data,
                    },
                }),
                Err(e) => self.events.dropped("encode_failed", 1, 0, &e),
            }
        }
        out
    }

    async fn send(&self, w: &FileWrite) -> Result<(), SendError> {
        let dir = self.dir.clone();
        let name = w.name.clone();
        // The request is borrowed; writing needs owned data on the blocking pool.
        let data = w.data.clone();
        let written = tokio::task::spawn_blocking(move || write_atomically(&dir, &name, &data))
            .await
            .map_err(|e| SendError::permanent(e.to_string()))?
            .map_err(|e| SendError::permanent(format!("cannot write {}: {e}", w.name)))?;
        let evicted = self
            .retention
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .add(written, w.data.len() as u64);
        for old in evicted {
            if let Err(e) = std::fs::remove_file(&old) {
                if e.kind() != std::io::ErrorKind::NotFound {
                    tracing::warn!(exporter = %self.events.id(), file = %old.display(), error = %e, "Cannot delete an old profile file.");
                }
            }
        }
        Ok(())
    }
}

pub fn start(
    id: &str,
    cfg: &FileConfig,
    telemetry: &profcol_runtime::Telemetry,
) -> Result<Arc<Pipeline>, Error> {
    let dir = PathBuf::from(&cfg.directory);
    std::fs::create_dir_all(&dir).map_err(|source| Error::Io {
        path: cfg.directory.clone(),
        source,
    })?;
    let mut retention = Retention {
        files: VecDeque::new(),
        bytes: 0,
        max_files: cfg.max_files,
        max_bytes: cfg.max_bytes,
    };
    for (p, s) in existing(&dir) {
        for old in retention.add(p, s) {
            let _ = std::fs::remove_file(old);
        }
    }
    let events = Arc::new(ExporterEvents::new(
        id,
        telemetry.metrics::<crate::metrics::ExporterMetrics>(),
    ));
    let sender = FileSender {
        dir,
        format: cfg.format,
        otlp_options: cfg
            .numeric_sample_attributes
            .unwrap_or_default()
            .otlp_options(),
        seq: AtomicU64::new(0),
        retention: Mutex::new(retention),
        events: events.clone(),
    };
    // One writer keeps names and retention in order; nothing to retry.
    let queue = QueueConfig {
        num_consumers: 1,
        flush_timeout: profcol_config::Duration::default(),
        block_on_overflow: cfg.sending_queue.block_on_overflow,
        ..QueueConfig::default()
    };
    let policy = RetryPolicy {
        enabled: false,
        ..RetryPolicy::from(&crate::retry::RetryConfig::default())
    };
    Pipeline::start(Arc::new(sender), &queue, policy, events)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn stamps_and_names() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_millis(1_764_071_057_123);
        assert_eq!(utc_stamp(t), "20251125T114417.123Z");
        assert_eq!(utc_stamp(SystemTime::UNIX_EPOCH), "19700101T000000.000Z");
        let leap = SystemTime::UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(&utc_stamp(leap)[..8], "20000229");
        assert_eq!(sanitize("ns/app name"), "ns_app_name");
        assert_eq!(sanitize(".."), "unknown");
        assert!(is_ours("20251125T114417.123Z_svc_cpu_000001.pb.gz"));
        assert!(!is_ours("notes.txt"));
    }

    #[test]
    fn retention_evicts_oldest_but_keeps_the_newest() {
        let mut r = Retention {
            files: VecDeque::new(),
            bytes: 0,
            max_files: 2,
            max_bytes: 100,
        };
        assert!(r.add("a".into(), 10).is_empty());
        assert!(r.add("b".into(), 10).is_empty());
        assert_eq!(r.add("c".into(), 10), vec![PathBuf::from("a")]);
        assert_eq!(
            r.add("d".into(), 500),
            vec![PathBuf::from("b"), PathBuf::from("c")]
        );
        assert_eq!(r.files.len(), 1);
    }
}
