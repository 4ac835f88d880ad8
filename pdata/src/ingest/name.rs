//! The `name` query parameter of `/ingest`: an application name, then
//! optionally its labels in braces, e.g. `checkout.cpu{env=prod,region=eu}`
//! (`{` `}` `,` `=` URL-encoded by the sender).
//!
//! The grammar, as the Pyroscope SDKs write it and Pyroscope reads it:
//! - the application name is the text before `{`, trimmed; it is required
//!   and uses `[A-Za-z0-9_./-]`;
//! - the labels are `key=value` pairs separated by `,` up to the first `}`;
//!   keys and values are trimmed; keys use `[A-Za-z0-9_.]`; a value is
//!   everything up to the next `,` or `}` (there is no escaping, so a value
//!   holds neither); an empty value means no label; a repeated key keeps the
//!   last value; empty items (`{a=1,}`) are ignored;
//! - a `__name__` key replaces the application name (Pyroscope keeps both in
//!   one map).
//!
//! Stricter than Pyroscope, which ignores them: an unclosed `{`, an item
//! without `=`, and text after the `}` are errors.

use std::fmt;

/// A parsed `name`: the application name and its labels (in the order
/// first seen, each key once).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppName {
    pub app: String,
    pub labels: Vec<(String, String)>,
}

/// Why a `name` does not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameError {
    /// No application name before the labels.
    Empty,
    /// A character the application name may not use.
    BadAppChar(char),
    /// `{` without its `}`.
    Unclosed,
    /// Something other than whitespace after the `}`.
    TrailingText,
    /// A label item without `=`.
    NoValue(String),
    /// A label key that is empty or uses a character outside `[A-Za-z0-9_.]`.
    BadKey(String),
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NameError::Empty => f.write_str("the application name is empty"),
            NameError::BadAppChar(c) => write!(
                f,
                "the application name may not contain {c:?} (allowed: letters, digits, '_', '.', '/', '-')"
            ),
            NameError::Unclosed => f.write_str("the labels' '{' is not closed by '}'"),
            NameError::TrailingText => f.write_str("text follows the labels' closing '}'"),
            NameError::NoValue(item) => {
                write!(f, "label item {:?} has no '=' (expected key=value)", clip(item))
            }
            NameError::BadKey(key) => write!(
                f,
                "invalid label name {:?} (allowed: letters, digits, '_', '.')",
                clip(key)
            ),
        }
    }
}

impl std::error::Error for NameError {}

/// At most 64 characters of `s`, for messages.
pub fn clip(s: &str) -> String {
    const MAX: usize = 64;
    if s.chars().count() <= MAX {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(MAX).collect();
        out.push('…');
        out
    }
}

/// `[A-Za-z0-9_.]`: a character a label name may use.
pub fn label_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '.'
}

/// A non-empty `[A-Za-z0-9_.]+`.
pub fn valid_label_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(label_name_char)
}

fn app_name_char(c: char) -> bool {
    label_name_char(c) || c == '-' || c == '/'
}

fn check_app(app: &str) -> Result<(), NameError> {
    if app.is_empty() {
        return Err(NameError::Empty);
    }
    match app.chars().find(|&c| !app_name_char(c)) {
        Some(c) => Err(NameError::BadAppChar(c)),
        None => Ok(()),
    }
}

/// Parses a `name` parameter.
pub fn parse(name: &str) -> Result<AppName, NameError> {
    let (app, rest) = match name.split_once('{') {
        Some((app, rest)) => (app.trim(), Some(rest)),
        None => (name.trim(), None),
    };
    let mut out = AppName {
        app: app.to_string(),
        labels: Vec::new(),
    };
    if let Some(rest) = rest {
        let (inside, after) = rest.split_once('}').ok_or(NameError::Unclosed)?;
        if !after.trim().is_empty() {
            return Err(NameError::TrailingText);
        }
        for item in inside.split(',') {
            if item.trim().is_empty() {
                continue;
            }
            let (key, value) = item
                .split_once('=')
                .ok_or_else(|| NameError::NoValue(item.trim().to_string()))?;
            let (key, value) = (key.trim(), value.trim());
            if !valid_label_name(key) {
                return Err(NameError::BadKey(key.to_string()));
            }
            if key == "__name__" {
                out.app = value.to_string();
                continue;
            }
            match out.labels.iter_mut().find(|(k, _)| k == key) {
                Some(slot) => slot.1 = value.to_string(),
                None => out.labels.push((key.to_string(), value.to_string())),
            }
        }
        out.labels.retain(|(_, v)| !v.is_empty());
    }
    check_app(&out.app)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn what_the_sdks_send() {
        // pyroscope-go: the short name and every tag, sorted, no spaces.
        let n = parse("my-app{__session_id__=5d2c,otel.scope.name=com.grafana.pyroscope/go,process.runtime.name=go,region=eu}").unwrap();
        assert_eq!(n.app, "my-app");
        assert_eq!(
            n.labels,
            labels(&[
                ("__session_id__", "5d2c"),
                ("otel.scope.name", "com.grafana.pyroscope/go"),
                ("process.runtime.name", "go"),
                ("region", "eu"),
            ])
        );
        // Older agents: the profile type as a suffix, no labels at all.
        let n = parse("backend.cpu").unwrap();
        assert_eq!(n.app, "backend.cpu");
        assert!(n.labels.is_empty());
        // Empty braces, spaces, an empty item, a repeated key.
        let n = parse(" svc/api {} ").unwrap();
        assert_eq!((n.app.as_str(), n.labels.len()), ("svc/api", 0));
        let n = parse("a{ x = 1 , ,y=2,x=3,}").unwrap();
        assert_eq!(n.labels, labels(&[("x", "3"), ("y", "2")]));
        // A value may hold '=' and '{'; an empty value is no label.
        let n = parse("a{q=k=v{,e=}").unwrap();
        assert_eq!(n.labels, labels(&[("q", "k=v{")]));
        // __name__ replaces the application name.
        let n = parse("a{__name__=b.cpu,x=1}").unwrap();
        assert_eq!(n.app, "b.cpu");
        assert_eq!(n.labels, labels(&[("x", "1")]));
    }

    #[test]
    fn refusals_say_what_is_wrong() {
        for (name, want) in [
            ("", NameError::Empty),
            ("  {a=b}", NameError::Empty),
            ("my app", NameError::BadAppChar(' ')),
            ("app{a=b", NameError::Unclosed),
            ("app{a=b}x", NameError::TrailingText),
            ("app{a}", NameError::NoValue("a".into())),
            ("app{=1}", NameError::BadKey(String::new())),
            ("app{my-label=1}", NameError::BadKey("my-label".into())),
            ("app{__name__=}", NameError::Empty),
        ] {
            assert_eq!(parse(name), Err(want.clone()), "{name:?}");
        }
        assert_eq!(
            NameError::BadKey("my-label".into()).to_string(),
            "invalid label name \"my-label\" (allowed: letters, digits, '_', '.')"
        );
        assert_eq!(clip(&"x".repeat(100)).chars().count(), 65);
    }
}
