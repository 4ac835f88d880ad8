//! A process-wide bound on scrapes in flight, derived from the open-file
//! limit: each scrape in flight holds one connection (a descriptor), and an
//! overloaded collector would otherwise open one per scrape loop (five per
//! target with the default profile types) and fail with `Too many open
//! files` everywhere. Half of what the limit leaves after a reserve goes to
//! scrapes in flight; the other half covers idle keep-alive connections
//! (at most one per target) and everything else. A scrape that gets no slot
//! within its timeout is not started and counted (`concurrency_limit`).

use std::sync::{Arc, OnceLock};
use tokio::sync::Semaphore;

/// Descriptors kept for listeners, files, exporters and discovery.
const RESERVE: u64 = 1024;
/// Fewest slots, whatever the limit says.
const MIN_SLOTS: u64 = 64;

/// Slots for the open-file limit `nofile`.
pub fn slots_for(nofile: u64) -> usize {
    let slots = nofile.saturating_sub(RESERVE) / 2;
    usize::try_from(slots.max(MIN_SLOTS)).unwrap_or(usize::MAX >> 4)
}

/// The process's scrape slots.
pub struct Slots {
    pub semaphore: Arc<Semaphore>,
    /// How many there are in all.
    pub limit: usize,
}

/// The process's slots, sized from the soft `RLIMIT_NOFILE` at first use
/// (profcol raises it to the hard limit before starting components).
pub fn slots() -> &'static Slots {
    static SLOTS: OnceLock<Slots> = OnceLock::new();
    SLOTS.get_or_init(|| {
        let nofile = rlimit::getrlimit(rlimit::Resource::NOFILE)
            .map(|(soft, _)| soft)
            .unwrap_or(1024);
        let limit = slots_for(nofile).min(Semaphore::MAX_PERMITS);
        Slots {
            semaphore: Arc::new(Semaphore::new(limit)),
            limit,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_of_what_the_reserve_leaves() {
        assert_eq!(slots_for(20_000), 9_488);
        assert_eq!(slots_for(1_024), 64);
        assert_eq!(
            slots_for(u64::MAX),
            usize::try_from((u64::MAX - 1024) / 2).unwrap_or(usize::MAX >> 4)
        );
    }
}
