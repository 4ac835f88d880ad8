//! The `network_*` labels of every network the daemon knows, keyed by
//! network id: `<prefix>network_id`, `_name`, `_scope`, `_internal`,
//! `_ingress` and `_label_<name>`. `docker_sd_configs` uses the prefix
//! `__meta_docker_`, `dockerswarm_sd_configs` `__meta_dockerswarm_`.

use super::sanitize_label_name;
use bollard::models::Network;
use std::collections::HashMap;

/// Label pairs per network id.
pub(crate) type NetworkLabels = HashMap<String, Vec<(String, String)>>;

/// The labels of each network in `networks`; networks without an id are
/// skipped (no target can refer to them).
pub(crate) fn network_labels(networks: &[Network], prefix: &str) -> NetworkLabels {
    let mut out = NetworkLabels::with_capacity(networks.len());
    for n in networks {
        let Some(id) = n.id.as_deref().filter(|id| !id.is_empty()) else {
            continue;
        };
        let mut labels = vec![
            (format!("{prefix}network_id"), id.to_string()),
            (
                format!("{prefix}network_name"),
                n.name.clone().unwrap_or_default(),
            ),
            (
                format!("{prefix}network_scope"),
                n.scope.clone().unwrap_or_default(),
            ),
            (
                format!("{prefix}network_internal"),
                n.internal.unwrap_or(false).to_string(),
            ),
            (
                format!("{prefix}network_ingress"),
                n.ingress.unwrap_or(false).to_string(),
            ),
        ];
        for (k, v) in n.labels.iter().flatten() {
            labels.push((
                format!("{prefix}network_label_{}", sanitize_label_name(k)),
                v.clone(),
            ));
        }
        out.insert(id.to_string(), labels);
    }
    out
}
