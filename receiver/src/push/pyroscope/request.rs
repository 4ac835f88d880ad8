//! What both endpoints share per request: the receiver's state, the
//! memory check before any work, the tenant header, the budget of
//! decompressed bytes a request may spend, and the hand-off downstream
//! (which may wait inside the request for a full sending queue with
//! `block_on_overflow`, until the receiver stops).

use super::config::{LabelLimits, PyroscopeReceiverConfig};
use super::labels::{check_tenant, TENANT_HEADER};
use super::refusal::{Kind, Refusal};
use crate::push::PushEvents;
use axum::http::HeaderMap;
use profcol_pdata::pprof::DecodeLimits;
use profcol_pdata::{Consumer, PprofData, ProfileBatch, ProfileRecord};
use profcol_runtime::caller::{self, Caller};
use profcol_runtime::MemoryGuard;
use std::sync::Arc;
use std::time::Duration;

/// The caps of one request, resolved from the config.
#[derive(Debug, Clone)]
pub struct Limits {
    pub decode: DecodeLimits,
    pub labels: LabelLimits,
    pub max_request_body_size: usize,
    pub max_decompressed_size: usize,
    pub read_timeout: Duration,
}

impl Limits {
    pub fn new(cfg: &PyroscopeReceiverConfig) -> Self {
        Self {
            decode: cfg.decode_limits(),
            labels: cfg.label_limits(),
            max_request_body_size: cfg.max_request_body_size.0,
            max_decompressed_size: cfg.max_decompressed_size.0,
            read_timeout: cfg.read_timeout.0,
        }
    }
}

/// The receiver's state, shared by its handlers.
pub struct Shared {
    pub events: PushEvents,
    pub next: Arc<dyn Consumer>,
    pub memory: MemoryGuard,
    pub limits: Limits,
    /// The receiver's stop: a hand-off still waiting then gives up.
    pub stop: tokio_util::sync::CancellationToken,
}

impl Shared {
    /// Refuses new work while the collector is over its memory limit.
    pub fn admit(&self) -> Result<(), Refusal> {
        self.memory
            .check()
            .map_err(|over| Refusal::new(Kind::Refused, format!("refused: {over}")))
    }

    /// Hands the records downstream; returns how many went.
    pub async fn hand_off(&self, records: Vec<ProfileRecord>) -> Result<usize, Refusal> {
        let n = records.len();
        if n == 0 {
            return Ok(0);
        }
        let caller = Caller {
            gave_up: self.stop.clone(),
            observer: None,
        };
        caller::scope(caller, self.next.consume(ProfileBatch::new(records)))
            .await
            .map_err(|e| {
                Refusal::new(
                    Kind::Refused,
                    format!("the pipeline did not take the profiles: {e}"),
                )
            })?;
        Ok(n)
    }
}

/// The tenant named by `X-Scope-OrgID`, if any.
pub fn tenant(headers: &HeaderMap) -> Result<Option<String>, Refusal> {
    let Some(v) = headers.get(TENANT_HEADER) else {
        return Ok(None);
    };
    let v = v
        .to_str()
        .map_err(|_| Refusal::bad_request(format!("the {TENANT_HEADER} header is not ASCII")))?
        .trim();
    if v.is_empty() {
        return Ok(None);
    }
    check_tenant(v).map_err(Refusal::bad_request)?;
    Ok(Some(v.to_string()))
}

/// The memory a request's decoded profiles may hold together:
/// `max_decompressed_size`, spent by each profile as it decodes.
#[derive(Debug, Clone)]
pub struct Budget {
    pub left: usize,
    pub max: usize,
}

impl Budget {
    pub fn new(max: usize) -> Self {
        Self { left: max, max }
    }

    /// `limits` with the decompression cap narrowed to what is left.
    pub fn limits(&self, limits: &DecodeLimits) -> DecodeLimits {
        DecodeLimits {
            max_decompressed_bytes: self.left,
            ..*limits
        }
    }

    /// Spends `n` bytes; over the budget is a refusal naming `what`.
    pub fn spend(&mut self, n: usize, what: &str) -> Result<(), Refusal> {
        match self.left.checked_sub(n) {
            Some(left) => {
                self.left = left;
                Ok(())
            }
            None => Err(Refusal::new(
                Kind::TooLarge,
                format!(
                    "{what}: the request inflates past max_decompressed_size ({} bytes)",
                    self.max
                ),
            )),
        }
    }

    /// Inflates the request body per its `Content-Encoding` under what is
    /// left, and spends what the inflated body holds.
    pub fn inflate(
        &mut self,
        body: bytes::Bytes,
        encoding: Option<&str>,
    ) -> Result<bytes::Bytes, Refusal> {
        let body = super::body::decode(body, encoding, self.left)?;
        if encoding.is_some() {
            self.spend(body.len(), "the body")?;
        }
        Ok(body)
    }

    /// Decodes one served profile under what is left and spends its memory.
    pub fn decode(
        &mut self,
        served: bytes::Bytes,
        limits: &DecodeLimits,
        what: &str,
    ) -> Result<PprofData, Refusal> {
        let data = PprofData::from_served(served, &self.limits(limits))
            .map_err(|e| Refusal::from_decode(what, &e, self.max))?;
        self.spend(data.memory_bytes(), what)?;
        Ok(data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use bytes::Bytes;
    use profcol_pdata::pprof::{encode_pprof_gzip, Profile};

    #[test]
    fn tenants() {
        let mut h = HeaderMap::new();
        assert_eq!(tenant(&h).unwrap(), None);
        h.insert(TENANT_HEADER, HeaderValue::from_static(" team-a "));
        assert_eq!(tenant(&h).unwrap().as_deref(), Some("team-a"));
        h.insert(TENANT_HEADER, HeaderValue::from_static("a|b"));
        assert!(tenant(&h).unwrap_err().message.contains("'|'"));
    }

    #[test]
    fn the_budget_covers_every_profile_of_a_request() {
        let served = Bytes::from(encode_pprof_gzip(&Profile::empty("samples", "count")));
        let one = PprofData::from_served(served.clone(), &DecodeLimits::default())
            .unwrap()
            .memory_bytes();
        let mut b = Budget::new(one * 2);
        let limits = DecodeLimits::default();
        b.decode(served.clone(), &limits, "s0").unwrap();
        b.decode(served.clone(), &limits, "s1").unwrap();
        let e = b.decode(served, &limits, "s2").unwrap_err();
        assert_eq!(e.kind, Kind::TooLarge);
        assert!(
            e.message
                .starts_with("s2: the request inflates past max_decompressed_size"),
            "{}",
            e.message
        );
    }
}
