//! The code address ranges of the libraries the signal handler must not
//! unwind from: an unwinder started while the interrupted thread is inside
//! libc, the dynamic loader, libgcc (the unwinder itself), pthread or the
//! vDSO can deadlock on a lock that thread holds, or crash on code without
//! unwind tables. A sample whose interrupted instruction lies there keeps
//! that instruction alone (a one-frame stack, named as the library's
//! function). Read once from `/proc/self/maps` before the timer is armed,
//! into a fixed array the handler reads without allocating.

/// The most ranges kept (executable mappings of the listed libraries).
pub const MAX_RANGES: usize = 32;

/// Fixed-size set of `[start, end)` code ranges.
#[derive(Clone, Debug, Default)]
pub struct Ranges {
    ranges: [(usize, usize); MAX_RANGES],
    len: usize,
}

/// Whether the file name of a mapping is one of the libraries not unwound
/// from: glibc's and musl's libc, the dynamic loader, libgcc_s, libpthread,
/// the vDSO.
fn is_unsafe_library(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    name == "[vdso]"
        || name.starts_with("libc.so")
        || name.starts_with("libc-")
        || name.starts_with("libc.musl")
        || name.starts_with("ld-linux")
        || name.starts_with("ld-musl")
        || name.starts_with("libgcc_s")
        || name.starts_with("libpthread")
}

impl Ranges {
    /// The ranges of this process, or none where `/proc/self/maps` cannot
    /// be read.
    pub fn of_this_process() -> Self {
        std::fs::read_to_string("/proc/self/maps")
            .map(|maps| Self::from_maps(&maps))
            .unwrap_or_default()
    }

    /// Parses a `/proc/<pid>/maps` text: the executable mappings of the
    /// libraries of [`is_unsafe_library`].
    pub fn from_maps(maps: &str) -> Self {
        let mut out = Self::default();
        for line in maps.lines() {
            let mut fields = line.split_whitespace();
            let (Some(range), Some(perms)) = (fields.next(), fields.next()) else {
                continue;
            };
            // offset, device, inode, then the path (which may hold spaces).
            let path = fields.nth(3).unwrap_or("");
            if !perms.contains('x') || !is_unsafe_library(path) {
                continue;
            }
            let Some((start, end)) = range.split_once('-') else {
                continue;
            };
            let (Ok(start), Ok(end)) = (
                usize::from_str_radix(start, 16),
                usize::from_str_radix(end, 16),
            ) else {
                continue;
            };
            out.push(start, end);
        }
        out
    }

    fn push(&mut self, start: usize, end: usize) {
        if let Some(r) = self.ranges.get_mut(self.len) {
            *r = (start, end);
            self.len += 1;
        }
    }

    /// Whether `address` lies in one of the ranges. Async-signal-safe.
    pub fn contains(&self, address: usize) -> bool {
        self.ranges[..self.len]
            .iter()
            .any(|&(start, end)| (start..end).contains(&address))
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.len
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAPS: &str = "\
55d0c0000000-55d0c1000000 r-xp 00001000 08:01 123 /usr/bin/profcol
7f0000001000-7f0000002000 r--p 00000000 08:01 1 /usr/lib/x86_64-linux-gnu/libc.so.6
7f0000002000-7f0000003000 r-xp 00001000 08:01 1 /usr/lib/x86_64-linux-gnu/libc.so.6
7f0000010000-7f0000011000 r-xp 00000000 08:01 2 /usr/lib/x86_64-linux-gnu/libgcc_s.so.1
7f0000020000-7f0000021000 r-xp 00000000 08:01 3 /usr/lib/x86_64-linux-gnu/libcrypto.so.3
7f0000030000-7f0000031000 r-xp 00000000 08:01 4 /usr/lib64/ld-linux-x86-64.so.2
7ffd00000000-7ffd00002000 r-xp 00000000 00:00 0 [vdso]
7ffd00010000-7ffd00012000 rw-p 00000000 00:00 0 [stack]
";

    #[test]
    fn only_code_of_the_listed_libraries_is_unsafe() {
        let r = Ranges::from_maps(MAPS);
        assert_eq!(r.len(), 4);
        assert!(r.contains(0x7f0000002000));
        assert!(r.contains(0x7f0000002fff));
        assert!(!r.contains(0x7f0000003000));
        // libc's read-only data is not code; libcrypto is not libc.
        assert!(!r.contains(0x7f0000001000));
        assert!(!r.contains(0x7f0000020010));
        assert!(r.contains(0x7f0000010010));
        assert!(r.contains(0x7f0000030010));
        assert!(r.contains(0x7ffd00000010));
        assert!(!r.contains(0x55d0c0000010));
    }

    #[test]
    fn at_most_max_ranges_are_kept() {
        let maps: String = (0..MAX_RANGES + 5)
            .map(|i| {
                format!(
                    "{:x}-{:x} r-xp 0 0:0 0 /lib/libc.so.6\n",
                    i * 0x10,
                    i * 0x10 + 8
                )
            })
            .collect();
        assert_eq!(Ranges::from_maps(&maps).len(), MAX_RANGES);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn libc_of_this_process_is_found() {
        let r = Ranges::of_this_process();
        let getpid = libc::getpid as *const () as usize;
        assert!(r.contains(getpid), "{r:?}");
        let own = libc_of_this_process_is_found as fn() as usize;
        assert!(!r.contains(own));
    }
}
