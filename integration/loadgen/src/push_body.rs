//! The request bodies of push mode, built once before the run from the
//! generated profiles (the same variants the virtual targets serve).
//!
//! Profiles are taken in a fixed order of *items*: item `i` is kind
//! `kinds[i % k]` of virtual service `svc-NNNNN` number `(i / k) % S`, in
//! variant `(i / (k·S)) % V`. A request holds `per_request` consecutive items
//! (wrapping), and the pool holds enough requests to go once through all
//! `k·S·V` items; the sender cycles through the pool. What each mode sends:
//!
//! - `otlp-grpc`, `otlp-http`: one `ExportProfilesServiceRequest` written by
//!   profcol's own writer (`profcol_pdata::otlp::to_otlp_bytes`) from the
//!   items' records (labels `service_name`, `__name__`), gzip-compressed
//!   unless `--push-compression none`, as an SDK or a Collector sends it;
//! - `ingest`: Pyroscope's `/ingest`, one profile per request, as
//!   pyroscope-go v1.5.0 uploads (integration/README.md, "Push SDKs: what
//!   they send"): `multipart/form-data` with the gzipped pprof in part
//!   `profile` and, except for CPU, a `sample_type_config` part; the query
//!   sorted by key, `name=svc-NNNNN{…labels…}` without a type suffix, `units`,
//!   `aggregationType`, `sampleRate` per type and `from`/`until` in Unix
//!   nanoseconds. With `--ingest-body raw`, as @pyroscope/nodejs 0.6.4 does:
//!   the gzipped pprof as the whole body (`application/octet-stream`),
//!   `format=pprof`, `from`/`until` in Unix seconds. `from`/`until` are
//!   filled in when a request is sent ([`FROM`], [`UNTIL`]);
//! - `connect`: the push API's `PushRequest`, one series per item, labels
//!   `__name__`, `service_name`, `env`, the gzipped pprof as `raw_profile`.

use crate::gen::{Corpus, Kind};
use bytes::Bytes;
use profcol_pdata::pprof::DecodeLimits;
use profcol_pdata::{Labels, PprofData, ProfileRecord};
use std::io::Write;

/// The push protocols loadgen can speak.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// OTLP gRPC `ProfilesService/Export`.
    OtlpGrpc,
    /// OTLP HTTP `POST /v1development/profiles` (application/x-protobuf).
    OtlpHttp,
    /// Pyroscope `POST /ingest?name=…&format=pprof`.
    Ingest,
    /// Pyroscope push API, Connect `POST /push.v1.PusherService/Push`.
    Connect,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::OtlpGrpc => "otlp-grpc",
            Mode::OtlpHttp => "otlp-http",
            Mode::Ingest => "ingest",
            Mode::Connect => "connect",
        }
    }

    /// The path a request goes to when the URL names none.
    pub fn default_path(self) -> &'static str {
        match self {
            Mode::OtlpGrpc => {
                "/opentelemetry.proto.collector.profiles.v1development.ProfilesService/Export"
            }
            Mode::OtlpHttp => "/v1development/profiles",
            Mode::Ingest => "/ingest",
            Mode::Connect => "/push.v1.PusherService/Push",
        }
    }
}

/// How an `/ingest` body carries the profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum IngestBody {
    /// `multipart/form-data`, part `profile` (pyroscope-go).
    Multipart,
    /// The gzipped pprof as the whole body.
    Raw,
}

/// Compression of OTLP request bodies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Compression {
    Gzip,
    None,
}

/// The multipart boundary of `/ingest` bodies: 60 hex digits, as Go's
/// `mime/multipart` writes them.
pub const BOUNDARY: &str = "6c6f616467656e2d70726f66636f6c2d707573682d62656e63682d303031";

/// One prepared request: its body and, for `/ingest`, the query without
/// `from`/`until`.
pub struct Prepared {
    pub body: Bytes,
    pub query: String,
    pub profiles: u32,
    /// Bytes before compression (OTLP) or of the pprof(s) carried.
    pub raw_bytes: usize,
    /// The body is gzip-compressed as a whole (OTLP with `--push-compression gzip`).
    pub gzipped: bool,
}

/// What the pool is built from.
pub struct PoolSpec<'a> {
    pub mode: Mode,
    pub kinds: &'a [Kind],
    pub services: usize,
    pub variants: usize,
    pub per_request: usize,
    pub compression: Compression,
    pub ingest_body: IngestBody,
}

/// The label a profile type goes by in profcol (`__name__`).
pub fn profile_type(k: Kind) -> &'static str {
    match k {
        Kind::Allocs => "memory",
        Kind::Block => "block",
        Kind::Goroutine => "goroutine",
        Kind::Mutex => "mutex",
        Kind::Cpu => "process_cpu",
    }
}

/// Placeholders of an `/ingest` query, replaced when the request is sent.
pub const FROM: &str = "{from}";
pub const UNTIL: &str = "{until}";

/// What pyroscope-go v1.5.0 sends per profile type: `units`,
/// `aggregationType`, `sampleRate` and the `sample_type_config` part
/// (none for CPU), as captured in integration/corpus/ingest/go_*.json.
fn go_ingest_params(k: Kind) -> (&'static str, &'static str, u32, Option<&'static str>) {
    match k {
        Kind::Cpu => ("samples", "sum", 100, None),
        Kind::Allocs => (
            "",
            "",
            100,
            Some(
                r#"{"alloc_objects":{"units":"objects"},"alloc_space":{"units":"bytes"},"inuse_objects":{"units":"objects","aggregation":"average"},"inuse_space":{"units":"bytes","aggregation":"average"}}"#,
            ),
        ),
        Kind::Mutex => (
            "",
            "",
            0,
            Some(
                r#"{"contentions":{"units":"lock_samples","display-name":"mutex_count"},"delay":{"units":"lock_nanoseconds","display-name":"mutex_duration"}}"#,
            ),
        ),
        Kind::Block => (
            "",
            "",
            0,
            Some(
                r#"{"contentions":{"units":"lock_samples","display-name":"block_count"},"delay":{"units":"lock_nanoseconds","display-name":"block_duration"}}"#,
            ),
        ),
        Kind::Goroutine => (
            "goroutines",
            "average",
            0,
            Some(
                r#"{"goroutine":{"units":"goroutines","aggregation":"average","display-name":"goroutine"}}"#,
            ),
        ),
    }
}

/// The app name with its labels, as pyroscope-go writes it (labels sorted
/// by key, no type suffix): one session id per virtual service.
fn go_app_name(service: usize, kind: Kind) -> String {
    let (scope, version) = match kind {
        Kind::Allocs | Kind::Block | Kind::Mutex => ("godeltaprof", "v0.1.12"),
        Kind::Cpu | Kind::Goroutine => ("go", "v1.5.0"),
    };
    format!(
        "{}{{__session_id__={:016x},env=bench,otel.scope.name=com.grafana.pyroscope/{scope},otel.scope.version={version},process.runtime.name=go,process.runtime.version=go1.26.8}}",
        service_name(service),
        0x5eed_0000_0000_0000u64 + service as u64
    )
}

/// The app name as @pyroscope/nodejs writes it (its defaults first, then the tags).
fn node_app_name(service: usize) -> String {
    format!(
        "{}{{otel.scope.name=com.grafana.pyroscope/nodejs,otel.scope.version=0.6.4,process.runtime.name=nodejs,process.runtime.version=20.20.2,env=bench}}",
        service_name(service)
    )
}

/// The virtual service of service index `s`, named as the scrape harness's
/// targets are (`targets.json`).
pub fn service_name(s: usize) -> String {
    format!("svc-{s:05}")
}

struct Item<'a> {
    kind: Kind,
    service: usize,
    pprof: &'a Bytes,
}

fn item<'a>(corpus: &'a Corpus, spec: &PoolSpec<'_>, i: usize) -> Option<Item<'a>> {
    let k = spec.kinds.len();
    let s = spec.services.max(1);
    let kind = *spec.kinds.get(i % k)?;
    let vs = &corpus.variants[kind.index()];
    let v = (i / (k * s)) % spec.variants.max(1).min(vs.len().max(1));
    Some(Item {
        kind,
        service: (i / k) % s,
        pprof: vs.get(v)?,
    })
}

/// Builds the pool of requests; CPU-heavy (OTLP encoding and gzip), run it
/// on a blocking thread.
pub fn build_pool(corpus: &Corpus, spec: &PoolSpec<'_>) -> anyhow::Result<Vec<Prepared>> {
    anyhow::ensure!(!spec.kinds.is_empty(), "no profile kinds");
    let per = if spec.mode == Mode::Ingest {
        1
    } else {
        spec.per_request.max(1)
    };
    let items = spec.kinds.len() * spec.services.max(1) * spec.variants.max(1);
    let requests = items.div_ceil(per);
    let mut pool = Vec::with_capacity(requests);
    for r in 0..requests {
        let group: Vec<Item<'_>> = (0..per)
            .map(|j| item(corpus, spec, (r * per + j) % items))
            .collect::<Option<_>>()
            .ok_or_else(|| anyhow::anyhow!("a profile kind has no generated variant"))?;
        pool.push(prepare(spec, &group)?);
    }
    Ok(pool)
}

fn prepare(spec: &PoolSpec<'_>, group: &[Item<'_>]) -> anyhow::Result<Prepared> {
    let raw: usize = group.iter().map(|it| it.pprof.len()).sum();
    let profiles = group.len() as u32;
    match spec.mode {
        Mode::OtlpGrpc | Mode::OtlpHttp => {
            let records = group
                .iter()
                .map(|it| {
                    let data = PprofData::from_served(it.pprof.clone(), &DecodeLimits::default())?;
                    let labels = Labels::from_pairs([
                        (Labels::SERVICE_NAME, service_name(it.service)),
                        (Labels::NAME, profile_type(it.kind).to_string()),
                    ]);
                    Ok(ProfileRecord::new(labels, data))
                })
                .collect::<Result<Vec<_>, profcol_pdata::Error>>()?;
            let bytes = profcol_pdata::otlp::to_otlp_bytes(&records);
            let raw_bytes = bytes.len();
            let gzipped = spec.compression == Compression::Gzip;
            let body = if gzipped { gzip(&bytes)? } else { bytes };
            Ok(Prepared {
                body: Bytes::from(body),
                query: String::new(),
                profiles,
                raw_bytes,
                gzipped,
            })
        }
        Mode::Ingest => {
            let it = group
                .first()
                .ok_or_else(|| anyhow::anyhow!("empty request"))?;
            let (query, body) = match spec.ingest_body {
                IngestBody::Multipart => {
                    let (units, aggregation, sample_rate, config) = go_ingest_params(it.kind);
                    let query = format!(
                        "aggregationType={aggregation}&from={FROM}&name={}&sampleRate={sample_rate}&spyName=gospy&units={units}&until={UNTIL}",
                        percent_encode(&go_app_name(it.service, it.kind))
                    );
                    (query, Bytes::from(multipart(it.pprof, config)))
                }
                IngestBody::Raw => {
                    let rate = if it.kind == Kind::Cpu {
                        "&sampleRate=100"
                    } else {
                        ""
                    };
                    let query = format!(
                        "format=pprof&from={FROM}&name={}&spyName=nodespy&until={UNTIL}{rate}",
                        percent_encode(&node_app_name(it.service))
                    );
                    (query, it.pprof.clone())
                }
            };
            Ok(Prepared {
                body,
                query,
                profiles,
                raw_bytes: raw,
                gzipped: false,
            })
        }
        Mode::Connect => {
            let series = group
                .iter()
                .map(|it| RawProfileSeries {
                    labels: vec![
                        label("__name__", profile_type(it.kind)),
                        label("service_name", &service_name(it.service)),
                        label("env", "bench"),
                    ],
                    samples: vec![RawSample {
                        raw_profile: it.pprof.to_vec(),
                        id: format!(
                            "00000000-0000-4000-8000-{:012x}",
                            it.service * 8 + it.kind.index()
                        ),
                    }],
                })
                .collect();
            let body = prost::Message::encode_to_vec(&PushRequest { series });
            Ok(Prepared {
                body: Bytes::from(body),
                query: String::new(),
                profiles,
                raw_bytes: raw,
                gzipped: false,
            })
        }
    }
}

fn gzip(data: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut w = flate2::write::GzEncoder::new(
        Vec::with_capacity(data.len() / 3),
        flate2::Compression::default(),
    );
    w.write_all(data)?;
    w.finish()
}

/// A `multipart/form-data` body (boundary [`BOUNDARY`]) as pyroscope-go's
/// uploader writes it: part `profile`, then `sample_type_config` when given.
pub fn multipart(pprof: &[u8], sample_type_config: Option<&str>) -> Vec<u8> {
    let part = |name: &str, file: &str| {
        format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{file}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
        )
    };
    let mut out = Vec::with_capacity(pprof.len() + 600);
    out.extend_from_slice(part("profile", "profile.pprof").as_bytes());
    out.extend_from_slice(pprof);
    out.extend_from_slice(b"\r\n");
    if let Some(config) = sample_type_config {
        out.extend_from_slice(part("sample_type_config", "sample_type_config.json").as_bytes());
        out.extend_from_slice(config.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    out
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3 / 2);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn label(name: &str, value: &str) -> LabelPair {
    LabelPair {
        name: name.to_string(),
        value: value.to_string(),
    }
}

/// `push.v1.PushRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PushRequest {
    #[prost(message, repeated, tag = "1")]
    pub series: Vec<RawProfileSeries>,
}

/// `push.v1.RawProfileSeries`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RawProfileSeries {
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<LabelPair>,
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<RawSample>,
}

/// `types.v1.LabelPair`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct LabelPair {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub value: String,
}

/// `push.v1.RawSample`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RawSample {
    #[prost(bytes = "vec", tag = "1")]
    pub raw_profile: Vec<u8>,
    #[prost(string, tag = "2")]
    pub id: String,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use prost::Message;
    use std::io::Read;

    fn corpus() -> Corpus {
        crate::gen::generate(
            3,
            crate::gen::Sizes {
                functions: 80,
                cpu: 20,
                allocs: 20,
                goroutine: 10,
                block: 10,
                mutex: 10,
            },
            2,
            2,
        )
    }

    fn spec(mode: Mode, per_request: usize) -> PoolSpec<'static> {
        PoolSpec {
            mode,
            kinds: &Kind::ALL,
            services: 3,
            variants: 2,
            per_request,
            compression: Compression::Gzip,
            ingest_body: IngestBody::Multipart,
        }
    }

    #[test]
    fn otlp_pool_covers_every_item_once_per_cycle() {
        let c = corpus();
        let pool = build_pool(&c, &spec(Mode::OtlpHttp, 1)).unwrap();
        assert_eq!(pool.len(), 5 * 3 * 2);
        let mut raw = Vec::new();
        flate2::read::GzDecoder::new(&pool[7].body[..])
            .read_to_end(&mut raw)
            .unwrap();
        assert_eq!(raw.len(), pool[7].raw_bytes);
        let req =
            profcol_pdata::otlp::collector::ExportProfilesServiceRequest::decode(&raw[..]).unwrap();
        assert_eq!(req.resource_profiles.len(), 1);
        assert_eq!(req.resource_profiles[0].scope_profiles.len(), 1);
        // Item 7: kind 7 % 5 = mutex (index 3), service (7 / 5) % 3 = 1.
        let attrs = &req.resource_profiles[0]
            .resource
            .as_ref()
            .unwrap()
            .attributes;
        assert!(format!("{attrs:?}").contains("svc-00001"), "{attrs:?}");

        let batched = build_pool(&c, &spec(Mode::OtlpGrpc, 4)).unwrap();
        assert_eq!(batched.len(), 30usize.div_ceil(4));
        assert!(batched.iter().all(|p| p.profiles == 4));
    }

    #[test]
    fn connect_body_is_a_push_request_with_one_series_per_profile() {
        let c = corpus();
        let pool = build_pool(&c, &spec(Mode::Connect, 2)).unwrap();
        let req = PushRequest::decode(&pool[0].body[..]).unwrap();
        assert_eq!(req.series.len(), 2);
        let names: Vec<_> = req.series[1]
            .labels
            .iter()
            .map(|l| (l.name.as_str(), l.value.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                ("__name__", "block"),
                ("service_name", "svc-00000"),
                ("env", "bench")
            ]
        );
        assert_eq!(
            req.series[1].samples[0].raw_profile,
            c.variants[Kind::Block.index()][0].to_vec()
        );
    }

    #[test]
    fn ingest_is_one_profile_per_request_as_the_sdks_send_it() {
        let c = corpus();
        let pool = build_pool(&c, &spec(Mode::Ingest, 3)).unwrap();
        assert_eq!(pool.len(), 30);
        // Item 4: CPU of svc-00000, no sample_type_config part.
        assert!(
            pool[4].query.starts_with(
                "aggregationType=sum&from={from}&name=svc-00000%7B__session_id__%3D5eed000000000000%2Cenv%3Dbench%2C"
            ),
            "{}",
            pool[4].query
        );
        assert!(pool[4]
            .query
            .ends_with("&sampleRate=100&spyName=gospy&units=samples&until={until}"));
        let body = &pool[4].body;
        let pprof = &c.variants[Kind::Cpu.index()][0];
        let start = body
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map(|i| i + 4)
            .unwrap();
        assert_eq!(&body[start..start + pprof.len()], &pprof[..]);
        assert_eq!(
            &body[start + pprof.len()..],
            format!("\r\n--{BOUNDARY}--\r\n").as_bytes()
        );
        // Item 3: mutex, with its sample_type_config.
        let text = String::from_utf8_lossy(&pool[3].body);
        assert!(text.contains("name=\"sample_type_config\"; filename=\"sample_type_config.json\""));
        assert!(text.contains("\"display-name\":\"mutex_count\""));

        let mut s = spec(Mode::Ingest, 1);
        s.ingest_body = IngestBody::Raw;
        let raw = build_pool(&c, &s).unwrap();
        assert_eq!(raw[4].body, c.variants[Kind::Cpu.index()][0]);
        assert!(raw[4]
            .query
            .starts_with("format=pprof&from={from}&name=svc-00000%7Botel.scope.name"));
        assert!(raw[4].query.ends_with("&until={until}&sampleRate=100"));
        assert!(raw[3].query.ends_with("&until={until}"));
    }

    #[test]
    fn percent_encoding_keeps_unreserved_only() {
        assert_eq!(
            percent_encode("a.b-c_d~{k=v, x}"),
            "a.b-c_d~%7Bk%3Dv%2C%20x%7D"
        );
    }
}
