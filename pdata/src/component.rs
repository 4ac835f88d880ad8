//! The shape every component shares: the context a factory gets (its id, a
//! cancellation token, the telemetry handle) and the self-metrics registry.
//! Pure types, no tasks.

use prometheus_client::registry::Registry;
use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use tokio_util::sync::CancellationToken;

/// A set of metric families registered once per process, shared by every
/// instance of a component type (instances tell themselves apart by a label).
pub trait MetricSet: Default + Send + Sync + 'static {
    fn register(&self, registry: &mut Registry);
}

/// The process's self-telemetry: one Prometheus registry.
#[derive(Clone, Default)]
pub struct Telemetry {
    inner: Arc<Mutex<TelemetryInner>>,
}

#[derive(Default)]
struct TelemetryInner {
    registry: Registry,
    sets: HashMap<TypeId, Arc<dyn Any + Send + Sync>>,
}

impl Telemetry {
    /// The metric set `M`, registered on first use.
    pub fn metrics<M: MetricSet>(&self) -> Arc<M> {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(existing) = inner.sets.get(&TypeId::of::<M>()) {
            if let Ok(m) = existing.clone().downcast::<M>() {
                return m;
            }
        }
        let set = Arc::new(M::default());
        set.register(&mut inner.registry);
        inner.sets.insert(TypeId::of::<M>(), set.clone());
        set
    }

    /// Runs `f` with the registry (for registering one-off metrics).
    pub fn with_registry<R>(&self, f: impl FnOnce(&mut Registry) -> R) -> R {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut inner.registry)
    }

    /// The Prometheus text exposition of every registered metric.
    pub fn encode(&self) -> String {
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let mut out = String::new();
        // Encoding into a String cannot fail on I/O; a formatting error would
        // only truncate the page.
        let _ = prometheus_client::encoding::text::encode(&mut out, &inner.registry);
        out
    }
}

impl std::fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Telemetry")
    }
}

/// What a factory receives besides its config.
#[derive(Clone, Debug)]
pub struct ComponentContext {
    /// `type[/name]` of this component instance.
    pub id: String,
    /// Cancelled when the component must stop.
    pub shutdown: CancellationToken,
    pub telemetry: Telemetry,
    /// The cluster's membership when `service.cluster` is enabled; `None`
    /// when this node runs alone.
    pub cluster: Option<crate::cluster::ClusterWatch>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::metrics::counter::Counter;

    #[derive(Default)]
    struct Set {
        hits: Counter,
    }

    impl MetricSet for Set {
        fn register(&self, r: &mut Registry) {
            r.register("test_hits", "Hits.", self.hits.clone());
        }
    }

    #[test]
    fn a_metric_set_registers_once() {
        let t = Telemetry::default();
        t.metrics::<Set>().hits.inc();
        t.metrics::<Set>().hits.inc();
        let page = t.encode();
        assert_eq!(page.matches("# TYPE test_hits counter").count(), 1);
        assert!(page.contains("test_hits_total 2"), "{page}");
    }
}
