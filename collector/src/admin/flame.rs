//! One sample type of a kept profile as folded stacks and as a flame graph
//! SVG (rendered by `inferno`, whose embedded script zooms on click and
//! searches). The folded lines come from pdata's folded conversion
//! ([`folded_pprof`]) of the profile reduced to the chosen sample type, so
//! the viewer, `?format=folded` and the tests agree on one conversion.

use profcol_pdata::pprof::{folded_pprof, Profile};

/// What a stack without frames is called in the folded lines.
pub const NO_STACK: &str = "(no stack)";
/// The flame graph's frame label prefix in inferno's details line.
const NAME_TYPE: &str = "Function:";
/// inferno's frame height in px and font size: a little denser than its
/// defaults so that deep Go stacks fit a screen.
const FRAME_HEIGHT: usize = 16;
const FONT_SIZE: usize = 11;

/// `type/unit` of each sample type.
pub fn sample_types(p: &Profile) -> Vec<(String, String)> {
    p.sample_type
        .iter()
        .map(|vt| (p.str(vt.r#type).to_string(), p.str(vt.unit).to_string()))
        .collect()
}

/// The sample type `asked` names (its index, its type name or
/// `type/unit`); without one, the profile's default sample type, else the
/// last (pprof's convention).
pub fn sample_type_index(p: &Profile, asked: Option<&str>) -> Result<usize, String> {
    let types = sample_types(p);
    if types.is_empty() {
        return Err("the profile has no sample types".into());
    }
    let by_name = |name: &str| {
        types
            .iter()
            .position(|(t, u)| t == name || format!("{t}/{u}") == name)
    };
    match asked.map(str::trim).filter(|a| !a.is_empty()) {
        None => {
            let default = p.str(p.default_sample_type);
            Ok(Some(default)
                .filter(|d| !d.is_empty())
                .and_then(by_name)
                .unwrap_or(types.len() - 1))
        }
        Some(a) => match a.parse::<usize>() {
            Ok(i) if i < types.len() => Ok(i),
            _ => by_name(a).ok_or_else(|| {
                let known: Vec<String> = types
                    .iter()
                    .enumerate()
                    .map(|(i, (t, u))| format!("{i} ({t}/{u})"))
                    .collect();
                format!(
                    "unknown sample type {a:?}; this profile has {}",
                    known.join(", ")
                )
            }),
        },
    }
}

/// The folded stacks (`root;…;leaf`, value) of sample type `index`, sorted
/// by stack; stacks that sum to zero are left out.
pub fn folded(mut p: Profile, index: usize) -> Vec<(String, i64)> {
    let Some(vt) = p.sample_type.get(index).copied() else {
        return Vec::new();
    };
    let prefix = format!("{}/{}", p.str(vt.r#type), p.str(vt.unit));
    p.sample_type = vec![vt];
    for s in &mut p.sample {
        let v = s.value.get(index).copied().unwrap_or(0);
        s.value = vec![v];
    }
    folded_pprof(&p)
        .into_iter()
        .filter_map(|line| {
            let (key, value) = line.rsplit_once(' ')?;
            let value = value.parse::<i64>().ok()?;
            let stack = key.strip_prefix(prefix.as_str())?;
            let stack = stack.strip_prefix(';').unwrap_or(stack);
            let stack = if stack.is_empty() { NO_STACK } else { stack };
            Some((stack.to_string(), value))
        })
        .collect()
}

/// Folded lines as text: `stack value\n` each.
pub fn folded_text(lines: &[(String, i64)]) -> String {
    let mut out = String::new();
    for (stack, v) in lines {
        out.push_str(stack);
        out.push(' ');
        out.push_str(&v.to_string());
        out.push('\n');
    }
    out
}

/// The sum of the values.
pub fn total(lines: &[(String, i64)]) -> i64 {
    lines.iter().fold(0i64, |a, (_, v)| a.saturating_add(*v))
}

/// A standalone flame graph SVG of the stacks with a positive value
/// (a flame graph cannot draw negative widths), or why there is none.
pub fn svg(lines: &[(String, i64)], title: &str, unit: &str) -> Result<String, String> {
    let positive: Vec<String> = lines
        .iter()
        .filter(|(_, v)| *v > 0)
        .map(|(s, v)| format!("{s} {v}"))
        .collect();
    if positive.is_empty() {
        return Err("no stack has a positive value for this sample type".into());
    }
    let mut opt = inferno::flamegraph::Options::default();
    opt.title = title.to_string();
    opt.count_name = if unit.is_empty() { "samples" } else { unit }.to_string();
    opt.name_type = NAME_TYPE.to_string();
    // Colours from the function's name: the same function looks the same
    // in every profile and on every reload.
    opt.hash = true;
    opt.deterministic = true;
    opt.frame_height = FRAME_HEIGHT;
    opt.font_size = FONT_SIZE;
    let mut out = Vec::new();
    inferno::flamegraph::from_lines(&mut opt, positive.iter().map(String::as_str), &mut out)
        .map_err(|e| format!("the flame graph could not be drawn: {e}"))?;
    String::from_utf8(out).map_err(|e| format!("the flame graph is not UTF-8: {e}"))
}

/// The SVG to put inside an HTML page: without the XML declaration and
/// doctype, and without its `onload` (the page calls `init` itself once
/// the SVG's script has run, which is certain, where an inline `<svg>`'s
/// load event is not in every browser).
pub fn inline(svg: &str) -> &str {
    svg.find("<svg").and_then(|i| svg.get(i..)).unwrap_or("")
}

/// The `onload` attribute [`inline`] callers remove.
pub const ONLOAD: &str = " onload=\"init(evt)\"";

/// A value with its unit, readable: `1.50 s`, `12.0 MiB`, `42 count`.
pub fn human(v: i64, unit: &str) -> String {
    let f = v as f64;
    match unit {
        "nanoseconds" => {
            if f.abs() >= 1e9 {
                format!("{:.2} s", f / 1e9)
            } else {
                format!("{:.2} ms", f / 1e6)
            }
        }
        "microseconds" => format!("{:.2} ms", f / 1e3),
        "bytes" => {
            const KIB: f64 = 1024.0;
            if f.abs() >= KIB * KIB * KIB {
                format!("{:.2} GiB", f / (KIB * KIB * KIB))
            } else if f.abs() >= KIB * KIB {
                format!("{:.2} MiB", f / (KIB * KIB))
            } else {
                format!("{:.1} KiB", f / KIB)
            }
        }
        "" => v.to_string(),
        u => format!("{v} {u}"),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use profcol_pdata::pprof::{Function, Line, Location, Sample, ValueType};

    /// Stacks given root first; two sample types.
    fn profile(stacks: &[(&[&str], [i64; 2])]) -> Profile {
        let stacks: Vec<(&[&str], &[i64])> = stacks.iter().map(|(f, v)| (*f, &v[..])).collect();
        build(
            &[("alloc_objects", "count"), ("alloc_space", "bytes")],
            &stacks,
        )
    }

    /// A profile of `types` with one sample per stack (frames root first).
    pub(crate) fn build(types: &[(&str, &str)], stacks: &[(&[&str], &[i64])]) -> Profile {
        let mut p = Profile {
            string_table: vec![String::new()],
            ..Default::default()
        };
        let s = |p: &mut Profile, x: &str| -> i64 {
            if let Some(i) = p.string_table.iter().position(|y| y == x) {
                return i as i64;
            }
            p.string_table.push(x.to_string());
            (p.string_table.len() - 1) as i64
        };
        for &(t, u) in types {
            let vt = ValueType {
                r#type: s(&mut p, t),
                unit: s(&mut p, u),
            };
            p.sample_type.push(vt);
        }
        for (frames, values) in stacks {
            let mut ids = Vec::new();
            for f in frames.iter().rev() {
                let name = s(&mut p, f);
                let id = match p.function.iter().find(|x| x.name == name) {
                    Some(x) => x.id,
                    None => {
                        let id = p.function.len() as u64 + 1;
                        p.function.push(Function {
                            id,
                            name,
                            system_name: name,
                            ..Default::default()
                        });
                        p.location.push(Location {
                            id,
                            line: vec![Line {
                                function_id: id,
                                line: 1,
                                column: 0,
                            }],
                            ..Default::default()
                        });
                        id
                    }
                };
                ids.push(id);
            }
            p.sample.push(Sample {
                location_id: ids,
                value: values.to_vec(),
                label: vec![],
            });
        }
        p
    }

    #[test]
    fn picks_sample_types_by_index_name_or_default() {
        let mut p = profile(&[(&["main", "work"], [1, 100])]);
        assert_eq!(sample_type_index(&p, None), Ok(1));
        assert_eq!(sample_type_index(&p, Some("0")), Ok(0));
        assert_eq!(sample_type_index(&p, Some("alloc_space")), Ok(1));
        assert_eq!(sample_type_index(&p, Some("alloc_objects/count")), Ok(0));
        let e = sample_type_index(&p, Some("7")).unwrap_err();
        assert!(
            e.contains("0 (alloc_objects/count), 1 (alloc_space/bytes)"),
            "{e}"
        );
        p.default_sample_type = 1; // "alloc_objects"
        assert_eq!(sample_type_index(&p, None), Ok(0));
        p.sample_type.clear();
        assert!(sample_type_index(&p, None).is_err());
    }

    #[test]
    fn folds_one_sample_type_root_first() {
        let p = profile(&[
            (&["main", "work"], [1, 100]),
            (&["main", "work"], [2, 50]),
            (&["main"], [0, 7]),
            (&[], [3, 0]),
        ]);
        assert_eq!(
            folded(p.clone(), 1),
            [("main".to_string(), 7), ("main;work".to_string(), 150)]
        );
        assert_eq!(
            folded(p, 0),
            [(NO_STACK.to_string(), 3), ("main;work".to_string(), 3)]
        );
    }

    #[test]
    fn the_svg_escapes_frame_names() {
        let lines = folded(
            profile(&[(&["main", "<script>alert(1)</script>"], [1, 1])]),
            0,
        );
        let svg = svg(&lines, "t <b>", "count").unwrap();
        assert!(!svg.contains("<script>alert(1)"), "{svg}");
        assert!(svg.contains("&lt;script&gt;alert(1)"), "{svg}");
        assert!(!svg.contains("<b>"));
        let inline = inline(&svg);
        assert!(inline.starts_with("<svg "));
        assert!(inline.contains(ONLOAD));
        assert_eq!(
            super::svg(&[("a".into(), 0)], "t", "").unwrap_err(),
            "no stack has a positive value for this sample type"
        );
    }

    #[test]
    fn readable_values() {
        assert_eq!(human(1_500_000_000, "nanoseconds"), "1.50 s");
        assert_eq!(human(2_500_000, "nanoseconds"), "2.50 ms");
        assert_eq!(human(12 * 1024 * 1024, "bytes"), "12.00 MiB");
        assert_eq!(human(42, "count"), "42 count");
    }
}
