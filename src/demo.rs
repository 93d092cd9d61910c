//! `fhirgate serve --demo`: the bridge and a simulated ward driving it, in one process, so a first
//! run shows readings becoming FHIR resources with nothing else installed. The ward talks to the
//! bridge over its real listeners (HTTP and MLLP on loopback), exactly as devices do, so the same
//! bridge takes real devices at the same time.

use std::time::Duration;

use crate::config::Config;
use crate::simulate::{self, Options};

/// Waits for the bridge to answer, then drives it until the process ends; says every ten seconds
/// how far it got.
pub async fn drive(config: Config) {
    crate::tls::install_crypto_provider();
    let http = format!("http://{}", config.http.listen);
    let Ok(client) = reqwest::Client::builder().timeout(Duration::from_secs(2)).build() else {
        return;
    };
    let health = format!("{http}/healthz");
    let mut ready = false;
    for _ in 0..150 {
        if client.get(&health).send().await.is_ok_and(|r| r.status().is_success()) {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    if !ready {
        tracing::error!("demo: the bridge did not answer on {health}; no simulated ward");
        return;
    }
    let destination = match &config.fhir.base_url {
        Some(url) => format!("the FHIR server {url}"),
        None => format!(
            "NDJSON files in {} (list them with `fhirgate resources`)",
            config.fhir.files_dir(&config.store.data_dir).display()
        ),
    };
    tracing::info!(
        "demo: a simulated ward (Bluetooth hubs over HTTP, a monitor gateway over MLLP) now sends readings to \
         this bridge; they are delivered into {destination}"
    );
    let options = Options {
        http: config.http.enabled.then_some(http),
        mllp: config.mllp.enabled.then(|| config.mllp.listen.to_string()),
        rate: 2.0,
        devices: 12,
        duration: None,
        faults: 0.05,
        seed: 1,
        ..Options::default()
    };
    let mut last = tokio::time::Instant::now();
    let progress = move |summary: &simulate::Summary| {
        if last.elapsed() >= Duration::from_secs(10) {
            last = tokio::time::Instant::now();
            tracing::info!("demo: {}", summary.progress_line());
        }
    };
    if let Err(error) = simulate::run(&options, progress, std::future::pending()).await {
        tracing::error!(%error, "demo: the simulated ward stopped");
    }
}
