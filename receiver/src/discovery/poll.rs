//! The polling loop shared by the HTTP-based discovery sources: fetch every
//! period (missed ticks skipped, each fetch bounded by the period), publish
//! the groups when they changed, and on a failure keep the last good
//! targets and record the error.

use super::{DiscoveryContext, TargetGroup};
use profcol_config::Duration;
use std::future::Future;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

/// Polls until `shutdown` or until the manager is gone. `describe` shapes
/// every error message (the fetch's own and the timeout) before it is
/// recorded; `changed` sees a changed set of groups before it is published
/// and may return work to await first.
pub(crate) async fn poll<Fetch, Hook>(
    source: &str,
    every: std::time::Duration,
    ctx: &DiscoveryContext,
    shutdown: &CancellationToken,
    mut fetch: impl FnMut() -> Fetch,
    describe: impl Fn(String) -> String,
    mut changed: impl FnMut(&[TargetGroup]) -> Option<Hook>,
) where
    Fetch: Future<Output = Result<Vec<TargetGroup>, String>>,
    Hook: Future<Output = ()>,
{
    let every = every.max(std::time::Duration::from_millis(1));
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut last: Option<Vec<TargetGroup>> = None;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = ticker.tick() => {}
        }
        let result = tokio::select! {
            _ = shutdown.cancelled() => return,
            r = tokio::time::timeout(every, fetch()) => r,
        };
        let groups = match result {
            Ok(Ok(groups)) => groups,
            Ok(Err(message)) => {
                ctx.failed(source, describe(message));
                continue;
            }
            Err(_) => {
                let message = format!("no answer within {}", Duration(every));
                ctx.failed(source, describe(message));
                continue;
            }
        };
        if last.as_ref() == Some(&groups) {
            ctx.publish_unchanged(source);
            continue;
        }
        if let Some(hook) = changed(&groups) {
            hook.await;
        }
        last = Some(groups.clone());
        if !ctx.publish(source, groups).await {
            return;
        }
    }
}
