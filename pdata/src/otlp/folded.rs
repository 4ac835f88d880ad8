//! Folded stacks of an OTLP request, as [`crate::pprof::folded_pprof`]
//! writes them for a pprof profile (`type/unit;root;…;leaf value`, one line
//! per sample type and distinct stack, values summed, lines sorted), so a
//! request made from one pprof profile folds exactly like it.

use crate::otlp::collector::ExportProfilesServiceRequest;
use crate::otlp::proto;
use crate::pprof::folded::{add_line, finish};
use std::collections::BTreeMap;

/// Folded lines of every profile in an OTLP request, summed together (so a
/// request made from one pprof profile folds exactly like it). Indexes out
/// of range show as `?` frames.
pub fn folded_otlp(req: &ExportProfilesServiceRequest) -> Vec<String> {
    let empty = proto::ProfilesDictionary::default();
    let d = req.dictionary.as_ref().unwrap_or(&empty);
    let s = |i: i32| {
        usize::try_from(i)
            .ok()
            .and_then(|i| d.string_table.get(i))
            .map_or("?", String::as_str)
    };
    let mut acc = BTreeMap::new();
    let mut frames: Vec<String> = Vec::new();
    for prof in req
        .resource_profiles
        .iter()
        .flat_map(|r| &r.scope_profiles)
        .flat_map(|s| &s.profiles)
    {
        let vt = prof.sample_type.unwrap_or_default();
        let prefix = format!("{}/{}", s(vt.type_strindex), s(vt.unit_strindex));
        for smp in &prof.samples {
            frames.clear();
            let stack = usize::try_from(smp.stack_index)
                .ok()
                .and_then(|i| d.stack_table.get(i));
            match stack {
                None => frames.push("?".into()),
                Some(st) => {
                    for &li in &st.location_indices {
                        match usize::try_from(li)
                            .ok()
                            .and_then(|i| d.location_table.get(i))
                        {
                            None => frames.push("?".into()),
                            Some(l) if l.lines.is_empty() => {
                                frames.push(format!("{:#x}", l.address))
                            }
                            Some(l) => {
                                for line in &l.lines {
                                    let f = usize::try_from(line.function_index)
                                        .ok()
                                        .and_then(|i| d.function_table.get(i));
                                    frames.push(match f.map(|f| s(f.name_strindex)) {
                                        Some("") => format!("{:#x}", l.address),
                                        Some(name) => name.to_string(),
                                        None => "?".into(),
                                    });
                                }
                            }
                        }
                    }
                }
            }
            let value = if smp.values.is_empty() {
                smp.timestamps_unix_nano.len() as i64
            } else {
                smp.values.iter().fold(0i64, |a, &v| a.saturating_add(v))
            };
            add_line(&mut acc, &prefix, &frames, value);
        }
    }
    finish(acc)
}
