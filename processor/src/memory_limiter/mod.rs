//! The `memory_limiter` processor: measures profcol's memory use every
//! `check_interval` and, while it is at or above the soft limit (`limit`
//! minus `spike_limit`), refuses new data to the previous hop with a
//! retryable refusal, so that receivers push back on their senders.
//!
//! ```yaml
//! processors:
//!   memory_limiter:
//!     check_interval: 1s
//!     limit_mib: 4000        # or limit_percentage: 80 (of the cgroup limit or the machine)
//!     spike_limit_mib: 800   # default: 20% of the limit
//! ```
//!
//! Memory use is the process's resident set, read as
//! `service.memory_limit_mib` reads it
//! ([`profcol_runtime::memory::resident_bytes`]).

pub mod config;
mod events;
mod limiter;
mod limits;
pub mod metrics;

pub use config::MemoryLimiterConfig;

use crate::{Error, ProcessorHandle};
use events::LimiterEvents;
use futures::FutureExt;
use limiter::{Limiter, UsageReader};
use limits::Limits;
use profcol_config::{join_path, Problem};
use profcol_pdata::Consumer;
use profcol_runtime::ComponentContext;
use std::sync::Arc;

/// Starts one `memory_limiter` (configured at `path`) in front of `next`,
/// measuring this process.
pub fn start(
    cfg: MemoryLimiterConfig,
    path: &str,
    ctx: &ComponentContext,
    next: Arc<dyn Consumer>,
) -> Result<ProcessorHandle, Error> {
    let limits = Limits::of(&cfg, profcol_runtime::memory::available_bytes).ok_or_else(|| {
        Error::Config(vec![Problem::new(
            join_path(path, "limit_percentage"),
            "cannot read the memory available to profcol (cgroup limit or /proc/meminfo); set limit_mib instead",
        )])
    })?;
    if profcol_runtime::memory::resident_bytes().is_none() {
        return Err(Error::Config(vec![Problem::new(
            path,
            "cannot read profcol's memory use (/proc/self/status): the memory limiter needs Linux",
        )]));
    }
    let read: UsageReader = Arc::new(profcol_runtime::memory::resident_bytes);
    Ok(start_with(cfg, path, limits, read, ctx, next))
}

/// [`start`] with the limits computed and memory use read by `read`.
fn start_with(
    cfg: MemoryLimiterConfig,
    path: &str,
    limits: Limits,
    read: UsageReader,
    ctx: &ComponentContext,
    next: Arc<dyn Consumer>,
) -> ProcessorHandle {
    let events = LimiterEvents::new(
        &ctx.id,
        ctx.telemetry.metrics::<metrics::MemoryLimiterMetrics>(),
    );
    let interval = cfg.check_interval.get();
    events.configured(limits, interval);
    events.not_honoured(&cfg.not_honoured(path));
    let limiter = Arc::new(Limiter::new(limits, next, events));
    let stop = ctx.shutdown.child_token();
    tokio::spawn(limiter.clone().run(read, interval, stop.clone()));
    let consumer: Arc<dyn Consumer> = limiter;
    ProcessorHandle::with_shutdown(
        consumer,
        // It holds nothing: stopping is ending its checks.
        Box::new(move |_| async move { stop.cancel() }.boxed()),
    )
}

#[cfg(test)]
mod tests;
