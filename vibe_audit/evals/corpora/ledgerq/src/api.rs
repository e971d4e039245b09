use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::http::StatusCode;
use axum::routing::{get, patch, post, put};
use axum::{Json, Router};
use bytes::Bytes;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use tower_http::trace::TraceLayer;
use uuid::Uuid;

use crate::cache::ExtractionCache;
use crate::checkpoint::CheckpointStore;
use crate::config::Config;
use crate::db;
use crate::error::{ApiError, ApiResult};
use crate::models::{Document, Fields, FieldsPatch, IngestUrl, Job};

#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub cache: ExtractionCache,
    pub checkpoints: CheckpointStore,
    pub cfg: Arc<Config>,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/health/live", get(live))
        .route("/health/ready", get(ready))
        .route("/documents", post(upload))
        .route("/documents/ingest", post(ingest_url))
        .route("/documents/:id", get(get_document).delete(delete_document))
        .route("/documents/:id/file", put(replace_file))
        .route("/documents/:id/fields", patch(patch_fields))
        .route("/documents/:id/extraction", get(get_extraction))
        .route("/documents/:id/reprocess", post(reprocess))
        .route("/jobs/:id", get(get_job))
        .route("/stats", get(stats))
        .layer(DefaultBodyLimit::disable())
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

async fn live() -> &'static str {
    "ok"
}

async fn ready(State(_state): State<AppState>) -> Json<Value> {
    Json(json!({ "status": "ready" }))
}

fn content_hash(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

/// Queues an extraction job for the document's current revision.
async fn enqueue(state: &AppState, document_id: Uuid, revision: i32) -> ApiResult<Job> {
    if db::has_active_job(&state.pool, document_id).await? {
        return Err(ApiError::Conflict(
            "document already has a job in progress".into(),
        ));
    }
    db::set_document_status(&state.pool, document_id, "queued").await?;
    let job = db::insert_job(&state.pool, document_id, revision).await?;
    Ok(job)
}

async fn upload(
    State(state): State<AppState>,
    mut multipart: Multipart,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let mut tenant_id = None;
    let mut file: Option<(String, String, Bytes)> = None;
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| ApiError::BadRequest(e.to_string()))?
    {
        match field.name() {
            Some("tenant_id") => {
                tenant_id = Some(
                    field
                        .text()
                        .await
                        .map_err(|e| ApiError::BadRequest(e.to_string()))?,
                )
            }
            Some("file") => {
                let filename = field.file_name().unwrap_or("upload").to_string();
                let content_type = field
                    .content_type()
                    .unwrap_or("application/pdf")
                    .to_string();
                let data = field
                    .bytes()
                    .await
                    .map_err(|e| ApiError::BadRequest(e.to_string()))?;
                file = Some((filename, content_type, data));
            }
            _ => {}
        }
    }
    let tenant_id =
        tenant_id.ok_or_else(|| ApiError::BadRequest("tenant_id is required".into()))?;
    let (filename, content_type, data) =
        file.ok_or_else(|| ApiError::BadRequest("file is required".into()))?;
    if data.is_empty() {
        return Err(ApiError::BadRequest("file is empty".into()));
    }

    let hash = content_hash(&data);
    let doc = db::insert_document(
        &state.pool,
        &tenant_id,
        &filename,
        &content_type,
        &hash,
        &data,
    )
    .await?;
    let job = enqueue(&state, doc.id, doc.revision).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "document": doc, "job_id": job.id })),
    ))
}

/// Pulls a document from a customer-supplied URL (S3 presigned links, mail gateways).
async fn ingest_url(
    State(state): State<AppState>,
    Json(req): Json<IngestUrl>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    if !req.source_url.starts_with("https://") {
        return Err(ApiError::BadRequest("source_url must be https".into()));
    }
    let resp = reqwest::get(&req.source_url)
        .await
        .map_err(|e| ApiError::Upstream(e.to_string()))?;
    if !resp.status().is_success() {
        return Err(ApiError::Upstream(format!(
            "source returned {}",
            resp.status()
        )));
    }
    let content_type = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/pdf")
        .to_string();
    let data = resp
        .bytes()
        .await
        .map_err(|e| ApiError::Upstream(e.to_string()))?;
    let filename = req.filename.clone().unwrap_or_else(|| {
        req.source_url
            .rsplit('/')
            .next()
            .unwrap_or("download")
            .to_string()
    });

    let hash = content_hash(&data);
    let doc = db::insert_document(
        &state.pool,
        &req.tenant_id,
        &filename,
        &content_type,
        &hash,
        &data,
    )
    .await?;
    let job = enqueue(&state, doc.id, doc.revision).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "document": doc, "job_id": job.id })),
    ))
}

async fn get_document(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Document>> {
    db::get_document(&state.pool, id)
        .await?
        .map(Json)
        .ok_or(ApiError::NotFound)
}

async fn replace_file(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    if body.is_empty() {
        return Err(ApiError::BadRequest("empty body".into()));
    }
    let hash = content_hash(&body);
    let revision = db::replace_body(&state.pool, id, &hash, &body)
        .await?
        .ok_or(ApiError::NotFound)?;
    let job = enqueue(&state, id, revision).await?;
    Ok(Json(
        json!({ "document_id": id, "revision": revision, "job_id": job.id }),
    ))
}

/// Manual corrections from the review screen.
async fn patch_fields(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    Json(patch): Json<FieldsPatch>,
) -> ApiResult<Json<Fields>> {
    let doc = db::get_document(&state.pool, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let mut fields: Fields = serde_json::from_value(doc.fields).unwrap_or_default();
    if let Some(vendor) = patch.vendor {
        fields.vendor = Some(vendor);
    }
    if let Some(currency) = patch.currency {
        if currency.len() != 3 {
            return Err(ApiError::BadRequest(
                "currency must be an ISO 4217 code".into(),
            ));
        }
        fields.currency = Some(currency.to_uppercase());
    }
    if let Some(total) = patch.total_cents {
        fields.total_cents = Some(total);
    }
    db::save_fields(&state.pool, id, &fields).await?;
    Ok(Json(fields))
}

async fn get_extraction(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Value>> {
    let doc = db::get_document(&state.pool, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    match state.cache.lookup(&doc.content_hash).await? {
        Some(extraction) => Ok(Json(json!({ "document_id": id, "extraction": extraction }))),
        None => Err(ApiError::NotFound),
    }
}

async fn reprocess(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let doc = db::get_document(&state.pool, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let job = enqueue(&state, doc.id, doc.revision).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({ "job_id": job.id }))))
}

async fn delete_document(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    if db::delete_document(&state.pool, id).await? {
        tracing::info!(document_id = %id, "document deleted");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound)
    }
}

async fn get_job(State(state): State<AppState>, Path(id): Path<i64>) -> ApiResult<Json<Job>> {
    db::get_job(&state.pool, id)
        .await?
        .map(Json)
        .ok_or(ApiError::NotFound)
}

async fn stats(State(state): State<AppState>) -> ApiResult<Json<Value>> {
    let depth = db::queue_depth(&state.pool).await?;
    Ok(Json(
        json!({ "queue_depth": depth, "workers": state.cfg.worker_concurrency }),
    ))
}
