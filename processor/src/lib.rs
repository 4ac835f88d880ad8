//! profcol's processors for the profiles signal, with the OpenTelemetry
//! Collector's names, keys and semantics.
//!
//! A pipeline's processors run in the order its `processors` list gives,
//! between its receivers and its exporters' fan-out. Each pipeline gets its
//! own instance of each processor it lists (as in the Collector), started
//! by its factory in front of the next hop; the collector feeds
//! [`ProcessorHandle::consumer`] and, when the pipeline is replaced or
//! stops, calls [`ProcessorHandle::shutdown`] so that a processor holding
//! profiles (`batch`) hands them on.
//!
//! [`PROCESSORS`] lists the built-in types (one factory each), decodes a
//! config body with every problem under its key path and starts a
//! processor from the decoded config.

pub mod actions;
pub mod attributes;
pub mod batch;
#[cfg(test)]
mod config_serialize_tests;
pub mod error;
pub mod filter;
pub mod memory_limiter;
mod otlp_edit;
mod regex_error;
pub mod registry;
pub mod resource;
pub mod serialize;
#[cfg(test)]
mod testutil;
pub mod transform;

pub use error::Error;
pub use registry::{ProcessorConfig, Processors, PROCESSORS};

use futures::future::BoxFuture;
use profcol_config::ComponentId;
use profcol_pdata::Consumer;
use profcol_runtime::ComponentContext;
use std::sync::Arc;
use std::time::Duration;

/// The version profcol's scope carries (the OTLP writer's `SCOPE_NAME` at
/// the workspace version), as processors see a pprof record's scope.
pub(crate) const SCOPE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// What a processor does when its pipeline is replaced or stops.
type Shutdown = Box<dyn FnOnce(Duration) -> BoxFuture<'static, ()> + Send>;

/// One running instance of a processor in one pipeline.
pub struct ProcessorHandle {
    consumer: Arc<dyn Consumer>,
    shutdown: Option<Shutdown>,
}

impl ProcessorHandle {
    /// A processor that holds nothing between batches.
    pub fn stateless(consumer: Arc<dyn Consumer>) -> Self {
        Self {
            consumer,
            shutdown: None,
        }
    }

    /// A processor that holds profiles and hands them on at `shutdown`.
    pub fn with_shutdown(consumer: Arc<dyn Consumer>, shutdown: Shutdown) -> Self {
        Self {
            consumer,
            shutdown: Some(shutdown),
        }
    }

    /// Where the previous hop hands batches.
    pub fn consumer(&self) -> Arc<dyn Consumer> {
        self.consumer.clone()
    }

    /// Hands on whatever the processor holds, within `deadline`.
    pub async fn shutdown(self, deadline: Duration) {
        if let Some(f) = self.shutdown {
            f(deadline).await;
        }
    }
}

/// Decodes `body` and starts one instance of processor `id` (inside a
/// tokio runtime) that hands what it passes to `next`: for tests and tools
/// that hold a YAML body; the collector decodes once and starts through
/// [`PROCESSORS`].
pub fn start_processor(
    id: &ComponentId,
    body: &profcol_config::Body,
    ctx: ComponentContext,
    next: Arc<dyn Consumer>,
) -> Result<ProcessorHandle, Error> {
    PROCESSORS.start_body(id, body, &format!("processors::{id}"), ctx, next)
}

#[cfg(test)]
mod tests {
    use super::*;
    use profcol_pdata::{Error as DataError, ProfileBatch};
    use std::sync::Mutex;

    #[derive(Default)]
    struct Capture(Mutex<Vec<ProfileBatch>>);

    #[async_trait::async_trait]
    impl Consumer for Capture {
        async fn consume(&self, batch: ProfileBatch) -> Result<(), DataError> {
            self.0.lock().unwrap().push(batch);
            Ok(())
        }
    }

    fn ctx() -> ComponentContext {
        ComponentContext {
            id: "p".into(),
            shutdown: Default::default(),
            telemetry: Default::default(),
            memory: Default::default(),
            cluster: None,
            scrape_budget: Default::default(),
            read_back_limits: Default::default(),
        }
    }

    #[tokio::test]
    async fn started_processors_chain_to_the_next_hop() {
        let sink = Arc::new(Capture::default());
        let body = profcol_config::Body::parse(
            "profile_conditions: ['resource.attributes[\"service.name\"] == \"drop\"']",
        )
        .unwrap();
        let filter =
            start_processor(&"filter".parse().unwrap(), &body, ctx(), sink.clone()).unwrap();
        let body = profcol_config::Body::parse(
            "attributes: [{key: service.name, value: drop, action: update}]",
        )
        .unwrap();
        let resource = start_processor(
            &"resource/r".parse().unwrap(),
            &body,
            ctx(),
            filter.consumer(),
        )
        .unwrap();
        let rec = |s: &str| testutil::record(&[("service_name", s)], &testutil::cpu());
        resource
            .consumer()
            .consume(ProfileBatch::new(vec![rec("a"), rec("b")]))
            .await
            .unwrap();
        // Every record renamed to "drop", then dropped: nothing handed on.
        assert!(sink.0.lock().unwrap().is_empty());
        resource.shutdown(Duration::from_secs(1)).await;
        filter.shutdown(Duration::from_secs(1)).await;
    }

    #[test]
    fn types_validate_and_unknown_ones_are_named() {
        assert_eq!(
            PROCESSORS.names().iter().map(|t| t.0).collect::<Vec<_>>(),
            [
                "batch",
                "memory_limiter",
                "resource",
                "attributes",
                "filter"
            ]
        );
        let err = PROCESSORS
            .decode(
                &"nope".parse().unwrap(),
                &profcol_config::Body::empty(),
                "processors::nope",
            )
            .unwrap_err();
        assert_eq!(
            err[0].to_string(),
            "processors::nope: unknown processor type \"nope\" (known: batch, memory_limiter, resource, attributes, filter)"
        );
        let err = PROCESSORS
            .decode(
                &"filter/x".parse().unwrap(),
                &profcol_config::yaml::from_str("profile_conditions: ['x ==']").unwrap(),
                "processors::filter/x",
            )
            .unwrap_err();
        assert!(
            err[0]
                .to_string()
                .starts_with("processors::filter/x::profile_conditions::0: column"),
            "{err:?}"
        );
        match start_processor(&"resource".parse().unwrap(), &profcol_config::Body::empty(), ctx(), Arc::new(Capture::default())) {
            Err(e) => assert_eq!(e.to_string(), "processors::resource::attributes: is required: the list of actions on resource attributes"),
            Ok(_) => panic!("an empty resource processor started"),
        }
    }

    #[test]
    fn typed_configs_compare_equal_however_spelled() {
        let same = |kind: &str, a: &str, b: &str| {
            let yaml = |s: &str| profcol_config::Body::parse(s).unwrap();
            let id: ComponentId = kind.parse().unwrap();
            PROCESSORS.decode(&id, &yaml(a), "").unwrap()
                == PROCESSORS.decode(&id, &yaml(b), "").unwrap()
        };
        assert!(same("batch", "{timeout: 200ms}", "{timeout: 0.2s}"));
        assert!(
            same("batch", "{}", "{timeout: 200ms, send_batch_size: 8192}"),
            "defaults written out"
        );
        assert!(!same("batch", "{timeout: 200ms}", "{timeout: 300ms}"));
        assert!(same(
            "memory_limiter",
            "{check_interval: 1s, limit_mib: 100}",
            "{check_interval: 1000ms, limit_mib: 100}"
        ));
        let resource = |pattern: &str| {
            format!("{{attributes: [{{key: k, pattern: '{pattern}', action: delete}}]}}")
        };
        assert!(same("resource", &resource("^a.*"), &resource("^a.*")));
        assert!(
            !same("resource", &resource("^a.*"), &resource("^b.*")),
            "patterns compare by text"
        );
        let attributes = |service: &str| {
            format!("{{actions: [{{key: k, action: delete}}], include: {{match_type: regexp, services: ['{service}']}}}}")
        };
        assert!(same("attributes", &attributes("a.*"), &attributes("a.*")));
        assert!(!same("attributes", &attributes("a.*"), &attributes("b.*")));
        let filter = |pattern: &str| {
            format!("{{profile_conditions: ['IsMatch(resource.attributes[\"service.name\"], \"{pattern}\")']}}")
        };
        assert!(same("filter", &filter("a.*"), &filter("a.*")));
        assert!(!same("filter", &filter("a.*"), &filter("b.*")));
        assert!(same(
            "filter",
            "{error_mode: propagate, profile_conditions: ['true']}",
            "{profile_conditions: ['true']}"
        ));
    }
}
