//! Reads profcol's own error counters from its admin `/metrics` (Prometheus
//! text) at the window's edges, so errors are counted inside the window only.

use std::collections::BTreeMap;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Counter families summed over their labels.
pub const FAMILIES: &[&str] = &[
    "pyroscope_scrape_errors_total",
    "profcol_exporter_failed_profiles_total",
    "profcol_exporter_dropped_profiles_total",
    "profcol_exporter_retries_total",
    "profcol_exporter_sent_profiles_total",
    "profcol_receiver_accepted_requests_total",
    "profcol_receiver_accepted_profiles_total",
    "profcol_receiver_refused_requests_total",
];

/// GET `http://<addr>/metrics` with a plain HTTP/1.0 request; `None` on any failure.
pub async fn fetch(addr: &str) -> Option<String> {
    let work = async {
        let mut s = tokio::net::TcpStream::connect(addr).await.ok()?;
        s.write_all(format!("GET /metrics HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes())
            .await
            .ok()?;
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).await.ok()?;
        let text = String::from_utf8_lossy(&buf).into_owned();
        let (head, body) = text.split_once("\r\n\r\n")?;
        head.starts_with("HTTP/1.").then(|| body.to_string())
    };
    tokio::time::timeout(Duration::from_secs(10), work)
        .await
        .ok()
        .flatten()
}

/// Sums each family in [`FAMILIES`] over all its label sets.
pub fn sums(text: &str) -> BTreeMap<&'static str, f64> {
    let mut out: BTreeMap<&'static str, f64> = FAMILIES.iter().map(|f| (*f, 0.0)).collect();
    for line in text.lines() {
        for fam in FAMILIES {
            let Some(rest) = line.strip_prefix(fam) else {
                continue;
            };
            if !(rest.starts_with('{') || rest.starts_with(' ')) {
                continue;
            }
            if let Some(v) = rest.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()) {
                *out.entry(fam).or_default() += v;
            }
        }
    }
    out
}

/// `after − before` per family.
pub fn delta(
    before: &BTreeMap<&'static str, f64>,
    after: &BTreeMap<&'static str, f64>,
) -> BTreeMap<&'static str, f64> {
    after
        .iter()
        .map(|(k, v)| (*k, v - before.get(k).copied().unwrap_or(0.0)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_families_over_labels_only() {
        let text = "# TYPE pyroscope_scrape_errors_total counter\n\
            pyroscope_scrape_errors_total{component=\"a\",reason=\"timeout\"} 3\n\
            pyroscope_scrape_errors_total{component=\"a\",reason=\"request\"} 2\n\
            pyroscope_scrape_errors_total_created 17\n\
            profcol_exporter_sent_profiles_total 40\n";
        let s = sums(text);
        assert_eq!(s["pyroscope_scrape_errors_total"], 5.0);
        assert_eq!(s["profcol_exporter_sent_profiles_total"], 40.0);
        assert_eq!(s["profcol_exporter_dropped_profiles_total"], 0.0);
        let mut later = s.clone();
        later.insert("pyroscope_scrape_errors_total", 9.0);
        assert_eq!(delta(&s, &later)["pyroscope_scrape_errors_total"], 4.0);
    }
}
