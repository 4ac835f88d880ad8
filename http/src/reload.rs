//! Rebuilds the reqwest client when a file named by `tls_config` (`ca_file`,
//! `cert_file`, `key_file`) changes, so rotated certificates are picked up
//! without a restart — as Prometheus' client does, by comparing the files'
//! contents on every request. A rebuild that fails (say, a half-written key)
//! keeps the previous client and is logged once per content change.

use crate::error::Error;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Mutex;

pub(crate) struct Reloader {
    files: Vec<String>,
    state: Mutex<State>,
}

struct State {
    fingerprint: u64,
    client: reqwest::Client,
}

impl Reloader {
    /// `None` when no TLS file is configured (nothing can change).
    pub(crate) fn new(files: Vec<String>, client: reqwest::Client) -> Option<Self> {
        if files.is_empty() {
            return None;
        }
        let fingerprint = fingerprint(&files);
        Some(Self {
            files,
            state: Mutex::new(State {
                fingerprint,
                client,
            }),
        })
    }

    /// The client to use now, rebuilt with `build` first when the files changed.
    pub(crate) async fn current(
        &self,
        build: impl FnOnce() -> Result<reqwest::Client, Error>,
    ) -> reqwest::Client {
        let mut contents = Vec::with_capacity(self.files.len());
        for f in &self.files {
            contents.push(tokio::fs::read(f).await.ok());
        }
        let now = hash(&contents);
        let mut state = match self.state.lock() {
            Ok(s) => s,
            Err(poisoned) => poisoned.into_inner(),
        };
        if now != state.fingerprint {
            state.fingerprint = now;
            match build() {
                Ok(client) => {
                    tracing::info!(files = ?self.files, "TLS files changed; reloaded the HTTP client.");
                    state.client = client;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "TLS files changed but cannot be loaded; keeping the previous HTTP client.");
                }
            }
        }
        state.client.clone()
    }
}

/// A hash of the files' contents, read now (at build time).
fn fingerprint(files: &[String]) -> u64 {
    let contents: Vec<_> = files.iter().map(|f| std::fs::read(f).ok()).collect();
    hash(&contents)
}

/// An unreadable file hashes as "missing".
fn hash(contents: &[Option<Vec<u8>>]) -> u64 {
    let mut h = DefaultHasher::new();
    contents.hash(&mut h);
    h.finish()
}
