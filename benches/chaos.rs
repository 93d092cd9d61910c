//! Chaos with exact counts (issue #16): `fhirgate serve` against the real FHIR server (hfs) and broker
//! (mosquitto), as the end-to-end tests start them, while things go wrong; each scenario ends by
//! counting every Observation on the server and printing how many acknowledged readings were lost
//! and how many are there twice. Both must be 0.
//!
//! `cargo bench --bench chaos` runs every scenario; `FHIRGATE_CHAOS=kill,outage` picks some;
//! `FHIRGATE_CHAOS_N` sets the readings per scenario (default 3000). Scenarios:
//! * `kill`: SIGKILL of the bridge 20 times during a stream from 4 hubs that resend anything not
//!   answered 202;
//! * `outage`: the FHIR server down for 60 s during the stream;
//! * `both`: the outage, with SIGKILLs during it;
//! * `disk-full`: the data directory on a small tmpfs that fills, then is grown (root only);
//! * `share`: two bridges on one MQTT shared subscription (`$share/...`), one killed mid-stream and
//!   started again.
//!
//! Figures, not assertions: the process exits 1 when any scenario lost or duplicated a reading.

#[path = "../tests/harness/mod.rs"]
mod harness;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use harness::{Bridge, Broker, FhirServer};

const DEDUP_SYSTEM: &str = "http://hl7.org/fhir/uv/phd/StructureDefinition/PhdBaseObservation";
const HUBS: u32 = 4;

/// Reading `n`: a weight of its own at its own second, so each has its own dedup identifier.
fn weight_reading(n: u32) -> Vec<u8> {
    harness::distinct_weight_reading(n, "hub-chaos", "MRN-CHAOS").0
}

/// What a scenario ended with.
struct Figures {
    sent: u32,
    acknowledged: u64,
    resends: u64,
    on_server: usize,
    distinct: usize,
    seconds: f64,
    kills: u32,
}

impl Figures {
    fn lost(&self) -> u64 {
        u64::from(self.sent).saturating_sub(self.distinct as u64)
    }
    fn duplicated(&self) -> usize {
        self.on_server - self.distinct
    }
}

/// Every Observation identifier on the server, with how often it is there.
fn identifiers(fhir: &FhirServer) -> HashMap<String, usize> {
    let mut seen = HashMap::new();
    let mut url = "Observation?_count=1000&_elements=identifier".to_string();
    loop {
        let page = fhir.search(&url);
        for entry in page["entry"].as_array().into_iter().flatten() {
            for identifier in entry["resource"]["identifier"].as_array().into_iter().flatten() {
                if identifier["system"] == DEDUP_SYSTEM {
                    *seen
                        .entry(identifier["value"].as_str().unwrap_or_default().to_string())
                        .or_default() += 1;
                }
            }
        }
        let next = page["link"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|l| l["relation"] == "next")
            .and_then(|l| l["url"].as_str());
        match next.and_then(|n| {
            n.split_once(&format!("{}/", fhir.base_url()))
                .map(|(_, q)| q.to_string())
        }) {
            Some(query) => url = query,
            None => return seen,
        }
    }
}

/// `HUBS` hubs posting readings `0..n` over HTTP, each resending a reading until it is answered 202
/// (as hubs do); returns the acknowledged and resend counts when all are acknowledged.
fn stream(url: String, n: u32, pace: Duration) -> std::thread::JoinHandle<(u64, u64)> {
    std::thread::spawn(move || {
        let acknowledged = Arc::new(AtomicU64::new(0));
        let resends = Arc::new(AtomicU64::new(0));
        let hubs: Vec<_> = (0..HUBS)
            .map(|hub| {
                let (url, acknowledged, resends) = (url.clone(), Arc::clone(&acknowledged), Arc::clone(&resends));
                std::thread::spawn(move || {
                    let client = harness::http();
                    for i in (hub..n).step_by(HUBS as usize) {
                        let payload = weight_reading(i);
                        loop {
                            let status = client
                                .post(&url)
                                .body(payload.clone())
                                .send()
                                .map(|r| r.status().as_u16());
                            if status.ok() == Some(202) {
                                acknowledged.fetch_add(1, Ordering::Relaxed);
                                break;
                            }
                            resends.fetch_add(1, Ordering::Relaxed);
                            std::thread::sleep(Duration::from_millis(100));
                        }
                        std::thread::sleep(pace);
                    }
                })
            })
            .collect();
        for hub in hubs {
            let _ = hub.join();
        }
        (acknowledged.load(Ordering::Relaxed), resends.load(Ordering::Relaxed))
    })
}

/// Waits until every reading is on the server and the bridges' outboxes are empty, then counts.
fn settle(fhir: &FhirServer, bridges: &[&Bridge], n: u32, started: Instant, acked: (u64, u64)) -> Figures {
    harness::wait_until("every reading on the server", Duration::from_secs(1800), || {
        fhir.count("Observation") >= u64::from(n) && bridges.iter().all(|b| b.outbox_depth() == 0)
    });
    // A straggling duplicate would land within this.
    std::thread::sleep(Duration::from_secs(3));
    let seen = identifiers(fhir);
    Figures {
        sent: n,
        acknowledged: acked.0,
        resends: acked.1,
        on_server: seen.values().sum(),
        distinct: seen.len(),
        seconds: started.elapsed().as_secs_f64(),
        kills: 0,
    }
}

fn env(fhir: &FhirServer) -> Vec<(&'static str, String)> {
    vec![
        ("FHIRGATE_FHIR__BASE_URL", fhir.base_url()),
        ("FHIRGATE_FHIR__BATCH_SIZE", "100".into()),
        ("RUST_LOG", "warn".into()),
    ]
}

/// SIGKILL `kills` times while the stream runs, `every` apart, each time started again after half a
/// second; returns the bridge and how many kills there were.
fn killer(
    bridge: Bridge,
    kills: u32,
    every: Duration,
    done: Arc<AtomicBool>,
) -> std::thread::JoinHandle<(Bridge, u32)> {
    std::thread::spawn(move || {
        let mut bridge = bridge;
        let mut killed = 0;
        while killed < kills && !done.load(Ordering::Relaxed) {
            std::thread::sleep(every);
            bridge.kill9();
            killed += 1;
            std::thread::sleep(Duration::from_millis(500));
            bridge.resume();
        }
        (bridge, killed)
    })
}

fn kill(n: u32, outage: bool) -> Option<Figures> {
    let name = if outage { "chaos-both" } else { "chaos-kill" };
    let mut fhir = FhirServer::start(name)?;
    let bridge = Bridge::start(name, &env(&fhir));
    let started = Instant::now();
    // Paced so that the 20 kills fall within the stream.
    let sender = stream(bridge.url("/ingest/ble"), n, Duration::from_millis(40));
    let done = Arc::new(AtomicBool::new(false));
    let killer = killer(bridge, 20, Duration::from_millis(700), Arc::clone(&done));
    if outage {
        std::thread::sleep(Duration::from_secs(3));
        fhir.stop();
        std::thread::sleep(Duration::from_secs(60));
        fhir.resume();
    }
    let acked = sender.join().ok()?;
    done.store(true, Ordering::Relaxed);
    let (bridge, kills) = killer.join().ok()?;
    let mut figures = settle(&fhir, &[&bridge], n, started, acked);
    figures.kills = kills;
    Some(figures)
}

fn outage(n: u32) -> Option<Figures> {
    let mut fhir = FhirServer::start("chaos-outage")?;
    let bridge = Bridge::start("chaos-outage", &env(&fhir));
    let started = Instant::now();
    let sender = stream(bridge.url("/ingest/ble"), n, Duration::from_millis(20));
    std::thread::sleep(Duration::from_secs(3));
    fhir.stop();
    std::thread::sleep(Duration::from_secs(60));
    fhir.resume();
    let acked = sender.join().ok()?;
    Some(settle(&fhir, &[&bridge], n, started, acked))
}

fn disk_full(n: u32) -> Option<Figures> {
    let fhir = FhirServer::start("chaos-disk")?;
    let dir = harness::scratch_dir("chaos-disk-data");
    let mount = |options: &str| {
        std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", options, "tmpfs"])
            .arg(&dir)
            .status()
            .is_ok_and(|s| s.success())
    };
    if !mount("size=2m") {
        println!("disk-full: SKIPPED (cannot mount a tmpfs here; needs root)");
        return None;
    }
    let mut env = env(&fhir);
    env.push(("FHIRGATE_STORE__DATA_DIR", dir.display().to_string()));
    let bridge = Bridge::start("chaos-disk", &env);
    let started = Instant::now();
    let sender = stream(bridge.url("/ingest/ble"), n, Duration::from_millis(2));
    // Until the store refuses writes (the disk is full), then free space.
    let full = Instant::now();
    while bridge.log().matches("No space left").count() == 0 && full.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(200));
    }
    println!(
        "disk-full: the store filled after {:.1} s",
        full.elapsed().as_secs_f64()
    );
    std::thread::sleep(Duration::from_secs(5));
    let _ = std::process::Command::new("mount")
        .args(["-o", "remount,size=256m"])
        .arg(&dir)
        .status();
    let acked = sender.join().ok()?;
    let figures = settle(&fhir, &[&bridge], n, started, acked);
    drop(bridge);
    let _ = std::process::Command::new("umount").arg(&dir).status();
    Some(figures)
}

fn share(n: u32) -> Option<Figures> {
    let fhir = FhirServer::start("chaos-share")?;
    let broker = Broker::start("chaos-share")?;
    // The default subscription is the shared one: `$share/fhirgate/hubs/+/ble`.
    let instance = |name: &str| {
        let mut env = env(&fhir);
        env.push(("FHIRGATE_MQTT__ENABLED", "true".into()));
        env.push(("FHIRGATE_MQTT__PORT", broker.port.to_string()));
        env.push(("FHIRGATE_MQTT__CLIENT_ID", format!("fhirgate-{name}")));
        env.push(("RUST_LOG", "warn,fhirgate::ingest::mqtt=info".into()));
        let bridge = Bridge::start(name, &env);
        bridge.wait_for_subscription();
        bridge
    };
    let mut first = instance("chaos-share-a");
    let second = instance("chaos-share-b");
    let started = Instant::now();
    let broker = Arc::new(broker);
    let publisher = {
        let broker = Arc::clone(&broker);
        std::thread::spawn(move || {
            let port = broker.port;
            let mut child = std::process::Command::new("mosquitto_pub")
                .args(["-p", &port.to_string(), "-q", "1", "-t", "hubs/ward-7/ble", "-l"])
                .stdin(std::process::Stdio::piped())
                .spawn()
                .ok()?;
            let mut stdin = child.stdin.take()?;
            for i in 0..n {
                use std::io::Write;
                stdin.write_all(&weight_reading(i)).ok()?;
                stdin.write_all(b"\n").ok()?;
                // About 8 seconds for 3,000: the kill falls mid-stream.
                if i % 10 == 0 {
                    std::thread::sleep(Duration::from_millis(25));
                }
            }
            drop(stdin);
            child.wait().ok()
        })
    };
    std::thread::sleep(Duration::from_secs(2));
    let before_kill = first.metric("fhirgate_accepted_total") as u64;
    first.kill9();
    std::thread::sleep(Duration::from_secs(3));
    first.resume();
    publisher.join().ok()??;
    let split = (
        first.metric("fhirgate_accepted_total") as u64,
        second.metric("fhirgate_accepted_total") as u64,
    );
    let mut figures = settle(&fhir, &[&first, &second], n, started, (u64::from(n), 0));
    figures.kills = 1;
    println!(
        "share: instance A accepted {before_kill} before its SIGKILL and {} after its restart, instance B {}",
        split.0, split.1
    );
    Some(figures)
}

fn main() {
    let n: u32 = std::env::var("FHIRGATE_CHAOS_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000);
    let chosen = std::env::var("FHIRGATE_CHAOS").unwrap_or_else(|_| "kill,outage,both,disk-full,share".into());
    let mut failed = false;
    println!("scenario    sent  acknowledged  resends  kills  on server  distinct  lost  duplicated  seconds");
    for scenario in chosen.split(',').map(str::trim) {
        let figures = match scenario {
            "kill" => kill(n, false),
            "outage" => outage(n),
            "both" => kill(n, true),
            "disk-full" => disk_full(n),
            "share" => share(n),
            other => {
                println!("{other}: no such scenario");
                None
            }
        };
        let Some(f) = figures else { continue };
        failed |= f.lost() > 0 || f.duplicated() > 0;
        println!(
            "{scenario:<10} {:>5} {:>13} {:>8} {:>6} {:>10} {:>9} {:>5} {:>11} {:>8.1}",
            f.sent,
            f.acknowledged,
            f.resends,
            f.kills,
            f.on_server,
            f.distinct,
            f.lost(),
            f.duplicated(),
            f.seconds
        );
    }
    if failed {
        std::process::exit(1);
    }
}
