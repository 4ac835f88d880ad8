//! Docker discovery: `docker_sd_configs` (the containers of one Docker
//! daemon) and `dockerswarm_sd_configs` (the services, tasks or nodes of a
//! Swarm, asked of a manager), with Prometheus' keys, defaults and
//! `__meta_docker_*` / `__meta_dockerswarm_*` labels.
//!
//! Both poll the daemon every `refresh_interval` through the shared polling
//! loop (`discovery/poll.rs`): a changed target list is published, a failed
//! refresh keeps the last good targets and records its error.
//!
//! The files, one job each:
//! - `config.rs`: the two YAML blocks and their validation;
//! - `client.rs`: the connection to the daemon (Unix socket, TCP, TLS), the
//!   API version negotiation and the bound on what one answer may hold;
//! - `network.rs`: the `network_*` labels both kinds share;
//! - `containers.rs`: containers → targets (`docker_sd_configs`);
//! - `swarm.rs`: services, tasks and nodes → targets;
//! - `run.rs`: the refresh loops the receiver spawns.
//!
//! Requests go through [bollard](https://docs.rs/bollard)'s API calls and
//! models, over a transport of profcol's own (see `client.rs`).

pub mod client;
pub mod config;
mod containers;
mod network;
pub mod run;
mod swarm;

pub use config::{DockerSdConfig, DockerSwarmSdConfig, Filter, SwarmRole};

/// Turns a Docker label key (`com.example.team`, `pyroscope.io/scrape`) into
/// a label name: every character outside `[A-Za-z0-9_]` becomes `_`, as
/// Prometheus does.
pub(crate) fn sanitize_label_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// `host:port`, with brackets around an IPv6 host.
pub(crate) fn join_host_port(host: &str, port: impl std::fmt::Display) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// The address part of a CIDR (`10.0.0.5/24` → `10.0.0.5`); an error for
/// anything that is not an IP address with an optional prefix length.
pub(crate) fn cidr_ip(cidr: &str) -> Result<std::net::IpAddr, String> {
    let (ip, prefix) = match cidr.split_once('/') {
        Some((ip, prefix)) => (ip, Some(prefix)),
        None => (cidr, None),
    };
    let parsed: std::net::IpAddr = ip
        .parse()
        .map_err(|_| format!("invalid address {cidr:?} (want an IP address in CIDR form)"))?;
    if let Some(p) = prefix {
        let max = if parsed.is_ipv4() { 32 } else { 128 };
        match p.parse::<u8>() {
            Ok(n) if n <= max => {}
            _ => return Err(format!("invalid address {cidr:?} (bad prefix length)")),
        }
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_names_are_sanitized() {
        assert_eq!(
            sanitize_label_name("pyroscope.io/scrape-port"),
            "pyroscope_io_scrape_port"
        );
        assert_eq!(sanitize_label_name("plain_Name1"), "plain_Name1");
    }

    #[test]
    fn host_ports_and_cidrs() {
        assert_eq!(join_host_port("10.0.0.1", 80), "10.0.0.1:80");
        assert_eq!(join_host_port("fd00::1", 80), "[fd00::1]:80");
        assert_eq!(cidr_ip("10.0.0.5/24").unwrap().to_string(), "10.0.0.5");
        assert_eq!(cidr_ip("fd00::5/64").unwrap().to_string(), "fd00::5");
        assert!(cidr_ip("10.0.0.5/33").is_err());
        assert!(cidr_ip("nope").is_err());
    }
}
