use std::time::Duration;

use reqwest::{Client, StatusCode};
use serde::Deserialize;

use crate::config::Config;
use crate::error::ExtractError;
use crate::models::Extraction;

/// Thin client for the Extractly document extraction API.
#[derive(Clone)]
pub struct ExtractorClient {
    http: Client,
    base_url: String,
    token: String,
    retries: u32,
}

#[derive(Debug, Deserialize)]
struct ExtractionEnvelope {
    data: Extraction,
}

impl ExtractorClient {
    pub fn new(cfg: &Config) -> anyhow::Result<Self> {
        let http = Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(cfg.extractor_timeout)
            .pool_idle_timeout(Duration::from_secs(60))
            .user_agent(concat!("ledgerq/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            http,
            base_url: cfg.extractor_url.trim_end_matches('/').to_string(),
            token: cfg.extractor_token.clone(),
            retries: cfg.extractor_retries,
        })
    }

    /// Submits a document and waits for the synchronous extraction result.
    pub async fn extract(
        &self,
        body: &[u8],
        content_type: &str,
        filename: &str,
    ) -> Result<Extraction, ExtractError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.submit(body, content_type, filename).await {
                Ok(extraction) => return Ok(extraction),
                Err(err) if attempt <= self.retries => {
                    tracing::warn!(attempt, error = %err, "extraction failed, retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                Err(err) => return Err(err),
            }
        }
    }

    async fn submit(
        &self,
        body: &[u8],
        content_type: &str,
        filename: &str,
    ) -> Result<Extraction, ExtractError> {
        let resp = self
            .http
            .post(format!("{}/v1/extractions?sync=true", self.base_url))
            .bearer_auth(&self.token)
            .header("Content-Type", content_type)
            .header("X-Filename", filename)
            .body(body.to_vec())
            .send()
            .await?;

        let status = resp.status();
        if status != StatusCode::OK && status != StatusCode::CREATED {
            let body = resp.text().await.unwrap_or_default();
            return Err(ExtractError::Status {
                status: status.as_u16(),
                body,
            });
        }
        let envelope: ExtractionEnvelope = resp
            .json()
            .await
            .map_err(|e| ExtractError::Decode(e.to_string()))?;
        Ok(envelope.data)
    }

    /// Cheap authenticated call used by the readiness probe.
    pub async fn ping(&self) -> Result<(), ExtractError> {
        let resp = self
            .http
            .get(format!("{}/v1/status", self.base_url))
            .bearer_auth(&self.token)
            .send()
            .await?;
        if resp.status().is_success() {
            Ok(())
        } else {
            Err(ExtractError::Status {
                status: resp.status().as_u16(),
                body: String::new(),
            })
        }
    }
}
