//! Coalesces bursts of watch events into few publications: a change is
//! published once events have settled for [`SETTLE`], and never sooner than
//! [`MIN_INTERVAL`] after the previous publication, so a rolling update of
//! hundreds of pods costs the manager one update a second at most.

use tokio::time::{Duration, Instant};

/// How long after the first unpublished change the targets are rebuilt.
pub(crate) const SETTLE: Duration = Duration::from_millis(100);
/// The shortest time between two publications of one source.
pub(crate) const MIN_INTERVAL: Duration = Duration::from_secs(1);

/// When the next publication is due.
#[derive(Debug, Default)]
pub(crate) struct Coalescer {
    pending_since: Option<Instant>,
    last_publish: Option<Instant>,
}

impl Coalescer {
    /// Something changed at `now`.
    pub(crate) fn changed(&mut self, now: Instant) {
        self.pending_since.get_or_insert(now);
    }

    /// When to rebuild and publish; None when nothing changed.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        let first = self.pending_since?;
        let settled = first + SETTLE;
        Some(match self.last_publish {
            Some(last) => settled.max(last + MIN_INTERVAL),
            None => settled,
        })
    }

    /// The pending changes were published at `now`.
    pub(crate) fn published(&mut self, now: Instant) {
        self.pending_since = None;
        self.last_publish = Some(now);
    }

    /// The pending changes cannot be published yet (a watch has not
    /// listed); the next change arms the deadline again.
    pub(crate) fn postpone(&mut self) {
        self.pending_since = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn bursts_publish_once_a_second_at_most() {
        let mut c = Coalescer::default();
        assert_eq!(c.deadline(), None);
        let t0 = Instant::now();
        c.changed(t0);
        tokio::time::advance(Duration::from_millis(50)).await;
        c.changed(Instant::now());
        // The first publication comes SETTLE after the first change.
        assert_eq!(c.deadline(), Some(t0 + SETTLE));
        tokio::time::advance(SETTLE).await;
        let p1 = Instant::now();
        c.published(p1);
        assert_eq!(c.deadline(), None);

        // A burst right after waits for MIN_INTERVAL since the last one.
        for _ in 0..20 {
            tokio::time::advance(Duration::from_millis(10)).await;
            c.changed(Instant::now());
        }
        assert_eq!(c.deadline(), Some(p1 + MIN_INTERVAL));

        // A change long after publishes SETTLE after it.
        c.published(p1 + MIN_INTERVAL);
        tokio::time::advance(Duration::from_secs(5)).await;
        let t = Instant::now();
        c.changed(t);
        assert_eq!(c.deadline(), Some(t + SETTLE));
        c.postpone();
        assert_eq!(c.deadline(), None);
    }
}
