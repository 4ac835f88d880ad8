//! Folded stacks (`type/unit;root;…;leaf value`), the plain-text form that
//! flame-graph tools and tests diff easily. One line per sample type and
//! distinct stack, values summed, lines sorted; stacks whose sum is zero are
//! left out. Inlined frames expand in order (the caller before the function
//! inlined into it); a frame without a function name (none, or an empty one)
//! shows its address.

use crate::pprof;
use crate::pprof::ids::IdMap;
use std::collections::BTreeMap;
use std::fmt::Write;

/// Folded lines of a pprof profile.
pub fn folded_pprof(p: &pprof::Profile) -> Vec<String> {
    let mut acc = BTreeMap::new();
    add_pprof(p, &mut acc);
    finish(acc)
}

fn add_pprof(p: &pprof::Profile, acc: &mut BTreeMap<String, i64>) {
    let functions = IdMap::build(p.function.iter().map(|f| f.id));
    let locations = IdMap::build(p.location.iter().map(|l| l.id));
    // Frames of each location, innermost first, resolved once.
    let loc_frames: Vec<Vec<String>> = p
        .location
        .iter()
        .map(|l| {
            if l.line.is_empty() {
                return vec![format!("{:#x}", l.address)];
            }
            l.line
                .iter()
                .map(|line| {
                    match functions
                        .get(line.function_id)
                        .and_then(|i| p.function.get(i))
                    {
                        Some(f) if !p.str(f.name).is_empty() => p.str(f.name).to_string(),
                        _ => format!("{:#x}", l.address),
                    }
                })
                .collect()
        })
        .collect();
    let prefixes: Vec<String> = p
        .sample_type
        .iter()
        .map(|vt| format!("{}/{}", p.str(vt.r#type), p.str(vt.unit)))
        .collect();
    let mut frames: Vec<String> = Vec::new();
    for s in &p.sample {
        frames.clear();
        for &id in &s.location_id {
            match locations.get(id).and_then(|i| loc_frames.get(i)) {
                Some(f) => frames.extend(f.iter().cloned()),
                None => frames.push("?".into()),
            }
        }
        for (prefix, &v) in prefixes.iter().zip(&s.value) {
            add_line(acc, prefix, &frames, v);
        }
    }
}

/// Adds one sample; `frames` is leaf first, innermost inlined frame first.
pub(crate) fn add_line(
    acc: &mut BTreeMap<String, i64>,
    prefix: &str,
    frames: &[String],
    value: i64,
) {
    let mut key =
        String::with_capacity(prefix.len() + frames.iter().map(|f| f.len() + 1).sum::<usize>());
    key.push_str(prefix);
    for f in frames.iter().rev() {
        key.push(';');
        key.push_str(f);
    }
    let e = acc.entry(key).or_insert(0);
    *e = e.saturating_add(value);
}

pub(crate) fn finish(acc: BTreeMap<String, i64>) -> Vec<String> {
    acc.into_iter()
        .filter(|(_, v)| *v != 0)
        .map(|(mut k, v)| {
            let _ = write!(k, " {v}");
            k
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oracle::profile_to_otlp;
    use crate::otlp::folded_otlp;
    use crate::testutil::Builder;

    #[test]
    fn folds_sums_and_expands_inlines() {
        let mut b = Builder::new(&[("samples", "count"), ("cpu", "nanoseconds")]);
        b.sample(&["leaf+inl", "main"], &[("a", "b")], &[1, 10])
            .sample(&["leaf+inl", "main"], &[], &[2, 20])
            .sample(&["main"], &[], &[0, 5])
            .sample(&["other"], &[], &[0, 0]);
        let p = b.build();
        let want = vec![
            "cpu/nanoseconds;main 5",
            "cpu/nanoseconds;main;inl;leaf 30",
            "samples/count;main;inl;leaf 3",
        ];
        assert_eq!(folded_pprof(&p), want);
        assert_eq!(folded_otlp(&profile_to_otlp(&p)), want);
    }
}
