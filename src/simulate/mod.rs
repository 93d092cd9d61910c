//! `fhirgate simulate`: a ward driving a running bridge. Bluetooth hubs post their devices' readings
//! over HTTP (and MQTT, when a broker is given), a monitor gateway sends PCD-01 numerics and PCD-04
//! alarms over MLLP, infusion pumps PCD-10 delivery events, and a vendor-cloud connector posts
//! Withings measure groups through the shipped mapping; values drift, some device clocks are off, and `--faults` mixes in what real
//! traffic holds (bad frames, duplicates, resends, dropped connections, unknown devices). Seeded:
//! the same seed sends the same payloads in the same order. It counts every send by how the bridge
//! answered, so its summary can be checked against the bridge's own counters.
//!
//! Client side only: it speaks the transports' wire protocols and never calls the pipeline.

pub mod gatt;
pub mod messages;
pub mod ward;

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use chrono::Utc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use ward::Ward;

/// What to drive and how.
#[derive(Debug, Clone)]
pub struct Options {
    /// The bridge's HTTP address (`http://127.0.0.1:8080`); `None`: no hubs over HTTP.
    pub http: Option<String>,
    /// A hub's bearer token, when the bridge requires one.
    pub token: Option<String>,
    /// The bridge's MLLP address (`127.0.0.1:2575`); `None`: no monitors.
    pub mllp: Option<String>,
    /// An MQTT broker (`host:port`) the bridge subscribes to; hubs publish every other reading there.
    pub mqtt: Option<String>,
    /// The topic prefix hubs publish under (`<prefix>/<hub>/ble`).
    pub mqtt_topic: String,
    /// Readings per second, all devices together.
    pub rate: f64,
    pub devices: usize,
    /// Stop after this long; `None`: after `count`, or never.
    pub duration: Option<Duration>,
    /// Stop after this many sends.
    pub count: Option<u64>,
    pub seed: u64,
    /// The share of sends that carry a fault (0 to 1).
    pub faults: f64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            http: Some("http://127.0.0.1:8080".into()),
            token: None,
            mllp: Some("127.0.0.1:2575".into()),
            mqtt: None,
            mqtt_topic: "hubs".into(),
            rate: 5.0,
            devices: 12,
            duration: Some(Duration::from_secs(60)),
            count: None,
            seed: 1,
            faults: 0.0,
        }
    }
}

/// The faults `--faults` mixes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// A value the adapter cannot read: a truncated characteristic, an HL7 message with no MSH.
    BadFrame,
    /// The same payload twice at once (a hub that did not wait for the answer).
    Duplicate,
    /// A payload sent again on the next send (a hub resending after a lost answer).
    Resend,
    /// An MLLP connection dropped in the middle of a frame.
    Disconnect,
    /// A device nobody has associated with a patient, sending with no patient.
    UnknownDevice,
}

const HUB_FAULTS: [Fault; 4] = [Fault::BadFrame, Fault::Duplicate, Fault::Resend, Fault::UnknownDevice];
const MONITOR_FAULTS: [Fault; 4] = [Fault::BadFrame, Fault::Duplicate, Fault::Resend, Fault::Disconnect];
const CLOUD_FAULTS: [Fault; 3] = [Fault::BadFrame, Fault::Duplicate, Fault::Resend];

/// How the sends went, by how the bridge answered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub sent: u64,
    /// Answered "stored": HTTP 202 and MLLP AA by the bridge; MQTT PUBACK by the broker.
    pub acknowledged: u64,
    /// Refused by the bridge, by answer (`http 400`, `mllp AE`).
    pub refused: BTreeMap<String, u64>,
    /// No answer: connection errors, and the connections dropped on purpose.
    pub unanswered: BTreeMap<String, u64>,
    /// Sends by transport.
    pub by_transport: BTreeMap<&'static str, u64>,
    /// Faults mixed in, by kind.
    pub faults: BTreeMap<String, u64>,
}

impl Summary {
    fn refused(&mut self, reason: String) {
        *self.refused.entry(reason).or_default() += 1;
    }

    fn unanswered(&mut self, reason: &str) {
        *self.unanswered.entry(reason.to_string()).or_default() += 1;
    }

    /// One line for the progress display.
    pub fn progress_line(&self) -> String {
        let refused: u64 = self.refused.values().sum();
        let unanswered: u64 = self.unanswered.values().sum();
        format!(
            "sent {}  acknowledged {}  refused {}  unanswered {}",
            self.sent, self.acknowledged, refused, unanswered
        )
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "sent": self.sent,
            "acknowledged": self.acknowledged,
            "refused": self.refused,
            "unanswered": self.unanswered,
            "byTransport": self.by_transport,
            "faults": self.faults,
        })
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "sent          {}", self.sent)?;
        for (transport, n) in &self.by_transport {
            writeln!(f, "  over {transport:<7} {n}")?;
        }
        writeln!(f, "acknowledged  {}", self.acknowledged)?;
        for (title, counts) in [("refused", &self.refused), ("unanswered", &self.unanswered)] {
            writeln!(f, "{title:<13} {}", counts.values().sum::<u64>())?;
            for (reason, n) in counts {
                writeln!(f, "  {reason:<20} {n}")?;
            }
        }
        if !self.faults.is_empty() {
            writeln!(f, "faults mixed in")?;
            for (fault, n) in &self.faults {
                writeln!(f, "  {fault:<20} {n}")?;
            }
        }
        Ok(())
    }
}

/// Why the simulation could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum SimulateError {
    #[error("nothing to drive: give the bridge's HTTP address, its MLLP address or an MQTT broker")]
    NoTarget,
    #[error("--rate must be a positive number of readings per second")]
    Rate,
    #[error("--faults must be a share between 0 and 1")]
    Faults,
    #[error("MQTT broker address {0:?}: expected host:port")]
    Broker(String),
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

/// One payload and where it goes.
#[derive(Clone)]
enum Send {
    /// A hub envelope, over HTTP or MQTT.
    Hub { hub: String, body: Vec<u8>, mqtt: bool },
    /// A vendor cloud's answer, posted by its connector for one patient.
    Vendor { patient: String, body: Vec<u8> },
    /// An HL7 v2 message over MLLP; `cut` drops the connection after half the frame.
    Hl7 { message: Vec<u8>, cut: bool },
}

impl Send {
    /// An HL7 v2 message over MLLP, with its fault: a bad frame loses its MSH, a disconnect drops the
    /// connection mid-frame.
    fn hl7(message: String, fault: Option<Fault>) -> Send {
        let message = match fault {
            Some(Fault::BadFrame) => message.replacen("MSH|", "MSX|", 1),
            _ => message,
        };
        Send::Hl7 {
            message: message.into_bytes(),
            cut: fault == Some(Fault::Disconnect),
        }
    }
}

/// Runs the simulation until `options` say stop, or `stop` completes; calls `progress` about once a
/// second.
pub async fn run(
    options: &Options,
    mut progress: impl FnMut(&Summary),
    stop: impl std::future::Future<Output = ()>,
) -> Result<Summary, SimulateError> {
    if options.http.is_none() && options.mllp.is_none() && options.mqtt.is_none() {
        return Err(SimulateError::NoTarget);
    }
    if !(options.rate.is_finite() && options.rate > 0.0) {
        return Err(SimulateError::Rate);
    }
    if !(0.0..=1.0).contains(&options.faults) {
        return Err(SimulateError::Faults);
    }
    let mut rng = fastrand::Rng::with_seed(options.seed);
    let mut ward = Ward::new(&mut rng, options.devices);
    if options.mllp.is_none() {
        ward.monitors.clear();
    }
    if options.mllp.is_none() {
        ward.pumps.clear();
    }
    if options.http.is_none() && options.mqtt.is_none() {
        ward.ble.clear();
    }
    if options.http.is_none() {
        ward.clouds.clear();
    }
    if ward.ble.len() + ward.monitors.len() + ward.pumps.len() + ward.clouds.len() == 0 {
        return Err(SimulateError::NoTarget);
    }
    crate::tls::install_crypto_provider();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| SimulateError::Client(e.to_string()))?;
    let mut mqtt = match &options.mqtt {
        Some(address) => Some(Mqtt::connect(address, options.seed).await?),
        None => None,
    };
    let mut mllp = Mllp::new(options.mllp.clone());
    let mut summary = Summary::default();
    let mut resend: Option<Send> = None;
    let mut control_id: u64 = options.seed.wrapping_mul(1_000_000);
    let mut unknown_devices: u32 = 0;
    let period = Duration::from_secs_f64(1.0 / options.rate);
    let started = tokio::time::Instant::now();
    let mut ticks = tokio::time::interval(period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_progress = started;
    tokio::pin!(stop);
    loop {
        if options.count.is_some_and(|count| summary.sent >= count)
            || options.duration.is_some_and(|d| started.elapsed() >= d)
        {
            break;
        }
        tokio::select! {
            _ = &mut stop => break,
            _ = ticks.tick() => {}
        }
        let now = Utc::now();
        let mut sends: Vec<Send> = resend.take().into_iter().collect();
        let (ble, monitors, pumps) = (ward.ble.len(), ward.monitors.len(), ward.pumps.len());
        let pick = rng.usize(..ble + monitors + pumps + ward.clouds.len());
        // Each fault where it can happen: a hub has no connection to drop, a monitor is always known.
        let applicable: &[Fault] = if pick < ble {
            &HUB_FAULTS
        } else if pick < ble + monitors + pumps {
            &MONITOR_FAULTS
        } else {
            &CLOUD_FAULTS
        };
        let fault = (rng.f64() < options.faults).then(|| applicable[rng.usize(..applicable.len())]);
        let send = if let Some(device) = ward.ble.get_mut(pick) {
            let mut notifications = device.next_value(&mut rng, now);
            let mut envelope = device.envelope(&notifications, now, true);
            match fault {
                Some(Fault::BadFrame) => {
                    if let Some(first) = notifications.first_mut() {
                        first.value.truncate(1);
                    }
                    envelope = device.envelope(&notifications, now, true);
                }
                Some(Fault::UnknownDevice) => {
                    unknown_devices += 1;
                    envelope = device.envelope(&notifications, now, false);
                    envelope["device"]["address"] = serde_json::Value::String(format!(
                        "5A:1E:FF:00:{:02X}:{:02X}",
                        unknown_devices >> 8,
                        unknown_devices as u8
                    ));
                    envelope["device"]["serial"] = serde_json::Value::String(format!("SIM-UNKNOWN-{unknown_devices}"));
                }
                _ => {}
            }
            Send::Hub {
                hub: device.hub.clone(),
                body: envelope.to_string().into_bytes(),
                mqtt: mqtt.is_some() && (options.http.is_none() || rng.bool()),
            }
        } else if pick >= ble + monitors {
            if let Some(pump) = ward.pumps.get_mut(pick - ble - monitors) {
                // Start, status, complete, status: the bag is in; the next start is the next bag. The
                // pump is unplugged now and then, and its battery runs down and charges again.
                control_id += 1;
                let message = if pump.status_next {
                    pump.on_battery = rng.u8(..4) == 0;
                    let change = if pump.on_battery {
                        -rng.f64() * 5.0
                    } else {
                        rng.f64() * 3.0
                    };
                    pump.battery = (pump.battery + change).clamp(5.0, 100.0);
                    messages::pcd15(pump, control_id, now)
                } else {
                    let started = !pump.infusing;
                    pump.delivered = if started { 0.0 } else { pump.volume };
                    pump.infusing = started;
                    messages::pcd10(pump, control_id, started, now)
                };
                pump.status_next = !pump.status_next;
                Send::hl7(message, fault)
            } else {
                let Some(account) = ward.clouds.get_mut(pick - ble - monitors - pumps) else {
                    continue;
                };
                let mut poll = account.next_poll(&mut rng, now);
                if fault == Some(Fault::BadFrame) {
                    // A vendor changed its format: no measure groups where the mapping looks.
                    poll = serde_json::json!({"status": 0, "body": {"groups": poll["body"]["measuregrps"].clone()}});
                }
                Send::Vendor {
                    patient: format!("{}|{}", account.patient.system, account.patient.value),
                    body: poll.to_string().into_bytes(),
                }
            }
        } else {
            let index = pick - ble;
            let Some(monitor) = ward.monitors.get_mut(index) else {
                continue;
            };
            monitor.heart_rate.next(&mut rng);
            monitor.spo2.next(&mut rng);
            monitor.systolic.next(&mut rng);
            monitor.diastolic.next(&mut rng);
            monitor.respiration.next(&mut rng);
            control_id += 1;
            // An alarm in progress ends; otherwise one report in six raises one.
            let message = match monitor.alarm.take() {
                Some(alarm) => messages::pcd04(monitor, control_id, alarm, false, now),
                None if rng.u8(..6) == 0 => {
                    let alarm = control_id as u32;
                    monitor.alarm = Some(alarm);
                    messages::pcd04(monitor, control_id, alarm, true, now)
                }
                None => messages::pcd01(monitor, control_id, now),
            };
            Send::hl7(message, fault)
        };
        if let Some(fault) = fault {
            *summary.faults.entry(format!("{fault:?}")).or_default() += 1;
        }
        match fault {
            Some(Fault::Duplicate) => sends.extend([send.clone(), send]),
            Some(Fault::Resend) => {
                resend = Some(send.clone());
                sends.push(send);
            }
            _ => sends.push(send),
        }
        for send in sends {
            summary.sent += 1;
            match send {
                Send::Hub { hub, body, mqtt: true } => {
                    *summary.by_transport.entry("mqtt").or_default() += 1;
                    let topic = format!("{}/{hub}/ble", options.mqtt_topic);
                    match mqtt.as_mut() {
                        Some(client) => match client.publish(&topic, body).await {
                            Ok(()) => summary.acknowledged += 1,
                            Err(reason) => summary.unanswered(&reason),
                        },
                        None => summary.unanswered("mqtt not connected"),
                    }
                }
                Send::Hub { body, .. } => {
                    *summary.by_transport.entry("http").or_default() += 1;
                    let Some(base) = &options.http else { continue };
                    let url = reqwest::Url::parse(&format!("{}/ingest/ble", base.trim_end_matches('/')));
                    post(&http, url.ok(), options.token.as_deref(), body, &mut summary).await;
                }
                Send::Vendor { patient, body } => {
                    *summary.by_transport.entry("http").or_default() += 1;
                    let Some(base) = &options.http else { continue };
                    let url = format!("{}/ingest/declarative", base.trim_end_matches('/'));
                    let url = reqwest::Url::parse_with_params(&url, [("patient", patient.as_str())]);
                    post(&http, url.ok(), options.token.as_deref(), body, &mut summary).await;
                }
                Send::Hl7 { message, cut } => {
                    *summary.by_transport.entry("mllp").or_default() += 1;
                    if cut {
                        mllp.drop_mid_frame(&message).await;
                        summary.unanswered("mllp dropped on purpose");
                        continue;
                    }
                    match mllp.send(&message).await {
                        Ok(code) if code == "AA" || code == "CA" => summary.acknowledged += 1,
                        Ok(code) => summary.refused(format!("mllp {code}")),
                        Err(reason) => summary.unanswered(reason),
                    }
                }
            }
        }
        if last_progress.elapsed() >= Duration::from_secs(1) {
            last_progress = tokio::time::Instant::now();
            progress(&summary);
        }
    }
    if let Some(client) = mqtt {
        client.close().await;
    }
    Ok(summary)
}

/// Posts one payload to the bridge and counts how it was answered.
async fn post(
    http: &reqwest::Client,
    url: Option<reqwest::Url>,
    token: Option<&str>,
    body: Vec<u8>,
    summary: &mut Summary,
) {
    let Some(url) = url else {
        summary.unanswered("http address invalid");
        return;
    };
    let mut request = http.post(url).header("content-type", "application/json").body(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    match request.send().await {
        Ok(response) if response.status().as_u16() == 202 => summary.acknowledged += 1,
        Ok(response) => summary.refused(format!("http {}", response.status().as_u16())),
        Err(error) if error.is_timeout() => summary.unanswered("http timeout"),
        Err(_) => summary.unanswered("http connection failed"),
    }
}

/// One MLLP connection, opened when needed and opened again after a failure.
struct Mllp {
    address: Option<String>,
    stream: Option<TcpStream>,
}

impl Mllp {
    fn new(address: Option<String>) -> Mllp {
        Mllp { address, stream: None }
    }

    fn frame(message: &[u8]) -> Vec<u8> {
        let mut frame = Vec::with_capacity(message.len() + 3);
        frame.push(0x0B);
        frame.extend_from_slice(message);
        frame.extend_from_slice(&[0x1C, 0x0D]);
        frame
    }

    async fn connect(&mut self) -> Result<&mut TcpStream, &'static str> {
        if self.stream.is_none() {
            let address = self.address.as_deref().ok_or("mllp not configured")?;
            let stream = tokio::time::timeout(Duration::from_secs(10), TcpStream::connect(address))
                .await
                .map_err(|_| "mllp connect timeout")?
                .map_err(|_| "mllp connection failed")?;
            self.stream = Some(stream);
        }
        self.stream.as_mut().ok_or("mllp connection failed")
    }

    /// Sends one message and reads its ACK; the MSA-1 code.
    async fn send(&mut self, message: &[u8]) -> Result<String, &'static str> {
        let frame = Mllp::frame(message);
        let answer = async {
            let stream = self.connect().await?;
            stream.write_all(&frame).await.map_err(|_| "mllp write failed")?;
            let mut answer = Vec::new();
            let mut buffer = [0u8; 4096];
            while !answer.ends_with(&[0x1C, 0x0D]) {
                let read = stream.read(&mut buffer).await.map_err(|_| "mllp read failed")?;
                if read == 0 {
                    return Err("mllp closed before the ACK");
                }
                answer.extend_from_slice(buffer.get(..read).unwrap_or_default());
                if answer.len() > 1 << 20 {
                    return Err("mllp ACK too large");
                }
            }
            Ok(answer)
        };
        let answer = match tokio::time::timeout(Duration::from_secs(30), answer).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(reason)) => {
                self.stream = None;
                return Err(reason);
            }
            Err(_) => {
                self.stream = None;
                return Err("mllp ACK timeout");
            }
        };
        let text = String::from_utf8_lossy(&answer);
        let code = text
            .split('\r')
            .find(|segment| segment.starts_with("MSA|"))
            .and_then(|msa| msa.split('|').nth(1))
            .unwrap_or("no MSA");
        Ok(code.to_string())
    }

    /// Writes the first half of a frame and closes the connection: what a gateway that loses power
    /// mid-message leaves behind.
    async fn drop_mid_frame(&mut self, message: &[u8]) {
        self.stream = None;
        let frame = Mllp::frame(message);
        if let Ok(stream) = self.connect().await {
            let half = frame.get(..frame.len() / 2).unwrap_or_default();
            let _ = stream.write_all(half).await;
        }
        self.stream = None;
    }
}

/// An MQTT connection publishing with QoS 1: a publish counts as acknowledged on its PUBACK.
struct Mqtt {
    client: rumqttc::AsyncClient,
    acks: tokio::sync::mpsc::Receiver<Result<(), String>>,
    task: tokio::task::JoinHandle<()>,
}

impl Mqtt {
    async fn connect(address: &str, seed: u64) -> Result<Mqtt, SimulateError> {
        let (host, port) = address
            .rsplit_once(':')
            .and_then(|(host, port)| Some((host.to_string(), port.parse::<u16>().ok()?)))
            .ok_or_else(|| SimulateError::Broker(address.to_string()))?;
        let mut options = rumqttc::MqttOptions::new(format!("fhirgate-sim-{seed}-{}", std::process::id()), host, port);
        options.set_keep_alive(Duration::from_secs(30));
        let (client, mut events) = rumqttc::AsyncClient::new(options, 64);
        let (ack, acks) = tokio::sync::mpsc::channel(64);
        let task = tokio::spawn(async move {
            loop {
                match events.poll().await {
                    Ok(rumqttc::Event::Incoming(rumqttc::Packet::PubAck(_))) => {
                        if ack.send(Ok(())).await.is_err() {
                            return;
                        }
                    }
                    Ok(_) => {}
                    Err(error) => {
                        let _ = ack.try_send(Err(format!("mqtt {error}")));
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                }
            }
        });
        Ok(Mqtt { client, acks, task })
    }

    async fn publish(&mut self, topic: &str, body: Vec<u8>) -> Result<(), String> {
        self.client
            .publish(topic, rumqttc::QoS::AtLeastOnce, false, body)
            .await
            .map_err(|_| "mqtt publish failed".to_string())?;
        match tokio::time::timeout(Duration::from_secs(30), self.acks.recv()).await {
            Ok(Some(Ok(()))) => Ok(()),
            Ok(Some(Err(_))) => Err("mqtt connection failed".into()),
            Ok(None) => Err("mqtt connection closed".into()),
            Err(_) => Err("mqtt PUBACK timeout".into()),
        }
    }

    async fn close(self) {
        let _ = self.client.disconnect().await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        self.task.abort();
    }
}
