//! What a running component is handed besides its data: the
//! [`ComponentContext`] a factory receives (its id, a cancellation token,
//! the process's [`Telemetry`], [`MemoryGuard`] and [`ScrapeBudget`], the
//! cluster's membership), the [`ClusterView`] that says which node owns which
//! target, and how this process's memory use and the memory available to
//! it are read ([`memory`]), and what a hand-off's caller lends the hops
//! below it ([`caller`]: giving up, being told of waits). No tasks: the collector builds and updates
//! them, receivers, processors and exporters read them.
//!
//! ```
//! use profcol_runtime::{ClusterView, MemoryGuard};
//! let memory = MemoryGuard::new(512 << 20); // refuse new work from 512 MiB
//! memory.record(600 << 20);
//! assert!(memory.check().is_err());
//! assert!(ClusterView::single("node-a").owns(42));
//! ```

pub mod calendar;
pub mod caller;
mod cluster;
mod component;
pub mod factory;
pub mod memory;
pub mod scrape_slots;

pub use cluster::{target_key, ClusterView, ClusterWatch};
pub use component::{ComponentContext, MemoryGuard, MemoryOver, MetricSet, Telemetry};
pub use scrape_slots::{ScrapeBudget, ScrapeShare, ScrapeSlot};
