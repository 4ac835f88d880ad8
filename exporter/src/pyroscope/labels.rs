//! The labels a Pyroscope series is pushed with: the record's public labels
//! with `external_labels` laid over them, dots in names sent as
//! underscores, validated the way the Pyroscope ingester validates them,
//! and the tenant taken from `__tenant_id__`.
//!
//! Why underscores: Grafana Pyroscope before 1.19 rewrites dots in label
//! names to underscores itself (`validation.SanitizeLegacyLabelName`) and
//! refuses a push where two names then collide with different values; from
//! 1.19 it stores dotted names as sent (`validation.disable-label-sanitization`
//! defaults to true) but its query path hides every name outside
//! `[a-zA-Z_][a-zA-Z0-9_]*` from clients that do not announce the
//! `allow-utf8-labelnames` capability. Sending `deployment_environment` for
//! a `deployment.environment` label (as Pyroscope's own OTLP ingest names
//! `service.name` `service_name`) is stored and shown the same by every
//! version.

use super::push_proto::LabelPair;
use profcol_pdata::Labels;

/// The label that names the tenant of one series (then sent as the
/// `X-Scope-OrgID` header and not as a label).
pub const TENANT_LABEL: &str = profcol_pdata::Labels::TENANT_ID;

/// `[A-Za-z0-9_.]+`, or `__name__`.
pub fn valid_name(name: &str) -> bool {
    name == Labels::NAME
        || (!name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.'))
}

/// Why a label set cannot be pushed, if it cannot.
pub fn check(pairs: &[LabelPair]) -> Result<(), String> {
    let mut names: Vec<&str> = Vec::with_capacity(pairs.len());
    for p in pairs {
        if !valid_name(&p.name) {
            return Err(format!("invalid label name {:?}", p.name));
        }
        names.push(&p.name);
    }
    names.sort_unstable();
    if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
        return Err(format!("duplicate label name {:?}", w[0]));
    }
    Ok(())
}

/// The series labels and tenant of one record, or why it must be dropped.
pub fn series_labels(
    labels: &Labels,
    external: &Labels,
) -> Result<(Vec<LabelPair>, Option<String>), String> {
    let tenant = labels
        .get(TENANT_LABEL)
        .filter(|t| !t.is_empty())
        .map(str::to_string);
    let mut public = labels.public();
    for (k, v) in external.iter() {
        public.set(k, v);
    }
    let mut pairs: Vec<LabelPair> = Vec::with_capacity(public.len());
    for (k, v) in public.iter().filter(|(_, v)| !v.is_empty()) {
        let name = k.replace('.', "_");
        match pairs.iter().find(|p| p.name == name) {
            // Pyroscope keeps one of two names that meet with one value.
            Some(p) if p.value == v => continue,
            Some(_) => {
                return Err(format!(
                    "label {k:?} is sent as {name:?} (dots become underscores), which another label of that name already has with a different value"
                ))
            }
            None => pairs.push(LabelPair {
                name,
                value: v.to_string(),
            }),
        }
    }
    pairs.sort_by(|a, b| a.name.cmp(&b.name));
    check(&pairs)?;
    Ok((pairs, tenant))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(n: &str, v: &str) -> LabelPair {
        LabelPair {
            name: n.into(),
            value: v.into(),
        }
    }

    #[test]
    fn names_follow_the_ingester_rule() {
        for ok in ["__name__", "service_name", "a.b", "A9_"] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in ["", "a-b", "a b", "ä", "x/y"] {
            assert!(!valid_name(bad), "{bad}");
        }
        assert!(check(&[pair("a", "1"), pair("b", "2"), pair("a", "3")])
            .unwrap_err()
            .contains("duplicate"));
    }

    #[test]
    fn external_labels_override_and_tenant_is_lifted() {
        let rec = Labels::from_pairs([
            ("__name__", "process_cpu"),
            ("__meta_x", "m"),
            (TENANT_LABEL, "team-a"),
            ("env", "dev"),
            ("service_name", "svc"),
            ("empty", ""),
        ]);
        let ext = Labels::from_pairs([("env", "prod"), ("cluster", "c1")]);
        let (pairs, tenant) = series_labels(&rec, &ext).unwrap();
        assert_eq!(tenant.as_deref(), Some("team-a"));
        let got: Vec<(String, String)> = pairs.into_iter().map(|p| (p.name, p.value)).collect();
        let want: Vec<(String, String)> = [
            ("__name__", "process_cpu"),
            ("cluster", "c1"),
            ("env", "prod"),
            ("service_name", "svc"),
        ]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        assert_eq!(got, want);
        let bad = Labels::from_pairs([("my-label", "x")]);
        assert!(series_labels(&bad, &Labels::new())
            .unwrap_err()
            .contains("my-label"));
    }

    #[test]
    fn dots_in_names_are_sent_as_underscores() {
        let rec = Labels::from_pairs([
            ("__name__", "process_cpu"),
            ("deployment.environment", "prod"),
            ("k8s.pod.name", "web-0"),
            ("service_name", "web"),
        ]);
        let (pairs, _) =
            series_labels(&rec, &Labels::from_pairs([("cloud.region", "eu")])).unwrap();
        let names: Vec<&str> = pairs.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "__name__",
                "cloud_region",
                "deployment_environment",
                "k8s_pod_name",
                "service_name"
            ]
        );
        // Two names that meet: one label when the values agree, refused
        // (as Pyroscope refuses it) when they do not.
        let same = Labels::from_pairs([("a.b", "1"), ("a_b", "1"), ("service_name", "s")]);
        assert_eq!(series_labels(&same, &Labels::new()).unwrap().0.len(), 2);
        let clash = Labels::from_pairs([("a.b", "1"), ("a_b", "2")]);
        assert!(series_labels(&clash, &Labels::new())
            .unwrap_err()
            .contains("dots become underscores"));
    }
}
