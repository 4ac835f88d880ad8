//! How much memory this process uses and how much it may use, read the same
//! way by every memory bound in profcol (`service.memory_limit_mib` in the
//! collector, the `memory_limiter` processor):
//!
//! - [`resident_bytes`]: the resident set (`VmRSS` of `/proc/self/status`),
//!   everything the process holds in RAM, allocator slack included.
//! - [`available_bytes`]: the memory the process may use: its cgroup's limit
//!   when there is one (v2 `memory.max`, v1 `memory.limit_in_bytes`), else
//!   the machine's `MemTotal` (`/proc/meminfo`).
//!
//! Both are `None` where `/proc` is missing (not Linux).

use std::path::Path;

/// The cgroup v2 hierarchy and the v1 memory controller, where Linux
/// distributions and container runtimes mount them.
const CGROUP_V2_ROOT: &str = "/sys/fs/cgroup";
const CGROUP_V1_MEMORY_ROOT: &str = "/sys/fs/cgroup/memory";

/// cgroup v1 reports "no limit" as the largest page-aligned `i64`; anything
/// from here up means unlimited.
const CGROUP_V1_UNLIMITED: u64 = 0x7FFF_FFFF_FFFF_F000;

/// Resident memory of this process in bytes.
pub fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    vm_rss_bytes(&status)
}

/// `VmRSS` of a `/proc/<pid>/status` text, in bytes.
pub fn vm_rss_bytes(status: &str) -> Option<u64> {
    kib_field(status, "VmRSS:")
}

/// The memory this process may use: its cgroup's limit, else the machine's
/// total.
pub fn available_bytes() -> Option<u64> {
    let cgroups = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    cgroup_limit(&cgroups).or_else(|| {
        let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
        mem_total_bytes(&meminfo)
    })
}

/// `MemTotal` of a `/proc/meminfo` text, in bytes.
pub fn mem_total_bytes(meminfo: &str) -> Option<u64> {
    kib_field(meminfo, "MemTotal:")
}

/// The memory limit of this process's cgroup (v2, else v1), read from its
/// own cgroup's directory and then from the hierarchy's root (what a
/// container sees as its own cgroup); `None` when no limit is set.
fn cgroup_limit(proc_self_cgroup: &str) -> Option<u64> {
    let read = |dir: &str, rel: &str, file: &str| {
        let own = Path::new(dir).join(rel.trim_start_matches('/')).join(file);
        std::fs::read_to_string(own)
            .or_else(|_| std::fs::read_to_string(Path::new(dir).join(file)))
            .ok()
    };
    if let Some(rel) = cgroup_path(proc_self_cgroup, Hierarchy::V2) {
        if let Some(text) = read(CGROUP_V2_ROOT, &rel, "memory.max") {
            return v2_limit(&text);
        }
    }
    let rel = cgroup_path(proc_self_cgroup, Hierarchy::V1Memory)?;
    v1_limit(&read(CGROUP_V1_MEMORY_ROOT, &rel, "memory.limit_in_bytes")?)
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Hierarchy {
    /// The unified hierarchy: `0::/path`.
    V2,
    /// The v1 memory controller: `N:memory:/path` (possibly with other
    /// controllers in the same list).
    V1Memory,
}

/// The process's cgroup path in `hierarchy`, from `/proc/self/cgroup`.
fn cgroup_path(proc_self_cgroup: &str, hierarchy: Hierarchy) -> Option<String> {
    proc_self_cgroup.lines().find_map(|line| {
        let mut parts = line.splitn(3, ':');
        let id = parts.next()?;
        let controllers = parts.next()?;
        let path = parts.next()?;
        let wanted = match hierarchy {
            Hierarchy::V2 => id == "0" && controllers.is_empty(),
            Hierarchy::V1Memory => controllers.split(',').any(|c| c == "memory"),
        };
        wanted.then(|| path.to_string())
    })
}

/// A cgroup v2 `memory.max`: bytes, or `max` for none.
fn v2_limit(text: &str) -> Option<u64> {
    text.trim().parse().ok()
}

/// A cgroup v1 `memory.limit_in_bytes`: bytes, a huge value for none.
fn v1_limit(text: &str) -> Option<u64> {
    text.trim()
        .parse::<u64>()
        .ok()
        .filter(|&b| b < CGROUP_V1_UNLIMITED)
}

/// A `Name:   123 kB` line of a `/proc` text, in bytes.
fn kib_field(text: &str, name: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|v| v.parse::<u64>().ok())
        .map(|kib| kib.saturating_mul(1024))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_kib_fields_in_bytes() {
        let status = "Name:\tprofcol\nVmPeak:\t  99 kB\nVmRSS:\t   20480 kB\nThreads:\t7\n";
        assert_eq!(vm_rss_bytes(status), Some(20480 * 1024));
        assert_eq!(vm_rss_bytes("Name:\tx\n"), None);
        assert_eq!(
            mem_total_bytes("MemTotal:       24683772 kB\nMemFree: 1 kB\n"),
            Some(24683772 * 1024)
        );
    }

    #[test]
    fn finds_the_cgroup_of_each_hierarchy() {
        let v1 = "9:name=systemd:/\n4:memory:/jobs/abc\n1:cpu,cpuacct:/\n0::/\n";
        assert_eq!(
            cgroup_path(v1, Hierarchy::V1Memory).as_deref(),
            Some("/jobs/abc")
        );
        assert_eq!(cgroup_path(v1, Hierarchy::V2).as_deref(), Some("/"));
        let joined = "5:cpu,memory:/k8s/pod1\n";
        assert_eq!(
            cgroup_path(joined, Hierarchy::V1Memory).as_deref(),
            Some("/k8s/pod1")
        );
        assert_eq!(cgroup_path(joined, Hierarchy::V2), None);
        let v2 = "0::/system.slice/profcol.service\n";
        assert_eq!(
            cgroup_path(v2, Hierarchy::V2).as_deref(),
            Some("/system.slice/profcol.service")
        );
    }

    #[test]
    fn an_unset_cgroup_limit_is_none() {
        assert_eq!(v2_limit("536870912\n"), Some(512 << 20));
        assert_eq!(v2_limit("max\n"), None);
        assert_eq!(v1_limit("1073741824\n"), Some(1 << 30));
        assert_eq!(v1_limit("9223372036854771712\n"), None);
        assert_eq!(v1_limit("garbage"), None);
    }

    #[test]
    fn reads_this_process() {
        if Path::new("/proc/self/status").exists() {
            assert!(resident_bytes().unwrap() > 1 << 20);
            let available = available_bytes().unwrap();
            assert!(available > resident_bytes().unwrap(), "{available}");
        }
    }
}
