//! Prometheus text exposition, written by hand: HTTP requests by route and status, a
//! latency histogram per route, answers by intent, escalations by reason, fallbacks
//! and rate-limited messages by channel.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

use super::ChannelKind;
use crate::core::turn::ReplyKind;
use crate::service::Outcome;

/// Histogram bucket upper bounds in seconds.
const BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Debug, Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

#[derive(Debug, Default)]
struct Inner {
    requests: BTreeMap<(String, u16), u64>,
    latency: BTreeMap<String, Histogram>,
    messages: BTreeMap<&'static str, u64>,
    intents: BTreeMap<&'static str, u64>,
    escalations: BTreeMap<&'static str, u64>,
    fallbacks: BTreeMap<&'static str, u64>,
    rate_limited: BTreeMap<&'static str, u64>,
    delivery_failures: BTreeMap<&'static str, u64>,
}

#[derive(Debug, Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

impl Metrics {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn observe_request(&self, route: &str, status: u16, elapsed: Duration) {
        let mut m = self.lock();
        *m.requests.entry((route.to_string(), status)).or_default() += 1;
        let h = m.latency.entry(route.to_string()).or_default();
        let secs = elapsed.as_secs_f64();
        for (i, b) in BUCKETS.iter().enumerate() {
            if secs <= *b {
                h.counts[i] += 1;
            }
        }
        h.sum += secs;
        h.count += 1;
    }

    /// Counts one answered member message.
    pub fn observe_outcome(&self, channel: ChannelKind, o: &Outcome) {
        let mut m = self.lock();
        *m.messages.entry(channel.as_str()).or_default() += 1;
        *m.intents.entry(o.reply.intent.as_str()).or_default() += 1;
        if matches!(o.reply.kind, ReplyKind::Fallback) {
            *m.fallbacks.entry(channel.as_str()).or_default() += 1;
        }
        if o.escalation_id.is_some() {
            let reason = o.reply.escalate.map(|r| r.as_str()).unwrap_or("other");
            *m.escalations.entry(reason).or_default() += 1;
        }
    }

    pub fn observe_rate_limited(&self, channel: ChannelKind) {
        *self
            .lock()
            .rate_limited
            .entry(channel.as_str())
            .or_default() += 1;
    }

    pub fn observe_delivery_failure(&self, channel: ChannelKind) {
        *self
            .lock()
            .delivery_failures
            .entry(channel.as_str())
            .or_default() += 1;
    }

    /// The exposition text (`text/plain; version=0.0.4`).
    pub fn render(&self) -> String {
        let m = self.lock();
        let mut s = String::new();
        s.push_str("# HELP madoguchi_http_requests_total HTTP requests by route and status.\n# TYPE madoguchi_http_requests_total counter\n");
        for ((route, status), n) in &m.requests {
            let _ = writeln!(
                s,
                "madoguchi_http_requests_total{{route=\"{}\",status=\"{status}\"}} {n}",
                esc(route)
            );
        }
        s.push_str("# HELP madoguchi_http_request_duration_seconds HTTP request latency.\n# TYPE madoguchi_http_request_duration_seconds histogram\n");
        for (route, h) in &m.latency {
            let r = esc(route);
            for (i, b) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    s,
                    "madoguchi_http_request_duration_seconds_bucket{{route=\"{r}\",le=\"{b}\"}} {}",
                    h.counts[i]
                );
            }
            let _ = writeln!(
                s,
                "madoguchi_http_request_duration_seconds_bucket{{route=\"{r}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                s,
                "madoguchi_http_request_duration_seconds_sum{{route=\"{r}\"}} {}",
                h.sum
            );
            let _ = writeln!(
                s,
                "madoguchi_http_request_duration_seconds_count{{route=\"{r}\"}} {}",
                h.count
            );
        }
        let families: [(&str, &str, &str, &BTreeMap<&'static str, u64>); 6] = [
            (
                "madoguchi_messages_total",
                "Member messages answered, by channel.",
                "channel",
                &m.messages,
            ),
            (
                "madoguchi_intents_total",
                "Answers by intent.",
                "intent",
                &m.intents,
            ),
            (
                "madoguchi_escalations_total",
                "Escalations opened, by reason.",
                "reason",
                &m.escalations,
            ),
            (
                "madoguchi_fallbacks_total",
                "Out-of-scope fallback answers, by channel.",
                "channel",
                &m.fallbacks,
            ),
            (
                "madoguchi_rate_limited_total",
                "Messages refused by the per-user rate limit, by channel.",
                "channel",
                &m.rate_limited,
            ),
            (
                "madoguchi_delivery_failures_total",
                "Posts to a chat API that failed after retries, by channel.",
                "channel",
                &m.delivery_failures,
            ),
        ];
        for (name, help, label, map) in families {
            let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} counter");
            for (k, n) in map {
                let _ = writeln!(s, "{name}{{{label}=\"{}\"}} {n}", esc(k));
            }
        }
        s
    }
}

fn esc(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_histogram_render_in_prometheus_text() {
        let m = Metrics::default();
        m.observe_request("/v1/messages", 200, Duration::from_millis(30));
        m.observe_request("/v1/messages", 200, Duration::from_millis(3));
        m.observe_request("/v1/messages", 400, Duration::from_millis(1));
        let t = m.render();
        assert!(
            t.contains("madoguchi_http_requests_total{route=\"/v1/messages\",status=\"200\"} 2"),
            "{t}"
        );
        assert!(
            t.contains("madoguchi_http_requests_total{route=\"/v1/messages\",status=\"400\"} 1")
        );
        assert!(t.contains(
            "madoguchi_http_request_duration_seconds_bucket{route=\"/v1/messages\",le=\"0.005\"} 2"
        ));
        assert!(t.contains(
            "madoguchi_http_request_duration_seconds_bucket{route=\"/v1/messages\",le=\"0.05\"} 3"
        ));
        assert!(
            t.contains("madoguchi_http_request_duration_seconds_count{route=\"/v1/messages\"} 3")
        );
        assert!(t.contains("# TYPE madoguchi_escalations_total counter"));
    }
}
