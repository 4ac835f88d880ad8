//! Watches the `--config` files by polling: every [`POLL_EVERY`] each file
//! is read and hashed, and a change of any content asks for a reload. Reading
//! follows symlinks, so a Kubernetes ConfigMap update (an atomic symlink
//! swap) counts as a change; a file that cannot be read at the moment (being
//! replaced) is skipped until it can. A change must read the same twice,
//! [`SETTLE`] apart, so that a file caught half-written is not loaded.

use super::Request;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// How often the files are read.
pub const POLL_EVERY: Duration = Duration::from_secs(2);
/// How long a changed content must stay the same before it is reloaded.
pub const SETTLE: Duration = Duration::from_millis(200);

async fn read(files: &[String]) -> Option<Vec<u64>> {
    let files = files.to_vec();
    tokio::task::spawn_blocking(move || fingerprint(&files))
        .await
        .ok()
        .flatten()
}

/// One hash per file, or `None` when some file cannot be read now.
pub fn fingerprint(files: &[String]) -> Option<Vec<u64>> {
    files
        .iter()
        .map(|f| {
            let bytes = std::fs::read(f).ok()?;
            let mut h = DefaultHasher::new();
            bytes.hash(&mut h);
            Some(h.finish())
        })
        .collect()
}

/// Polls `files` until `stop`; `last` is the fingerprint of what is running.
/// Nothing is watched when there are no files (the embedded default).
pub fn spawn(
    files: Vec<String>,
    last: Option<Vec<u64>>,
    every: Duration,
    requests: mpsc::Sender<Request>,
    stop: CancellationToken,
) {
    if files.is_empty() {
        return;
    }
    tokio::spawn(async move {
        let mut last = last;
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tick.tick() => {}
            }
            let Some(now) = read(&files).await else {
                continue;
            };
            if last.as_ref() == Some(&now) {
                continue;
            }
            tokio::time::sleep(SETTLE.min(every)).await;
            if read(&files).await.as_ref() == Some(&now) {
                last = Some(now);
                // A full channel already holds a reload request, which will
                // read the files as they are then.
                let _ = requests.try_send(Request::without_reply("config file change"));
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_content_change_asks_for_one_reload() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.yaml");
        std::fs::write(&path, "a: 1\n").unwrap();
        let files = vec![path.to_string_lossy().to_string()];
        let (tx, mut rx) = mpsc::channel(4);
        let stop = CancellationToken::new();
        spawn(
            files.clone(),
            fingerprint(&files),
            Duration::from_millis(20),
            tx,
            stop.clone(),
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(rx.try_recv().is_err(), "no change, no request");
        // Rewritten with the same content: still no change.
        std::fs::write(&path, "a: 1\n").unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(rx.try_recv().is_err());
        std::fs::write(&path, "a: 2\n").unwrap();
        let req = tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(req.trigger, "config file change");
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(rx.try_recv().is_err(), "one change, one request");
        // Gone for a while (being replaced), then back changed.
        std::fs::remove_file(&path).unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(rx.try_recv().is_err());
        std::fs::write(&path, "a: 3\n").unwrap();
        tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .unwrap()
            .unwrap();
        stop.cancel();
    }
}
