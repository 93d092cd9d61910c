//! The running bridge (`fhirgate serve`): the store, the transports that fill it, and the deliverer
//! that empties it, started together and stopped in order: first the transports stop taking payloads
//! (answering what they have), then the deliverer finishes the transaction in flight.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use thiserror::Error;
use tokio::sync::watch;
use tracing::{info, warn};

use crate::config::Config;
use crate::console::{self, ConsoleState};
use crate::delivery::fhir_server::FhirClient;
use crate::delivery::recent::Recent;
use crate::delivery::{Deliverer, FhirServerSink, NdjsonSink};
use crate::ingest::http::{self, HttpState};
use crate::ingest::mllp;
use crate::ingest::mqtt;
use crate::metrics::Metrics;
use crate::pipeline::association_registry::Associations;
use crate::pipeline::{MapSettings, Pipeline};
use crate::store::Outbox;

#[derive(Debug, Error)]
pub enum ServeError {
    #[error("{0}")]
    Setup(String),
    #[error("cannot listen on {address}: {error}")]
    Listen { address: String, error: std::io::Error },
}

/// The mapping settings of the deployment (shared by the transports' checks and delivery).
pub fn map_settings(config: &Config) -> Result<MapSettings, ServeError> {
    MapSettings::from_config(&config.mapping, &config.medtech).map_err(ServeError::Setup)
}

/// Runs the bridge until `shutdown` completes.
pub async fn run(config: Config, shutdown: impl Future<Output = ()>) -> Result<(), ServeError> {
    let settings = map_settings(&config)?;
    let outbox = Outbox::open(&config.store.data_dir).map_err(|e| ServeError::Setup(e.to_string()))?;
    let metrics = Arc::new(Metrics::new());
    let associations = Arc::new(
        Associations::load(settings.associations.clone(), outbox.clone())
            .map_err(|e| ServeError::Setup(e.to_string()))?,
    );
    // One pipeline: the transports' door and delivery's planner, reading the live associations.
    let pipeline = Arc::new(Pipeline::new(settings).with_live_associations(associations.subscribe()));
    // What delivery finished with lately, for the console.
    let recent = Arc::new(Recent::new());
    let (stop_ingest, ingest_stopping) = watch::channel(false);
    let (stop_delivery, delivery_stopping) = watch::channel(false);
    let mut ingest = tokio::task::JoinSet::new();

    if config.http.enabled {
        let listener = bind(config.http.listen).await?;
        if config.http.gateways.is_empty() && config.http.client_ca.is_none() {
            warn!(listen = %config.http.listen, "no gateway tokens configured: HTTP ingest accepts unauthenticated requests (loopback only)");
        }
        let router = http::router(HttpState {
            outbox: outbox.clone(),
            metrics: Arc::clone(&metrics),
            config: Arc::new(config.http.clone()),
            pipeline: Arc::clone(&pipeline),
            associations: Some(Arc::clone(&associations)),
        })
        .merge(console::router(ConsoleState {
            recent: Arc::clone(&recent),
            settings: Arc::new(pipeline.settings().clone()),
        }));
        info!(listen = %config.http.listen, "HTTP ingest listening");
        info!("the console: http://{}/console", console_address(config.http.listen));
        let stopping = stopped(ingest_stopping.clone());
        let tls = http::tls_config(&config.http).map_err(ServeError::Setup)?;
        if tls.is_some() {
            info!(mutual = config.http.client_ca.is_some(), "HTTP ingest uses TLS");
        }
        let (http_config, metrics) = (config.http.clone(), Arc::clone(&metrics));
        ingest.spawn(async move {
            if let Err(error) = http::serve(listener, router, &http_config, tls, metrics, stopping).await {
                tracing::error!(%error, "the HTTP listener failed");
            }
        });
    }
    if config.mllp.enabled {
        let listener = bind(config.mllp.listen).await?;
        let mllp_config = config.mllp.resolve().map_err(ServeError::Setup)?;
        if mllp_config.tls.is_some() {
            info!(mutual = config.mllp.client_ca.is_some(), "MLLP uses TLS");
        }
        info!(listen = %config.mllp.listen, "MLLP ingest listening");
        let (outbox, pipeline, metrics) = (outbox.clone(), Arc::clone(&pipeline), Arc::clone(&metrics));
        let stopping = stopped(ingest_stopping.clone());
        ingest.spawn(async move {
            if let Err(error) = mllp::serve(listener, outbox, pipeline, mllp_config, metrics, stopping).await {
                tracing::error!(%error, "the MLLP listener failed");
            }
        });
    }
    if config.mqtt.enabled {
        let (outbox, metrics, pipeline) = (outbox.clone(), Arc::clone(&metrics), Arc::clone(&pipeline));
        let mqtt_config = config.mqtt.clone();
        // Fail at start on a bad TLS file rather than in the background.
        mqtt::options(&mqtt_config).map_err(|e| ServeError::Setup(e.to_string()))?;
        let stopping = ingest_stopping.clone();
        ingest.spawn(async move {
            if let Err(error) = mqtt::run(mqtt_config, outbox, pipeline, metrics, stopping).await {
                tracing::error!(%error, "MQTT ingest failed");
            }
        });
    }

    let planner = Arc::clone(&pipeline) as Arc<dyn crate::delivery::Planner>;
    let delivery = match &config.fhir.base_url {
        Some(base_url) => {
            let client = FhirClient::new(base_url, &config.fhir).map_err(|e| ServeError::Setup(e.to_string()))?;
            info!(server = %base_url, "delivering to the FHIR server");
            let sink = FhirServerSink::new(client, config.fhir.resolve_patients);
            let deliverer = Deliverer::new(outbox.clone(), sink, planner, config.fhir.clone(), Arc::clone(&metrics))
                .with_recent(Arc::clone(&recent));
            tokio::spawn(deliverer.run(delivery_stopping))
        }
        None => {
            let dir = config.fhir.files_dir(&config.store.data_dir);
            let sink = NdjsonSink::open(&dir, &outbox).map_err(ServeError::Setup)?;
            info!(directory = %dir.display(), "no FHIR server configured (fhir.base_url): delivering into NDJSON files");
            let deliverer = Deliverer::new(outbox.clone(), sink, planner, config.fhir.clone(), Arc::clone(&metrics))
                .with_recent(Arc::clone(&recent));
            tokio::spawn(deliverer.run(delivery_stopping))
        }
    };

    // Every part runs until shutdown. One that ends before (a panic, a listener that died) would leave
    // the bridge half working while /healthz says ok, so the whole bridge stops and says why: a
    // service manager then restarts it, and nothing stored is lost.
    let mut delivery = Some(delivery);
    let failure = tokio::select! {
        _ = shutdown => None,
        Some(ended) = ingest.join_next() => Some(format!("a transport stopped unexpectedly ({})", task_end(ended))),
        ended = async { match delivery.as_mut() { Some(task) => task.await, None => std::future::pending().await } } => {
            delivery = None;
            Some(format!("delivery stopped unexpectedly ({})", task_end(ended)))
        }
    };
    match &failure {
        None => info!("stopping: no new payloads; finishing deliveries in flight"),
        Some(reason) => tracing::error!(%reason, "stopping the bridge"),
    }
    let _ = stop_ingest.send(true);
    // Transports answer what they have in hand; a client that never finishes its message is not
    // waited for beyond this.
    let _ = tokio::time::timeout(Duration::from_secs(30), async {
        while ingest.join_next().await.is_some() {}
    })
    .await;
    let _ = stop_delivery.send(true);
    if let Some(delivery) = delivery {
        // The transaction in flight gets its answer (at most the client timeout).
        let _ = tokio::time::timeout(config.fhir.timeout() + Duration::from_secs(5), delivery).await;
    }
    match outbox.len() {
        Ok(depth) => info!(outbox_depth = depth, "stopped"),
        Err(error) => warn!(%error, "stopped; the outbox could not be read"),
    }
    match failure {
        None => Ok(()),
        Some(reason) => Err(ServeError::Setup(reason)),
    }
}

/// Where a browser on this machine opens the console: the listen address, or loopback when the
/// bridge listens on every address (the console answers loopback only).
fn console_address(listen: std::net::SocketAddr) -> String {
    if listen.ip().is_unspecified() {
        format!("127.0.0.1:{}", listen.port())
    } else {
        listen.to_string()
    }
}

fn task_end(ended: Result<(), tokio::task::JoinError>) -> String {
    match ended {
        Ok(()) => "it returned".into(),
        Err(error) if error.is_panic() => "it panicked".into(),
        Err(error) => error.to_string(),
    }
}

async fn bind(address: std::net::SocketAddr) -> Result<tokio::net::TcpListener, ServeError> {
    tokio::net::TcpListener::bind(address)
        .await
        .map_err(|error| ServeError::Listen {
            address: address.to_string(),
            error,
        })
}

/// A future that completes when `stopping` turns true (or its sender is gone).
async fn stopped(mut stopping: watch::Receiver<bool>) {
    let _ = stopping.wait_for(|stop| *stop).await;
}
