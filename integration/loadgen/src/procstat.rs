//! CPU time and resident memory of a process, read from /proc from the
//! outside (`/proc/<pid>/stat` and `/proc/<pid>/status`).

/// Linux reports utime/stime in USER_HZ ticks, 100 per second on every
/// architecture's user ABI.
const TICKS_PER_SECOND: f64 = 100.0;

/// One reading.
#[derive(Clone, Copy, Debug, Default, serde::Serialize, PartialEq)]
pub struct ProcSample {
    /// utime + stime, seconds.
    pub cpu_seconds: f64,
    /// VmRSS, bytes.
    pub rss_bytes: u64,
    /// VmHWM (peak RSS since start), bytes.
    pub peak_rss_bytes: u64,
    /// Open descriptors (entries of `/proc/<pid>/fd`); 0 when unreadable.
    pub fds: u64,
}

/// `/proc/<pid>/stat` and `status` opened once and re-read from offset 0,
/// so readings keep working when this process is out of descriptors.
pub struct Watcher {
    pid: String,
    stat: std::fs::File,
    status: std::fs::File,
}

impl Watcher {
    /// Opens `/proc/<pid>` (`pid` may be "self"); `None` when there is no such process.
    pub fn open(pid: &str) -> Option<Watcher> {
        Some(Watcher {
            pid: pid.to_string(),
            stat: std::fs::File::open(format!("/proc/{pid}/stat")).ok()?,
            status: std::fs::File::open(format!("/proc/{pid}/status")).ok()?,
        })
    }

    /// A fresh reading; `None` once the process is gone.
    pub fn read(&self) -> Option<ProcSample> {
        let stat = read_at0(&self.stat)?;
        let status = read_at0(&self.status)?;
        let mut s = parse(&stat, &status)?;
        s.fds = std::fs::read_dir(format!("/proc/{}/fd", self.pid))
            .map(|d| d.count() as u64)
            .unwrap_or(0);
        Some(s)
    }
}

fn read_at0(f: &std::fs::File) -> Option<String> {
    use std::os::unix::fs::FileExt;
    let mut buf = vec![0u8; 8192];
    let mut len = 0;
    loop {
        let n = f.read_at(&mut buf[len..], len as u64).ok()?;
        if n == 0 {
            break;
        }
        len += n;
        if len == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
    }
    buf.truncate(len);
    String::from_utf8(buf).ok()
}

fn parse(stat: &str, status: &str) -> Option<ProcSample> {
    // The command name may hold spaces and parentheses: fields start after
    // the last ')'. Field 3 (state) is index 0, utime (14) index 11.
    let rest = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = f.get(11)?.parse().ok()?;
    let stime: u64 = f.get(12)?.parse().ok()?;
    Some(ProcSample {
        cpu_seconds: (utime + stime) as f64 / TICKS_PER_SECOND,
        rss_bytes: kb_field(status, "VmRSS:") * 1024,
        peak_rss_bytes: kb_field(status, "VmHWM:") * 1024,
        fds: 0,
    })
}

fn kb_field(status: &str, key: &str) -> u64 {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// CPU time (user + system) of the calling thread, seconds, and where it
/// came from: `/proc/thread-self/schedstat` (nanoseconds) when the kernel
/// has it, else this process's utime + stime (10 ms ticks), else 0.
pub fn thread_cpu_seconds() -> (&'static str, f64) {
    let ns = std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok());
    if let Some(ns) = ns {
        return ("schedstat_ns", ns as f64 / 1e9);
    }
    match Watcher::open("self").and_then(|w| w.read()) {
        Some(s) => ("proc_stat_ticks", s.cpu_seconds),
        None => ("none", 0.0),
    }
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
        let s = Watcher::open("self").unwrap().read().unwrap();
        assert!(s.rss_bytes > 100 * 1024, "{s:?}");
        assert!(s.peak_rss_bytes >= s.rss_bytes, "{s:?}");
        assert!(s.cpu_seconds >= 0.0);
        assert!(s.fds >= 3, "{s:?}");
        assert!(Watcher::open("999999999").is_none());
        // A kept watcher re-reads fresh values.
        let w = Watcher::open("self").unwrap();
        let a = w.read().unwrap();
        let _v: Vec<u8> = vec![1; 64 << 20];
        let b = w.read().unwrap();
        assert!(b.cpu_seconds >= a.cpu_seconds);
        assert!(b.peak_rss_bytes >= a.peak_rss_bytes);
    }

    #[test]
    fn thread_cpu_time_advances() {
        let (clock, t0) = thread_cpu_seconds();
        let mut x = 0u64;
        for i in 0..50_000_000u64 {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
        }
        assert_ne!(x, 1);
        let (_, t1) = thread_cpu_seconds();
        assert_ne!(clock, "none");
        assert!(t1 >= t0, "{clock}: {t0} -> {t1}");
        if clock == "schedstat_ns" {
            assert!(t1 > t0, "{t0} -> {t1}");
        }
    }
}
