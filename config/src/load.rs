//! Reads config files, merges them in order, applies `--set`, expands
//! references, and remembers which file set which key so that problems can
//! name it.

use crate::error::{Error, Problem};
use crate::expand::{expand_value, key_name, Lookup};
use crate::merge::{apply_set, deep_merge};
use crate::yaml::Value;

/// One config document and where it came from.
#[derive(Debug, Clone)]
pub struct Source {
    pub name: String,
    pub doc: Value,
}

/// The merged, expanded document plus the sources it was made from.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub doc: Value,
    pub sources: Vec<Source>,
}

impl Loaded {
    /// The last source that sets `path` (or its longest existing prefix).
    pub fn file_of(&self, path: &str) -> Option<&str> {
        let segments: Vec<&str> = path.split("::").collect();
        let mut best: Option<(usize, &str)> = None;
        for src in &self.sources {
            let depth = matching_depth(&src.doc, &segments);
            if depth > 0 && best.is_none_or(|(d, _)| depth >= d) {
                best = Some((depth, &src.name));
            }
        }
        best.map(|(_, n)| n)
    }

    /// Fills in the `file` of every problem from its path.
    pub fn locate(&self, mut problems: Vec<Problem>) -> Vec<Problem> {
        for p in &mut problems {
            if p.file.is_none() {
                p.file = self.file_of(&p.path).map(str::to_string);
            }
        }
        problems
    }
}

fn matching_depth(doc: &Value, segments: &[&str]) -> usize {
    let mut node = doc;
    let mut depth = 0;
    for seg in segments {
        let next = match node {
            Value::Mapping(m) => m.iter().find(|(k, _)| key_name(k) == *seg).map(|(_, v)| v),
            Value::Sequence(s) => seg.parse::<usize>().ok().and_then(|i| s.get(i)),
            _ => None,
        };
        match next {
            Some(n) => {
                node = n;
                depth += 1;
            }
            None => break,
        }
    }
    depth
}

/// Parses one YAML text; an empty file is an empty mapping.
pub fn parse_source(name: &str, text: &str) -> Result<Source, Error> {
    let doc: Value = crate::yaml::from_str(text).map_err(|e| Error::Yaml {
        path: name.to_string(),
        message: e.to_string(),
    })?;
    let doc = if doc.is_null() {
        Value::Mapping(Default::default())
    } else {
        doc
    };
    if !doc.is_mapping() {
        return Err(Error::Yaml {
            path: name.to_string(),
            message: "the top level must be a mapping".into(),
        });
    }
    Ok(Source {
        name: name.to_string(),
        doc,
    })
}

/// Reads files from disk in order.
pub fn read_files(paths: &[String]) -> Result<Vec<Source>, Error> {
    paths
        .iter()
        .map(|p| {
            let text = std::fs::read_to_string(p).map_err(|cause| Error::Read {
                path: p.clone(),
                cause,
            })?;
            parse_source(p, &text)
        })
        .collect()
}

/// Merges sources in order, applies `--set` overrides last, then expands.
pub fn assemble(
    sources: Vec<Source>,
    sets: &[String],
    lookup: &dyn Lookup,
) -> Result<Loaded, Error> {
    let mut doc = Value::Mapping(Default::default());
    for s in &sources {
        deep_merge(&mut doc, s.doc.clone());
    }
    let mut all_sources = sources;
    if !sets.is_empty() {
        let mut set_doc = Value::Mapping(Default::default());
        for s in sets {
            apply_set(&mut doc, s)?;
            apply_set(&mut set_doc, s)?;
        }
        all_sources.push(Source {
            name: "--set".into(),
            doc: set_doc,
        });
    }
    let loaded = Loaded {
        doc,
        sources: all_sources,
    };
    let mut doc = loaded.doc.clone();
    let problems = expand_value(&mut doc, "", lookup);
    if !problems.is_empty() {
        return Err(Error::Invalid(loaded.locate(problems)));
    }
    Ok(Loaded { doc, ..loaded })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expand::SystemLookup;

    #[test]
    fn names_the_file_that_set_a_key() {
        let a = parse_source("a.yaml", "receivers: {r: {x: 1}}\nexporters: {e: {}}").unwrap();
        let b = parse_source("b.yaml", "receivers: {r: {y: 2}}").unwrap();
        let loaded = assemble(vec![a, b], &["exporters.e.z=3".into()], &SystemLookup).unwrap();
        assert_eq!(loaded.file_of("receivers::r::y"), Some("b.yaml"));
        assert_eq!(loaded.file_of("receivers::r::x"), Some("a.yaml"));
        assert_eq!(loaded.file_of("exporters::e::z"), Some("--set"));
        assert_eq!(loaded.doc["receivers"]["r"]["x"], Value::Number(1.into()));
        assert_eq!(loaded.doc["exporters"]["e"]["z"], Value::Number(3.into()));
    }

    #[test]
    fn refuses_non_mapping_documents() {
        assert!(parse_source("x.yaml", "- a\n- b").is_err());
        assert!(parse_source("x.yaml", "a: [").is_err());
        assert!(parse_source("x.yaml", "").unwrap().doc.is_mapping());
    }
}
