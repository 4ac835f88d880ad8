//! `format=jfr` on `/ingest`: the Grafana Pyroscope Java agent's upload.
//! The body is `multipart/form-data` with a `jfr` part (the recording,
//! gzipped or not) and an optional `labels` part (a `LabelsSnapshot`,
//! gzipped or not), or the recording alone. Each kind of event becomes one
//! series: `__name__` as Pyroscope names it (`process_cpu`, `memory`,
//! `mutex`, `block`, `wall`), `jfr_event` the profiler's event setting
//! (see `profcol_pdata::ingest::jfr`).

use super::ingest::{one_part, Request};
use super::labels::{check_limits, ingest_labels, with_tenant, IngestSeries};
use super::refusal::{Kind, Refusal};
use super::request::Budget;
use bytes::Bytes;
use profcol_pdata::ingest::jfr::{self, JfrInput, LabelsSnapshot};
use profcol_pdata::ingest::multipart;
use profcol_pdata::pprof::{decompress, encode_pprof};
use profcol_pdata::{PprofData, ProfileRecord};
use std::borrow::Cow;

/// The multipart part holding the recording.
pub const PART_JFR: &str = "jfr";
/// The multipart part holding the dynamic labels.
pub const PART_LABELS: &str = "labels";
/// The label naming the profiler's event setting, as Pyroscope adds it.
pub const JFR_EVENT_LABEL: &str = "jfr_event";

/// A part's bytes, decompressed when gzipped or zstd-compressed, spent
/// from the budget.
fn inflate(part: &Bytes, what: &str, budget: &mut Budget) -> Result<Bytes, Refusal> {
    let out =
        decompress(part, budget.left).map_err(|e| Refusal::from_decode(what, &e, budget.max))?;
    budget.spend(out.len(), what)?;
    // An uncompressed part is the body's own bytes; an inflated one is moved.
    Ok(match out {
        Cow::Borrowed(_) => part.clone(),
        Cow::Owned(inflated) => Bytes::from(inflated),
    })
}

impl Request<'_> {
    /// The series of a `format=jfr` body.
    pub fn jfr(
        &self,
        content_type: &str,
        body: Bytes,
        budget: &mut Budget,
    ) -> Result<Vec<ProfileRecord>, Refusal> {
        let (recording, labels) = if multipart::is_form_data(content_type) {
            let parts = multipart::parse(content_type, &body)
                .map_err(|e| Refusal::bad_request(format!("invalid multipart body: {e}")))?;
            let recording = one_part(&parts, PART_JFR)?.ok_or_else(|| {
                Refusal::bad_request("the multipart body has no part named \"jfr\"")
            })?;
            let recording = inflate(&recording.body, "part \"jfr\"", budget)?;
            let labels = match one_part(&parts, PART_LABELS)? {
                Some(p) if !p.body.is_empty() => {
                    let raw = inflate(&p.body, "part \"labels\"", budget)?;
                    LabelsSnapshot::decode_part(&raw)
                        .map_err(|e| Refusal::new(Kind::Decode, format!("part \"labels\": {e}")))?
                }
                _ => LabelsSnapshot::default(),
            };
            (recording, labels)
        } else {
            (
                inflate(&body, "the body", budget)?,
                LabelsSnapshot::default(),
            )
        };
        if recording.is_empty() {
            return Ok(Vec::new());
        }
        let input = JfrInput {
            start_nanos: self.query.from_nanos,
            end_nanos: self.query.until_nanos,
            sample_rate: self.query.sample_rate,
            // The reader's index of constants comes out of the same budget
            // as the bytes (it is gone before the profiles are built).
            memory_limit: budget.left.max(1),
        };
        let converted = jfr::to_pprof(&recording, &labels, &input).map_err(|e| {
            if e.over_limit {
                Refusal::new(
                    Kind::TooLarge,
                    format!(
                        "the JFR recording needs more memory than max_decompressed_size ({} bytes) leaves: {e}",
                        budget.max
                    ),
                )
            } else {
                Refusal::new(Kind::Decode, format!("the JFR recording does not read: {e}"))
            }
        })?;
        let mut records = Vec::with_capacity(converted.profiles.len());
        for p in &converted.profiles {
            let what = format!("the {} profile of the JFR recording", p.metric());
            let encoded = Bytes::from(encode_pprof(&p.profile));
            let data = PprofData::from_pprof(encoded, &budget.limits(&self.limits.decode))
                .map_err(|e| Refusal::from_decode(&what, &e, budget.max))?;
            budget.spend(data.memory_bytes(), &what)?;
            let mut labels = ingest_labels(IngestSeries {
                name: &self.query.name,
                metric: p.metric(),
                service: &self.query.name.app,
                spy_name: &self.query.spy_name,
                text: false,
            });
            if !converted.event.is_empty() {
                labels.set(JFR_EVENT_LABEL, &converted.event);
            }
            check_limits(&labels, &self.limits.labels)
                .map_err(|m| Refusal::new(Kind::Labels, m))?;
            records.push(ProfileRecord::new(with_tenant(labels, self.tenant), data));
        }
        Ok(records)
    }
}
