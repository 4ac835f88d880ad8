//! The labels of a pushed series: the checks every series passes (names
//! `[A-Za-z0-9_.]`, no duplicates, the count and length caps, each refusal
//! naming its key), the labels `/ingest` derives from its query, and the
//! tenant from `X-Scope-OrgID`.

use super::config::LabelLimits;
use profcol_pdata::ingest::name::{clip, valid_label_name, AppName};
use profcol_pdata::Labels;

/// The header that names the tenant.
pub const TENANT_HEADER: &str = "X-Scope-OrgID";
/// dskit's cap on a tenant id.
pub const MAX_TENANT_ID_LENGTH: usize = 150;
/// The label Pyroscope's SDK-facing paths add with the `spyName`.
pub const SPY_LABEL: &str = "pyroscope_spy";
/// Added by Pyroscope to text profiles that carry their own `service_name`.
pub const APP_NAME_LABEL: &str = "app_name";
/// The one `__`-prefixed label Pyroscope keeps from `/ingest` names.
pub const SESSION_ID_LABEL: &str = "__session_id__";

/// Whether Pyroscope keeps a label of an `/ingest` name: not `__`-prefixed,
/// or the session id.
pub fn allowed_from_name(name: &str) -> bool {
    !name.starts_with(Labels::RESERVED_PREFIX) || name == SESSION_ID_LABEL
}

/// Checks a tenant id the way dskit does: 1 to 150 of
/// `[A-Za-z0-9!-_.*'()]`, not `.` or `..`.
pub fn check_tenant(id: &str) -> Result<(), String> {
    if id.len() > MAX_TENANT_ID_LENGTH {
        return Err(format!(
            "the {TENANT_HEADER} header is {} bytes long, more than {MAX_TENANT_ID_LENGTH}",
            id.len()
        ));
    }
    if id == "." || id == ".." {
        return Err(format!("the {TENANT_HEADER} header may not be {id:?}"));
    }
    let ok = |c: char| c.is_ascii_alphanumeric() || "!-_.*'()".contains(c);
    if let Some(c) = id.chars().find(|&c| !ok(c)) {
        return Err(format!(
            "the {TENANT_HEADER} header may not contain {c:?} (allowed: letters, digits and !-_.*'())"
        ));
    }
    Ok(())
}

/// Checks one series' label pairs as sent (push API): valid and unique
/// names. The caps are [`check_limits`]'s.
pub fn check_names<'a>(pairs: impl IntoIterator<Item = &'a str>) -> Result<(), String> {
    let mut names: Vec<&str> = Vec::new();
    for name in pairs {
        if !valid_label_name(name) {
            return Err(format!(
                "invalid label name {:?} (allowed: letters, digits, '_', '.')",
                clip(name)
            ));
        }
        names.push(name);
    }
    names.sort_unstable();
    if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
        return Err(format!("duplicate label name {:?}", clip(w[0])));
    }
    Ok(())
}

/// Checks a series' final labels against the caps (0: no limit). The
/// tenant label is not a label of the series and is not counted; a value
/// over its cap is never quoted.
pub fn check_limits(labels: &Labels, limits: &LabelLimits) -> Result<(), String> {
    let count = labels
        .iter()
        .filter(|(k, _)| *k != Labels::TENANT_ID)
        .count();
    if limits.max_names > 0 && count > limits.max_names {
        return Err(format!(
            "the series has {count} labels, more than max_label_names_per_series ({})",
            limits.max_names
        ));
    }
    for (k, v) in labels.iter() {
        if k == Labels::TENANT_ID {
            continue;
        }
        if limits.max_name_length > 0 && k.len() > limits.max_name_length {
            return Err(format!(
                "label name {:?} is {} bytes long, more than max_label_name_length ({})",
                clip(k),
                k.len(),
                limits.max_name_length
            ));
        }
        if limits.max_value_length > 0 && v.len() > limits.max_value_length {
            return Err(format!(
                "the value of label {:?} is {} bytes long, more than max_label_value_length ({})",
                clip(k),
                v.len(),
                limits.max_value_length
            ));
        }
    }
    Ok(())
}

/// What `/ingest` knows about one request's series.
#[derive(Debug, Clone, Copy)]
pub struct IngestSeries<'a> {
    pub name: &'a AppName,
    /// `__name__`.
    pub metric: &'a str,
    /// The service name: the application name (pprof), or the application
    /// name without its type suffix (text formats).
    pub service: &'a str,
    pub spy_name: &'a str,
    /// Text formats also add `app_name` when the name carries its own
    /// `service_name`.
    pub text: bool,
}

/// The labels of an `/ingest` series, as Pyroscope builds them: the name's
/// labels (but `__`-prefixed ones other than `__session_id__`), `__name__`,
/// `__delta__="false"`, `pyroscope_spy`, and `service_name` (the
/// application name) unless the name carries one.
pub fn ingest_labels(s: IngestSeries<'_>) -> Labels {
    let mut labels = Labels::new();
    for (k, v) in &s.name.labels {
        if allowed_from_name(k) {
            labels.set(k.as_str(), v.as_str());
        }
    }
    labels.set(Labels::NAME, s.metric);
    labels.set(Labels::DELTA, "false");
    if !s.spy_name.is_empty() {
        labels.set(SPY_LABEL, s.spy_name);
    }
    if labels.get(Labels::SERVICE_NAME).is_none() {
        labels.set(Labels::SERVICE_NAME, s.service);
    } else if s.text && labels.get(APP_NAME_LABEL).is_none() {
        labels.set(APP_NAME_LABEL, s.service);
    }
    labels
}

/// Adds the tenant (`__tenant_id__`), when one was named.
pub fn with_tenant(mut labels: Labels, tenant: Option<&str>) -> Labels {
    labels.remove(Labels::TENANT_ID);
    if let Some(t) = tenant {
        labels.set(Labels::TENANT_ID, t);
    }
    labels
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(n: usize, name: usize, value: usize) -> LabelLimits {
        LabelLimits {
            max_names: n,
            max_name_length: name,
            max_value_length: value,
        }
    }

    #[test]
    fn ingest_labels_like_pyroscope() {
        let name = profcol_pdata::ingest::name::parse(
            "app.cpu{__session_id__=s1,__tenant_id__=evil,__x=y,env=prod}",
        )
        .unwrap();
        let l = ingest_labels(IngestSeries {
            name: &name,
            metric: "process_cpu",
            service: "app",
            spy_name: "gospy",
            text: true,
        });
        assert_eq!(
            l.to_string(),
            r#"{__delta__="false", __name__="process_cpu", __session_id__="s1", env="prod", pyroscope_spy="gospy", service_name="app"}"#
        );
        let name = profcol_pdata::ingest::name::parse("app.cpu{service_name=svc}").unwrap();
        let mut s = IngestSeries {
            name: &name,
            metric: "process_cpu",
            service: "app",
            spy_name: "",
            text: true,
        };
        let l = ingest_labels(s);
        assert_eq!(
            (l.get("service_name"), l.get("app_name")),
            (Some("svc"), Some("app"))
        );
        assert_eq!(l.get(SPY_LABEL), None);
        s.text = false;
        assert_eq!(ingest_labels(s).get("app_name"), None);
        let l = with_tenant(l, Some("team-a"));
        assert_eq!(l.get(Labels::TENANT_ID), Some("team-a"));
        assert_eq!(with_tenant(l, None).get(Labels::TENANT_ID), None);
    }

    #[test]
    fn limits_name_their_key() {
        let l = Labels::from_pairs([("a", "1"), ("b", "22"), (Labels::TENANT_ID, "t")]);
        assert!(check_limits(&l, &limits(2, 1, 2)).is_ok());
        assert!(check_limits(&l, &limits(0, 0, 0)).is_ok());
        let e = check_limits(&l, &limits(1, 0, 0)).unwrap_err();
        assert_eq!(
            e,
            "the series has 2 labels, more than max_label_names_per_series (1)"
        );
        let long = Labels::from_pairs([("abc", "1")]);
        let e = check_limits(&long, &limits(0, 2, 0)).unwrap_err();
        assert_eq!(
            e,
            "label name \"abc\" is 3 bytes long, more than max_label_name_length (2)"
        );
        let e = check_limits(&l, &limits(0, 0, 1)).unwrap_err();
        assert_eq!(
            e,
            "the value of label \"b\" is 2 bytes long, more than max_label_value_length (1)"
        );
    }

    #[test]
    fn names_and_tenants() {
        assert!(check_names(["__name__", "service_name", "a.b"]).is_ok());
        assert!(check_names(["a-b"])
            .unwrap_err()
            .contains("invalid label name \"a-b\""));
        assert!(check_names([""]).is_err());
        assert_eq!(
            check_names(["a", "b", "a"]).unwrap_err(),
            "duplicate label name \"a\""
        );
        assert!(check_tenant("team-a_1.(x)").is_ok());
        assert!(check_tenant("a/b").unwrap_err().contains("'/'"));
        assert!(check_tenant("..").is_err());
        assert!(check_tenant(&"t".repeat(151))
            .unwrap_err()
            .contains("151 bytes"));
    }
}
