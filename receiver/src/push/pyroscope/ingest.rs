//! `POST /ingest`, the Pyroscope SDKs' original endpoint: the query names
//! the series (see [`query`]), the body is a profile in one
//! of the formats below, answered `200` with an empty body.
//!
//! | `format` | body | becomes |
//! |---|---|---|
//! | absent, multipart `Content-Type` | form with `profile` (+ `sample_type_config`) | the pprof as sent |
//! | `pprof` | multipart as above, or the raw pprof (gzipped or not) | the pprof as sent |
//! | absent, `folded`, `groups` | `root;…;leaf count` lines | a pprof built from the stacks |
//! | `lines` | `root;…;leaf` lines, each counting 1 | a pprof built from the stacks |
//! | `jfr` | multipart with `jfr` (+ `labels`), or the recording | one pprof per kind of event (see [`super::jfr`]) |
//! | `speedscope`, `trie`, `tree` | — | refused, 415 |

use super::body;
use super::labels::{check_limits, ingest_labels, with_tenant, IngestSeries};
use super::query::{self, IngestQuery};
use super::refusal::{Kind, Refusal};
use super::request::{tenant, Budget, Limits, Shared};
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use profcol_pdata::ingest::folded::{self, Shape, TextFormat};
use profcol_pdata::ingest::multipart::{self, Part};
use profcol_pdata::ingest::name::clip;
use profcol_pdata::ingest::profile_type::{self, SampleTypeConfigs, TEXT_SUFFIXES};
use profcol_pdata::pprof::encode_pprof;
use profcol_pdata::{PprofData, ProfileRecord};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// The protocol label of this endpoint's metrics.
pub const PROTOCOL: &str = "ingest";
/// The multipart part holding the profile.
pub const PART_PROFILE: &str = "profile";
/// The part old pyroscope-go versions sent for cumulative profiles.
pub const PART_PREV_PROFILE: &str = "prev_profile";
/// The part naming how to read the pprof's sample types (pyroscope-go).
pub const PART_SAMPLE_TYPE_CONFIG: &str = "sample_type_config";
/// A `time_nanos` before this (1971-01-01) is no time: Pyroscope then uses
/// `from` (old SDKs wrote 0, or microseconds).
const FIRST_VALID_TIME_NANOS: i64 = 365 * 86_400 * 1_000_000_000;

/// What the body is, decided from `format` and the content type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `multipart/form-data` with a `profile` part.
    PprofForm,
    /// The body is the pprof.
    PprofRaw,
    Text(TextFormat),
    /// A Java Flight Recorder recording (the Java agent's upload).
    Jfr,
}

/// Decides the format, or refuses the ones profcol does not take.
pub fn choose_format(format: Option<&str>, content_type: &str) -> Result<Format, Refusal> {
    let form = multipart::is_form_data(content_type);
    let legacy = |f: &str| {
        Refusal::new(
            Kind::UnsupportedFormat,
            format!(
                "format {f:?} (Pyroscope's legacy binary {f}) is not supported: send pprof, folded or lines"
            ),
        )
    };
    let text = |t: TextFormat, name: &str| {
        if form {
            Err(Refusal::new(
                Kind::UnsupportedMediaType,
                format!("format={name} expects a text body, not multipart/form-data"),
            ))
        } else {
            Ok(Format::Text(t))
        }
    };
    match format {
        None => match multipart::media_type(content_type) {
            ct if ct.eq_ignore_ascii_case("binary/octet-stream+trie") => Err(legacy("trie")),
            ct if ct.eq_ignore_ascii_case("binary/octet-stream+tree") => Err(legacy("tree")),
            _ if form => Ok(Format::PprofForm),
            _ => Ok(Format::Text(TextFormat::Folded)),
        },
        Some("pprof") => Ok(if form {
            Format::PprofForm
        } else {
            Format::PprofRaw
        }),
        Some(f @ ("folded" | "groups")) => text(TextFormat::Folded, f),
        Some("lines") => text(TextFormat::Lines, "lines"),
        Some(f @ ("trie" | "tree")) => Err(legacy(f)),
        Some("jfr") => Ok(Format::Jfr),
        Some("speedscope") => Err(Refusal::new(
            Kind::UnsupportedFormat,
            "format \"speedscope\" is not supported: send pprof, folded or lines",
        )),
        Some(other) => Err(Refusal::bad_request(format!(
            "unknown format {:?} (known: pprof, folded, lines, jfr)",
            clip(other)
        ))),
    }
}

fn now_nanos() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// The handler.
pub async fn handle(
    State(shared): State<Arc<Shared>>,
    RawQuery(raw_query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let started = Instant::now();
    match ingest(&shared, raw_query.as_deref(), &headers, body).await {
        Ok((profiles, bytes)) => {
            shared
                .events
                .accepted(PROTOCOL, profiles, bytes, started.elapsed());
            StatusCode::OK.into_response()
        }
        Err(r) => {
            shared
                .events
                .refused(PROTOCOL, r.kind.reason(), &r.message, started.elapsed());
            r.ingest_response()
        }
    }
}

/// Profiles handed downstream and body bytes, or the refusal.
async fn ingest(
    shared: &Arc<Shared>,
    raw_query: Option<&str>,
    headers: &HeaderMap,
    body: Body,
) -> Result<(usize, usize), Refusal> {
    shared.admit()?;
    let tenant = tenant(headers)?;
    let query = query::parse(raw_query, now_nanos())?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let format = choose_format(query.format.as_deref(), &content_type)?;
    let encoding = body::content_encoding(headers)?;
    let limits = &shared.limits;
    let body = body::read(
        body,
        headers,
        limits.max_request_body_size,
        limits.read_timeout,
    )
    .await?;
    let received = body.len();
    let limits = limits.clone();
    let records = tokio::task::spawn_blocking(move || {
        let mut budget = Budget::new(limits.max_decompressed_size);
        let body = budget.inflate(body, encoding.as_deref())?;
        let req = Request {
            query: &query,
            tenant: tenant.as_deref(),
            limits: &limits,
        };
        req.records(format, &content_type, body, &mut budget)
    })
    .await
    .map_err(|e| Refusal::new(Kind::Internal, format!("decoding failed: {e}")))??;
    let profiles = shared.hand_off(records).await?;
    Ok((profiles, received))
}

/// One request's parameters, for the decoding on a blocking thread.
pub struct Request<'a> {
    pub query: &'a IngestQuery,
    pub tenant: Option<&'a str>,
    pub limits: &'a Limits,
}

impl Request<'_> {
    /// The records of the body (none for an empty profile, which Pyroscope
    /// also accepts and drops).
    pub fn records(
        &self,
        format: Format,
        content_type: &str,
        body: Bytes,
        budget: &mut Budget,
    ) -> Result<Vec<ProfileRecord>, Refusal> {
        match format {
            Format::PprofRaw if content_type.is_empty() => {
                self.pprof(body, None, "the body", budget)
            }
            // Say what the sender claimed the body was: a text or HTML body
            // sent with format=pprof is most often a client sending the wrong thing.
            Format::PprofRaw => {
                let what = format!("the body (Content-Type {content_type:?})");
                self.pprof(body, None, &what, budget)
            }
            Format::PprofForm => {
                let parts = multipart::parse(content_type, &body)
                    .map_err(|e| Refusal::bad_request(format!("invalid multipart body: {e}")))?;
                let profile = one_part(&parts, PART_PROFILE)?.ok_or_else(|| {
                    Refusal::bad_request("the multipart body has no part named \"profile\"")
                })?;
                if one_part(&parts, PART_PREV_PROFILE)?.is_some_and(|p| !p.body.is_empty()) {
                    return Err(Refusal::bad_request(
                        "part \"prev_profile\" (cumulative profiles of old pyroscope-go versions) is not supported: update the SDK",
                    ));
                }
                let config = match one_part(&parts, PART_SAMPLE_TYPE_CONFIG)? {
                    Some(p) => Some(
                        serde_json::from_slice::<SampleTypeConfigs>(&p.body).map_err(|e| {
                            Refusal::bad_request(format!(
                                "part \"sample_type_config\" is not valid JSON: {e}"
                            ))
                        })?,
                    ),
                    None => None,
                };
                self.pprof(
                    profile.body.clone(),
                    config.as_ref(),
                    "part \"profile\"",
                    budget,
                )
            }
            Format::Text(text) => self.text(&body, text, budget),
            Format::Jfr => self.jfr(content_type, body, budget),
        }
    }

    fn pprof(
        &self,
        served: Bytes,
        config: Option<&SampleTypeConfigs>,
        what: &str,
        budget: &mut Budget,
    ) -> Result<Vec<ProfileRecord>, Refusal> {
        if served.is_empty() {
            return Ok(Vec::new());
        }
        let mut data = budget.decode(served, &self.limits.decode, what)?;
        let metric = {
            let view = data.view();
            let types: Vec<&str> = data
                .header()
                .sample_type
                .iter()
                .map(|t| view.str(t.r#type))
                .collect();
            profile_type::pprof_metric_name(&types, config)
        };
        if data.header().time_nanos < FIRST_VALID_TIME_NANOS {
            data.set_time_nanos(self.query.from_nanos);
        }
        let window = self.query.until_nanos.saturating_sub(self.query.from_nanos);
        if data.header().duration_nanos <= 0 && window > 0 {
            data.set_duration_nanos(window);
        }
        let labels = ingest_labels(IngestSeries {
            name: &self.query.name,
            metric: &metric,
            service: &self.query.name.app,
            spy_name: &self.query.spy_name,
            text: false,
        });
        check_limits(&labels, &self.limits.labels).map_err(|m| Refusal::new(Kind::Labels, m))?;
        Ok(vec![ProfileRecord::new(
            with_tenant(labels, self.tenant),
            data,
        )])
    }

    fn text(
        &self,
        body: &[u8],
        format: TextFormat,
        budget: &mut Budget,
    ) -> Result<Vec<ProfileRecord>, Refusal> {
        let q = self.query;
        let (service, suffix) = profile_type::split_suffix(&q.name.app);
        let kind = profile_type::text_type(suffix).ok_or_else(|| {
            Refusal::bad_request(format!(
                "unknown profile type {:?} in name {:?}: a text profile's type is the application name's last '.'-suffix, one of {}",
                clip(suffix),
                clip(&q.name.app),
                TEXT_SUFFIXES.join(", ")
            ))
        })?;
        let labels = ingest_labels(IngestSeries {
            name: &q.name,
            metric: kind.metric,
            service,
            spy_name: &q.spy_name,
            text: true,
        });
        check_limits(&labels, &self.limits.labels).map_err(|m| Refusal::new(Kind::Labels, m))?;
        let which = match format {
            TextFormat::Folded => "folded",
            TextFormat::Lines => "lines",
        };
        let stacks = folded::parse(body, format)
            .map_err(|e| Refusal::new(Kind::Decode, format!("invalid {which} body: {e}")))?;
        if stacks.is_empty() {
            return Ok(Vec::new());
        }
        let period = match q.sample_rate {
            0 => 0,
            rate => 1_000_000_000 / i64::from(rate),
        };
        let shape = if kind.is_sampled_time() && period > 0 {
            let sample_type = if kind.metric == "wall" { "wall" } else { "cpu" };
            Shape {
                sample_type: sample_type.into(),
                unit: "nanoseconds".into(),
                scale: period,
                period: Some(("cpu".into(), "nanoseconds".into(), period)),
                time_nanos: q.from_nanos,
                duration_nanos: q.until_nanos.saturating_sub(q.from_nanos).max(0),
            }
        } else {
            Shape {
                sample_type: kind.sample_type.into(),
                unit: kind.unit.into(),
                scale: 1,
                period: None,
                time_nanos: q.from_nanos,
                duration_nanos: q.until_nanos.saturating_sub(q.from_nanos).max(0),
            }
        };
        let encoded = Bytes::from(encode_pprof(&folded::to_profile(&stacks, &shape)));
        let what = format!("the {which} body");
        let data = PprofData::from_pprof(encoded, &budget.limits(&self.limits.decode))
            .map_err(|e| Refusal::from_decode(&what, &e, budget.max))?;
        budget.spend(data.memory_bytes(), &what)?;
        Ok(vec![ProfileRecord::new(
            with_tenant(labels, self.tenant),
            data,
        )])
    }
}

/// The part named `name`, if any; twice is an error.
pub(super) fn one_part<'a>(parts: &'a [Part], name: &str) -> Result<Option<&'a Part>, Refusal> {
    let mut found = parts.iter().filter(|p| p.name == name);
    let first = found.next();
    if found.next().is_some() {
        return Err(Refusal::bad_request(format!(
            "the multipart body has more than one part named {name:?}"
        )));
    }
    Ok(first)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::push::pyroscope::config::PyroscopeReceiverConfig;
    use profcol_pdata::pprof::{encode_pprof_gzip, Profile};

    const NOW: i64 = 1_700_000_000_000_000_000;

    fn run(
        query: &str,
        format: Format,
        ct: &str,
        body: &[u8],
    ) -> Result<Vec<ProfileRecord>, Refusal> {
        let q = query::parse(Some(query), NOW)?;
        let limits = Limits::new(&PyroscopeReceiverConfig::default());
        let req = Request {
            query: &q,
            tenant: Some("t1"),
            limits: &limits,
        };
        let mut budget = Budget::new(limits.max_decompressed_size);
        req.records(format, ct, Bytes::copy_from_slice(body), &mut budget)
    }

    #[test]
    fn formats() {
        let form = "multipart/form-data; boundary=x";
        assert_eq!(choose_format(None, form).unwrap(), Format::PprofForm);
        assert_eq!(
            choose_format(None, "").unwrap(),
            Format::Text(TextFormat::Folded)
        );
        assert_eq!(
            choose_format(Some("pprof"), "binary/octet-stream").unwrap(),
            Format::PprofRaw
        );
        assert_eq!(
            choose_format(Some("pprof"), form).unwrap(),
            Format::PprofForm
        );
        assert_eq!(
            choose_format(Some("groups"), "text/plain").unwrap(),
            Format::Text(TextFormat::Folded)
        );
        assert_eq!(
            choose_format(Some("lines"), "").unwrap(),
            Format::Text(TextFormat::Lines)
        );
        assert_eq!(choose_format(Some("jfr"), form).unwrap(), Format::Jfr);
        assert_eq!(choose_format(Some("jfr"), "").unwrap(), Format::Jfr);
        for (f, ct, kind, text) in [
            (Some("trie"), "", Kind::UnsupportedFormat, "format \"trie\""),
            (
                None,
                "binary/octet-stream+tree",
                Kind::UnsupportedFormat,
                "format \"tree\"",
            ),
            (
                Some("speedscope"),
                "",
                Kind::UnsupportedFormat,
                "speedscope",
            ),
            (Some("xyz"), "", Kind::BadRequest, "unknown format \"xyz\""),
            (
                Some("lines"),
                form,
                Kind::UnsupportedMediaType,
                "not multipart",
            ),
        ] {
            let e = choose_format(f, ct).unwrap_err();
            assert_eq!(e.kind, kind, "{f:?}");
            assert!(e.message.contains(text), "{}", e.message);
        }
    }

    #[test]
    fn folded_cpu_becomes_nanoseconds() {
        let r = run(
            "name=shop.cpu{env=prod}&from=1700000000&until=1700000010&sampleRate=100&spyName=pyspy",
            Format::Text(TextFormat::Folded),
            "",
            b"main;work 3\nmain 1\n",
        )
        .unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!(
            r[0].labels.to_string(),
            r#"{__delta__="false", __name__="process_cpu", __tenant_id__="t1", env="prod", pyroscope_spy="pyspy", service_name="shop"}"#
        );
        let p = r[0].profile();
        assert_eq!(
            (p.str(p.sample_type[0].r#type), p.str(p.sample_type[0].unit)),
            ("cpu", "nanoseconds")
        );
        assert_eq!(p.period, 10_000_000);
        assert_eq!((p.time_nanos, p.duration_nanos), (NOW, 10_000_000_000));
        let total: i64 = p.sample.iter().map(|s| s.value[0]).sum();
        assert_eq!(total, 4 * 10_000_000);
    }

    #[test]
    fn text_types_follow_the_suffix() {
        let r = run(
            "name=shop.alloc_space&sampleRate=100",
            Format::Text(TextFormat::Lines),
            "",
            b"a;b\na;b\n",
        )
        .unwrap();
        let p = r[0].profile();
        assert_eq!(r[0].name(), "memory");
        assert_eq!(
            (p.str(p.sample_type[0].r#type), p.str(p.sample_type[0].unit)),
            ("alloc_space", "bytes")
        );
        assert_eq!((p.sample[0].value[0], p.period), (2, 0));
        // sampleRate 0: CPU stays a count of samples.
        let r = run(
            "name=shop&sampleRate=0",
            Format::Text(TextFormat::Folded),
            "",
            b"a 1",
        )
        .unwrap();
        let p = r[0].profile();
        assert_eq!(
            (r[0].name(), p.str(p.sample_type[0].r#type)),
            ("process_cpu", "samples")
        );
        assert_eq!(r[0].labels.get("service_name"), Some("shop"));
        let e = run(
            "name=shop.frobs",
            Format::Text(TextFormat::Folded),
            "",
            b"a 1",
        )
        .unwrap_err();
        assert!(
            e.message
                .starts_with("unknown profile type \"frobs\" in name \"shop.frobs\""),
            "{}",
            e.message
        );
        let e = run(
            "name=shop.cpu",
            Format::Text(TextFormat::Folded),
            "",
            b"a b",
        )
        .unwrap_err();
        assert_eq!(
            e.message,
            "invalid folded body: line 1: the count \"b\" is not a whole number"
        );
        assert!(
            run("name=shop.cpu", Format::Text(TextFormat::Folded), "", b"\n")
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn pprof_keeps_the_served_bytes_and_names_the_type() {
        let mut p = Profile::empty("samples", "count");
        p.string_table.push("cpu".into());
        p.string_table.push("nanoseconds".into());
        p.sample_type
            .push(profcol_pdata::pprof::ValueType { r#type: 3, unit: 4 });
        let gz = encode_pprof_gzip(&p);
        let r = run(
            "name=shop.cpu{x=1}&from=1700000000&spyName=gospy",
            Format::PprofRaw,
            "",
            &gz,
        )
        .unwrap();
        assert_eq!(
            r[0].labels.to_string(),
            r#"{__delta__="false", __name__="process_cpu", __tenant_id__="t1", pyroscope_spy="gospy", service_name="shop.cpu", x="1"}"#
        );
        assert_eq!(r[0].pprof.served().map(|b| b.to_vec()), Some(gz));
        // No time in the profile: `from` is its start.
        assert_eq!(r[0].pprof.header().time_nanos, NOW);
        assert!(run("name=a", Format::PprofRaw, "", b"").unwrap().is_empty());
        let e = run("name=a", Format::PprofRaw, "", b"\x1f\x8b\x08garbage").unwrap_err();
        assert_eq!(e.kind, Kind::Decode);
        assert!(
            e.message
                .starts_with("the body: could not decompress the gzip body"),
            "{}",
            e.message
        );
    }

    #[test]
    fn forms() {
        let ct = "multipart/form-data; boundary=B";
        let gz = encode_pprof_gzip(&Profile::empty("contentions", "count"));
        let mut body = b"--B\r\nContent-Disposition: form-data; name=\"profile\"; filename=\"profile.pprof\"\r\n\r\n".to_vec();
        body.extend_from_slice(&gz);
        body.extend_from_slice(b"\r\n--B\r\nContent-Disposition: form-data; name=\"sample_type_config\"\r\n\r\n{\"contentions\":{\"display-name\":\"block_count\"}}\r\n--B--\r\n");
        let r = run("name=app", Format::PprofForm, ct, &body).unwrap();
        assert_eq!(r[0].name(), "block");
        let e = run(
            "name=app",
            Format::PprofForm,
            ct,
            b"--B\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n1\r\n--B--",
        )
        .unwrap_err();
        assert_eq!(
            e.message,
            "the multipart body has no part named \"profile\""
        );
        let e = run("name=app", Format::PprofForm, ct, b"--B\r\nContent-Disposition: form-data; name=\"profile\"\r\n\r\nabc\r\n--B\r\nContent-Disposition: form-data; name=\"prev_profile\"\r\n\r\nabc\r\n--B--").unwrap_err();
        assert!(
            e.message.starts_with("part \"prev_profile\""),
            "{}",
            e.message
        );
        let e = run("name=app", Format::PprofForm, ct, b"--B\r\nContent-Disposition: form-data; name=\"profile\"\r\n\r\nabc\r\n--B\r\nContent-Disposition: form-data; name=\"sample_type_config\"\r\n\r\n{\r\n--B--").unwrap_err();
        assert!(
            e.message
                .starts_with("part \"sample_type_config\" is not valid JSON"),
            "{}",
            e.message
        );
        let e = run("name=app", Format::PprofForm, ct, b"--B\r\nnope").unwrap_err();
        assert!(
            e.message.starts_with("invalid multipart body: "),
            "{}",
            e.message
        );
    }
}
