//! `--config` values: a plain path, or a URI in the OpenTelemetry
//! Collector's forms — `file:PATH`, `env:VAR` (the variable holds YAML;
//! `env:VAR:-DEFAULT` for a default) and `yaml:DOC` (inline YAML whose keys
//! may use `::` to nest, `yaml:exporters::debug::verbosity: detailed`).
//!
//! A value is a URI when it starts with a scheme (`[A-Za-z][A-Za-z0-9+.-]+`,
//! two characters at least, so that `C:\…` stays a path) and a colon, as in
//! the Collector's resolver; any other value is a path. Each source keeps
//! the value as its name, so that problems name the URI they came from.
//! [`ConfigUri::watched_path`] says which sources a file watcher can watch.

use crate::error::Error;
use crate::expand::{key_name, Lookup};
use crate::load::{parse_source, Source};
use crate::merge::deep_merge;
use crate::yaml::Value;

/// One parsed `--config` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigUri {
    /// A plain path or `file:PATH`.
    File { path: String },
    /// `env:NAME` or `env:NAME:-DEFAULT`.
    Env {
        name: String,
        default: Option<String>,
    },
    /// `yaml:DOC`.
    Yaml { doc: String },
}

/// The schemes profcol reads, for messages.
pub const SCHEMES: &str = "file:, env: and yaml:";

impl ConfigUri {
    /// Parses one `--config` value; an unknown scheme is an error naming it.
    pub fn parse(arg: &str) -> Result<Self, Error> {
        let Some((scheme, rest)) = split_scheme(arg) else {
            return Ok(Self::File {
                path: arg.to_string(),
            });
        };
        match scheme {
            "file" => Ok(Self::File {
                path: rest.to_string(),
            }),
            "env" => {
                let (name, default) = match rest.split_once(":-") {
                    Some((n, d)) => (n, Some(d.to_string())),
                    None => (rest, None),
                };
                if !valid_env_name(name) {
                    return Err(bad(
                        arg,
                        format!("{name:?} is not an environment variable name (letters, digits and '_', not starting with a digit)"),
                    ));
                }
                Ok(Self::Env {
                    name: name.to_string(),
                    default,
                })
            }
            "yaml" => Ok(Self::Yaml {
                doc: rest.to_string(),
            }),
            other => Err(bad(
                arg,
                format!("unsupported scheme {other:?} (profcol reads {SCHEMES}, or a plain path)"),
            )),
        }
    }

    /// The file a watcher can poll for this source: `file:` and plain paths.
    pub fn watched_path(&self) -> Option<&str> {
        match self {
            Self::File { path } => Some(path),
            _ => None,
        }
    }

    /// Reads the source; `arg` is the value as given, which names it.
    pub fn read(&self, arg: &str, lookup: &dyn Lookup) -> Result<Source, Error> {
        match self {
            Self::File { path } => {
                let text = std::fs::read_to_string(path).map_err(|cause| Error::Read {
                    path: arg.to_string(),
                    cause,
                })?;
                parse_source(arg, &text)
            }
            Self::Env { name, default } => {
                let text = match (lookup.env(name), default) {
                    (Some(v), _) => v,
                    (None, Some(d)) => d.clone(),
                    (None, None) => {
                        return Err(bad(
                            arg,
                            format!("environment variable {name} is not set (write env:{name}:- for an empty default)"),
                        ))
                    }
                };
                let mut source = parse_source(arg, &text)?;
                source.doc = unflatten(source.doc);
                Ok(source)
            }
            Self::Yaml { doc } => {
                let mut source = parse_source(arg, doc)?;
                source.doc = unflatten(source.doc);
                Ok(source)
            }
        }
    }
}

fn bad(arg: &str, reason: String) -> Error {
    Error::Uri {
        uri: arg.to_string(),
        reason,
    }
}

/// `(scheme, rest)` when `arg` starts with a scheme of two or more
/// characters and a colon.
fn split_scheme(arg: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = arg.split_once(':')?;
    let mut chars = scheme.chars();
    let first = chars.next()?;
    let valid = first.is_ascii_alphabetic()
        && scheme.len() >= 2
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '.' | '-'));
    valid.then_some((scheme, rest))
}

fn valid_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Splits every mapping key that contains `::` into nested mappings, at
/// every level, merging with what is already there (the Collector's key
/// delimiter).
pub fn unflatten(doc: Value) -> Value {
    match doc {
        Value::Mapping(m) => {
            let mut out = Value::Mapping(Default::default());
            for (k, v) in m {
                let v = unflatten(v);
                let key = key_name(&k);
                let nested = if key.contains("::") {
                    key.split("::")
                        .collect::<Vec<_>>()
                        .into_iter()
                        .rev()
                        .fold(v, |inner, seg| {
                            let mut m = crate::yaml::Mapping::new();
                            m.insert(Value::String(seg.to_string()), inner);
                            Value::Mapping(m)
                        })
                } else {
                    let mut m = crate::yaml::Mapping::new();
                    m.insert(k, v);
                    Value::Mapping(m)
                };
                deep_merge(&mut out, nested);
            }
            out
        }
        Value::Sequence(s) => Value::Sequence(s.into_iter().map(unflatten).collect()),
        other => other,
    }
}

/// Reads every `--config` value in order.
pub fn read_all(args: &[String], lookup: &dyn Lookup) -> Result<Vec<Source>, Error> {
    args.iter()
        .map(|a| ConfigUri::parse(a)?.read(a, lookup))
        .collect()
}

/// The files among `args` that a watcher can poll (unparsable values are
/// left out: loading reports them).
pub fn watched_files(args: &[String]) -> Vec<String> {
    args.iter()
        .filter_map(|a| ConfigUri::parse(a).ok()?.watched_path().map(str::to_string))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct Env(HashMap<&'static str, &'static str>);
    impl Lookup for Env {
        fn env(&self, name: &str) -> Option<String> {
            self.0.get(name).map(|v| v.to_string())
        }
        fn file(&self, _: &str) -> Result<String, String> {
            Err("no files".into())
        }
    }

    fn env(pairs: &[(&'static str, &'static str)]) -> Env {
        Env(pairs.iter().copied().collect())
    }

    fn yaml(text: &str) -> Value {
        crate::yaml::from_str(text).unwrap()
    }

    #[test]
    fn plain_paths_and_file_uris_are_files() {
        for (arg, path) in [
            ("config.yaml", "config.yaml"),
            ("/etc/profcol/a:b.yaml", "/etc/profcol/a:b.yaml"),
            ("C:\\profcol\\c.yaml", "C:\\profcol\\c.yaml"),
            ("file:/etc/p.yaml", "/etc/p.yaml"),
            ("file:rel/p.yaml", "rel/p.yaml"),
        ] {
            assert_eq!(
                ConfigUri::parse(arg).unwrap(),
                ConfigUri::File { path: path.into() },
                "{arg}"
            );
        }
        assert_eq!(
            watched_files(&[
                "a.yaml".into(),
                "file:b.yaml".into(),
                "env:X".into(),
                "yaml:a: 1".into(),
                "http://x".into()
            ]),
            ["a.yaml", "b.yaml"]
        );
    }

    #[test]
    fn a_file_uri_is_read_and_named_as_given() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.yaml");
        std::fs::write(&path, "exporters: {debug: {}}\n").unwrap();
        let arg = format!("file:{}", path.display());
        let got = read_all(std::slice::from_ref(&arg), &env(&[])).unwrap();
        assert_eq!(got[0].name, arg);
        assert_eq!(got[0].doc, yaml("exporters: {debug: {}}"));
        let missing = format!("file:{}", dir.path().join("nope.yaml").display());
        let err = read_all(std::slice::from_ref(&missing), &env(&[])).unwrap_err();
        assert!(
            err.to_string()
                .starts_with(&format!("cannot read config file {missing}: ")),
            "{err}"
        );
    }

    #[test]
    fn env_uris_read_yaml_from_the_variable() {
        let lookup = env(&[(
            "PROFCOL_CFG",
            "exporters:\n  debug: {verbosity: detailed}\n",
        )]);
        let got = read_all(&["env:PROFCOL_CFG".into()], &lookup).unwrap();
        assert_eq!(got[0].name, "env:PROFCOL_CFG");
        assert_eq!(
            got[0].doc,
            yaml("exporters: {debug: {verbosity: detailed}}")
        );
        let defaulted = read_all(&["env:UNSET:-{exporters: {debug: }}".into()], &lookup).unwrap();
        assert_eq!(defaulted[0].doc, yaml("exporters: {debug: }"));
        let empty = read_all(&["env:UNSET:-".into()], &lookup).unwrap();
        assert_eq!(empty[0].doc, yaml("{}"));
        let err = read_all(&["env:UNSET".into()], &lookup).unwrap_err();
        assert_eq!(
            err.to_string(),
            "--config env:UNSET: environment variable UNSET is not set (write env:UNSET:- for an empty default)"
        );
        let err = ConfigUri::parse("env:1BAD").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("--config env:1BAD: \"1BAD\" is not an environment variable name"),
            "{err}"
        );
        let not_a_map = read_all(&["env:LIST".into()], &env(&[("LIST", "- a")])).unwrap_err();
        assert_eq!(
            not_a_map.to_string(),
            "env:LIST: not valid YAML: the top level must be a mapping"
        );
    }

    #[test]
    fn yaml_uris_take_the_collector_s_inline_form() {
        let got = read_all(
            &["yaml:exporters::otlp_http/foo::sending_queue::queue_size: 5".into()],
            &env(&[]),
        )
        .unwrap();
        assert_eq!(
            got[0].doc,
            yaml("exporters: {otlp_http/foo: {sending_queue: {queue_size: 5}}}")
        );
        assert_eq!(
            got[0].name,
            "yaml:exporters::otlp_http/foo::sending_queue::queue_size: 5"
        );
        // A flow mapping, and a flat key beside a nested one, merge.
        let got = read_all(
            &["yaml:{exporters::debug::verbosity: detailed, exporters: {debug: {sampling_initial: 3}}}".into()],
            &env(&[]),
        )
        .unwrap();
        assert_eq!(
            got[0].doc,
            yaml("exporters: {debug: {verbosity: detailed, sampling_initial: 3}}")
        );
        let err = read_all(&["yaml:a: [".into()], &env(&[])).unwrap_err();
        assert!(
            err.to_string().starts_with("yaml:a: [: not valid YAML: "),
            "{err}"
        );
        let err = read_all(&["yaml:just text".into()], &env(&[])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "yaml:just text: not valid YAML: the top level must be a mapping"
        );
    }

    #[test]
    fn unknown_schemes_are_refused_by_name() {
        let err = ConfigUri::parse("https://example.com/c.yaml").unwrap_err();
        assert_eq!(
            err.to_string(),
            "--config https://example.com/c.yaml: unsupported scheme \"https\" (profcol reads file:, env: and yaml:, or a plain path)"
        );
    }
}
