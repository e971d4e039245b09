use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Document {
    pub id: Uuid,
    pub tenant_id: String,
    pub filename: String,
    pub content_type: String,
    pub content_hash: String,
    pub revision: i32,
    pub status: String,
    pub fields: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Job {
    pub id: i64,
    pub document_id: Uuid,
    pub revision: i32,
    pub status: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub claimed_by: Option<String>,
    pub claimed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// What the extraction provider returns for one document.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Extraction {
    pub reference: String,
    pub confidence: f32,
    pub currency: Option<String>,
    pub total: Option<f64>,
    pub vendor: Option<String>,
    pub line_items: Vec<LineItem>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LineItem {
    pub description: String,
    pub quantity: f64,
    pub unit_price: f64,
    pub amount: f64,
}

/// Normalised fields written back onto the document once extraction is done.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Fields {
    pub vendor: Option<String>,
    pub currency: Option<String>,
    pub total_cents: Option<i64>,
    pub line_count: usize,
}

#[derive(Debug, Deserialize)]
pub struct IngestUrl {
    pub tenant_id: String,
    pub source_url: String,
    pub filename: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct FieldsPatch {
    pub vendor: Option<String>,
    pub currency: Option<String>,
    pub total_cents: Option<i64>,
}
