//! MQTT ingest (rumqttc) from a broker the hubs publish to. QoS 1 with a persistent session and
//! **manual acknowledgements**: the PUBACK for a message goes out only after it is durably in the
//! outbox, so a bridge that dies before that leaves the message with the broker, which sends it again.
//!
//! Several bridge instances share the load through shared subscriptions (`$share/<group>/<filter>`):
//! the broker hands each message to one member of the group. A payload that cannot be read cannot be
//! answered (MQTT has no negative acknowledgement), so it is acknowledged and kept in the dead-letter
//! store with the reason: never lost, never redelivered forever.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, Publish, QoS, TlsConfiguration, Transport};
use thiserror::Error;
use tokio::sync::{mpsc, watch};
use tracing::{debug, error, info, warn};

pub mod config;

use crate::adapters::AdapterKind;
use crate::metrics::{Metrics, Transport as MetricTransport};
use crate::pipeline::Pipeline;
use crate::store::{DeadLetter, Outbox, OutboxError, OutboxRecord};
pub use config::{MqttConfig, MqttSubscription};

#[derive(Debug, Error)]
#[error("MQTT: {0}")]
pub struct MqttError(String);

/// The broker connection's options from the configuration.
pub fn options(config: &MqttConfig) -> Result<MqttOptions, MqttError> {
    let mut options = MqttOptions::new(&config.client_id, &config.host, config.port);
    options
        .set_keep_alive(Duration::from_secs(config.keep_alive_secs.max(5)))
        // A persistent session: the broker keeps our subscriptions and unacknowledged messages while
        // the bridge is away.
        .set_clean_session(false)
        .set_manual_acks(true)
        // Far above mqtt.max_payload_bytes: a larger packet would make rumqttc drop the connection, and
        // the broker would send it again forever; below this limit our own check dead-letters it.
        .set_max_packet_size(64 * 1024 * 1024, 64 * 1024);
    if let Some(username) = &config.username {
        options.set_credentials(username, config.password.clone().unwrap_or_default());
    }
    if config.tls {
        crate::tls::install_crypto_provider();
        let tls = match &config.ca_file {
            Some(path) => TlsConfiguration::Simple {
                ca: std::fs::read(path).map_err(|e| MqttError(format!("mqtt.ca_file {}: {e}", path.display())))?,
                alpn: None,
                client_auth: None,
            },
            None => TlsConfiguration::default(),
        };
        options.set_transport(Transport::Tls(tls));
    }
    Ok(options)
}

/// Does `topic` match the subscription `filter` (MQTT wildcards `+` and `#`, and a `$share/<group>/`
/// prefix, which is not part of the topic)?
pub fn topic_matches(filter: &str, topic: &str) -> bool {
    let filter = match filter.strip_prefix("$share/") {
        Some(rest) => rest.split_once('/').map_or("", |(_, filter)| filter),
        None => filter,
    };
    let mut levels = topic.split('/');
    for wanted in filter.split('/') {
        match (wanted, levels.next()) {
            ("#", _) => return true,
            ("+", Some(_)) => {}
            (wanted, Some(level)) if wanted == level => {}
            _ => return false,
        }
    }
    levels.next().is_none()
}

/// The adapter for a message's topic: the first subscription whose filter matches.
fn adapter_for(subscriptions: &[MqttSubscription], topic: &str) -> Option<AdapterKind> {
    subscriptions
        .iter()
        .find(|s| topic_matches(&s.filter, topic))
        .map(|s| s.adapter)
}

/// Runs MQTT ingest until `stop` turns true: connects (and reconnects) to the broker, subscribes, and
/// stores each message before acknowledging it.
pub async fn run(
    config: MqttConfig,
    outbox: Outbox,
    pipeline: Arc<Pipeline>,
    metrics: Arc<Metrics>,
    mut stop: watch::Receiver<bool>,
) -> Result<(), MqttError> {
    let (client, mut events) = AsyncClient::new(options(&config)?, 256);
    // The event loop must keep polling (pings, acks going out) while messages are stored, so storing
    // happens in its own task. The broker sends at most its in-flight window of unacknowledged
    // messages, which bounds this queue.
    let (messages, queue) = mpsc::unbounded_channel::<Publish>();
    let worker = tokio::spawn(store_messages(
        queue,
        client.clone(),
        config.clone(),
        outbox,
        pipeline,
        metrics,
        stop.clone(),
    ));
    let mut failures: u32 = 0;
    loop {
        let event = tokio::select! {
            event = events.poll() => event,
            _ = stop.wait_for(|stopping| *stopping) => break,
        };
        match event {
            Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                failures = 0;
                info!(broker = %format!("{}:{}", config.host, config.port), session_present = ack.session_present, "connected to the MQTT broker");
                subscribe(&client, &config.subscriptions).await;
            }
            Ok(Event::Incoming(Packet::SubAck(ack))) => {
                info!(filters = config.subscriptions.len(), granted = ?ack.return_codes, "subscribed");
            }
            Ok(Event::Incoming(Packet::Publish(publish))) => {
                if messages.send(publish).is_err() {
                    break;
                }
            }
            Ok(_) => {}
            Err(error) => {
                failures = failures.saturating_add(1);
                let wait = Duration::from_millis(250 * u64::from(failures.min(20)));
                warn!(%error, wait_ms = wait.as_millis() as u64, "MQTT connection lost; reconnecting");
                if reconnect_wait(wait, &mut stop).await {
                    break;
                }
            }
        }
    }
    // Stop taking messages; the ones already queued are stored and acknowledged, as far as the
    // connection allows. Anything not acknowledged is redelivered by the broker to the next session.
    drop(messages);
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        let _ = worker.await;
        // Let the event loop send the last PUBACKs.
        let _ = client.disconnect().await;
        while let Ok(event) = events.poll().await {
            if matches!(event, Event::Outgoing(rumqttc::Outgoing::Disconnect)) {
                break;
            }
        }
    })
    .await;
    Ok(())
}

async fn reconnect_wait(wait: Duration, stop: &mut watch::Receiver<bool>) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(wait) => false,
        _ = stop.wait_for(|stopping| *stopping) => true,
    }
}

async fn subscribe(client: &AsyncClient, subscriptions: &[MqttSubscription]) {
    for subscription in subscriptions {
        if let Err(error) = client.subscribe(&subscription.filter, QoS::AtLeastOnce).await {
            error!(filter = %subscription.filter, %error, "cannot subscribe");
        }
    }
}

/// What becomes of one message.
enum Decision {
    /// The payloads the message holds (a batch of hub envelopes is several).
    Store(Vec<OutboxRecord>),
    Bury(OutboxRecord, String),
}

/// Most messages stored in one commit.
const MAX_BATCH: usize = 256;

/// Stores the waiting messages (all of them in one commit, so group commit applies), then
/// acknowledges each in order. A store failure is retried with backoff; nothing is acknowledged
/// before it is stored, so stopping meanwhile leaves the messages with the broker.
async fn store_messages(
    mut queue: mpsc::UnboundedReceiver<Publish>,
    client: AsyncClient,
    config: MqttConfig,
    outbox: Outbox,
    pipeline: Arc<Pipeline>,
    metrics: Arc<Metrics>,
    stop: watch::Receiver<bool>,
) {
    while let Some(first) = queue.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        metrics.received(MetricTransport::Mqtt, batch.len() as u64);
        let received_at = Utc::now().fixed_offset();
        let (subscriptions, limit) = (config.subscriptions.clone(), config.max_payload_bytes);
        let pipeline = Arc::clone(&pipeline);
        let messages: Vec<(String, Vec<u8>)> = batch.iter().map(|p| (p.topic.clone(), p.payload.to_vec())).collect();
        let decided = tokio::task::spawn_blocking(move || {
            messages
                .into_iter()
                .map(|(topic, payload)| decide(&subscriptions, &pipeline, limit, topic, payload, received_at))
                .collect::<Vec<_>>()
        })
        .await;
        let Ok(decisions) = decided else {
            error!("the MQTT messages could not be checked; they stay with the broker");
            continue;
        };
        let mut records = Vec::new();
        let mut refused = Vec::new();
        for decision in decisions {
            match decision {
                Decision::Store(stored) => records.extend(stored),
                Decision::Bury(record, reason) => refused.push((record, reason)),
            }
        }
        if !records.is_empty() {
            if retry_until_stored(&stop, || outbox.append_all(&records))
                .await
                .is_none()
            {
                return;
            }
            metrics.accepted(MetricTransport::Mqtt, records.len() as u64);
            debug!(messages = records.len(), "stored");
        }
        for (record, reason) in refused {
            metrics.rejected(MetricTransport::Mqtt, "bad_payload");
            let letter = DeadLetter::refused(record, reason);
            let Some(dead_letter_id) = retry_until_stored(&stop, || async { outbox.add_dead_letter(&letter) }).await
            else {
                return;
            };
            metrics.dead_lettered("ingest");
            // Not the topic: a publisher chooses it, and it may name a patient. The dead letter keeps it.
            warn!(
                dead_letter_id,
                adapter = %letter.record.adapter,
                reason = %letter.reason,
                "refused an MQTT message; kept in the dead-letter store"
            );
        }
        for publish in &batch {
            if let Err(error) = client.ack(publish).await {
                warn!(%error, "could not acknowledge an MQTT message; the broker will send it again");
            }
        }
    }
}

/// Runs `store` until it succeeds (its value) or the bridge stops (`None`: nothing is acknowledged,
/// and the broker keeps the messages for the next session).
async fn retry_until_stored<T, F, Fut>(stop: &watch::Receiver<bool>, mut store: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, OutboxError>>,
{
    let mut wait = Duration::from_millis(200);
    loop {
        match store().await {
            Ok(value) => return Some(value),
            Err(error) => {
                error!(%error, "could not store MQTT messages; retrying (they stay with the broker until stored)");
                if *stop.borrow() {
                    return None;
                }
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(10));
            }
        }
    }
}

/// Stores or buries one message: by its topic's adapter, its size, and the adapter's check.
fn decide(
    subscriptions: &[MqttSubscription],
    pipeline: &Pipeline,
    limit: usize,
    topic: String,
    payload: Vec<u8>,
    received_at: chrono::DateTime<chrono::FixedOffset>,
) -> Decision {
    let record = |adapter: &str, payload: Vec<u8>| OutboxRecord {
        adapter: adapter.to_string(),
        received_at,
        source: format!("mqtt {topic}"),
        payload,
        patient: None,
        batch_index: None,
    };
    let Some(adapter) = adapter_for(subscriptions, &topic) else {
        return Decision::Bury(
            record("", payload),
            "no subscription's adapter matches the topic".into(),
        );
    };
    if payload.len() > limit {
        let reason = format!(
            "the payload has {} bytes, more than mqtt.max_payload_bytes ({limit})",
            payload.len()
        );
        return Decision::Bury(record(adapter.as_str(), payload), reason);
    }
    match pipeline.check(adapter, &payload) {
        Ok(payloads) => {
            let batch = payloads.len() > 1;
            Decision::Store(
                payloads
                    .into_iter()
                    .enumerate()
                    .map(|(index, payload)| OutboxRecord {
                        batch_index: batch.then(|| u32::try_from(index).unwrap_or(u32::MAX)),
                        ..record(adapter.as_str(), payload)
                    })
                    .collect(),
            )
        }
        Err(refusal) => Decision::Bury(record(adapter.as_str(), payload), refusal.detail),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_match_filters_with_wildcards_and_shared_groups() {
        assert!(topic_matches("hubs/+/ble", "hubs/ward-7/ble"));
        assert!(topic_matches("$share/fhirgate/hubs/+/ble", "hubs/ward-7/ble"));
        assert!(!topic_matches("hubs/+/ble", "hubs/ward-7/hl7v2"));
        assert!(!topic_matches("hubs/+/ble", "hubs/ward-7/ble/extra"));
        assert!(!topic_matches("hubs/+/ble", "hubs/ble"));
        assert!(topic_matches("hubs/#", "hubs/ward-7/ble"));
        assert!(topic_matches("hubs/#", "hubs"));
        assert!(!topic_matches("$share/fhirgate", "hubs"));
        let subscriptions = vec![
            MqttSubscription {
                filter: "pumps/#".into(),
                adapter: AdapterKind::Hl7v2,
            },
            MqttSubscription {
                filter: "$share/g/hubs/+/ble".into(),
                adapter: AdapterKind::Ble,
            },
        ];
        assert_eq!(adapter_for(&subscriptions, "pumps/icu/3"), Some(AdapterKind::Hl7v2));
        assert_eq!(adapter_for(&subscriptions, "hubs/h1/ble"), Some(AdapterKind::Ble));
        assert_eq!(adapter_for(&subscriptions, "other"), None);
    }
}
