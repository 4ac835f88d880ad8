//! Target → scrape jobs: one job per (target, enabled profile type), with
//! the target's URL (scheme, address with a default port, path prefix and
//! path, query parameters and `seconds`), its labels, and `service_name`
//! inference.

use crate::config::{Limits, Settings};
use crate::profile_types::ProfileType;
use crate::Error;
use profcol_pdata::Labels;
use std::collections::BTreeMap;
use std::sync::Arc;

pub const ADDRESS: &str = "__address__";
pub const SCHEME: &str = "__scheme__";
pub const PROFILE_PATH: &str = "__profile_path__";
pub const PROFILE_PATH_PREFIX: &str = "__profile_path_prefix__";
pub const PARAM_PREFIX: &str = "__param_";
pub const META_PREFIX: &str = "__meta_";
pub const JOB: &str = "job";
pub const INSTANCE: &str = "instance";
/// What `service_name` becomes when nothing names the service.
pub const UNSPECIFIED: &str = "unspecified";

/// One scrape job: a target scraped for one profile type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScrapeTarget {
    /// Identity: the URL and the labels; equal keys keep their loop.
    pub key: u64,
    pub url: url::Url,
    /// The labels every record of this job carries (public labels plus
    /// `__name__` and, for per-interval deltas, `__delta__="false"`).
    pub labels: Labels,
    /// The labels as discovered, before any processing.
    pub discovered: Arc<Labels>,
    pub profile: Arc<ProfileType>,
    /// True when `service_name` had to fall back to "unspecified".
    pub service_name_unspecified: bool,
    /// Set when the target's labels are over a label limit: the job exists
    /// (its status shows why) but is never scraped.
    pub refused: Option<LabelLimit>,
}

/// Which label limit a target is over, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelLimit {
    pub key: &'static str,
    pub limit: usize,
    pub what: String,
}

impl LabelLimit {
    pub fn error(&self) -> Error {
        Error::Limit {
            key: self.key,
            limit: self.limit,
            what: self.what.clone(),
        }
    }
}

/// The first 32 characters of a label name, for messages.
fn shorten(name: &str) -> String {
    let mut s: String = name.chars().take(32).collect();
    if s.len() < name.len() {
        s.push('…');
    }
    s
}

/// Checks the labels a target exports against `label_limit`,
/// `label_name_length_limit` and `label_value_length_limit` (0 = no limit).
/// Values are never quoted: they may be anything.
pub fn check_label_limits(labels: &Labels, limits: &Limits) -> Result<(), LabelLimit> {
    let over = |limit: usize, n: usize| limit > 0 && n > limit;
    if over(limits.label_limit, labels.len()) {
        return Err(LabelLimit {
            key: "label_limit",
            limit: limits.label_limit,
            what: format!("target has {} labels", labels.len()),
        });
    }
    for (k, v) in labels.iter() {
        if over(limits.label_name_length_limit, k.len()) {
            return Err(LabelLimit {
                key: "label_name_length_limit",
                limit: limits.label_name_length_limit,
                what: format!("label name {:?} is {} bytes long", shorten(k), k.len()),
            });
        }
        if over(limits.label_value_length_limit, v.len()) {
            return Err(LabelLimit {
                key: "label_value_length_limit",
                limit: limits.label_value_length_limit,
                what: format!(
                    "the value of label {:?} is {} bytes long",
                    shorten(k),
                    v.len()
                ),
            });
        }
    }
    Ok(())
}

impl ScrapeTarget {
    pub fn instance(&self) -> &str {
        self.labels.get(INSTANCE).unwrap_or("")
    }
    pub fn job(&self) -> &str {
        self.labels.get(JOB).unwrap_or("")
    }
}

/// `service_name` when the target does not set it; first match wins.
pub fn infer_service_name(l: &Labels) -> Option<String> {
    let get = |k: &str| l.get(k).filter(|v| !v.is_empty());
    if let Some(v) = get("__meta_kubernetes_pod_annotation_pyroscope_io_service_name") {
        return Some(v.to_string());
    }
    if let (Some(ns), Some(c)) = (
        get("__meta_kubernetes_namespace"),
        get("__meta_kubernetes_pod_container_name"),
    ) {
        return Some(format!("{ns}/{c}"));
    }
    [
        "__meta_docker_container_name",
        "__meta_dockerswarm_container_label_service_name",
        "__meta_dockerswarm_service_name",
    ]
    .iter()
    .find_map(|k| get(k).map(str::to_string))
}

fn set_if_absent(l: &mut Labels, k: &str, v: &str) {
    if l.get(k).is_none_or(str::is_empty) && !v.is_empty() {
        l.set(k, v);
    }
}

/// Adds :80 or :443 to an address without a port; refuses what cannot be a
/// `host[:port]`.
pub fn address_with_port(addr: &str, scheme: &str) -> Result<String, Error> {
    if addr.is_empty() {
        return Err(Error::InvalidTarget("no __address__".into()));
    }
    if addr.contains(['/', '\\', '?', '#', '@'])
        || addr.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        // Credentials (`user:pass@host`) are not echoed back.
        let shown = match addr.rsplit_once('@') {
            Some((_, host)) => format!("{}@{host}", profcol_config::secret::REDACTED),
            None => addr.to_string(),
        };
        return Err(Error::InvalidTarget(format!(
            "__address__ {shown:?} must be host[:port] (no path, query or credentials)"
        )));
    }
    let has_port = if let Some(rest) = addr.strip_prefix('[') {
        match rest.split_once(']') {
            Some((_, after)) => after.starts_with(':'),
            None => {
                return Err(Error::InvalidTarget(format!(
                    "__address__ {addr:?} has an unclosed '['"
                )))
            }
        }
    } else {
        match addr.matches(':').count() {
            0 => false,
            1 => true,
            _ => {
                return Err(Error::InvalidTarget(format!(
                    "__address__ {addr:?}: write IPv6 addresses in brackets, e.g. [::1]:4040"
                )))
            }
        }
    };
    if has_port {
        let port = addr.rsplit(':').next().unwrap_or("");
        if port.parse::<u16>().is_err() {
            return Err(Error::InvalidTarget(format!(
                "__address__ {addr:?}: the port must be a number from 0 to 65535"
            )));
        }
        return Ok(addr.to_string());
    }
    match scheme {
        "http" => Ok(format!("{addr}:80")),
        "https" => Ok(format!("{addr}:443")),
        other => Err(Error::InvalidTarget(format!("invalid scheme {other:?}"))),
    }
}

/// `prefix` + `path` with exactly one `/` between them.
pub fn join_paths(prefix: &str, path: &str) -> String {
    let prefix = prefix.trim_end_matches('/');
    let path = path.trim_start_matches('/');
    format!("{prefix}/{path}")
}

fn query(base: &BTreeMap<String, Vec<String>>, labels: &Labels) -> BTreeMap<String, Vec<String>> {
    let mut q = base.clone();
    for (k, v) in labels.iter() {
        if let Some(name) = k.strip_prefix(PARAM_PREFIX) {
            match q.get_mut(name) {
                Some(values) if !values.is_empty() => values[0] = v.to_string(),
                _ => {
                    q.insert(name.to_string(), vec![v.to_string()]);
                }
            }
        }
    }
    q
}

/// Expands one discovered label set into a job per enabled profile type.
pub fn expand(settings: &Settings, discovered: &Labels) -> Result<Vec<ScrapeTarget>, Error> {
    let mut base = discovered.clone();
    set_if_absent(&mut base, JOB, &settings.job_name);
    set_if_absent(&mut base, SCHEME, &settings.scheme);
    let scheme = base.get(SCHEME).unwrap_or("http").to_string();
    if scheme != "http" && scheme != "https" {
        return Err(Error::InvalidTarget(format!(
            "invalid __scheme__ {scheme:?}"
        )));
    }
    let address = address_with_port(base.get(ADDRESS).unwrap_or(""), &scheme)?;
    base.set(ADDRESS, address.as_str());
    set_if_absent(&mut base, INSTANCE, &address);
    let mut unspecified = false;
    if base.get(Labels::SERVICE_NAME).is_none_or(str::is_empty) {
        let name = infer_service_name(discovered).unwrap_or_else(|| {
            unspecified = true;
            UNSPECIFIED.to_string()
        });
        base.set(Labels::SERVICE_NAME, name);
    }
    base.retain(|k, _| !k.starts_with(META_PREFIX));

    let nonempty = |k: &str| base.get(k).filter(|v| !v.is_empty());
    let prefix = nonempty(PROFILE_PATH_PREFIX).unwrap_or(&settings.path_prefix);
    let target_path = nonempty(PROFILE_PATH);
    let base_query = query(&settings.params, &base);
    let origin = url::Url::parse(&format!("{scheme}://{address}"))
        .map_err(|e| Error::InvalidTarget(format!("__address__ {address:?}: {e}")))?;
    // The URL parser forgives things (it normalises hosts, drops some
    // characters): refuse an address it did not take as host:port exactly.
    let port = address
        .rsplit(':')
        .next()
        .and_then(|p| p.parse::<u16>().ok());
    if origin.port_or_known_default() != port || origin.path() != "/" || origin.query().is_some() {
        return Err(Error::InvalidTarget(format!(
            "__address__ {address:?} is not a valid host:port"
        )));
    }
    let mut public = base.public();
    public.remove(Labels::NAME);
    public.remove(Labels::DELTA);
    if let Some(tenant) = nonempty(Labels::TENANT_ID) {
        public.set(Labels::TENANT_ID, tenant);
    }
    let refused = check_label_limits(&public, &settings.limits).err();
    let discovered = Arc::new(discovered.clone());

    let mut out = Vec::with_capacity(settings.profiles.len());
    for profile in &settings.profiles {
        let mut url = origin.clone();
        url.set_path(&join_paths(prefix, target_path.unwrap_or(&profile.path)));
        let with_seconds;
        let q = if profile.delta {
            let mut q = base_query.clone();
            q.insert(
                "seconds".to_string(),
                vec![settings.delta_seconds.to_string()],
            );
            with_seconds = q;
            &with_seconds
        } else {
            &base_query
        };
        if !q.is_empty() {
            let mut pairs = url.query_pairs_mut();
            for (k, vs) in q {
                for v in vs {
                    pairs.append_pair(k, v);
                }
            }
        }
        let mut labels = public.clone();
        labels.set(Labels::NAME, profile.reported_name.as_str());
        if profile.is_delta_output() {
            labels.set(Labels::DELTA, "false");
        }
        out.push(ScrapeTarget {
            key: job_key(&url, &labels),
            url,
            labels,
            discovered: discovered.clone(),
            profile: profile.clone(),
            service_name_unspecified: unspecified,
            refused: refused.clone(),
        });
    }
    Ok(out)
}

/// A job's identity: its URL and its labels.
fn job_key(url: &url::Url, labels: &Labels) -> u64 {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    h.update(url.as_str().as_bytes());
    for (k, v) in labels.iter() {
        h.update(&[0xff]);
        h.update(k.as_bytes());
        h.update(&[0xfe]);
        h.update(v.as_bytes());
    }
    h.digest()
}

#[cfg(test)]
mod tests;
