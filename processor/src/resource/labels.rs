//! A pprof record's resource attributes are its labels: the public ones
//! without a `__` prefix (what the OTLP writer makes resource attributes
//! of), with the label `service_name` as the attribute `service.name`.
//! [`resource_attrs`] reads them, [`write_resource_attrs`] writes an edited
//! set back. Labels are strings: a value an action made an int, double or
//! bool is written as its text (`42`, `1.5`, `true`), arrays and maps as
//! JSON; `__`-prefixed labels (`__name__`, `__delta__`, `__tenant_id__`) are
//! never seen nor touched, and an attribute whose key starts with `__`
//! cannot become a label and is left out.

use crate::actions::{Attr, Attrs, Value};
use profcol_pdata::otlp::SERVICE_NAME_ATTRIBUTE;
use profcol_pdata::Labels;

fn is_resource_label(name: &str) -> bool {
    !name.starts_with(Labels::RESERVED_PREFIX)
}

/// The record's resource attributes, all strings.
pub(crate) fn resource_attrs(labels: &Labels) -> Attrs {
    let mut attrs = Attrs::default();
    for (k, v) in labels.iter().filter(|(k, _)| is_resource_label(k)) {
        let key = if k == Labels::SERVICE_NAME {
            SERVICE_NAME_ATTRIBUTE
        } else {
            k
        };
        attrs.push(Attr {
            key: key.to_string(),
            value: Value::Str(v.to_string()),
            unit: String::new(),
        });
    }
    attrs
}

/// Replaces the record's resource labels by `attrs`.
pub(crate) fn write_resource_attrs(labels: &mut Labels, attrs: &Attrs) {
    labels.retain(|k, _| !is_resource_label(k));
    for a in &attrs.0 {
        if !is_resource_label(&a.key) {
            continue;
        }
        let name = if a.key == SERVICE_NAME_ATTRIBUTE {
            Labels::SERVICE_NAME
        } else {
            a.key.as_str()
        };
        labels.set(name, a.value.as_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_name_is_service_dot_name_and_internal_labels_stay() {
        let mut labels = Labels::from_pairs([
            ("__name__", "process_cpu"),
            ("__delta__", "false"),
            ("service_name", "api"),
            ("env", "dev"),
        ]);
        let mut attrs = resource_attrs(&labels);
        assert_eq!(attrs.keys().collect::<Vec<_>>(), ["env", "service.name"]);
        attrs.put("service.name", Value::Str("web".into()));
        attrs.put("k8s.pod.name", Value::Str("web-0".into()));
        attrs.put("replicas", Value::Int(3));
        attrs.put("__name__", Value::Str("memory".into()));
        attrs.remove("env");
        write_resource_attrs(&mut labels, &attrs);
        assert_eq!(
            labels.to_string(),
            r#"{__delta__="false", __name__="process_cpu", k8s.pod.name="web-0", replicas="3", service_name="web"}"#
        );
    }
}
