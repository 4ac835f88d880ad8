//! The received request checked in one pass over its protobuf bytes,
//! allocating nothing: what [`OtlpPayload::from_bytes`](super::OtlpPayload)
//! tries first.
//!
//! It answers [`Verdict::Vouched`] only for a request that prost decodes and
//! [`checks`](super::checks) accepts: every field of every message this
//! version knows has its wire type, every string is UTF-8, every packed run
//! parses, and every dictionary index any field holds (not only the value
//! prost would keep when a field repeats) is in range — indexes are
//! compared with the tables' lengths once the whole request is read, as the
//! dictionary usually follows the profiles that use it. Anything else
//! answers [`Verdict::Unsure`]: the caller then decodes with prost, whose
//! verdict and error stand. So this check can only be stricter than
//! prost's, never looser (the `otlp_check` fuzz target holds it to that).
//!
//! Two things it refuses itself ([`Verdict::Refused`]), before prost sees
//! them: attribute values nested more than [`MAX_DEPTH`] levels, and
//! protobuf groups. prost decodes both by recursion, and in profcol's
//! build without its recursion limit (a dependency, `pprof_util`, turns the
//! limit off for the whole binary), so a request of a few hundred
//! kilobytes nested deep enough would overflow the decoding thread's stack
//! and abort the process. No OTLP sender nests values that deep or uses
//! groups (proto3 has none). A walk stopped by a malformed field has seen
//! neither before it, and prost, reading the same bytes in the same order,
//! stops at the same field.

use super::checks::Counts;
use super::OtlpLimits;
use crate::otlp::fields::*;
use crate::wire::{Reader, FIXED64, LEN};

/// Wire types 3 and 4: the start and end of a (proto2) group.
const GROUP_START: u8 = 3;
const GROUP_END: u8 = 4;

/// Messages nested deeper are refused: only attribute values nest.
pub(crate) const MAX_DEPTH: u32 = 64;

/// The two refusals of the walk itself.
pub(crate) const TOO_DEEP: &str = "attribute values are nested more than 64 levels deep";
pub(crate) const GROUPS: &str = "the request uses protobuf groups, which OTLP has none of";

/// What the walk found.
pub(crate) enum Verdict {
    /// Prost decodes it and the checks pass, with these counts and
    /// `ResourceProfiles`.
    Vouched(Counts, usize),
    /// Refused before prost: the reason.
    Refused(&'static str),
    /// Prost's decoding and the checks decide.
    Unsure,
}

/// The dictionary tables an index points into.
#[derive(Clone, Copy)]
enum Table {
    String = 0,
    Attribute,
    Function,
    Mapping,
    Location,
    Stack,
    Link,
}

const TABLES: usize = 7;

/// The lowest and highest index referred to in each table.
#[derive(Clone, Copy)]
struct Span {
    low: i32,
    high: i32,
}

impl Span {
    const NONE: Span = Span {
        low: i32::MAX,
        high: i32::MIN,
    };

    /// No index, or all in `0..len`.
    fn within(self, len: usize) -> bool {
        self.low > self.high || (self.low >= 0 && (self.high as usize) < len)
    }
}

struct Walk {
    /// Set when the walk stops on a group or on nesting.
    refused: Option<&'static str>,
    profiles: usize,
    samples: usize,
    resources: usize,
    dictionary: bool,
    lens: [usize; TABLES],
    refs: [Span; TABLES],
}

/// Whether prost's decoding and the checks certainly pass `bytes` (with
/// its counts), must not be tried, or decide (see the module docs).
pub(crate) fn check(bytes: &[u8], limits: &OtlpLimits) -> Verdict {
    let mut w = Walk {
        refused: None,
        profiles: 0,
        samples: 0,
        resources: 0,
        dictionary: false,
        lens: [0; TABLES],
        refs: [Span::NONE; TABLES],
    };
    if w.request(bytes).is_none() {
        return w.refused.map_or(Verdict::Unsure, Verdict::Refused);
    }
    let len = |t: Table| w.lens[t as usize];
    let fits = [
        (Table::String, len(Table::String).max(1)),
        (Table::Attribute, len(Table::Attribute)),
        (Table::Function, len(Table::Function)),
        (Table::Mapping, len(Table::Mapping)),
        (Table::Location, len(Table::Location)),
        (Table::Stack, len(Table::Stack).max(1)),
        (Table::Link, len(Table::Link)),
    ]
    .iter()
    .all(|&(t, n)| w.refs[t as usize].within(n));
    let valid = fits
        && (w.dictionary || w.profiles == 0)
        && w.profiles <= limits.max_profiles
        && w.samples <= limits.max_samples;
    if valid {
        Verdict::Vouched(
            Counts {
                profiles: w.profiles,
                samples: w.samples,
            },
            w.resources,
        )
    } else {
        Verdict::Unsure
    }
}

/// Wire-level reads that answer `None` where prost would refuse.
trait Fields<'a> {
    fn next_field(&mut self) -> Option<(u32, u8)>;
    fn sub(&mut self, wt: u8) -> Option<&'a [u8]>;
    fn varint_field(&mut self, wt: u8) -> Option<u64>;
    fn string_field(&mut self, wt: u8) -> Option<()>;
    fn fixed64_field(&mut self, wt: u8) -> Option<()>;
    fn packed_fixed64(&mut self, wt: u8) -> Option<()>;
    fn packed(&mut self, wt: u8, f: impl FnMut(u64)) -> Option<()>;
    fn unknown(&mut self, wt: u8) -> Option<()>;
}

impl<'a> Fields<'a> for Reader<'a> {
    fn next_field(&mut self) -> Option<(u32, u8)> {
        self.key().ok()
    }
    fn sub(&mut self, wt: u8) -> Option<&'a [u8]> {
        self.message(wt).ok()
    }
    fn varint_field(&mut self, wt: u8) -> Option<u64> {
        self.scalar(wt).ok()
    }
    fn string_field(&mut self, wt: u8) -> Option<()> {
        std::str::from_utf8(self.message(wt).ok()?).ok().map(drop)
    }
    fn fixed64_field(&mut self, wt: u8) -> Option<()> {
        (wt == FIXED64).then_some(())?;
        self.skip(wt).ok()
    }
    fn packed_fixed64(&mut self, wt: u8) -> Option<()> {
        match wt {
            LEN => (self.bytes().ok()?.len() % 8 == 0).then_some(()),
            _ => self.fixed64_field(wt),
        }
    }
    fn packed(&mut self, wt: u8, f: impl FnMut(u64)) -> Option<()> {
        self.repeated(wt, f).ok()
    }
    /// Groups stop the walk (see [`Walk::unknown`]).
    fn unknown(&mut self, wt: u8) -> Option<()> {
        self.skip(wt).ok()
    }
}

/// Walks the fields of `$buf`: `number => body` arms, unknown fields
/// skipped (a group stops the walk, noted on the walker `$w`).
macro_rules! fields {
    ($w:expr, $buf:expr, |$r:ident, $wt:ident| { $($number:pat => $body:expr,)* }) => {{
        let mut $r = Reader::new($buf);
        while !$r.is_empty() {
            let (field, $wt) = $r.next_field()?;
            match field {
                $($number => { $body; })*
                _ => {
                    $w.unknown($wt)?;
                    $r.unknown($wt)?
                }
            }
        }
        Some(())
    }};
}

impl Walk {
    fn refer(&mut self, table: Table, value: u64) {
        // prost reads an int32 field as the varint's low 32 bits.
        let i = value as i32;
        let span = &mut self.refs[table as usize];
        span.low = span.low.min(i);
        span.high = span.high.max(i);
    }

    fn count(&mut self, table: Table) {
        self.lens[table as usize] += 1;
    }

    fn request(&mut self, buf: &[u8]) -> Option<()> {
        fields!(self, buf, |r, wt| {
            REQUEST_RESOURCE_PROFILES => {
                self.resources += 1;
                self.resource_profiles(r.sub(wt)?)?
            },
            REQUEST_DICTIONARY => {
                self.dictionary = true;
                self.dictionary(r.sub(wt)?)?
            },
        })
    }

    fn resource_profiles(&mut self, buf: &[u8]) -> Option<()> {
        fields!(self, buf, |r, wt| {
            RESOURCE_PROFILES_RESOURCE => self.resource(r.sub(wt)?)?,
            RESOURCE_PROFILES_SCOPE_PROFILES => self.scope_profiles(r.sub(wt)?)?,
            RESOURCE_PROFILES_SCHEMA_URL => r.string_field(wt)?,
        })
    }

    fn resource(&mut self, buf: &[u8]) -> Option<()> {
        fields!(self, buf, |r, wt| {
            RESOURCE_ATTRIBUTES => self.key_value(r.sub(wt)?, 3)?,
            RESOURCE_DROPPED_ATTRIBUTES_COUNT => r.varint_field(wt)?,
            RESOURCE_ENTITY_REFS => self.entity_ref(r.sub(wt)?)?,
        })
    }

    fn scope_profiles(&mut self, buf: &[u8]) -> Option<()> {
        fields!(self, buf, |r, wt| {
            SCOPE_PROFILES_SCOPE => self.scope(r.sub(wt)?)?,
            SCOPE_PROFILES_PROFILES => self.profile(r.sub(wt)?)?,
            SCOPE_PROFILES_SCHEMA_URL => r.string_field(wt)?,
        })
    }

    fn scope(&mut self, buf: &[u8]) -> Option<()> {
        fields!(self, buf, |r, wt| {
            SCOPE_NAME | SCOPE_VERSION => r.string_field(wt)?,
            SCOPE_ATTRIBUTES => self.key_value(r.sub(wt)?, 4)?,
            SCOPE_DROPPED_ATTRIBUTES_COUNT => r.varint_field(wt)?,
        })
    }

    fn profile(&mut self, buf: &[u8]) -> Option<()> {
        self.profiles += 1;
        fields!(self, buf, |r, wt| {
            PROFILE_SAMPLE_TYPE | PROFILE_PERIOD_TYPE => self.value_type(r.sub(wt)?)?,
            PROFILE_SAMPLES => {
                self.samples += 1;
                self.sample(r.sub(wt)?)?
            },
            PROFILE_TIME_UNIX_NANO => r.fixed64_field(wt)?,
            PROFILE_DURATION_NANO | PROFILE_PERIOD | PROFILE_DROPPED_ATTRIBUTES_COUNT => {
                r.varint_field(wt)?
            },
            PROFILE_PROFILE_ID | PROFILE_ORIGINAL_PAYLOAD => r.sub(wt)?,
            PROFILE_ORIGINAL_PAYLOAD_FORMAT => r.string_field(wt)?,
            PROFILE_ATTRIBUTE_INDICES => r.packed(wt, |v| self.refer(Table::Attribute, v))?,
        })
    }

    fn value_type(&mut self, buf: &[u8]) -> Option<()> {
        fields!(self, buf, |r, wt| {
            VALUE_TYPE_TYPE_STRINDEX | VALUE_TYPE_UNIT_STRINDEX => self.refer(Table::String, r.varint_field(wt)?),
        })
    }

    fn sample(&mut self, buf: &[u8]) -> Option<()> {
        fields!(self, buf, |r, wt| {
            SAMPLE_STACK_INDEX => self.refer(Table::Stack, r.varint_field(wt)?),
            SAMPLE_ATTRIBUTE_INDICES => r.packed(wt, |v| self.refer(Table::Attribute, v))?,
            SAMPLE_LINK_INDEX => {
                // 0 is "no link", valid with an empty link table.
                let v = r.varint_field(wt)?;
                if v as i32 != 0 {
                    self.refer(Table::Link, v)
                }
            },
            SAMPLE_VALUES => r.packed(wt, drop)?,
            SAMPLE_TIMESTAMPS_UNIX_NANO => r.packed_fixed64(wt)?,
        })
    }

    fn dictionary(&mut self, buf: &[u8]) -> Option<()> {
        fields!(self, buf, |r, wt| {
            DICTIONARY_MAPPING_TABLE => {
                self.count(Table::Mapping);
                self.mapping(r.sub(wt)?)?
            },
            DICTIONARY_LOCATION_TABLE => {
                self.count(Table::Location);
                self.location(r.sub(wt)?)?
            },
            DICTIONARY_FUNCTION_TABLE => {
                self.count(Table::Function);
                self.function(r.sub(wt)?)?
            },
            DICTIONARY_LINK_TABLE => {
                self.count(Table::Link);
                self.link(r.sub(wt)?)?
            },
            DICTIONARY_STRING_TABLE => {
                self.count(Table::String);
                r.string_field(wt)?
            },
            DICTIONARY_ATTRIBUTE_TABLE => {
                self.count(Table::Attribute);
                self.key_value_and_unit(r.sub(wt)?)?
            },
            DICTIONARY_STACK_TABLE => {
                self.count(Table::Stack);
                fields!(self, r.sub(wt)?, |s, wt| {
                    STACK_LOCATION_INDICES => s.packed(wt, |v| self.refer(Table::Location, v))?,
                })?
            },
        })
    }

    fn mapping(&mut self, buf: &[u8]) -> Option<()> {
        fields!(self, buf, |r, wt| {
            MAPPING_MEMORY_START | MAPPING_MEMORY_LIMIT | MAPPING_FILE_OFFSET => r.varint_field(wt)?,
            MAPPING_FILENAME_STRINDEX => self.refer(Table::String, r.varint_field(wt)?),
            MAPPING_ATTRIBUTE_INDICES => r.packed(wt, |v| self.refer(Table::Attribute, v))?,
        })
    }

    fn location(&mut self, buf: &[u8]) -> Option<()> {
        fields!(self, buf, |r, wt| {
            LOCATION_MAPPING_INDEX => {
                // 0 is "no mapping", valid with an empty mapping table.
                let v = r.varint_field(wt)?;
                if v as i32 != 0 {
                    self.refer(Table::Mapping, v)
                }
            },
            LOCATION_ADDRESS => r.varint_field(wt)?,
            LOCATION_LINES => {
                // A line without a function index points at function 0.
                self.refer(Table::Function, 0);
                fields!(self, r.sub(wt)?, |l, wt| {
                    LINE_FUNCTION_INDEX => self.refer(Table::Function, l.varint_field(wt)?),
                    LINE_LINE | LINE_COLUMN => l.varint_field(wt)?,
                })?
            },
            LOCATION_ATTRIBUTE_INDICES => r.packed(wt, |v| self.refer(Table::Attribute, v))?,
        })
    }

    fn function(&mut self, buf: &[u8]) -> Option<()> {
        fields!(self, buf, |r, wt| {
            FUNCTION_NAME_STRINDEX | FUNCTION_SYSTEM_NAME_STRINDEX | FUNCTION_FILENAME_STRINDEX => self.refer(Table::String, r.varint_field(wt)?),
            FUNCTION_START_LINE => r.varint_field(wt)?,
        })
    }

    fn key_value_and_unit(&mut self, buf: &[u8]) -> Option<()> {
        fields!(self, buf, |r, wt| {
            KEY_VALUE_AND_UNIT_KEY_STRINDEX | KEY_VALUE_AND_UNIT_UNIT_STRINDEX => self.refer(Table::String, r.varint_field(wt)?),
            KEY_VALUE_AND_UNIT_VALUE => self.any_value(r.sub(wt)?, 3)?,
        })
    }
}

impl Walk {
    /// An unknown field of wire type `wt`: a group stops the walk.
    fn unknown(&mut self, wt: u8) -> Option<()> {
        if wt == GROUP_START || wt == GROUP_END {
            self.refused = Some(GROUPS);
            return None;
        }
        Some(())
    }

    /// Stops the walk past [`MAX_DEPTH`].
    fn nest(&mut self, depth: u32) -> Option<()> {
        if depth > MAX_DEPTH {
            self.refused = Some(TOO_DEEP);
            return None;
        }
        Some(())
    }

    /// A `common.v1.KeyValue` at nesting `depth` (the request is 0).
    fn key_value(&mut self, buf: &[u8], depth: u32) -> Option<()> {
        self.nest(depth)?;
        fields!(self, buf, |r, wt| {
            KEY_VALUE_KEY => r.string_field(wt)?,
            KEY_VALUE_VALUE => self.any_value(r.sub(wt)?, depth + 1)?,
            KEY_VALUE_KEY_STRINDEX => r.varint_field(wt)?,
        })
    }

    fn any_value(&mut self, buf: &[u8], depth: u32) -> Option<()> {
        self.nest(depth)?;
        fields!(self, buf, |r, wt| {
            ANY_VALUE_STRING_VALUE => r.string_field(wt)?,
            ANY_VALUE_BOOL_VALUE | ANY_VALUE_INT_VALUE | ANY_VALUE_STRING_VALUE_STRINDEX => {
                r.varint_field(wt)?
            },
            ANY_VALUE_DOUBLE_VALUE => r.fixed64_field(wt)?,
            ANY_VALUE_ARRAY_VALUE => fields!(self, r.sub(wt)?, |a, wt| {
                ARRAY_VALUE_VALUES => self.any_value(a.sub(wt)?, depth + 2)?,
            })?,
            ANY_VALUE_KVLIST_VALUE => fields!(self, r.sub(wt)?, |l, wt| {
                KEY_VALUE_LIST_VALUES => self.key_value(l.sub(wt)?, depth + 2)?,
            })?,
            ANY_VALUE_BYTES_VALUE => r.sub(wt)?,
        })
    }

    fn entity_ref(&mut self, buf: &[u8]) -> Option<()> {
        fields!(self, buf, |r, wt| {
            ENTITY_REF_SCHEMA_URL | ENTITY_REF_TYPE | ENTITY_REF_ID_KEYS | ENTITY_REF_DESCRIPTION_KEYS => {
                r.string_field(wt)?
            },
        })
    }

    fn link(&mut self, buf: &[u8]) -> Option<()> {
        fields!(self, buf, |r, wt| {
            LINK_TRACE_ID | LINK_SPAN_ID => r.sub(wt)?,
        })
    }
}
