//! What a push receiver reports about itself: where it listens, how many
//! requests and profiles it accepted, how many it refused and why (the last
//! refusal's text). Read by the admin server's components page.

use serde::Serialize;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

/// Counters shared by a receiver's request handlers.
#[derive(Debug, Default)]
pub struct PushStatus {
    listening: Mutex<Vec<(String, SocketAddr)>>,
    requests: AtomicU64,
    profiles: AtomicU64,
    refused: AtomicU64,
    last_refusal: Mutex<Option<String>>,
}

/// A copy of [`PushStatus`] at one moment.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PushStatusSnapshot {
    /// `(protocol, bound address)` of every endpoint.
    pub listening: Vec<(String, String)>,
    pub requests_accepted: u64,
    pub profiles_accepted: u64,
    pub requests_refused: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_refusal: Option<String>,
}

impl PushStatus {
    /// Records that `protocol` (`grpc`, `http`) listens on `addr`.
    pub fn listening(&self, protocol: &str, addr: SocketAddr) {
        self.listening
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((protocol.to_string(), addr));
    }

    /// The bound address of `protocol`, once listening.
    pub fn address(&self, protocol: &str) -> Option<SocketAddr> {
        self.listening
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .find(|(p, _)| p == protocol)
            .map(|(_, a)| *a)
    }

    /// A request whose `profiles` profiles went downstream.
    pub fn accepted(&self, profiles: usize) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.profiles.fetch_add(profiles as u64, Ordering::Relaxed);
    }

    /// A request answered with an error; `reason` is what the sender was told.
    pub fn refused(&self, reason: &str) {
        self.refused.fetch_add(1, Ordering::Relaxed);
        *self
            .last_refusal
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(reason.to_string());
    }

    pub fn snapshot(&self) -> PushStatusSnapshot {
        PushStatusSnapshot {
            listening: self
                .listening
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .iter()
                .map(|(p, a)| (p.clone(), a.to_string()))
                .collect(),
            requests_accepted: self.requests.load(Ordering::Relaxed),
            profiles_accepted: self.profiles.load(Ordering::Relaxed),
            requests_refused: self.refused.load(Ordering::Relaxed),
            last_refusal: self
                .last_refusal
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_keeps_the_last_refusal() {
        let s = PushStatus::default();
        s.listening("http", "127.0.0.1:4040".parse().unwrap());
        s.accepted(3);
        s.accepted(1);
        s.refused("truncated protobuf");
        s.refused("unknown format \"xyz\"");
        let snap = s.snapshot();
        assert_eq!(snap.requests_accepted, 2);
        assert_eq!(snap.profiles_accepted, 4);
        assert_eq!(snap.requests_refused, 2);
        assert_eq!(snap.last_refusal.as_deref(), Some("unknown format \"xyz\""));
        assert_eq!(s.address("http").unwrap().port(), 4040);
        assert!(s.address("grpc").is_none());
    }
}
