//! Each receiver block's list of valid keys (used in unknown-key messages)
//! against the struct it describes: every listed key is accepted.

use crate::config::{ScrapeConfig, SCRAPE_KEYS};
use crate::discovery::docker::config::{
    DockerSdConfig, DockerSwarmSdConfig, DOCKERSWARM_SD_KEYS, DOCKER_SD_KEYS,
};
use crate::discovery::http_sd::{HttpSdConfig, HTTP_SD_KEYS};
use crate::discovery::kubernetes::config::{KubernetesSdConfig, KUBERNETES_SD_KEYS};
use crate::discovery::target_allocator::{TargetAllocatorConfig, TARGET_ALLOCATOR_KEYS};
use profcol_config::http_client::HTTP_CLIENT_KEYS;
use profcol_config::keys::{key_union, unrecognised_keys};

#[test]
fn every_listed_key_is_accepted() {
    let none: Vec<String> = Vec::new();
    let with_http = |own| key_union(own, HTTP_CLIENT_KEYS);
    assert_eq!(
        unrecognised_keys::<ScrapeConfig>("{targets: []}", &with_http(SCRAPE_KEYS)),
        none
    );
    assert_eq!(
        unrecognised_keys::<HttpSdConfig>("{}", &with_http(HTTP_SD_KEYS)),
        none
    );
    assert_eq!(
        unrecognised_keys::<TargetAllocatorConfig>("{}", &with_http(TARGET_ALLOCATOR_KEYS)),
        none
    );
    assert_eq!(
        unrecognised_keys::<DockerSdConfig>("{}", &with_http(DOCKER_SD_KEYS)),
        none
    );
    assert_eq!(
        unrecognised_keys::<DockerSwarmSdConfig>("{}", &with_http(DOCKERSWARM_SD_KEYS)),
        none
    );
    assert_eq!(
        unrecognised_keys::<KubernetesSdConfig>("{}", &with_http(KUBERNETES_SD_KEYS)),
        none
    );
}

#[test]
fn a_typo_names_the_key_it_meant() {
    let v =
        profcol_config::Body::parse("targets: []\nscrape_intervall: 10s\nhttp_sd_configs: [{url: 'http://h', refresh-interval: 1m}]").unwrap();
    let got: Vec<String> = profcol_config::decode::<ScrapeConfig>(&v, "r")
        .unwrap_err()
        .iter()
        .map(|p| p.to_string())
        .collect();
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(
        got[0].starts_with("r::scrape_intervall: unknown key `scrape_intervall`: did you mean `scrape_interval`? (valid keys: targets, "),
        "{got:?}"
    );
    assert!(
        got[1].starts_with("r::http_sd_configs::0::refresh-interval: unknown key `refresh-interval`: did you mean `refresh_interval`? (valid keys: url, refresh_interval, max_response_size, bearer_token, "),
        "{got:?}"
    );
}
