//! The README's examples stay true: every YAML block is a valid config, and
//! the endpoint list it prints is what the minimal example scrapes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use profcol_config::ComponentId;
use profcol_pdata::Labels;
use profcol_receiver::config::{ScrapeConfig, Settings};
use profcol_receiver::targets::expand;
use profcol_receiver::RECEIVERS;

const README: &str = include_str!("../README.md");

fn blocks(lang: &str) -> Vec<String> {
    let fence = format!("```{lang}\n");
    README
        .split(fence.as_str())
        .skip(1)
        .map(|rest| rest.split("```").next().unwrap().to_string())
        .collect()
}

/// A document's sections, each a map of component ids to their bodies.
type Document =
    std::collections::BTreeMap<String, std::collections::BTreeMap<String, profcol_config::Body>>;

#[test]
fn every_yaml_example_is_valid() {
    let yamls = blocks("yaml");
    assert!(yamls.len() >= 10, "found {} YAML blocks", yamls.len());
    for y in yamls {
        let doc: Document = profcol_config::yaml::from_str(&y).unwrap();
        let receivers = doc.get("receivers").expect("a receivers: section");
        for (id, body) in receivers {
            let id: ComponentId = id.parse().unwrap();
            let path = format!("receivers::{id}");
            if let Err(problems) = RECEIVERS.decode(&id, body, &path) {
                panic!("{id}: {problems:?}\n{y}");
            }
        }
    }
}

#[test]
fn the_printed_endpoints_are_the_minimal_examples() {
    let first = &blocks("yaml")[0];
    let doc: Document = profcol_config::yaml::from_str(first).unwrap();
    let body = &doc["receivers"]["pyroscope_scrape/local"];
    let cfg: ScrapeConfig = profcol_config::decode(body, "r").unwrap();
    let settings = Settings::new("pyroscope_scrape/local", &cfg);
    let got: Vec<String> = cfg
        .targets
        .unwrap()
        .iter()
        .flat_map(|t| expand(&settings, &t.iter().collect::<Labels>()).unwrap())
        .map(|j| j.url.to_string())
        .collect();
    let printed: Vec<String> = blocks("text")[0].lines().map(str::to_string).collect();
    assert_eq!(got, printed);
}
