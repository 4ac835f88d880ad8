//! Each pipeline's processor chain: its processors in the order the
//! pipeline lists them, in front of a [`Switch`] that hands what leaves the
//! last processor to the pipeline's exporters.
//!
//! A reload keeps a pipeline's chain, and whatever its processors hold,
//! when the pipeline's processor list and their configs are unchanged; only
//! the switch at its end is pointed at the new exporters. Otherwise the
//! chain is rebuilt and the old one retired: its end is pointed at the new
//! exporters first, so that what its processors flush is not lost.

use crate::fanout::Switch;
use profcol_config::{CollectorConfig, ComponentId, Kind, PipelineConfig};
use profcol_pdata::Consumer;
use profcol_processor::ProcessorHandle;
use std::sync::Arc;
use std::time::Duration;

/// What decides whether a chain can be kept: its processors' ids and bodies.
#[derive(Debug, Clone, PartialEq)]
pub struct ChainKey(Vec<(ComponentId, Option<profcol_config::yaml::Value>)>);

impl ChainKey {
    pub fn of(cfg: &CollectorConfig, pipeline: &PipelineConfig) -> Self {
        Self(
            pipeline
                .processors
                .iter()
                .map(|id| (id.clone(), cfg.get(Kind::Processor, id).cloned()))
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
            &profcol_config::yaml::Value,
            Arc<dyn Consumer>,
        ) -> anyhow::Result<ProcessorHandle>,
    ) -> anyhow::Result<Self> {
        let end = Arc::new(Switch::new(exporters));
        let mut next: Arc<dyn Consumer> = end.clone();
        let mut processors: Vec<ProcessorHandle> = Vec::with_capacity(key.0.len());
        let null = profcol_config::yaml::Value::Null;
        for (id, body) in key.0.iter().rev() {
            let handle = match start(id, body.as_ref().unwrap_or(&null), next) {
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

    fn key(ids: &[&str]) -> ChainKey {
        ChainKey(ids.iter().map(|i| (i.parse().unwrap(), None)).collect())
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
}
