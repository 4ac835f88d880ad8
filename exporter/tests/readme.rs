//! The README's exporter examples stay valid: every YAML block with an
//! `exporters:` section validates.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use profcol_config::ComponentId;
use profcol_exporter::EXPORTERS;

const README: &str = include_str!("../README.md");

/// The `exporters` section of a README example.
#[derive(serde::Deserialize)]
struct Document {
    exporters: Option<std::collections::BTreeMap<String, profcol_config::Body>>,
}

#[test]
fn every_exporters_example_is_valid() {
    let mut checked = 0;
    for block in README.split("```yaml\n").skip(1) {
        let yaml = block.split("```").next().unwrap();
        let doc: Document = profcol_config::yaml::from_str(yaml).unwrap();
        let Some(exporters) = doc.exporters else {
            continue;
        };
        for (id, body) in &exporters {
            let id: ComponentId = id.parse().unwrap();
            let path = format!("exporters::{id}");
            if let Err(problems) = EXPORTERS.decode(&id, body, &path) {
                panic!("{id}: {problems:?}\n{yaml}");
            }
            checked += 1;
        }
    }
    assert!(checked >= 5, "checked {checked} exporters");
}
