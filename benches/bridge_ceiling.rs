//! The bridge's own delivery ceiling: `fhirgate serve` (release build) against a FHIR endpoint that
//! answers instantly, so that what is measured is the bridge (HTTP ingest, the outbox's group commit,
//! the deliverer's batching, the mapper), not a server.
//!
//! The endpoint is a fake in this process: it answers every transaction Bundle at once with a
//! `transaction-response` (one `201 Created` per entry), a `Patient?identifier=` search with one
//! Patient (so patients resolve, as they do at an EHR), and `metadata` with a CapabilityStatement. It
//! records, per Observation posted, its dedup identifier and the instant the answer left.
//!
//! Three phases on one bridge:
//! * **burst**: `FHIRGATE_BENCH_N` distinct weight readings (20,000) from `FHIRGATE_BENCH_HUBS`
//!   concurrent hubs (16), one reading per request, each hub waiting for its 202, as fast as answered;
//! * **drain**: as many accepted while the endpoint answers 503, then delivered from the outbox once it
//!   answers again: the deliverer's own rate, with no ingest competing for the cores;
//! * **sustained**: `FHIRGATE_BENCH_RATE` readings per second (1,000) for `FHIRGATE_BENCH_SECONDS`
//!   (60), paced across the hubs; the latency of each reading from its 202 to the endpoint's answer.
//!
//! Both count every reading on the endpoint by its identifier: lost and duplicated. The bridge's batch
//! size and linger are its defaults unless `FHIRGATE_FHIR__BATCH_SIZE` / `FHIRGATE_FHIR__LINGER_MS`
//! say otherwise. Prints figures, asserts none. The figures against the real FHIR server are
//! `benches/bridge_load.rs`'s.
//!
//! `cargo bench --bench bridge_ceiling` (needs neither the FHIR server nor mosquitto).

#[path = "../tests/harness/mod.rs"]
mod harness;
#[path = "instant_fhir/mod.rs"]
mod instant_fhir;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use harness::Bridge;
use instant_fhir::{Answered, InstantFhir, Ledger};

/// Readings of one hub with distinct dedup identifiers (one per second of the device's day from 08:00).
const READINGS_PER_HUB: u32 = 57_600;
/// How long delivery may make no progress before the missing readings are counted lost.
const STALL_LIMIT: Duration = Duration::from_secs(30);

/// What the bench runs, from the environment.
struct Settings {
    burst_readings: u32,
    hubs: u32,
    rate: f64,
    seconds: u32,
    batch_size: usize,
    linger_ms: u64,
}

impl Settings {
    fn from_env() -> Settings {
        let defaults = fhirgate::config::FhirConfig::default();
        let settings = Settings {
            burst_readings: from_env("FHIRGATE_BENCH_N", 20_000),
            hubs: from_env("FHIRGATE_BENCH_HUBS", 16u32).max(1),
            rate: from_env("FHIRGATE_BENCH_RATE", 1000.0),
            seconds: from_env("FHIRGATE_BENCH_SECONDS", 60),
            batch_size: from_env("FHIRGATE_FHIR__BATCH_SIZE", defaults.batch_size),
            linger_ms: from_env("FHIRGATE_FHIR__LINGER_MS", defaults.linger_ms),
        };
        for total in [settings.burst_readings, settings.sustained_readings()] {
            assert!(
                total.div_ceil(settings.hubs) <= READINGS_PER_HUB,
                "{total} readings need more hubs: each has {READINGS_PER_HUB} distinct readings"
            );
        }
        settings
    }

    fn sustained_readings(&self) -> u32 {
        (self.rate * f64::from(self.seconds)).round() as u32
    }
}

fn from_env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// A reading as the endpoint sees it: its patient and the device's time, both parts of its dedup
/// identifier (`device-patient-system-type-time.ff`, PHD IG PhdBaseObservation).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ReadingKey {
    patient: String,
    time: String,
}

impl ReadingKey {
    /// The key of a dedup identifier value. The bench's patient values hold no `-`, so the patient is
    /// the second part; the time is the last, without its hundredths.
    fn of_identifier(value: &str) -> Option<ReadingKey> {
        let patient = value.split('-').nth(1)?;
        let time = value.rsplit('-').next()?.split('.').next()?;
        Some(ReadingKey {
            patient: patient.to_string(),
            time: time.to_string(),
        })
    }
}

/// Reading `i` of a phase: its hub (readings go round the hubs), its payload and its key. Each hub
/// has a patient of its own in each phase, so the phases' identifiers never meet.
fn phase_reading(phase: &str, i: u32, hubs: u32) -> (Vec<u8>, ReadingKey) {
    let hub = i % hubs;
    let patient = format!("{phase}{hub:02}");
    let (payload, time) = harness::distinct_weight_reading(i / hubs, &format!("hub-ceiling-{hub:02}"), &patient);
    (payload, ReadingKey { patient, time })
}

/// A reading the bridge answered 202, and when the answer came back.
struct Acked {
    key: ReadingKey,
    at: Instant,
}

/// What the hubs of one phase sent.
struct Sent {
    started: Instant,
    acked: Vec<Acked>,
    /// Readings answered anything but 202 (or not at all); not resent.
    not_accepted: u32,
}

/// Sends readings `0..count` of `phase` from `hubs` concurrent hubs, one reading per request, each
/// hub waiting for its answer; at `rate` readings per second over all hubs when given, else as fast
/// as the bridge answers.
fn send_readings(bridge: &Bridge, phase: &'static str, count: u32, hubs: u32, rate: Option<f64>) -> Sent {
    let started = Instant::now();
    let url = bridge.url("/ingest/ble");
    let threads: Vec<_> = (0..hubs)
        .map(|hub| {
            let url = url.clone();
            std::thread::spawn(move || {
                let client = harness::http();
                let mut acked = Vec::new();
                let mut not_accepted = 0;
                for i in (hub..count).step_by(hubs as usize) {
                    if let Some(rate) = rate {
                        pace(started, i, rate);
                    }
                    let (payload, key) = phase_reading(phase, i, hubs);
                    match client.post(&url).body(payload).send().map(|r| r.status().as_u16()) {
                        Ok(202) => acked.push(Acked {
                            key,
                            at: Instant::now(),
                        }),
                        _ => not_accepted += 1,
                    }
                }
                (acked, not_accepted)
            })
        })
        .collect();
    let mut sent = Sent {
        started,
        acked: Vec::with_capacity(count as usize),
        not_accepted: 0,
    };
    for thread in threads {
        let (acked, not_accepted) = thread.join().expect("a hub thread");
        sent.acked.extend(acked);
        sent.not_accepted += not_accepted;
    }
    sent
}

/// Sleeps until reading `i` is due at `rate` readings per second after `started`.
fn pace(started: Instant, i: u32, rate: f64) {
    let due = started + Duration::from_secs_f64(f64::from(i) / rate);
    if let Some(wait) = due.checked_duration_since(Instant::now()) {
        std::thread::sleep(wait);
    }
}

/// Waits until the endpoint has answered `expected` distinct Observations, or delivery made no
/// progress for [`STALL_LIMIT`]; then until the outbox is empty (so a resend would be counted), and
/// takes the phase's ledger.
fn await_delivery(endpoint: &InstantFhir, bridge: &Bridge, expected: usize) -> Ledger {
    let mut seen = endpoint.distinct_observations();
    let mut progressed = Instant::now();
    while seen < expected && progressed.elapsed() < STALL_LIMIT {
        std::thread::sleep(Duration::from_millis(50));
        let now = endpoint.distinct_observations();
        if now > seen {
            seen = now;
            progressed = Instant::now();
        }
    }
    let drained = Instant::now();
    while bridge.outbox_depth() > 0 && drained.elapsed() < STALL_LIMIT {
        std::thread::sleep(Duration::from_millis(50));
    }
    endpoint.take()
}

/// How the readings a phase sent fared at the endpoint.
struct Reconciled {
    delivered: usize,
    lost: usize,
    duplicated: u64,
    /// Observations the endpoint was sent that no hub of the phase sent.
    unexpected: usize,
    /// Endpoint answer − the reading's 202, in ms, sorted.
    latencies_ms: Vec<f64>,
}

/// Matches each reading the bridge acknowledged with the Observation the endpoint answered.
fn reconcile(sent: &Sent, ledger: &Ledger) -> Reconciled {
    let mut answered: HashMap<ReadingKey, Answered> = HashMap::with_capacity(ledger.observations.len());
    let mut unreadable = 0;
    for (identifier, answer) in &ledger.observations {
        match ReadingKey::of_identifier(identifier) {
            Some(key) => {
                answered.insert(key, *answer);
            }
            None => unreadable += 1,
        }
    }
    let mut reconciled = Reconciled {
        delivered: 0,
        lost: 0,
        duplicated: 0,
        unexpected: 0,
        latencies_ms: Vec::with_capacity(sent.acked.len()),
    };
    for acked in &sent.acked {
        match answered.remove(&acked.key) {
            Some(answered) => {
                reconciled.delivered += 1;
                reconciled.duplicated += u64::from(answered.times - 1);
                reconciled.latencies_ms.push(signed_ms(answered.first, acked.at));
            }
            None => reconciled.lost += 1,
        }
    }
    reconciled.unexpected = answered.len() + unreadable;
    reconciled.latencies_ms.sort_by(f64::total_cmp);
    reconciled
}

/// `later − earlier` in ms, negative when `later` came first.
fn signed_ms(later: Instant, earlier: Instant) -> f64 {
    match later.checked_duration_since(earlier) {
        Some(after) => after.as_secs_f64() * 1000.0,
        None => -(earlier.duration_since(later).as_secs_f64() * 1000.0),
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn per_second(count: usize, over: Duration) -> f64 {
    count as f64 / over.as_secs_f64()
}

/// CPU time used so far (user + system, every thread) by the bridge and by this process (the hubs and
/// the endpoint), from `/proc`; `None` where there is none.
#[derive(Clone, Copy)]
struct CpuUse {
    bridge: Option<f64>,
    bench: Option<f64>,
}

impl CpuUse {
    fn now(bridge: &Bridge) -> CpuUse {
        CpuUse {
            bridge: bridge.pid().and_then(|pid| cpu_seconds(&pid.to_string())),
            bench: cpu_seconds("self"),
        }
    }

    /// What was used since `earlier`.
    fn since(self, earlier: CpuUse) -> CpuUse {
        let minus = |now: Option<f64>, then: Option<f64>| Some(now? - then?);
        CpuUse {
            bridge: minus(self.bridge, earlier.bridge),
            bench: minus(self.bench, earlier.bench),
        }
    }
}

/// utime + stime of `/proc/{pid}/stat` (fields 14 and 15, in USER_HZ = 100 ticks per second).
fn cpu_seconds(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The fields after the command name, which is in parentheses and may hold spaces; field 3 first.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = |field: usize| fields.get(field - 3)?.parse::<f64>().ok();
    Some((ticks(14)? + ticks(15)?) / 100.0)
}

/// The last 202 of a phase, after its start.
fn accept_time(sent: &Sent) -> Duration {
    sent.acked
        .iter()
        .map(|a| a.at)
        .max()
        .map_or(Duration::ZERO, |last| last - sent.started)
}

/// The endpoint's last answer of a phase, after its start.
fn delivery_time(sent: &Sent, ledger: &Ledger) -> Duration {
    ledger
        .last_answer
        .map_or(Duration::ZERO, |last| last.saturating_duration_since(sent.started))
}

fn print_counts(sent: &Sent, ledger: &Ledger, reconciled: &Reconciled) {
    println!(
        "  lost: {}  duplicated: {}  (accepted {}, not accepted {}, delivered {} distinct, {} unexpected)",
        reconciled.lost,
        reconciled.duplicated,
        sent.acked.len(),
        sent.not_accepted,
        reconciled.delivered,
        reconciled.unexpected
    );
    println!(
        "  Bundles: {}  ({:.1} Observations each; {} Observations posted, {} unidentified; {} patient searches; {} other requests)",
        ledger.bundles,
        ledger.observations_posted as f64 / ledger.bundles.max(1) as f64,
        ledger.observations_posted,
        ledger.unidentified,
        ledger.patient_searches,
        ledger.other_requests
    );
}

fn print_cpu(used: CpuUse, over: Duration, delivered: usize) {
    let (Some(bridge), Some(bench)) = (used.bridge, used.bench) else {
        return;
    };
    let wall = over.as_secs_f64();
    println!(
        "  CPU: bridge {bridge:.2} s ({:.2} cores, {:.0} µs per reading delivered), hubs + endpoint {bench:.2} s ({:.2} cores), over {wall:.2} s",
        bridge / wall,
        bridge * 1e6 / delivered.max(1) as f64,
        bench / wall
    );
}

fn print_latency(reconciled: &Reconciled) {
    let latencies = &reconciled.latencies_ms;
    println!(
        "  device ack -> endpoint answer (ms): p50 {:.1}  p99 {:.1}  max {:.1}  (of {} readings)",
        percentile(latencies, 0.5),
        percentile(latencies, 0.99),
        latencies.last().copied().unwrap_or(f64::NAN),
        latencies.len()
    );
}

fn burst(bridge: &Bridge, endpoint: &InstantFhir, settings: &Settings) {
    let (n, hubs) = (settings.burst_readings, settings.hubs);
    println!("burst: {n} readings from {hubs} concurrent hubs, one per request, as fast as answered");
    let cpu_before = CpuUse::now(bridge);
    let sent = send_readings(bridge, "CEILB", n, hubs, None);
    let ledger = await_delivery(endpoint, bridge, sent.acked.len());
    let (cpu, cpu_over) = (CpuUse::now(bridge).since(cpu_before), sent.started.elapsed());
    let reconciled = reconcile(&sent, &ledger);
    let (accepted_in, delivered_in) = (accept_time(&sent), delivery_time(&sent, &ledger));
    println!(
        "  accepted/s: {:.0}  ({} answered 202 in {:.2} s)",
        per_second(sent.acked.len(), accepted_in),
        sent.acked.len(),
        accepted_in.as_secs_f64()
    );
    println!(
        "  delivered/s: {:.0}  ({} answered by the endpoint {:.2} s after the first send)",
        per_second(reconciled.delivered, delivered_in),
        reconciled.delivered,
        delivered_in.as_secs_f64()
    );
    println!("  total time: {:.2} s", delivered_in.as_secs_f64());
    print_latency(&reconciled);
    print_counts(&sent, &ledger, &reconciled);
    print_cpu(cpu, cpu_over, reconciled.delivered);
}

fn drain(bridge: &Bridge, endpoint: &InstantFhir, settings: &Settings) {
    let (n, hubs) = (settings.burst_readings, settings.hubs);
    println!("drain: {n} readings accepted while the endpoint answers 503, then delivered from the outbox alone");
    endpoint.go_down();
    let sent = send_readings(bridge, "CEILD", n, hubs, None);
    harness::wait_until("the readings stored", STALL_LIMIT, || {
        bridge.outbox_depth() >= sent.acked.len() as u64
    });
    // Nothing was answered during the outage; the phase's ledger starts when the endpoint is back.
    endpoint.take();
    let cpu_before = CpuUse::now(bridge);
    let back = Instant::now();
    endpoint.come_back();
    let ledger = await_delivery(endpoint, bridge, sent.acked.len());
    let (cpu, cpu_over) = (CpuUse::now(bridge).since(cpu_before), back.elapsed());
    let reconciled = reconcile(&sent, &ledger);
    let drained_in = match (ledger.first_answer, ledger.last_answer) {
        (Some(first), Some(last)) => last - first,
        _ => Duration::ZERO,
    };
    println!(
        "  delivered/s: {:.0}  ({} answered by the endpoint between its first answer and its last, {:.2} s)",
        per_second(reconciled.delivered, drained_in),
        reconciled.delivered,
        drained_in.as_secs_f64()
    );
    print_counts(&sent, &ledger, &reconciled);
    print_cpu(cpu, cpu_over, reconciled.delivered);
}

fn sustained(bridge: &Bridge, endpoint: &InstantFhir, settings: &Settings) {
    let (n, hubs, rate) = (settings.sustained_readings(), settings.hubs, settings.rate);
    println!(
        "sustained: {rate}/s for {} s ({n} readings), paced across {hubs} hubs",
        settings.seconds
    );
    let cpu_before = CpuUse::now(bridge);
    let sent = send_readings(bridge, "CEILS", n, hubs, Some(rate));
    let ledger = await_delivery(endpoint, bridge, sent.acked.len());
    let (cpu, cpu_over) = (CpuUse::now(bridge).since(cpu_before), sent.started.elapsed());
    let reconciled = reconcile(&sent, &ledger);
    let accepted_in = accept_time(&sent);
    println!(
        "  achieved send rate: {:.0}/s  ({} answered 202 in {:.2} s)",
        per_second(sent.acked.len(), accepted_in),
        sent.acked.len(),
        accepted_in.as_secs_f64()
    );
    print_latency(&reconciled);
    print_counts(&sent, &ledger, &reconciled);
    print_cpu(cpu, cpu_over, reconciled.delivered);
}

/// `nproc`, `uname -m` and the CPU's name, as this machine says.
fn print_machine(settings: &Settings) {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let architecture = std::process::Command::new("uname")
        .arg("-m")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| std::env::consts::ARCH.to_string());
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines().find_map(|l| {
                l.strip_prefix("model name")
                    .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
            })
        })
        .unwrap_or_default();
    println!("machine: nproc {cores}, {architecture}, {cpu}");
    println!(
        "bridge: fhirgate serve (release), fhir.batch_size {}, fhir.linger_ms {}, against an instant FHIR endpoint (a fake in the bench)",
        settings.batch_size, settings.linger_ms
    );
}

fn main() {
    let settings = Settings::from_env();
    let endpoint = InstantFhir::start();
    let env = vec![
        ("FHIRGATE_FHIR__BASE_URL", endpoint.base_url.clone()),
        ("FHIRGATE_FHIR__BATCH_SIZE", settings.batch_size.to_string()),
        ("FHIRGATE_FHIR__LINGER_MS", settings.linger_ms.to_string()),
        // The bridge's log filter (`FHIRGATE_BENCH_LOG`, e.g. `warn,fhirgate::delivery=debug` to time
        // each batch from its log); its log is in the scratch directory the harness names.
        ("RUST_LOG", from_env("FHIRGATE_BENCH_LOG", "warn".to_string())),
    ];
    let bridge = Bridge::start("ceiling", &env);
    print_machine(&settings);
    burst(&bridge, &endpoint, &settings);
    drain(&bridge, &endpoint, &settings);
    sustained(&bridge, &endpoint, &settings);
    println!(
        "bridge: {} delivery retries, {} dead-lettered",
        bridge.metric("fhirgate_retried_total") as u64,
        bridge.metric("fhirgate_dead_lettered_total") as u64
    );
}
