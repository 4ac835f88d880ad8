//! CPU time and resident memory of a process, read from /proc from the
//! outside (`/proc/<pid>/stat` and `/proc/<pid>/status`).

/// Linux reports utime/stime in USER_HZ ticks, 100 per second on every
/// architecture's user ABI.
const TICKS_PER_SECOND: f64 = 100.0;

/// One reading.
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct ProcSample {
    /// utime + stime, seconds.
    pub cpu_seconds: f64,
    /// VmRSS, bytes.
    pub rss_bytes: u64,
    /// VmHWM (peak RSS since start), bytes.
    pub peak_rss_bytes: u64,
}

/// Reads `/proc/<pid>` (`pid` may be "self"); `None` once the process is gone.
pub fn read(pid: &str) -> Option<ProcSample> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: fields start after
    // the last ')'. Field 3 (state) is index 0, utime (14) index 11.
    let rest = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = f.get(11)?.parse().ok()?;
    let stime: u64 = f.get(12)?.parse().ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    Some(ProcSample {
        cpu_seconds: (utime + stime) as f64 / TICKS_PER_SECOND,
        rss_bytes: kb_field(&status, "VmRSS:") * 1024,
        peak_rss_bytes: kb_field(&status, "VmHWM:") * 1024,
    })
}

fn kb_field(status: &str, key: &str) -> u64 {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn reads_this_process() {
        let mut x = 0u64;
        for i in 0..20_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        assert_ne!(x, 1);
        let s = read("self").unwrap();
        assert!(s.rss_bytes > 100 * 1024, "{s:?}");
        assert!(s.peak_rss_bytes >= s.rss_bytes, "{s:?}");
        assert!(s.cpu_seconds >= 0.0);
        assert!(read("999999999").is_none());
    }
}
