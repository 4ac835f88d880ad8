//! The receiver types: one [`Factory`] each, listed in [`RECEIVERS`]. The
//! listing (`profcol components`), validation, reload comparison, the
//! read-back caps and starting a receiver all go through it; a new receiver
//! type is a factory here, listed in [`RECEIVERS`], and a variant of
//! [`ReceiverConfig`].
//!
//! ```
//! use profcol_receiver::RECEIVERS;
//! let scrape = RECEIVERS.lookup("pyroscope_scrape").unwrap();
//! assert_eq!(scrape.stability().as_str(), "beta");
//! assert!(RECEIVERS.lookup("prometheus").is_none());
//! ```

use crate::config::{ScrapeConfig, Settings};
use crate::push::otlp::config::OtlpConfig;
use crate::push::pyroscope::config::PyroscopeReceiverConfig;
use crate::{push, Error, Handoff, ReceiverHandle};
use profcol_config::Body;
use profcol_config::{decode, ComponentId, Problem};
use profcol_pdata::pprof::DecodeLimits;
use profcol_pdata::Consumer;
use profcol_runtime::factory::{wrong_config, Factory, Kind, Registry, Stability};
use profcol_runtime::ComponentContext;
use std::sync::Arc;

/// The receiver kind.
pub struct Receivers;

impl Kind for Receivers {
    const SINGULAR: &'static str = "receiver";
    type Config = ReceiverConfig;
    type Input = Downstream;
    type Running = ReceiverHandle;
    type Error = Error;
    fn invalid(problems: Vec<Problem>) -> Error {
        Error::InvalidConfig(problems)
    }
}

/// Every receiver type, in the order `profcol components` lists them.
pub static RECEIVERS: Registry<Receivers> =
    Registry::new(&[&ScrapeFactory, &OtlpFactory, &PyroscopeFactory]);

/// Where a started receiver hands what it takes in.
pub struct Downstream {
    pub next: Arc<dyn Consumer>,
    /// The delta state a stopped instance of the same receiver left (see
    /// [`ReceiverHandle::handoff`]); empty for a first start.
    pub handoff: Arc<Handoff>,
}

/// A decoded, validated receiver config, whatever its type; equal configs
/// configure the same receiver (what a reload compares). A scrape config
/// has its defaults that depend on other keys written out
/// ([`ScrapeConfig::resolved`]).
#[derive(Debug, Clone, PartialEq)]
pub enum ReceiverConfig {
    Scrape(Box<ScrapeConfig>),
    Otlp(Box<OtlpConfig>),
    Pyroscope(Box<PyroscopeReceiverConfig>),
}

/// The body of the receiver's type, as its factory decodes it.
impl serde::Serialize for ReceiverConfig {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Scrape(c) => c.serialize(s),
            Self::Otlp(c) => c.serialize(s),
            Self::Pyroscope(c) => c.serialize(s),
        }
    }
}

impl ReceiverConfig {
    /// The decode caps the receiver applies to the pprof profiles it takes
    /// in; `None` for the `otlp` receiver, which keeps requests as OTLP.
    pub fn decode_limits(&self, id: &str) -> Option<DecodeLimits> {
        match self {
            Self::Scrape(c) => {
                let settings = Settings::new(id, c);
                Some(settings.limits.decode_limits(settings.max_body_size))
            }
            Self::Otlp(_) => None,
            Self::Pyroscope(c) => Some(c.decode_limits()),
        }
    }
}

struct ScrapeFactory;

impl Factory<Receivers> for ScrapeFactory {
    fn name(&self) -> &'static str {
        crate::PYROSCOPE_SCRAPE
    }
    fn stability(&self) -> Stability {
        Stability::Beta
    }
    fn decode(
        &self,
        id: &ComponentId,
        body: &Body,
        path: &str,
    ) -> Result<ReceiverConfig, Vec<Problem>> {
        decode::<ScrapeConfig>(body, path)
            .map(|c| ReceiverConfig::Scrape(Box::new(c.resolved(&id.to_string()))))
    }
    fn start(
        &self,
        id: &ComponentId,
        config: &ReceiverConfig,
        ctx: ComponentContext,
        down: Downstream,
    ) -> Result<ReceiverHandle, Error> {
        match config {
            ReceiverConfig::Scrape(c) => crate::start_scrape(id, c, ctx, down),
            _ => Err(wrong_config(self, id)),
        }
    }
}

struct OtlpFactory;

impl Factory<Receivers> for OtlpFactory {
    fn name(&self) -> &'static str {
        push::otlp::TYPE
    }
    fn stability(&self) -> Stability {
        Stability::Alpha
    }
    fn decode(
        &self,
        _: &ComponentId,
        body: &Body,
        path: &str,
    ) -> Result<ReceiverConfig, Vec<Problem>> {
        decode(body, path).map(|c| ReceiverConfig::Otlp(Box::new(c)))
    }
    fn start(
        &self,
        id: &ComponentId,
        config: &ReceiverConfig,
        ctx: ComponentContext,
        down: Downstream,
    ) -> Result<ReceiverHandle, Error> {
        match config {
            ReceiverConfig::Otlp(c) => push::otlp::start(id, c, ctx, down.next)
                .map(|started| ReceiverHandle::push(id, started, down.handoff)),
            _ => Err(wrong_config(self, id)),
        }
    }
}

struct PyroscopeFactory;

impl Factory<Receivers> for PyroscopeFactory {
    fn name(&self) -> &'static str {
        push::pyroscope::TYPE
    }
    fn stability(&self) -> Stability {
        Stability::Alpha
    }
    fn decode(
        &self,
        _: &ComponentId,
        body: &Body,
        path: &str,
    ) -> Result<ReceiverConfig, Vec<Problem>> {
        decode(body, path).map(|c| ReceiverConfig::Pyroscope(Box::new(c)))
    }
    fn start(
        &self,
        id: &ComponentId,
        config: &ReceiverConfig,
        ctx: ComponentContext,
        down: Downstream,
    ) -> Result<ReceiverHandle, Error> {
        match config {
            ReceiverConfig::Pyroscope(c) => push::pyroscope::start(id, c, ctx, down.next)
                .map(|started| ReceiverHandle::push(id, started, down.handoff)),
            _ => Err(wrong_config(self, id)),
        }
    }
}
