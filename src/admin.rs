//! Operator access to the dead-letter store for `fhirgate deadletter`. The store is a single-writer
//! file the running bridge holds open, so while a bridge runs the commands go through its HTTP admin
//! endpoints (loopback only); when none answers they open the store directly.

use serde_json::Value;
use thiserror::Error;

use crate::config::Config;
use crate::store::Outbox;

#[derive(Debug, Error)]
#[error("{0}")]
pub struct AdminError(pub String);

/// Where the dead letters are reached.
pub enum Target {
    /// A running bridge at this base URL.
    Bridge { base: String, http: reqwest::Client },
    /// The store, opened by this process.
    Store(Outbox),
}

/// One dead letter in a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub id: u64,
    pub failed_at: String,
    pub adapter: String,
    pub source: String,
    pub reason: String,
}

impl Target {
    /// The running bridge if its HTTP listener answers, else the store.
    pub async fn connect(config: &Config) -> Result<Target, AdminError> {
        crate::tls::install_crypto_provider();
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .map_err(|e| AdminError(e.to_string()))?;
        let mut address = config.http.listen;
        if address.ip().is_unspecified() {
            address.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
        let base = format!("http://{address}");
        if config.http.enabled && http.get(format!("{base}/healthz")).send().await.is_ok() {
            return Ok(Target::Bridge { base, http });
        }
        Outbox::open(&config.store.data_dir).map(Target::Store).map_err(|e| {
            AdminError(format!(
                "no bridge answers at {base}, and the store cannot be opened: {e}"
            ))
        })
    }

    pub async fn list(&self) -> Result<Vec<Summary>, AdminError> {
        match self {
            Target::Bridge { base, http } => {
                let answer = get_json(http, &format!("{base}/admin/dead-letters")).await?;
                let items = answer
                    .get("deadLetters")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                Ok(items
                    .iter()
                    .map(|item| Summary {
                        id: item.get("id").and_then(Value::as_u64).unwrap_or_default(),
                        failed_at: text(item, "failedAt"),
                        adapter: text(item, "adapter"),
                        source: text(item, "source"),
                        reason: text(item, "reason"),
                    })
                    .collect())
            }
            Target::Store(outbox) => Ok(outbox
                .dead_letters()
                .map_err(|e| AdminError(e.to_string()))?
                .into_iter()
                .map(|(id, letter)| Summary {
                    id,
                    failed_at: letter.failed_at.to_rfc3339(),
                    adapter: letter.record.adapter,
                    source: letter.record.source,
                    reason: letter.reason,
                })
                .collect()),
        }
    }

    /// Everything kept about one dead letter, as JSON; `None` when there is no such letter.
    pub async fn show(&self, id: u64) -> Result<Option<Value>, AdminError> {
        match self {
            Target::Bridge { base, http } => {
                let response = http
                    .get(format!("{base}/admin/dead-letters/{id}"))
                    .send()
                    .await
                    .map_err(|e| AdminError(e.to_string()))?;
                if response.status() == reqwest::StatusCode::NOT_FOUND {
                    return Ok(None);
                }
                checked_json(response).await.map(Some)
            }
            Target::Store(outbox) => match outbox.dead_letter(id).map_err(|e| AdminError(e.to_string()))? {
                Some(letter) => serde_json::to_value(letter)
                    .map(Some)
                    .map_err(|e| AdminError(e.to_string())),
                None => Ok(None),
            },
        }
    }

    /// Moves one dead letter back to the outbox; its new outbox number, or `None` when there is none.
    pub async fn replay(&self, id: u64) -> Result<Option<u64>, AdminError> {
        match self {
            Target::Bridge { base, http } => {
                let response = http
                    .post(format!("{base}/admin/dead-letters/{id}/replay"))
                    .header(crate::ingest::http::admin::ADMIN_HEADER, "1")
                    .send()
                    .await
                    .map_err(|e| AdminError(e.to_string()))?;
                if response.status() == reqwest::StatusCode::NOT_FOUND {
                    return Ok(None);
                }
                let answer = checked_json(response).await?;
                Ok(answer.get("outboxId").and_then(Value::as_u64))
            }
            Target::Store(outbox) => outbox.replay(id).map_err(|e| AdminError(e.to_string())),
        }
    }
}

fn text(item: &Value, key: &str) -> String {
    item.get(key).and_then(Value::as_str).unwrap_or_default().to_string()
}

async fn get_json(http: &reqwest::Client, url: &str) -> Result<Value, AdminError> {
    let response = http.get(url).send().await.map_err(|e| AdminError(e.to_string()))?;
    checked_json(response).await
}

async fn checked_json(response: reqwest::Response) -> Result<Value, AdminError> {
    let status = response.status();
    let body = response.text().await.map_err(|e| AdminError(e.to_string()))?;
    if !status.is_success() {
        return Err(AdminError(format!("the bridge answered {status}: {body}")));
    }
    serde_json::from_str(&body).map_err(|e| AdminError(format!("the bridge's answer is not JSON: {e}")))
}
