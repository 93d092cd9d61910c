//! The bridge's Prometheus metrics (`GET /metrics`), every name prefixed `fhirgate_`. Counters carry
//! labels for the transport and the reason, never anything from a payload.

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Which way a payload came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    Http,
    Mqtt,
    Mllp,
}

impl Transport {
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Http => "http",
            Transport::Mqtt => "mqtt",
            Transport::Mllp => "mllp",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct TransportLabel {
    pub transport: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct RejectLabels {
    pub transport: String,
    /// A short fixed word: `bad_payload`, `too_large`, `unauthorized`, `unsupported`, `store`.
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct ReasonLabel {
    /// `mapping` (the payload could not be mapped, e.g. no patient) or `server` (a 4xx answer).
    pub reason: String,
}

/// All metrics; one instance shared by every part of the running bridge.
pub struct Metrics {
    registry: Registry,
    received: Family<TransportLabel, Counter>,
    accepted: Family<TransportLabel, Counter>,
    rejected: Family<RejectLabels, Counter>,
    pub delivered: Counter,
    pub retried: Counter,
    dead_lettered: Family<ReasonLabel, Counter>,
    pub outbox_depth: Gauge,
    /// Connections closed by a listener's limits, by transport and reason (`connections` over the
    /// cap, `timeout` a client too slow with its headers, body or frame).
    connections_refused: Family<RejectLabels, Counter>,
    /// Seconds from the device's acknowledgement (the payload stored) to the FHIR server's answer.
    pub delivery_latency: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("fhirgate");
        let received = Family::<TransportLabel, Counter>::default();
        let accepted = Family::<TransportLabel, Counter>::default();
        let rejected = Family::<RejectLabels, Counter>::default();
        let delivered = Counter::default();
        let retried = Counter::default();
        let dead_lettered = Family::<ReasonLabel, Counter>::default();
        let outbox_depth = Gauge::default();
        let connections_refused = Family::<RejectLabels, Counter>::default();
        // 5 ms to about 10 min: a delivery waits at least a linger, at most a long outage.
        let delivery_latency = Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
            0.005, 2.0, 18,
        ));
        registry.register("received", "Payloads received, by transport", received.clone());
        registry.register(
            "accepted",
            "Payloads durably stored in the outbox, by transport",
            accepted.clone(),
        );
        registry.register(
            "rejected",
            "Payloads refused, by transport and reason",
            rejected.clone(),
        );
        registry.register(
            "delivered",
            "Stored payloads the FHIR server accepted",
            delivered.clone(),
        );
        registry.register(
            "retried",
            "Delivery attempts repeated after a retryable failure",
            retried.clone(),
        );
        registry.register(
            "dead_lettered",
            "Stored payloads moved to the dead-letter store, by reason",
            dead_lettered.clone(),
        );
        registry.register("outbox_depth", "Payloads waiting in the outbox", outbox_depth.clone());
        registry.register(
            "connections_refused",
            "Connections a listener closed for its limits, by transport and reason",
            connections_refused.clone(),
        );
        registry.register(
            "delivery_latency_seconds",
            "Time from the device's acknowledgement to the FHIR server's answer",
            delivery_latency.clone(),
        );
        Metrics {
            registry,
            received,
            accepted,
            rejected,
            delivered,
            retried,
            dead_lettered,
            outbox_depth,
            connections_refused,
            delivery_latency,
        }
    }

    pub fn received(&self, transport: Transport, count: u64) {
        self.received.get_or_create(&transport_label(transport)).inc_by(count);
    }

    pub fn accepted(&self, transport: Transport, count: u64) {
        self.accepted.get_or_create(&transport_label(transport)).inc_by(count);
    }

    pub fn rejected(&self, transport: Transport, reason: &str) {
        let labels = RejectLabels {
            transport: transport.as_str().to_string(),
            reason: reason.to_string(),
        };
        self.rejected.get_or_create(&labels).inc();
    }

    pub fn connection_refused(&self, transport: Transport, reason: &str) {
        let labels = RejectLabels {
            transport: transport.as_str().to_string(),
            reason: reason.to_string(),
        };
        self.connections_refused.get_or_create(&labels).inc();
    }

    pub fn dead_lettered(&self, reason: &str) {
        let labels = ReasonLabel {
            reason: reason.to_string(),
        };
        self.dead_lettered.get_or_create(&labels).inc();
    }

    /// The OpenMetrics text exposition.
    pub fn render(&self) -> String {
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = encode(&mut text, &self.registry);
        text
    }
}

fn transport_label(transport: Transport) -> TransportLabel {
    TransportLabel {
        transport: transport.as_str().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_prefixed_and_labelled() {
        let metrics = Metrics::new();
        metrics.received(Transport::Http, 3);
        metrics.rejected(Transport::Mqtt, "bad_payload");
        metrics.dead_lettered("server");
        metrics.outbox_depth.set(7);
        metrics.delivery_latency.observe(0.02);
        let text = metrics.render();
        assert!(text.contains("fhirgate_received_total{transport=\"http\"} 3"), "{text}");
        assert!(
            text.contains("fhirgate_rejected_total{transport=\"mqtt\",reason=\"bad_payload\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("fhirgate_dead_lettered_total{reason=\"server\"} 1"),
            "{text}"
        );
        assert!(text.contains("fhirgate_outbox_depth 7"), "{text}");
        assert!(text.contains("fhirgate_delivery_latency_seconds_count 1"), "{text}");
        assert!(
            text.contains("fhirgate_delivery_latency_seconds_bucket{le=\"0.02\"} 1"),
            "{text}"
        );
    }
}
