//! The store and the deliverer when the disk fails (issue #16 items 9–11), with a disk that fills up on
//! cue (`common::FailingDisk`: every write fails with ENOSPC while it is full): the store recovers by
//! itself once the disk does, `/readyz` says not ready meanwhile, the deliverer neither re-posts what
//! it delivered nor hurries, and after a FHIR outage delivery resumes as soon as the server answers.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::DateTime;
use fhirbolt::model::r4::resources::Bundle;
use fhirgate::config::{FhirConfig, HttpConfig};
use fhirgate::delivery::plan::MergePlan;
use fhirgate::delivery::{Deliverer, Outcome, Sink};
use fhirgate::ingest::http::{self, HttpState};
use fhirgate::metrics::Metrics;
use fhirgate::pipeline::Pipeline;
use fhirgate::store::{Outbox, OutboxRecord};
use tokio::sync::watch;

fn record(n: u8) -> OutboxRecord {
    OutboxRecord {
        adapter: "ble".into(),
        received_at: DateTime::parse_from_rfc3339("2026-11-21T10:00:00Z").unwrap(),
        source: "test".into(),
        payload: std::fs::read(common::repo_path("fixtures/ble/2A9D-weight.json"))
            .unwrap()
            .into_iter()
            .chain(std::iter::repeat_n(b' ', usize::from(n)))
            .collect(),
        patient: None,
        batch_index: None,
    }
}

fn failing_store(name: &str) -> (Outbox, common::FailingDisk) {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("store-faults-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    let disk = common::FailingDisk::default();
    (Outbox::open_with(&dir, Box::new(disk.clone())).unwrap(), disk)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_full_disk_the_store_works_again_as_soon_as_space_is_freed() {
    let (outbox, disk) = failing_store("reopen");
    assert_eq!(outbox.append(&record(1)).await.unwrap(), 1);
    disk.fill(true);
    let error = outbox.append(&record(2)).await.unwrap_err();
    assert!(
        error.message.contains("No space left") || error.message.contains("os error 28"),
        "{error}"
    );
    assert!(!outbox.writable(), "a store whose writes fail is not ready");
    // redb refuses everything after one failed write until the database is reopened; here every
    // operation meanwhile says so and tries again.
    assert!(outbox.append(&record(3)).await.is_err());
    assert!(outbox.remove(&[1]).is_err());
    disk.fill(false);
    // The next operation reopens the database: nothing acknowledged is lost, nothing refused is there.
    assert_eq!(
        outbox
            .pending(10)
            .unwrap()
            .iter()
            .map(|(id, _)| *id)
            .collect::<Vec<_>>(),
        [1]
    );
    let next = outbox.append(&record(4)).await.unwrap();
    assert!(next > 1);
    assert!(outbox.writable());
    assert_eq!(outbox.len().unwrap(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_follows_the_disk_and_readings_are_answered_503_then_202() {
    let (outbox, disk) = failing_store("readyz");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let metrics = Arc::new(Metrics::new());
    let router = http::router(HttpState {
        outbox: outbox.clone(),
        metrics: Arc::clone(&metrics),
        config: Arc::new(HttpConfig::default()),
        pipeline: Arc::new(Pipeline::new(common::settings())),
        associations: None,
    });
    tokio::spawn(async move {
        http::serve(
            listener,
            router,
            &HttpConfig::default(),
            None,
            metrics,
            std::future::pending(),
        )
        .await
    });
    fhirgate::tls::install_crypto_provider();
    let client = reqwest::Client::new();
    let ready = || async {
        client
            .get(format!("{base}/readyz"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    };
    let post = || async {
        client
            .post(format!("{base}/ingest/ble"))
            .body(std::fs::read(common::repo_path("fixtures/ble/2A9D-weight.json")).unwrap())
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!((ready().await, post().await), (200, 202));
    disk.fill(true);
    assert_eq!(post().await, 503, "not stored, so not acknowledged");
    assert_eq!(ready().await, 503, "ready while the store cannot write");
    assert_eq!(post().await, 503);
    disk.fill(false);
    // No restart: the next probe reopens the store.
    assert_eq!(ready().await, 200);
    assert_eq!(post().await, 202);
    assert_eq!(outbox.len().unwrap(), 2);
}

/// A sink that records what it is sent and can fill the disk at the moment it commits, or refuse
/// to answer until it is "up".
#[derive(Clone, Default)]
struct Recording {
    transactions: Arc<AtomicUsize>,
    probes: Arc<AtomicUsize>,
    /// Filled as the first transaction commits (the removal after it then fails).
    fill_on_commit: Option<common::FailingDisk>,
    /// While false, transactions are answered "retry" and probes false.
    up: Arc<AtomicBool>,
}

impl Sink for Recording {
    async fn transaction(&mut self, _bundle: Bundle) -> Outcome {
        self.transactions.fetch_add(1, Ordering::SeqCst);
        if !self.up.load(Ordering::SeqCst) {
            return Outcome::retry("the server is down");
        }
        if let Some(disk) = self.fill_on_commit.take() {
            disk.fill(true);
        }
        Outcome::Delivered { entries: 1 }
    }

    async fn merge(&mut self, _plan: &MergePlan) -> Outcome {
        Outcome::refused("not in this test")
    }

    async fn probe(&mut self) -> bool {
        self.probes.fetch_add(1, Ordering::SeqCst);
        self.up.load(Ordering::SeqCst)
    }
}

fn deliverer(outbox: &Outbox, sink: Recording, config: FhirConfig) -> (watch::Sender<bool>, Arc<Metrics>) {
    let metrics = Arc::new(Metrics::new());
    let (stop, stopping) = watch::channel(false);
    let deliverer = Deliverer::new(
        outbox.clone(),
        sink,
        Arc::new(Pipeline::new(common::settings())),
        config,
        Arc::clone(&metrics),
    );
    tokio::spawn(deliverer.run(stopping));
    (stop, metrics)
}

/// The sink committed, then the outbox could not remove the payloads (the disk filled). Before, the
/// same Bundle went out again about every 1.1 s; now nothing is sent again, the removal is retried
/// with a growing wait, and it succeeds once the disk does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_cannot_remove_what_was_delivered_makes_nothing_go_out_again() {
    let (outbox, disk) = failing_store("unremoved");
    for n in 0..3 {
        outbox.append(&record(n)).await.unwrap();
    }
    let sink = Recording {
        fill_on_commit: Some(disk.clone()),
        up: Arc::new(AtomicBool::new(true)),
        ..Recording::default()
    };
    let transactions = Arc::clone(&sink.transactions);
    let config = FhirConfig {
        batch_size: 10,
        linger_ms: 0,
        initial_backoff_ms: 100,
        max_backoff_secs: 1,
        ..FhirConfig::default()
    };
    let (stop, metrics) = deliverer(&outbox, sink, config);
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(
        transactions.load(Ordering::SeqCst),
        1,
        "the delivered Bundle went out again"
    );
    assert_eq!(metrics.delivered.get(), 3, "delivered is delivered, removed or not");
    assert_eq!(outbox.len().ok(), None, "the store still fails");
    disk.fill(false);
    for _ in 0..50 {
        if outbox.len().ok() == Some(0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(outbox.len().unwrap(), 0, "removed once the disk is back");
    assert_eq!(transactions.load(Ordering::SeqCst), 1);
    let _ = stop.send(true);
}

/// A FHIR server down long enough for the backoff to grow to a minute, then back: delivery resumes at
/// the next probe, not at the end of the wait (it waited 32 s after a 60 s outage before). Time is
/// the test runtime's own, so the figures are exact.
#[tokio::test(start_paused = true)]
async fn after_an_outage_delivery_resumes_at_the_next_probe_not_at_the_end_of_the_backoff() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("store-faults-probe");
    let _ = std::fs::remove_dir_all(&dir);
    let outbox = Outbox::open(&dir).unwrap();
    outbox.append(&record(0)).await.unwrap();
    let sink = Recording::default();
    let (up, transactions, probes) = (
        Arc::clone(&sink.up),
        Arc::clone(&sink.transactions),
        Arc::clone(&sink.probes),
    );
    let config = FhirConfig {
        linger_ms: 0,
        initial_backoff_ms: 500,
        max_backoff_secs: 60,
        probe_interval_ms: 2000,
        ..FhirConfig::default()
    };
    let (stop, metrics) = deliverer(&outbox, sink, config);
    // 61 s of outage: attempts at the backoff's pace (0.5 s, 1 s, 2 s, ... doubling), each wait
    // longer than 2 s probed every 2 s.
    tokio::time::sleep(Duration::from_secs(61)).await;
    let attempts = transactions.load(Ordering::SeqCst);
    assert!((5..=9).contains(&attempts), "{attempts} attempts in a minute of outage");
    assert!(
        probes.load(Ordering::SeqCst) >= 10,
        "probed {} times",
        probes.load(Ordering::SeqCst)
    );
    up.store(true, Ordering::SeqCst);
    let back = tokio::time::Instant::now();
    while metrics.delivered.get() == 0 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let waited = back.elapsed();
    assert!(
        waited <= Duration::from_millis(2100),
        "delivered {waited:?} after the server came back"
    );
    let _ = stop.send(true);
}
