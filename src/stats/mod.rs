//! Counters shared by all workers (relaxed atomics: each is a monotonic
//! count read only for reporting) and the per-stage view of them.

use std::sync::atomic::{AtomicU64, Ordering};

/// A monotonic counter.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    #[inline]
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }
    #[inline]
    pub fn inc(&self) {
        self.add(1);
    }
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A snapshot of every counter, in stable order: `(stage, name, value)`.
/// Names are snake_case and double as metric and JSON keys.
pub type Snapshot = Vec<(&'static str, String, u64)>;
