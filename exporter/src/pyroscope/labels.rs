//! The labels a Pyroscope series is pushed with: the record's public labels
//! with `external_labels` laid over them, validated the way the Pyroscope
//! ingester validates them, and the tenant taken from `__tenant_id__`.

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
    let pairs: Vec<LabelPair> = public
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| LabelPair {
            name: k.to_string(),
            value: v.to_string(),
        })
        .collect();
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
}
