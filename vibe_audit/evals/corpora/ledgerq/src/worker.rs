//! Background workers: claim a pending job, extract, normalise, store the result.

use std::sync::Arc;

use anyhow::{Context, Result};
use sqlx::PgPool;

use crate::cache::ExtractionCache;
use crate::checkpoint::{CheckpointStore, STAGE_EXTRACT, STAGE_FINAL, STAGE_NORMALIZE};
use crate::client::ExtractorClient;
use crate::config::Config;
use crate::db;
use crate::error::ExtractError;
use crate::models::{Extraction, Fields, Job};

pub struct Worker {
    pub pool: PgPool,
    pub client: ExtractorClient,
    pub cache: ExtractionCache,
    pub checkpoints: CheckpointStore,
    pub cfg: Arc<Config>,
}

pub async fn run(worker: Arc<Worker>, slot: usize) {
    let worker_id = format!("{}#{slot}", worker.cfg.worker_id);
    tracing::info!(%worker_id, "worker started");
    loop {
        let job = match db::claim_next_job(&worker.pool, &worker_id).await {
            Ok(Some(job)) => job,
            Ok(None) => {
                tokio::time::sleep(worker.cfg.poll_interval).await;
                continue;
            }
            Err(e) => {
                tracing::warn!(%worker_id, error = %e, "claim failed");
                continue;
            }
        };

        let job_id = job.id;
        if let Err(e) = worker.process(&job, &worker_id).await {
            let retry = job.attempts < worker.cfg.max_attempts && is_retryable(&e);
            tracing::error!(job_id, attempts = job.attempts, retry, error = %e, "job failed");
            if let Err(db_err) =
                db::mark_failed(&worker.pool, job_id, &format!("{e:#}"), retry).await
            {
                tracing::error!(job_id, error = %db_err, "could not record job failure");
            }
            if !retry {
                let _ = db::set_document_status(&worker.pool, job.document_id, "failed").await;
            }
        }
    }
}

fn is_retryable(err: &anyhow::Error) -> bool {
    match err.downcast_ref::<ExtractError>() {
        Some(ExtractError::Status { status, .. }) => *status >= 500 || *status == 429,
        Some(ExtractError::Decode(_)) => false,
        _ => true,
    }
}

impl Worker {
    async fn process(&self, job: &Job, worker_id: &str) -> Result<()> {
        let doc = db::get_document(&self.pool, job.document_id)
            .await?
            .context("document was deleted")?;
        let (body, content_type, _revision) =
            db::document_body(&self.pool, job.document_id).await?;

        let extraction = match self
            .checkpoints
            .load_stage::<Extraction>(job.document_id, STAGE_EXTRACT)
            .await?
        {
            Some(cp) => {
                tracing::info!(
                    job_id = job.id,
                    from_job = cp.job_id,
                    "resuming from extract checkpoint"
                );
                self.cache.store(&doc.content_hash, &cp.data).await?;
                cp.data
            }
            None => {
                let extraction = self
                    .cache
                    .fetch_through(&doc.content_hash, || {
                        self.client.extract(&body, &content_type, &doc.filename)
                    })
                    .await?;
                self.checkpoints
                    .save_stage(job.document_id, job.id, STAGE_EXTRACT, &extraction)
                    .await?;
                extraction
            }
        };

        let fields = normalize(&extraction);
        self.checkpoints
            .save_stage(job.document_id, job.id, STAGE_NORMALIZE, &fields)
            .await?;

        db::store_result(&self.pool, job, worker_id, &extraction, &fields)
            .await
            .map_err(|e| {
                tracing::error!(job_id = job.id, error = %e, "storing result failed");
                e
            })?;

        self.checkpoints
            .save_stage(job.document_id, job.id, STAGE_FINAL, &fields)
            .await?;
        self.checkpoints
            .record_completed(job.document_id, job.revision, job.id)
            .await?;

        tracing::info!(job_id = job.id, document_id = %job.document_id, "job completed");
        Ok(())
    }
}

/// Turns the provider's response into the fields we expose on the document.
pub fn normalize(extraction: &Extraction) -> Fields {
    let total_cents = extraction
        .total
        .map(|t| (t * 100.0).round() as i64)
        .or_else(|| {
            let sum: f64 = extraction.line_items.iter().map(|li| li.amount).sum();
            (sum > 0.0).then(|| (sum * 100.0).round() as i64)
        });
    Fields {
        vendor: extraction.vendor.as_ref().map(|v| v.trim().to_string()),
        currency: extraction.currency.as_ref().map(|c| c.to_uppercase()),
        total_cents,
        line_count: extraction.line_items.len(),
    }
}
