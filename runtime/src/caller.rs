//! What the caller of a hand-off lends the hops below it while the call
//! runs, as Go's `context` does in the OpenTelemetry Collector: a token
//! that says the caller gave up (its receiver is stopping), and a hook
//! told when a hop starts and stops waiting for room (a full sending queue
//! with `block_on_overflow`).
//!
//! A receiver wraps its `consume` call in [`scope`]; a hop that waits
//! marks the wait with [`waiting`] and ends it at [`cancelled`]. Outside a
//! scope (a processor's timer task) nothing is lent: the wait cannot be
//! given up by a caller and nobody is told.
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use profcol_runtime::caller::{self, Caller};
//! use tokio_util::sync::CancellationToken;
//! let gave_up = CancellationToken::new();
//! gave_up.cancel();
//! let caller = Caller { gave_up, observer: None };
//! // A hop that would wait for room sees that the caller gave up.
//! let waited = caller::scope(caller, async {
//!     let _mark = caller::waiting();
//!     caller::cancelled().await;
//!     "gave up"
//! }).await;
//! assert_eq!(waited, "gave up");
//! # });
//! ```

use std::future::Future;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// Told when a hop below the caller starts and stops waiting.
pub trait WaitObserver: Send + Sync {
    fn wait_started(&self);
    fn wait_ended(&self);
}

/// What one call lends the hops below it.
#[derive(Clone)]
pub struct Caller {
    /// Cancelled when the caller no longer waits for the hand-off.
    pub gave_up: CancellationToken,
    pub observer: Option<Arc<dyn WaitObserver>>,
}

tokio::task_local! {
    static CALLER: Caller;
}

/// Runs `call` with `caller` lent to every hop it awaits in this task.
pub async fn scope<F: Future>(caller: Caller, call: F) -> F::Output {
    CALLER.scope(caller, call).await
}

/// Resolves when the current caller gave up; never outside a scope.
pub async fn cancelled() {
    match CALLER.try_with(|c| c.gave_up.clone()) {
        Ok(token) => token.cancelled_owned().await,
        Err(_) => std::future::pending().await,
    }
}

/// Whether the current caller already gave up.
pub fn gave_up() -> bool {
    CALLER
        .try_with(|c| c.gave_up.is_cancelled())
        .unwrap_or(false)
}

/// Tells the caller's observer that a wait starts; the returned guard
/// tells it that the wait ended when dropped.
pub fn waiting() -> WaitMark {
    let observer = CALLER.try_with(|c| c.observer.clone()).ok().flatten();
    if let Some(o) = &observer {
        o.wait_started();
    }
    WaitMark { observer }
}

/// A wait in progress; see [`waiting`].
pub struct WaitMark {
    observer: Option<Arc<dyn WaitObserver>>,
}

impl Drop for WaitMark {
    fn drop(&mut self) {
        if let Some(o) = &self.observer {
            o.wait_ended();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicI64, Ordering};
    use std::time::Duration;

    #[derive(Default)]
    struct Count(AtomicI64, AtomicI64);

    impl WaitObserver for Count {
        fn wait_started(&self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
        fn wait_ended(&self) {
            self.1.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_observer_sees_each_wait_and_the_token_ends_it() {
        let count = Arc::new(Count::default());
        let token = CancellationToken::new();
        let caller = Caller {
            gave_up: token.clone(),
            observer: Some(count.clone()),
        };
        let t = token.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(3)).await;
            t.cancel();
        });
        let started = tokio::time::Instant::now();
        scope(caller, async {
            let _mark = waiting();
            assert!(!gave_up());
            cancelled().await;
            assert!(gave_up());
        })
        .await;
        assert_eq!(started.elapsed(), Duration::from_secs(3));
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
        assert_eq!(count.1.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn outside_a_scope_nothing_gives_up() {
        let _mark = waiting();
        assert!(!gave_up());
        let r = tokio::time::timeout(Duration::from_secs(60), cancelled()).await;
        assert!(r.is_err());
    }
}
