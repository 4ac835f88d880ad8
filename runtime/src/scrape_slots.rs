//! Scrapes in flight, bounded per process and shared fairly between the
//! scrape receivers.
//!
//! Each scrape in flight holds one connection (a descriptor); an overloaded
//! collector would otherwise open one per scrape loop and fail with `Too
//! many open files` everywhere. The process's bound ([`slots_for`] the
//! open-file limit) is a [`ScrapeBudget`], built once by the collector and
//! handed to every component in its context. Each running scrape receiver
//! [`register`](ScrapeBudget::register)s and gets a [`ScrapeShare`]: its own
//! semaphore, so that one receiver with thousands of targets cannot take
//! every slot and starve another's scrapes.
//!
//! Shares are proportional to the receivers' job counts above a floor:
//! a receiver needs at most one slot per job (a job never overlaps its own
//! scrapes), so a big receiver gets room for its many jobs while the floor
//! keeps a small receiver's scrapes going however big the others are. They
//! are recomputed whenever a receiver registers, drops its share (stopped by
//! a reload or at shutdown) or reports a new job count. A share that shrinks
//! below the permits its scrapes hold forgets the excess as they come back.
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use profcol_runtime::ScrapeBudget;
//! let budget = ScrapeBudget::new(100);
//! let big = budget.register("pyroscope_scrape/big");
//! let small = budget.register("pyroscope_scrape/small");
//! big.set_jobs(90);
//! small.set_jobs(10);
//! assert_eq!(big.limit() + small.limit(), 100);
//! let permit = small.try_acquire().unwrap();
//! drop(big); // stopped: the other receiver gets the whole budget
//! assert_eq!(small.limit(), 100);
//! # drop(permit);
//! # });
//! ```

use prometheus_client::metrics::gauge::Gauge;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Descriptors kept for listeners, files, exporters and discovery.
const RESERVE: u64 = 1024;
/// Fewest slots in the process, whatever the limit says.
const MIN_SLOTS: u64 = 64;
/// Slots every registered receiver gets whatever its job count, when the
/// budget has that many per receiver.
const FLOOR: usize = 16;

/// Slots for the open-file limit `nofile`: half of what the limit leaves
/// after a reserve goes to scrapes in flight; the other half covers idle
/// keep-alive connections (at most one per target) and everything else.
pub fn slots_for(nofile: u64) -> usize {
    let slots = nofile.saturating_sub(RESERVE) / 2;
    usize::try_from(slots.max(MIN_SLOTS)).unwrap_or(usize::MAX >> 4)
}

/// The process's scrape slots, divided among the registered receivers.
/// Cloning shares the same budget.
#[derive(Clone)]
pub struct ScrapeBudget {
    inner: Arc<Budget>,
}

struct Budget {
    total: usize,
    shares: Mutex<Shares>,
}

#[derive(Default)]
struct Shares {
    next_id: u64,
    /// Registration order, so that rounding favours the same receivers.
    by_id: BTreeMap<u64, Registered>,
}

struct Registered {
    component: String,
    jobs: usize,
    slots: Arc<ShareSlots>,
    /// Set to the share's size whenever it changes.
    gauge: Option<Gauge>,
}

/// One receiver's semaphore and its size.
struct ShareSlots {
    semaphore: Arc<Semaphore>,
    size: Mutex<Size>,
}

#[derive(Default)]
struct Size {
    /// Permits the share may have out at once.
    limit: usize,
    /// Permits still held beyond `limit` after a shrink: forgotten, not
    /// returned, when released.
    owed: usize,
}

impl Default for ScrapeBudget {
    /// Sized from the soft open-file limit at the time of the call.
    fn default() -> Self {
        Self::from_open_file_limit()
    }
}

impl std::fmt::Debug for ScrapeBudget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScrapeBudget")
            .field("total", &self.inner.total)
            .finish()
    }
}

impl ScrapeBudget {
    /// A budget of `total` scrapes in flight.
    pub fn new(total: usize) -> Self {
        Self {
            inner: Arc::new(Budget {
                total: total.clamp(1, Semaphore::MAX_PERMITS),
                shares: Mutex::new(Shares::default()),
            }),
        }
    }

    /// [`slots_for`] the soft `RLIMIT_NOFILE` (profcol raises it to the hard
    /// limit before it starts components).
    pub fn from_open_file_limit() -> Self {
        let nofile = rlimit::getrlimit(rlimit::Resource::NOFILE)
            .map(|(soft, _)| soft)
            .unwrap_or(1024);
        Self::new(slots_for(nofile))
    }

    /// Scrapes in flight the whole process may have.
    pub fn total(&self) -> usize {
        self.inner.total
    }

    /// A share for the receiver `component`, with no job yet; the others'
    /// shares shrink to make room. Dropping it gives its slots back.
    pub fn register(&self, component: &str) -> ScrapeShare {
        self.register_with_gauge(component, None)
    }

    /// [`register`](Self::register), keeping `gauge` at the share's size.
    /// A gauge shared by two instances of the same receiver (old and new
    /// across a reload) shows the one registered last, and 0 once neither
    /// runs.
    pub fn register_with_gauge(&self, component: &str, gauge: Option<Gauge>) -> ScrapeShare {
        let slots = Arc::new(ShareSlots {
            semaphore: Arc::new(Semaphore::new(0)),
            size: Mutex::new(Size::default()),
        });
        let mut shares = self.inner.lock();
        let id = shares.next_id;
        shares.next_id += 1;
        shares.by_id.insert(
            id,
            Registered {
                component: component.to_string(),
                jobs: 0,
                slots: slots.clone(),
                gauge,
            },
        );
        self.inner.rebalance(&shares);
        drop(shares);
        ScrapeShare {
            budget: self.inner.clone(),
            id,
            component: component.to_string(),
            slots,
        }
    }
}

impl Budget {
    fn lock(&self) -> std::sync::MutexGuard<'_, Shares> {
        self.shares.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn rebalance(&self, shares: &Shares) {
        let jobs: Vec<usize> = shares.by_id.values().map(|r| r.jobs).collect();
        for (r, limit) in shares.by_id.values().zip(divide(self.total, &jobs)) {
            r.slots.resize(limit);
            if let Some(g) = &r.gauge {
                g.set(i64::try_from(limit).unwrap_or(i64::MAX));
            }
        }
    }
}

/// `total` slots among receivers with `jobs` jobs each: every receiver gets
/// the floor (or an equal part of `total` when that is smaller), the rest
/// goes in proportion to the job counts (equally when there is no job), by
/// largest remainder so that the parts add up to `total`.
fn divide(total: usize, jobs: &[usize]) -> Vec<usize> {
    let n = jobs.len();
    if n == 0 {
        return Vec::new();
    }
    let floor = FLOOR.min(total / n);
    let rest = total - floor * n;
    let all_jobs: u128 = jobs.iter().map(|&j| j as u128).sum();
    let weights: Vec<u128> = if all_jobs == 0 {
        vec![1; n]
    } else {
        jobs.iter().map(|&j| j as u128).collect()
    };
    let weight_sum: u128 = weights.iter().sum();
    let mut parts: Vec<usize> = Vec::with_capacity(n);
    let mut remainders: Vec<(u128, usize)> = Vec::with_capacity(n);
    for (i, w) in weights.iter().enumerate() {
        let exact = rest as u128 * w;
        parts.push(floor + usize::try_from(exact / weight_sum).unwrap_or(0));
        remainders.push((exact % weight_sum, i));
    }
    let mut left = total - parts.iter().sum::<usize>();
    // Largest remainder first; among equals, the earlier receiver.
    remainders.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for (_, i) in remainders {
        if left == 0 {
            break;
        }
        parts[i] += 1;
        left -= 1;
    }
    parts
}

impl ShareSlots {
    fn size(&self) -> std::sync::MutexGuard<'_, Size> {
        self.size.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Moves the share to `limit` permits. Growing first cancels what is
    /// owed; shrinking forgets free permits and owes the ones still held.
    fn resize(&self, limit: usize) {
        let mut size = self.size();
        if limit >= size.limit {
            let grow = limit - size.limit;
            let cancelled = grow.min(size.owed);
            size.owed -= cancelled;
            self.semaphore.add_permits(grow - cancelled);
        } else {
            let shrink = size.limit - limit;
            let forgotten = self.semaphore.forget_permits(shrink);
            size.owed += shrink - forgotten;
        }
        size.limit = limit;
    }

    /// A permit coming back: forgotten while the share owes permits.
    fn release(&self, permit: OwnedSemaphorePermit) {
        let mut size = self.size();
        if size.owed > 0 {
            size.owed -= 1;
            permit.forget();
        } else {
            drop(permit);
        }
    }
}

/// One scrape receiver's part of the [`ScrapeBudget`]. Dropping it (the
/// receiver stopped) gives its slots to the other receivers.
pub struct ScrapeShare {
    budget: Arc<Budget>,
    id: u64,
    component: String,
    slots: Arc<ShareSlots>,
}

impl std::fmt::Debug for ScrapeShare {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScrapeShare")
            .field("component", &self.component)
            .field("limit", &self.limit())
            .finish()
    }
}

/// A slot taken: one scrape in flight. Released when dropped.
pub struct ScrapeSlot {
    permit: Option<OwnedSemaphorePermit>,
    slots: Arc<ShareSlots>,
}

impl Drop for ScrapeSlot {
    fn drop(&mut self) {
        if let Some(p) = self.permit.take() {
            self.slots.release(p);
        }
    }
}

impl ScrapeShare {
    /// The receiver this share belongs to.
    pub fn component(&self) -> &str {
        &self.component
    }

    /// Scrapes this receiver may have in flight now.
    pub fn limit(&self) -> usize {
        self.slots.size().limit
    }

    /// Scrapes of this receiver in flight now.
    pub fn in_use(&self) -> usize {
        let size = self.slots.size();
        (size.limit + size.owed).saturating_sub(self.slots.semaphore.available_permits())
    }

    /// Tells the budget how many scrape jobs the receiver runs; every share
    /// is recomputed when it changed.
    pub fn set_jobs(&self, jobs: usize) {
        let mut shares = self.budget.lock();
        let Some(r) = shares.by_id.get_mut(&self.id) else {
            return;
        };
        if r.jobs == jobs {
            return;
        }
        r.jobs = jobs;
        self.budget.rebalance(&shares);
    }

    /// A slot, waiting at most `wait`; `None` when none came free in time.
    pub async fn acquire(&self, wait: Duration) -> Option<ScrapeSlot> {
        let sem = self.slots.semaphore.clone();
        match tokio::time::timeout(wait, sem.acquire_owned()).await {
            Ok(Ok(permit)) => Some(self.slot(permit)),
            _ => None,
        }
    }

    /// A slot if one is free now.
    pub fn try_acquire(&self) -> Option<ScrapeSlot> {
        let permit = self.slots.semaphore.clone().try_acquire_owned().ok()?;
        Some(self.slot(permit))
    }

    fn slot(&self, permit: OwnedSemaphorePermit) -> ScrapeSlot {
        ScrapeSlot {
            permit: Some(permit),
            slots: self.slots.clone(),
        }
    }
}

impl Drop for ScrapeShare {
    fn drop(&mut self) {
        let mut shares = self.budget.lock();
        if let Some(gone) = shares.by_id.remove(&self.id) {
            self.budget.rebalance(&shares);
            let replaced = shares.by_id.values().any(|r| r.component == gone.component);
            if let (Some(g), false) = (&gone.gauge, replaced) {
                g.set(0);
            }
        }
        // Slots still out come back to a semaphore nobody waits on.
        self.slots.resize(0);
    }
}

#[cfg(test)]
mod tests;
