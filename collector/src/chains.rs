//! Each pipeline's processor chain: its processors in the order the
//! pipeline lists them, in front of a [`Switch`] that hands what leaves the
//! last processor to the pipeline's exporters.
//!
//! A reload keeps a pipeline's chain, and whatever its processors hold,
//! when the pipeline's processor list and their typed configs are unchanged
//! (equal [`ChainKey`]s: a change of spelling only is no change); only
//! the switch at its end is pointed at the new exporters. Otherwise the
//! chain is rebuilt and the old one retired: its end is pointed at the new
//! exporters first, so that what its processors flush is not lost.

use crate::components::Decoded;
use crate::fanout::Switch;
use profcol_config::{ComponentId, PipelineConfig};
use profcol_pdata::Consumer;
use profcol_processor::{ProcessorConfig, ProcessorHandle};
use std::sync::Arc;
use std::time::Duration;

/// What decides whether a chain can be kept: its processors' ids and
/// decoded configs, in order. A chain started from one key runs as one
/// from an equal key would.
#[derive(Debug, Clone, PartialEq)]
pub struct ChainKey(Vec<(ComponentId, Option<ProcessorConfig>)>);

impl ChainKey {
    pub fn of(typed: &Decoded, pipeline: &PipelineConfig) -> Self {
        Self(
            pipeline
                .processors
                .iter()
                .map(|id| (id.clone(), typed.processors.get(id).cloned()))
                .collect(),
        )
    }
}

/// One pipeline's running processors.
pub struct Chain {
    pub key: ChainKey,
    /// Where the pipeline's receivers hand batches: the first processor,
    /// or the end switch when there are none.
    pub head: Arc<dyn Consumer>,
    /// Hands what leaves the last processor to the exporters.
    pub end: Arc<Switch>,
    /// First processor first.
    processors: Vec<ProcessorHandle>,
}

impl Chain {
    /// Starts the processors of `key` in front of `exporters`, last first;
    /// `start` starts one processor in front of the next hop.
    pub fn start(
        key: ChainKey,
        exporters: Arc<dyn Consumer>,
        mut start: impl FnMut(
            &ComponentId,
            &ProcessorConfig,
            Arc<dyn Consumer>,
        ) -> anyhow::Result<ProcessorHandle>,
    ) -> anyhow::Result<Self> {
        let end = Arc::new(Switch::new(exporters));
        let mut next: Arc<dyn Consumer> = end.clone();
        let mut processors: Vec<ProcessorHandle> = Vec::with_capacity(key.0.len());
        for (id, config) in key.0.iter().rev() {
            let started = match config {
                Some(config) => start(id, config, next),
                None => Err(anyhow::anyhow!("processor {id} is not configured")),
            };
            let handle = match started {
                Ok(h) => h,
                Err(e) => {
                    // The ones already started end their tasks (nothing
                    // has passed through them yet).
                    if let Ok(rt) = tokio::runtime::Handle::try_current() {
                        rt.spawn(async move {
                            for p in processors {
                                p.shutdown(Duration::from_secs(1)).await;
                            }
                        });
                    }
                    return Err(e);
                }
            };
            next = handle.consumer();
            processors.push(handle);
        }
        processors.reverse();
        Ok(Self {
            key,
            head: next,
            end,
            processors,
        })
    }

    /// Stops the processors first to last, each handing on what it holds
    /// within what is left of `deadline`.
    pub async fn shutdown(self, deadline: Duration) {
        let until = tokio::time::Instant::now() + deadline;
        for p in self.processors {
            let left = until.saturating_duration_since(tokio::time::Instant::now());
            p.shutdown(left).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_trait::async_trait;
    use profcol_pdata::{Error, ProfileBatch};
    use std::sync::Mutex;

    /// Records which hop saw a batch, in order.
    struct Tap {
        name: String,
        log: Arc<Mutex<Vec<String>>>,
        next: Option<Arc<dyn Consumer>>,
    }

    #[async_trait]
    impl Consumer for Tap {
        async fn consume(&self, batch: ProfileBatch) -> Result<(), Error> {
            self.log.lock().unwrap().push(self.name.clone());
            match &self.next {
                Some(n) => n.consume(batch).await,
                None => Ok(()),
            }
        }
    }

    /// A key of `ids`, each with a default `batch` config (the tests'
    /// start functions do not read it).
    fn key(ids: &[&str]) -> ChainKey {
        let batch = profcol_processor::PROCESSORS
            .decode(
                &"batch".parse().unwrap(),
                &profcol_config::Body::empty(),
                "",
            )
            .unwrap();
        ChainKey(
            ids.iter()
                .map(|i| (i.parse().unwrap(), Some(batch.clone())))
                .collect(),
        )
    }

    #[tokio::test]
    async fn processors_run_in_the_listed_order_and_end_at_the_switch() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let exporters: Arc<dyn Consumer> = Arc::new(Tap {
            name: "exporters".into(),
            log: log.clone(),
            next: None,
        });
        let chain = Chain::start(key(&["batch", "resource/x"]), exporters, |id, _, next| {
            Ok(ProcessorHandle::stateless(Arc::new(Tap {
                name: id.to_string(),
                log: log.clone(),
                next: Some(next),
            })))
        })
        .unwrap();
        chain.head.consume(ProfileBatch::default()).await.unwrap();
        assert_eq!(
            *log.lock().unwrap(),
            ["batch", "resource/x", "exporters"].map(String::from)
        );

        // The end is re-pointed without touching the processors.
        let other: Arc<dyn Consumer> = Arc::new(Tap {
            name: "new exporters".into(),
            log: log.clone(),
            next: None,
        });
        chain.end.set(other);
        log.lock().unwrap().clear();
        chain.head.consume(ProfileBatch::default()).await.unwrap();
        assert_eq!(log.lock().unwrap().last().unwrap(), "new exporters");
    }

    #[tokio::test]
    async fn without_processors_the_head_is_the_switch() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let exporters: Arc<dyn Consumer> = Arc::new(Tap {
            name: "exporters".into(),
            log: log.clone(),
            next: None,
        });
        let chain = Chain::start(key(&[]), exporters, |_, _, _| unreachable!()).unwrap();
        chain.head.consume(ProfileBatch::default()).await.unwrap();
        assert_eq!(*log.lock().unwrap(), ["exporters".to_string()]);
    }

    #[test]
    fn a_start_failure_is_the_chain_s_error() {
        let exporters: Arc<dyn Consumer> = Arc::new(crate::fanout::FanOut::new(Vec::new()));
        let err = Chain::start(key(&["batch"]), exporters, |id, _, _| {
            anyhow::bail!("cannot start processor {id}")
        })
        .err()
        .unwrap();
        assert_eq!(err.to_string(), "cannot start processor batch");
    }

    #[test]
    fn a_chain_runs_as_another_when_its_processors_are_the_same_typed_configs() {
        let with = |bodies: &[(&str, &str)]| {
            ChainKey(
                bodies
                    .iter()
                    .map(|(id, body)| {
                        let id: ComponentId = id.parse().unwrap();
                        let body = profcol_config::yaml::from_str(body).unwrap();
                        let config = profcol_processor::PROCESSORS
                            .decode(&id, &body, "")
                            .unwrap();
                        (id, Some(config))
                    })
                    .collect(),
            )
        };
        let running = with(&[
            ("batch", "{timeout: 200ms}"),
            (
                "resource",
                "{attributes: [{key: k, value: v, action: upsert}]}",
            ),
        ]);
        let respelled = with(&[
            ("batch", "{timeout: 0.2s}"),
            (
                "resource",
                "{attributes: [{action: upsert, key: k, value: v}]}",
            ),
        ]);
        assert_eq!(running, respelled);
        assert_ne!(
            running,
            with(&[
                ("batch", "{timeout: 300ms}"),
                (
                    "resource",
                    "{attributes: [{key: k, value: v, action: upsert}]}"
                )
            ])
        );
        assert_ne!(
            running,
            with(&[("batch", "{timeout: 200ms}")]),
            "a processor less"
        );
        let reordered = with(&[
            (
                "resource",
                "{attributes: [{key: k, value: v, action: upsert}]}",
            ),
            ("batch", "{timeout: 200ms}"),
        ]);
        assert_ne!(running, reordered, "another order");
    }
}
