//! `sending_queue.storage: file_storage[/name]` — the Collector's way to
//! put an exporter's queue on disk — resolved before exporters decode their
//! bodies: the reference is replaced by the inline form the exporter crate
//! knows, `storage: {directory: <the extension's directory>}`, so the
//! exporter never needs to know about extensions, a reload that moves the
//! extension's directory restarts the exporters that use it (their bodies
//! changed), and the queue lands in `<directory>/<exporter id>` either way.
//!
//! A reference must name a `file_storage` extension that is defined under
//! `extensions` and listed in `service.extensions` (the Collector's rule);
//! otherwise the problem names the exporter's key path and lists the
//! storage extensions that are defined.
//!
//! This is the one place that edits a component's body before its factory
//! decodes it, so it works on the body's YAML document.

use super::file_storage::FileStorageConfig;
use profcol_config::yaml::{self, Value};
use profcol_config::{join_path, Body, CollectorConfig, ComponentId, Kind, Problem};

/// Replaces every `sending_queue.storage` reference in `cfg`'s exporters
/// with the inline form; a bad reference is a problem, and its `storage`
/// key is removed so that the exporter's own check does not report it
/// again.
pub fn resolve(cfg: &mut CollectorConfig, problems: &mut Vec<Problem>) {
    let defined: Vec<ComponentId> = cfg
        .section(Kind::Extension)
        .map(|(id, _)| id.clone())
        .filter(|id| id.kind() == "file_storage")
        .collect();
    let listed = cfg.service.extensions.clone();
    let extensions: Vec<(ComponentId, Body)> = cfg
        .section(Kind::Extension)
        .map(|(id, body)| (id.clone(), body.clone()))
        .collect();
    let Some(exporters) = cfg.components.get_mut(&Kind::Exporter) else {
        return;
    };
    for (id, body) in exporters.iter_mut() {
        // A body always converts to its document and back.
        let Ok(mut doc) = yaml::to_value(&*body) else {
            continue;
        };
        let Some(queue) = doc.get_mut("sending_queue").and_then(Value::as_mapping_mut) else {
            continue;
        };
        let key = Value::from("storage");
        let Some(Value::String(reference)) = queue.get(&key).cloned() else {
            continue;
        };
        let path = format!("exporters::{id}::sending_queue::storage");
        let resolved = directory_of(&reference, &defined, &listed, &extensions, &path);
        match resolved {
            Ok(Some(directory)) => {
                let mut inline = yaml::Mapping::new();
                inline.insert(Value::from("directory"), Value::from(directory));
                queue.insert(key, Value::Mapping(inline));
            }
            // The extension's own check reports why its config is bad.
            Ok(None) => {
                queue.remove(&key);
            }
            Err(p) => {
                problems.push(p);
                queue.remove(&key);
            }
        }
        if let Ok(edited) = yaml::from_value(doc) {
            *body = edited;
        }
    }
}

fn directory_of(
    reference: &str,
    defined: &[ComponentId],
    listed: &[ComponentId],
    extensions: &[(ComponentId, Body)],
    path: &str,
) -> Result<Option<String>, Problem> {
    let known = || {
        if defined.is_empty() {
            "no file_storage extension is defined".to_string()
        } else {
            let names: Vec<String> = defined.iter().map(ToString::to_string).collect();
            format!("defined storage extensions: {}", names.join(", "))
        }
    };
    let id: ComponentId = reference
        .parse()
        .map_err(|e| Problem::new(path, format!("{e} ({})", known())))?;
    if id.kind() != "file_storage" {
        return Err(Problem::new(
            path,
            format!(
                "{id} is not a storage extension: profcol's is file_storage ({})",
                known()
            ),
        ));
    }
    let Some((_, body)) = extensions.iter().find(|(e, _)| *e == id) else {
        return Err(Problem::new(
            path,
            format!(
                "extension {id} is not defined under extensions ({})",
                known()
            ),
        ));
    };
    if !listed.contains(&id) {
        return Err(Problem::new(
            path,
            format!(
                "extension {id} is not listed in service::extensions, so it is not started ({})",
                known()
            ),
        ));
    }
    let ext_path = join_path("extensions", &id.to_string());
    Ok(profcol_config::decode::<FileStorageConfig>(body, &ext_path)
        .ok()
        .map(|c| c.directory))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolved(yaml: &str) -> (CollectorConfig, Vec<String>) {
        let doc: Value = profcol_config::yaml::from_str(yaml).unwrap();
        let (mut cfg, _) = profcol_config::collector::parse_collector_partial(&doc);
        let mut problems = Vec::new();
        resolve(&mut cfg, &mut problems);
        (cfg, problems.iter().map(ToString::to_string).collect())
    }

    const PIPELINE: &str = "receivers: {r: {}}\nservice:\n  pipelines: {profiles: {receivers: [r], exporters: [otlp_http]}}\n";

    fn storage_of(cfg: &CollectorConfig, id: &str) -> Option<Value> {
        let body = cfg.get(Kind::Exporter, &id.parse().unwrap())?;
        yaml::to_value(body)
            .unwrap()
            .get("sending_queue")?
            .get("storage")
            .cloned()
    }

    #[test]
    fn a_reference_becomes_the_extension_s_directory() {
        let (cfg, problems) = resolved(&format!(
            "{PIPELINE}  extensions: [file_storage/q]\nextensions: {{file_storage/q: {{directory: /var/q}}}}\nexporters:\n  otlp_http: {{endpoint: 'http://h:1', sending_queue: {{storage: file_storage/q}}}}\n  otlp_http/inline: {{endpoint: 'http://h:1', sending_queue: {{storage: {{directory: /x}}}}}}\n"
        ));
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(
            storage_of(&cfg, "otlp_http"),
            Some(profcol_config::yaml::from_str("{directory: /var/q}").unwrap())
        );
        assert_eq!(
            storage_of(&cfg, "otlp_http/inline"),
            Some(profcol_config::yaml::from_str("{directory: /x}").unwrap())
        );
        // The default directory when the extension sets none.
        let (cfg, _) = resolved(&format!(
            "{PIPELINE}  extensions: [file_storage]\nextensions: {{file_storage: }}\nexporters:\n  otlp_http: {{sending_queue: {{storage: file_storage}}}}\n"
        ));
        assert_eq!(
            storage_of(&cfg, "otlp_http"),
            Some(
                profcol_config::yaml::from_str("{directory: /var/lib/profcol/file_storage}")
                    .unwrap()
            )
        );
    }

    #[test]
    fn bad_references_name_the_exporter_and_the_defined_extensions() {
        let base = |listed: &str, reference: &str| {
            resolved(&format!(
                "{PIPELINE}  extensions: [{listed}]\nextensions: {{file_storage/a: {{directory: /a}}, file_storage/b: {{directory: /b}}, health_check: }}\nexporters:\n  otlp_http: {{sending_queue: {{storage: {reference}}}}}\n"
            ))
        };
        let (cfg, problems) = base("file_storage/a", "file_storage/c");
        assert_eq!(
            problems,
            ["exporters::otlp_http::sending_queue::storage: extension file_storage/c is not defined under extensions (defined storage extensions: file_storage/a, file_storage/b)"]
        );
        assert_eq!(storage_of(&cfg, "otlp_http"), None);
        assert_eq!(
            base("file_storage/a", "file_storage/b").1,
            ["exporters::otlp_http::sending_queue::storage: extension file_storage/b is not listed in service::extensions, so it is not started (defined storage extensions: file_storage/a, file_storage/b)"]
        );
        assert_eq!(
            base("health_check", "health_check").1,
            ["exporters::otlp_http::sending_queue::storage: health_check is not a storage extension: profcol's is file_storage (defined storage extensions: file_storage/a, file_storage/b)"]
        );
        let (_, none) = resolved(&format!(
            "{PIPELINE}exporters:\n  otlp_http: {{sending_queue: {{storage: file_storage}}}}\n"
        ));
        assert_eq!(
            none,
            ["exporters::otlp_http::sending_queue::storage: extension file_storage is not defined under extensions (no file_storage extension is defined)"]
        );
    }
}
