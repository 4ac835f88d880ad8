//! pprof decoding by prost: `Profile::decode`, then the same checks the
//! view runs, on the decoded structs. The view
//! ([`PprofView`](crate::pprof::PprofView)) must accept exactly what this
//! accepts and decode it to the same profile.

use crate::pprof;
use crate::pprof::ids::IdMap;
use crate::pprof::validate::validate_tables;
use crate::pprof::{decompress, DecodeLimits};
use crate::Error;
use prost::Message;

/// Decompresses, decodes (prost) and validates one pprof profile.
pub fn decode_pprof(body: &[u8], limits: &DecodeLimits) -> Result<pprof::Profile, Error> {
    if body.is_empty() {
        return Err(Error::EmptyBody);
    }
    let bytes = decompress(body, limits.max_decompressed_bytes)?;
    if bytes.is_empty() {
        return Err(Error::EmptyBody);
    }
    let profile = pprof::Profile::decode(bytes.as_ref())?;
    validate(&profile, limits)?;
    Ok(profile)
}

/// Checks a decoded profile as the view checks a body: table sizes under
/// `limits`, string indexes in range, one value per sample type, and every
/// referenced id defined (0 means "none" for mapping and function
/// references).
pub fn validate(p: &pprof::Profile, limits: &DecodeLimits) -> Result<(), Error> {
    let first = p.string_table.first().map(String::as_str);
    let checker = validate_tables(p, first, p.string_table.len(), p.sample.len(), limits)?;
    let locations = IdMap::build(p.location.iter().map(|l| l.id));
    for (i, s) in p.sample.iter().enumerate() {
        checker.check_values(i, s.value.len())?;
        if let Some(&id) = s
            .location_id
            .iter()
            .find(|&&id| locations.get(id).is_none())
        {
            return Err(Error::MissingId {
                kind: "location",
                id,
            });
        }
        checker.check_label_count(s.label.len())?;
        s.label.iter().try_for_each(|l| checker.check_label(l))?;
    }
    Ok(())
}
