//! Changing a received OTLP request, which travels as its bytes
//! ([`OtlpPayload`]): [`edit`] decodes it (with attributes that name their
//! strings by index resolved, so keys and values read as plain strings),
//! lets the processor change it, and encodes it again only when the
//! processor says it changed something. An unchanged payload is passed on
//! as the same bytes.

use profcol_pdata::otlp::collector::ExportProfilesServiceRequest;
use profcol_pdata::otlp::{resolve_string_refs, OtlpLimits, OtlpPayload};
use profcol_pdata::Error as DataError;
use std::sync::Arc;

/// What became of one payload.
pub(crate) enum Edited {
    /// Passed on as it came.
    Unchanged(Arc<OtlpPayload>),
    /// Changed and encoded again.
    Changed(Arc<OtlpPayload>),
    /// No profile left: dropped.
    Emptied,
}

/// Decodes `payload`, runs `change` on its request (true when it changed
/// something) and encodes the result when it did.
pub(crate) fn edit(
    payload: Arc<OtlpPayload>,
    change: impl FnOnce(&mut ExportProfilesServiceRequest) -> Result<bool, DataError>,
) -> Result<Edited, DataError> {
    let req = payload.request()?;
    let mut req = resolve_string_refs(&req).into_owned();
    if !change(&mut req)? {
        return Ok(Edited::Unchanged(payload));
    }
    let has_profiles = req
        .resource_profiles
        .iter()
        .flat_map(|r| &r.scope_profiles)
        .any(|s| !s.profiles.is_empty());
    if !has_profiles {
        return Ok(Edited::Emptied);
    }
    // The request was within the receiver's limits when it arrived and
    // processors only take profiles away: no limit applies again.
    let unlimited = OtlpLimits {
        max_profiles: usize::MAX,
        max_samples: usize::MAX,
    };
    Ok(Edited::Changed(Arc::new(OtlpPayload::from_request(
        &req, &unlimited,
    )?)))
}

/// Runs [`edit`] over every payload of a batch, keeping the ones left.
pub(crate) fn edit_all(
    payloads: Vec<Arc<OtlpPayload>>,
    mut change: impl FnMut(&mut ExportProfilesServiceRequest) -> Result<bool, DataError>,
) -> Result<Vec<Arc<OtlpPayload>>, DataError> {
    let mut out = Vec::with_capacity(payloads.len());
    for p in payloads {
        match edit(p, &mut change)? {
            Edited::Unchanged(p) | Edited::Changed(p) => out.push(p),
            Edited::Emptied => {}
        }
    }
    Ok(out)
}
