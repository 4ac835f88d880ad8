//! `POST /push.v1.PusherService/Push`, Pyroscope's push API as a Connect
//! unary call: a `PushRequest` in `application/proto` or `application/json`
//! (optionally `Content-Encoding: gzip`, as pyroscope-rs sends it),
//! answered with an empty `PushResponse` in the same codec, or a Connect
//! error (`{"code": …, "message": …}`).
//!
//! Every raw profile of every series becomes one record with the series'
//! labels (a `__tenant_id__` among them is ignored: the tenant comes from
//! `X-Scope-OrgID` only; empty values are no label).

use super::body;
use super::labels::{check_limits, check_names, with_tenant};
use super::refusal::{Kind, Refusal};
use super::request::{tenant, Budget, Limits, Shared};
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use profcol_pdata::ingest::push_proto::{decode_json, DecodeError, Series, SeriesIter};
use profcol_pdata::{Labels, ProfileRecord};
use std::sync::Arc;
use std::time::Instant;

/// The protocol label of this endpoint's metrics.
pub const PROTOCOL: &str = "push";
/// The route.
pub const PATH: &str = "/push.v1.PusherService/Push";

/// The request's codec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    Proto,
    Json,
}

impl Codec {
    /// The codec of a `Content-Type`, or a 415 naming it.
    pub fn of(headers: &HeaderMap) -> Result<Codec, Refusal> {
        let ct = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let media = profcol_pdata::ingest::multipart::media_type(ct).to_ascii_lowercase();
        match media.as_str() {
            "application/proto" | "application/protobuf" | "application/x-protobuf" => Ok(Codec::Proto),
            "application/json" => Ok(Codec::Json),
            _ => Err(Refusal::new(
                Kind::UnsupportedMediaType,
                format!(
                    "content type {:?} is not supported: send application/proto or application/json",
                    profcol_pdata::ingest::name::clip(ct)
                ),
            )),
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Codec::Proto => "application/proto",
            Codec::Json => "application/json",
        }
    }

    /// An empty `PushResponse`.
    fn ok(self) -> Response {
        let body = match self {
            Codec::Proto => "",
            Codec::Json => "{}",
        };
        (
            StatusCode::OK,
            [(header::CONTENT_TYPE, self.content_type())],
            body,
        )
            .into_response()
    }
}

/// The handler.
pub async fn handle(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Body) -> Response {
    let started = Instant::now();
    match push(&shared, &headers, body).await {
        Ok((codec, profiles, bytes)) => {
            shared
                .events
                .accepted(PROTOCOL, profiles, bytes, started.elapsed());
            codec.ok()
        }
        Err(r) => {
            shared
                .events
                .refused(PROTOCOL, r.kind.reason(), &r.message, started.elapsed());
            r.connect_response()
        }
    }
}

async fn push(
    shared: &Arc<Shared>,
    headers: &HeaderMap,
    body: Body,
) -> Result<(Codec, usize, usize), Refusal> {
    shared.admit()?;
    let codec = Codec::of(headers)?;
    let tenant = tenant(headers)?;
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
        records(codec, body, tenant.as_deref(), &limits, &mut budget)
    })
    .await
    .map_err(|e| Refusal::new(Kind::Internal, format!("decoding failed: {e}")))??;
    let profiles = shared.hand_off(records).await?;
    Ok((codec, profiles, received))
}

fn decode_error(e: DecodeError) -> Refusal {
    Refusal::bad_request(e.0)
}

/// The records of a request body (its content encoding undone).
pub fn records(
    codec: Codec,
    body: Bytes,
    tenant: Option<&str>,
    limits: &Limits,
    budget: &mut Budget,
) -> Result<Vec<ProfileRecord>, Refusal> {
    let mut out = Vec::new();
    let mut add = |i: usize, s: Series| -> Result<(), Refusal> {
        series(i, s, tenant, limits, budget, &mut out)
    };
    match codec {
        Codec::Proto => {
            for (i, s) in SeriesIter::new(body, limits.labels.max_names).enumerate() {
                add(i, s.map_err(decode_error)?)?;
            }
        }
        Codec::Json => {
            for (i, s) in decode_json(&body)
                .map_err(decode_error)?
                .into_iter()
                .enumerate()
            {
                add(i, s)?;
            }
        }
    }
    Ok(out)
}

fn series(
    i: usize,
    s: Series,
    tenant: Option<&str>,
    limits: &Limits,
    budget: &mut Budget,
    out: &mut Vec<ProfileRecord>,
) -> Result<(), Refusal> {
    if s.samples.is_empty() {
        return Ok(());
    }
    let labels_refusal = |m: String| Refusal::new(Kind::Labels, format!("series {i}: {m}"));
    if s.labels.is_empty() {
        return Err(labels_refusal(
            "no labels (at least service_name and __name__ are expected)".into(),
        ));
    }
    check_names(s.labels.iter().map(|(k, _)| k.as_str())).map_err(labels_refusal)?;
    let labels: Labels = s
        .labels
        .into_iter()
        .filter(|(k, v)| !v.is_empty() && k != Labels::TENANT_ID)
        .collect();
    let labels = with_tenant(labels, tenant);
    check_limits(&labels, &limits.labels).map_err(labels_refusal)?;
    for (j, raw) in s.samples.into_iter().enumerate() {
        let what = format!("series {i} sample {j}");
        if raw.is_empty() {
            return Err(Refusal::new(
                Kind::Decode,
                format!("{what}: raw_profile is empty"),
            ));
        }
        let data = budget.decode(raw, &limits.decode, &what)?;
        out.push(ProfileRecord::new(labels.clone(), data));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::push::pyroscope::config::PyroscopeReceiverConfig;
    use axum::http::HeaderValue;
    use profcol_pdata::pprof::{encode_pprof_gzip, Profile};

    fn limits() -> Limits {
        Limits::new(&PyroscopeReceiverConfig::default())
    }

    fn json_request(labels: &str, raw: &[u8]) -> Bytes {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD.encode(raw);
        Bytes::from(format!(
            r#"{{"series":[{{"labels":{labels},"samples":[{{"rawProfile":"{b64}","ID":"x"}}]}}]}}"#
        ))
    }

    fn run(labels: &str, raw: &[u8]) -> Result<Vec<ProfileRecord>, Refusal> {
        let l = limits();
        let mut budget = Budget::new(l.max_decompressed_size);
        records(
            Codec::Json,
            json_request(labels, raw),
            Some("t"),
            &l,
            &mut budget,
        )
    }

    #[test]
    fn codecs() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/proto"),
        );
        assert_eq!(Codec::of(&h).unwrap(), Codec::Proto);
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("Application/JSON; charset=utf-8"),
        );
        assert_eq!(Codec::of(&h).unwrap(), Codec::Json);
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        let e = Codec::of(&h).unwrap_err();
        assert_eq!(e.kind, Kind::UnsupportedMediaType);
        assert!(e
            .message
            .starts_with("content type \"text/plain\" is not supported"));
    }

    #[test]
    fn series_labels_become_the_record_labels() {
        let gz = encode_pprof_gzip(&Profile::empty("samples", "count"));
        let r = run(
            r#"[{"name":"__name__","value":"process_cpu"},{"name":"service_name","value":"svc"},{"name":"__tenant_id__","value":"spoof"},{"name":"empty","value":""}]"#,
            &gz,
        )
        .unwrap();
        assert_eq!(
            r[0].labels.to_string(),
            r#"{__name__="process_cpu", __tenant_id__="t", service_name="svc"}"#
        );
        assert_eq!(r[0].pprof.served().map(|b| b.to_vec()), Some(gz));
    }

    #[test]
    fn refusals_name_the_series() {
        let gz = encode_pprof_gzip(&Profile::empty("samples", "count"));
        let e = run(r#"[{"name":"a-b","value":"1"}]"#, &gz).unwrap_err();
        assert_eq!(
            e.message,
            "series 0: invalid label name \"a-b\" (allowed: letters, digits, '_', '.')"
        );
        let e = run("[]", &gz).unwrap_err();
        assert!(e.message.starts_with("series 0: no labels"));
        let e = run(
            r#"[{"name":"a","value":"1"},{"name":"a","value":"2"}]"#,
            &gz,
        )
        .unwrap_err();
        assert_eq!(e.message, "series 0: duplicate label name \"a\"");
        let e = run(r#"[{"name":"a","value":"1"}]"#, b"").unwrap_err();
        assert_eq!(e.message, "series 0 sample 0: raw_profile is empty");
        let e = run(r#"[{"name":"a","value":"1"}]"#, b"\x0a\x05").unwrap_err();
        assert_eq!(e.kind, Kind::Decode);
        assert!(
            e.message
                .starts_with("series 0 sample 0: body is not a pprof protobuf"),
            "{}",
            e.message
        );
        let long = format!(r#"[{{"name":"a","value":"{}"}}]"#, "v".repeat(2049));
        let e = run(&long, &gz).unwrap_err();
        assert!(
            e.message
                .contains("more than max_label_value_length (2048)"),
            "{}",
            e.message
        );
    }
}
