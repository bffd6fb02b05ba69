//! Repeated warnings at most once a second each, saying how many were held back: while
//! the database is down every member turn hits the same few warnings, and a busy server
//! would write thousands of identical lines a second. Each line logged carries
//! `held_back`, the number of the same warning left out since the one before;
//! `/metrics` and `/healthz` show the spool and the database state meanwhile.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use once_cell::sync::Lazy;

/// Milliseconds since the first use, plus one (0 means "never logged").
fn now_ms() -> u64 {
    static START: Lazy<Instant> = Lazy::new(Instant::now);
    u64::try_from(START.elapsed().as_millis()).unwrap_or(u64::MAX) + 1
}

/// One kind of warning.
pub struct Throttle {
    every_ms: u64,
    last_ms: AtomicU64,
    held: AtomicU64,
}

impl Throttle {
    pub const fn every(period: Duration) -> Throttle {
        Throttle {
            every_ms: period.as_millis() as u64,
            last_ms: AtomicU64::new(0),
            held: AtomicU64::new(0),
        }
    }

    /// Some(how many were held back since the last one) when this occurrence is to be
    /// logged; None when it is held back.
    pub fn admit(&self) -> Option<u64> {
        self.admit_at(now_ms())
    }

    fn admit_at(&self, now: u64) -> Option<u64> {
        let last = self.last_ms.load(Ordering::Acquire);
        let due = last == 0 || now >= last.saturating_add(self.every_ms);
        if due
            && self
                .last_ms
                .compare_exchange(last, now, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            return Some(self.held.swap(0, Ordering::AcqRel));
        }
        self.held.fetch_add(1, Ordering::AcqRel);
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_warning_a_period_with_the_count_held_back() {
        let t = Throttle::every(Duration::from_secs(1));
        assert_eq!(t.admit_at(1_000), Some(0));
        assert_eq!(t.admit_at(1_400), None);
        assert_eq!(t.admit_at(1_999), None);
        assert_eq!(t.admit_at(2_000), Some(2));
        assert_eq!(t.admit_at(2_001), None);
        assert_eq!(t.admit_at(9_000), Some(1));
        assert_eq!(t.admit_at(10_000), Some(0));
    }
}
