//! Per-user token bucket (in memory): each (channel, user) may send `burst` messages
//! at once, refilled at `per_minute`. A limited user is told politely, once per bucket
//! empty spell, rather than silently ignored.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::config::RateLimit;

/// The polite answer given to a member who is sending too fast.
pub const RATE_LIMITED_MESSAGE: &str =
    "短い時間にたくさんのメッセージをいただいたため、少し時間をおいてから（1分ほど）もう一度お送りください。セキュリティのトラブルでお急ぎの場合は、緊急相談窓口 0120-179-066（年中無休 9:00〜21:00）へお電話ください。";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// Over the limit. `notify` is true the first time in a spell, so a channel that
    /// answers by posting does not post an apology for every dropped message.
    Limited {
        notify: bool,
        retry_after: Duration,
    },
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    last: Instant,
    notified: bool,
}

#[derive(Debug)]
pub struct RateLimiter {
    cfg: RateLimit,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl RateLimiter {
    pub fn new(cfg: RateLimit) -> RateLimiter {
        RateLimiter {
            cfg,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    pub fn check(&self, key: &str) -> Decision {
        self.check_at(key, Instant::now())
    }

    pub fn check_at(&self, key: &str, now: Instant) -> Decision {
        let per_sec = f64::from(self.cfg.per_minute) / 60.0;
        let burst = f64::from(self.cfg.burst);
        let mut map = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > 10_000 {
            // forget users whose buckets are full again
            map.retain(|_, b| {
                b.tokens + now.saturating_duration_since(b.last).as_secs_f64() * per_sec < burst
            });
        }
        let b = map.entry(key.to_string()).or_insert(Bucket {
            tokens: burst,
            last: now,
            notified: false,
        });
        let elapsed = now.saturating_duration_since(b.last).as_secs_f64();
        b.tokens = (b.tokens + elapsed * per_sec).min(burst);
        b.last = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            b.notified = false;
            Decision::Allow
        } else {
            let notify = !b.notified;
            b.notified = true;
            let retry_after = if per_sec > 0.0 {
                Duration::from_secs_f64((1.0 - b.tokens) / per_sec)
            } else {
                Duration::from_secs(3600)
            };
            Decision::Limited {
                notify,
                retry_after,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_limited_then_refilled() {
        let rl = RateLimiter::new(RateLimit {
            burst: 3,
            per_minute: 60,
        });
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(rl.check_at("slack:U1", t0), Decision::Allow);
        }
        assert!(matches!(
            rl.check_at("slack:U1", t0),
            Decision::Limited { notify: true, .. }
        ));
        assert!(matches!(
            rl.check_at("slack:U1", t0),
            Decision::Limited { notify: false, .. }
        ));
        // another user is not affected
        assert_eq!(rl.check_at("slack:U2", t0), Decision::Allow);
        // one token per second comes back
        assert_eq!(
            rl.check_at("slack:U1", t0 + Duration::from_millis(1100)),
            Decision::Allow
        );
        assert!(matches!(
            rl.check_at("slack:U1", t0 + Duration::from_millis(1150)),
            Decision::Limited { notify: true, .. }
        ));
    }

    #[test]
    fn the_apology_is_japanese_and_gives_the_hotline() {
        assert!(RATE_LIMITED_MESSAGE.contains("0120-179-066"));
        assert!(RATE_LIMITED_MESSAGE.contains("時間をおいて"));
    }
}
