//! `process_*` metrics of profcol itself (resident memory, CPU seconds, open
//! file descriptors, threads), read from `/proc/self` at each scrape of
//! `/metrics`. Elsewhere than Linux they are simply absent.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

/// Linux reports CPU times in USER_HZ ticks, 100 per second on every
/// mainstream architecture.
const TICKS_PER_SECOND: f64 = 100.0;

#[derive(Debug, Default)]
pub struct ProcessCollector;

/// One reading of `/proc/self`.
#[derive(Debug, Default, PartialEq)]
pub struct ProcessStats {
    pub resident_bytes: i64,
    pub cpu_seconds: f64,
    pub threads: i64,
    pub open_fds: i64,
}

/// Reads the current process's statistics; `None` where `/proc` is missing.
pub fn read() -> Option<ProcessStats> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let mut s = parse(&status, &stat)?;
    s.open_fds = std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count() as i64)
        .unwrap_or(0);
    Some(s)
}

/// Parses `/proc/self/status` (VmRSS, Threads) and `/proc/self/stat`
/// (utime, stime: fields 14 and 15, counted after the parenthesised name).
pub fn parse(status: &str, stat: &str) -> Option<ProcessStats> {
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|v| v.parse::<i64>().ok())
    };
    let after_name = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // after ")" the first field is the state (field 3), so utime (14) is index 11.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some(ProcessStats {
        resident_bytes: i64::try_from(profcol_runtime::memory::vm_rss_bytes(status)?).ok()?,
        cpu_seconds: (utime + stime) / TICKS_PER_SECOND,
        threads: field("Threads:").unwrap_or(0),
        open_fds: 0,
    })
}

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let Some(s) = read() else {
            return Ok(());
        };
        let rss = ConstGauge::new(s.resident_bytes);
        rss.encode(encoder.encode_descriptor(
            "process_resident_memory_bytes",
            "Resident memory size in bytes.",
            None,
            rss.metric_type(),
        )?)?;
        let cpu = ConstCounter::new(s.cpu_seconds);
        cpu.encode(encoder.encode_descriptor(
            "process_cpu_seconds",
            "Total user and system CPU time spent in seconds.",
            None,
            cpu.metric_type(),
        )?)?;
        let fds = ConstGauge::new(s.open_fds);
        fds.encode(encoder.encode_descriptor(
            "process_open_fds",
            "Number of open file descriptors.",
            None,
            fds.metric_type(),
        )?)?;
        let threads = ConstGauge::new(s.threads);
        threads.encode(encoder.encode_descriptor(
            "process_threads",
            "Number of OS threads.",
            None,
            threads.metric_type(),
        )?)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_files() {
        let status = "Name:\tprofcol\nVmRSS:\t   20480 kB\nThreads:\t7\n";
        let stat = "1234 (prof col) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 7 0";
        let s = parse(status, stat).unwrap();
        assert_eq!(s.resident_bytes, 20480 * 1024);
        assert_eq!(s.cpu_seconds, 3.0);
        assert_eq!(s.threads, 7);
    }

    #[test]
    fn reads_this_process() {
        if std::path::Path::new("/proc/self/stat").exists() {
            let s = read().unwrap();
            assert!(s.resident_bytes > 0 && s.threads > 0 && s.open_fds > 0);
        }
    }
}
