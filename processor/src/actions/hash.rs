//! The `hash` action's digest: SHA-256 in lowercase hex, as the Collector
//! computes it (contrib `attraction/hasher.go`): a string's bytes, a bool as
//! one byte (1 or 0), an int as its 8 little-endian bytes, a double as the 8
//! little-endian bytes of its IEEE-754 bits. Other values (arrays, maps,
//! bytes, empty) become the empty string.

use crate::actions::Value;
use ring::digest::{digest, SHA256};

pub(crate) fn hash(v: &Value) -> Value {
    let sum = match v {
        Value::Str(s) => digest(&SHA256, s.as_bytes()),
        Value::Bool(b) => digest(&SHA256, &[u8::from(*b)]),
        Value::Int(i) => digest(&SHA256, &i.to_le_bytes()),
        Value::Double(d) => digest(&SHA256, &d.to_bits().to_le_bytes()),
        Value::Other(_) => return Value::Str(String::new()),
    };
    let mut out = String::with_capacity(64);
    for b in sum.as_ref() {
        out.push_str(&format!("{b:02x}"));
    }
    Value::Str(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The digests the Collector's own tests expect
    /// (`attributesprocessor/attributes_profile_test.go`).
    #[test]
    fn digests_match_the_collector() {
        for (v, want) in [
            (
                Value::Str("john.doe@example.com".into()),
                "836f82db99121b3481011f16b49dfa5fbc714a0d1b1b9f784a1ebbbf5b39577f",
            ),
            (
                Value::Int(10),
                "a111f275cc2e7588000001d300a31e76336d15b9d314cd1a1d8f3d3556975eed",
            ),
            (
                Value::Double(99.1),
                "05fabd78b01be9692863cb0985f600c99da82979af18db5c55173c2a30adb924",
            ),
            (
                Value::Bool(true),
                "4bf5122f344554c53bde2ebb8cd2b7e3d1600ad631c385a5d7cce23c7785459a",
            ),
        ] {
            assert_eq!(hash(&v), Value::Str(want.into()), "{v:?}");
        }
        assert_eq!(
            hash(&Value::Other(Default::default())),
            Value::Str(String::new())
        );
    }
}
