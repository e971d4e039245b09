use std::time::Duration;

use anyhow::Result;
use sqlx::postgres::{PgPool, PgPoolOptions};
use uuid::Uuid;

use crate::config::Config;
use crate::models::{Document, Extraction, Fields, Job};

pub async fn connect(cfg: &Config) -> Result<PgPool> {
    let pool = PgPoolOptions::new()
        .max_connections(cfg.db_max_connections)
        .acquire_timeout(Duration::from_secs(5))
        .connect(&cfg.database_url)
        .await?;
    Ok(pool)
}

pub async fn insert_document(
    pool: &PgPool,
    tenant_id: &str,
    filename: &str,
    content_type: &str,
    content_hash: &str,
    body: &[u8],
) -> sqlx::Result<Document> {
    sqlx::query_as::<_, Document>(
        "INSERT INTO documents (tenant_id, filename, content_type, content_hash, body)
         VALUES ($1, $2, $3, $4, $5)
         RETURNING id, tenant_id, filename, content_type, content_hash, revision, status,
                   fields, created_at, updated_at",
    )
    .bind(tenant_id)
    .bind(filename)
    .bind(content_type)
    .bind(content_hash)
    .bind(body)
    .fetch_one(pool)
    .await
}

/// Replaces the stored file (a corrected scan, a re-export) and bumps the revision.
pub async fn replace_body(
    pool: &PgPool,
    id: Uuid,
    content_hash: &str,
    body: &[u8],
) -> sqlx::Result<Option<i32>> {
    sqlx::query_scalar::<_, i32>(
        "UPDATE documents
            SET body = $2, content_hash = $3, revision = revision + 1,
                status = 'uploaded', updated_at = now()
          WHERE id = $1
          RETURNING revision",
    )
    .bind(id)
    .bind(body)
    .bind(content_hash)
    .fetch_optional(pool)
    .await
}

pub async fn get_document(pool: &PgPool, id: Uuid) -> sqlx::Result<Option<Document>> {
    sqlx::query_as::<_, Document>(
        "SELECT id, tenant_id, filename, content_type, content_hash, revision, status,
                fields, created_at, updated_at
           FROM documents WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await
}

pub async fn document_body(pool: &PgPool, id: Uuid) -> sqlx::Result<(Vec<u8>, String, i32)> {
    sqlx::query_as::<_, (Vec<u8>, String, i32)>(
        "SELECT body, content_type, revision FROM documents WHERE id = $1",
    )
    .bind(id)
    .fetch_one(pool)
    .await
}

pub async fn delete_document(pool: &PgPool, id: Uuid) -> sqlx::Result<bool> {
    let res = sqlx::query("DELETE FROM documents WHERE id = $1")
        .bind(id)
        .execute(pool)
        .await?;
    Ok(res.rows_affected() > 0)
}

pub async fn save_fields(pool: &PgPool, id: Uuid, fields: &Fields) -> sqlx::Result<()> {
    sqlx::query("UPDATE documents SET fields = $2, updated_at = now() WHERE id = $1")
        .bind(id)
        .bind(sqlx::types::Json(fields))
        .execute(pool)
        .await?;
    Ok(())
}

pub async fn set_document_status(pool: &PgPool, id: Uuid, status: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE documents SET status = $2, updated_at = now() WHERE id = $1")
        .bind(id)
        .bind(status)
        .execute(pool)
        .await?;
    Ok(())
}

pub async fn has_active_job(pool: &PgPool, document_id: Uuid) -> sqlx::Result<bool> {
    sqlx::query_scalar::<_, bool>(
        "SELECT EXISTS (SELECT 1 FROM jobs
                         WHERE document_id = $1 AND status IN ('pending', 'running'))",
    )
    .bind(document_id)
    .fetch_one(pool)
    .await
}

pub async fn insert_job(pool: &PgPool, document_id: Uuid, revision: i32) -> sqlx::Result<Job> {
    sqlx::query_as::<_, Job>(
        "INSERT INTO jobs (document_id, revision) VALUES ($1, $2)
         RETURNING id, document_id, revision, status, attempts, last_error,
                   claimed_by, claimed_at, created_at",
    )
    .bind(document_id)
    .bind(revision)
    .fetch_one(pool)
    .await
}

pub async fn get_job(pool: &PgPool, id: i64) -> sqlx::Result<Option<Job>> {
    sqlx::query_as::<_, Job>(
        "SELECT id, document_id, revision, status, attempts, last_error,
                claimed_by, claimed_at, created_at
           FROM jobs WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await
}

/// Claims the oldest pending job for this worker. Concurrent workers skip rows
/// another transaction has already locked, so each job goes to exactly one worker.
pub async fn claim_next_job(pool: &PgPool, worker_id: &str) -> sqlx::Result<Option<Job>> {
    sqlx::query_as::<_, Job>(
        "WITH next AS (
             SELECT id FROM jobs
              WHERE status = 'pending'
              ORDER BY created_at
              LIMIT 1
              FOR UPDATE SKIP LOCKED
         )
         UPDATE jobs j
            SET status = 'running', claimed_by = $1, claimed_at = now(),
                attempts = j.attempts + 1, updated_at = now()
           FROM next
          WHERE j.id = next.id
         RETURNING j.id, j.document_id, j.revision, j.status, j.attempts, j.last_error,
                   j.claimed_by, j.claimed_at, j.created_at",
    )
    .bind(worker_id)
    .fetch_optional(pool)
    .await
}

/// Writes the extraction result, the normalised fields and the job's completion.
pub async fn store_result(
    pool: &PgPool,
    job: &Job,
    worker_id: &str,
    extraction: &Extraction,
    fields: &Fields,
) -> Result<()> {
    let mut tx = pool.begin().await?;

    sqlx::query(
        "INSERT INTO results (document_id, job_id, provider_ref, confidence, line_items, payload)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(job.document_id)
    .bind(job.id)
    .bind(&extraction.reference)
    .bind(extraction.confidence)
    .bind(extraction.line_items.len() as i32)
    .bind(sqlx::types::Json(extraction))
    .execute(&mut *tx)
    .await?;

    sqlx::query(
        "UPDATE documents SET fields = $2, status = 'extracted', updated_at = now()
          WHERE id = $1",
    )
    .bind(job.document_id)
    .bind(sqlx::types::Json(fields))
    .execute(&mut *tx)
    .await?;

    let done = sqlx::query(
        "UPDATE jobs SET status = 'completed', last_error = NULL, updated_at = now()
          WHERE id = $1 AND status = 'running' AND claimed_by = $2",
    )
    .bind(job.id)
    .bind(worker_id)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() != 1 {
        tx.rollback().await?;
        anyhow::bail!("job {} is no longer claimed by {worker_id}", job.id);
    }

    tx.commit().await?;
    Ok(())
}

pub async fn mark_failed(pool: &PgPool, job_id: i64, error: &str, retry: bool) -> sqlx::Result<()> {
    let status = if retry { "pending" } else { "failed" };
    sqlx::query(
        "UPDATE jobs SET status = $2, last_error = $3, claimed_by = NULL, updated_at = now()
          WHERE id = $1",
    )
    .bind(job_id)
    .bind(status)
    .bind(error)
    .execute(pool)
    .await?;
    Ok(())
}

/// Called once at startup: anything still marked running was interrupted by a restart.
pub async fn reset_running_jobs(pool: &PgPool) -> sqlx::Result<u64> {
    let res = sqlx::query(
        "UPDATE jobs SET status = 'pending', claimed_by = NULL, updated_at = now()
          WHERE status = 'running'",
    )
    .execute(pool)
    .await?;
    Ok(res.rows_affected())
}

pub async fn queue_depth(pool: &PgPool) -> sqlx::Result<i64> {
    sqlx::query_scalar::<_, i64>("SELECT count(*) FROM jobs WHERE status = 'pending'")
        .fetch_one(pool)
        .await
}
