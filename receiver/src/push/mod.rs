//! Push receivers: servers that other agents send profiles to, as opposed
//! to `pyroscope_scrape`, which fetches them. `otlp` takes OTLP profiles
//! (gRPC and HTTP) and `pyroscope` takes what the Pyroscope SDKs push
//! (`/ingest` and the push API). Both hand what they accept to the same
//! downstream [`Consumer`](profcol_pdata::Consumer) as scraped profiles,
//! so pipelines, fan-out, queues and limits apply alike.
//!
//! What they share lives here: [`serve`] (bind an endpoint, optional TLS
//! and auth, stop with the component), [`PushEvents`] (each request logged
//! and counted in one place: metrics, and the [`PushStatus`] the components
//! page and `/api/v1/components` show) and [`PushHandle`].

pub mod events;
pub mod metrics;
pub mod otlp;
pub mod pyroscope;
pub mod server;
pub mod status;

pub use events::{PushEvents, DOWNSTREAM_REFUSED};
pub use server::{serve, ServeOptions};
pub use status::{PushStatus, PushStatusSnapshot};

use std::sync::Arc;
use tokio_util::task::TaskTracker;

/// A running push receiver: its servers' tasks and its counters.
pub struct PushHandle {
    pub tracker: TaskTracker,
    pub status: Arc<PushStatus>,
}
