//! Local cache of extraction responses keyed by content hash, so re-uploads of
//! an identical file (very common with e-mailed invoices) are not billed twice.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use rusqlite::{params, Connection, OptionalExtension};
use tokio::sync::Mutex;

use crate::error::ExtractError;
use crate::models::Extraction;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS extractions (
    content_hash TEXT PRIMARY KEY,
    payload      TEXT NOT NULL,
    created_at   INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS extractions_created_idx ON extractions (created_at);
";

#[derive(Clone)]
pub struct ExtractionCache {
    path: PathBuf,
    writer: Arc<Mutex<Connection>>,
}

fn open_conn(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.pragma_update(None, "synchronous", "OFF")?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    Ok(conn)
}

fn now_secs() -> i64 {
    chrono::Utc::now().timestamp()
}

impl ExtractionCache {
    pub fn open(path: &Path) -> Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let conn = open_conn(path)?;
        conn.execute_batch(SCHEMA)?;
        Ok(Self {
            path: path.to_path_buf(),
            writer: Arc::new(Mutex::new(conn)),
        })
    }

    pub async fn lookup(&self, content_hash: &str) -> Result<Option<Extraction>> {
        let conn = open_conn(&self.path)?;
        let payload: Option<String> = conn
            .query_row(
                "SELECT payload FROM extractions WHERE content_hash = ?1",
                params![content_hash],
                |row| row.get(0),
            )
            .optional()?;
        Ok(match payload {
            Some(p) => Some(serde_json::from_str(&p)?),
            None => None,
        })
    }

    pub async fn store(&self, content_hash: &str, extraction: &Extraction) -> Result<()> {
        let payload = serde_json::to_string(extraction)?;
        let conn = self.writer.lock().await;
        match conn.execute(
            "INSERT INTO extractions (content_hash, payload, created_at) VALUES (?1, ?2, ?3)",
            params![content_hash, payload, now_secs()],
        ) {
            Ok(_) => Ok(()),
            // Already cached by an earlier job for the same file.
            Err(rusqlite::Error::SqliteFailure(_, _)) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Returns the cached extraction for this content, or runs `fetch` and caches
    /// its result. Holding the writer while fetching keeps two jobs for the same
    /// file from both calling the provider.
    pub async fn fetch_through<F, Fut>(&self, content_hash: &str, fetch: F) -> Result<Extraction>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Extraction, ExtractError>>,
    {
        let conn = self.writer.lock().await;
        let cached: Option<String> = conn
            .query_row(
                "SELECT payload FROM extractions WHERE content_hash = ?1",
                params![content_hash],
                |row| row.get(0),
            )
            .optional()?;
        if let Some(payload) = cached {
            return Ok(serde_json::from_str(&payload)?);
        }
        let extraction = fetch().await?;
        conn.execute(
            "INSERT OR REPLACE INTO extractions (content_hash, payload, created_at) VALUES (?1, ?2, ?3)",
            params![content_hash, serde_json::to_string(&extraction)?, now_secs()],
        )?;
        Ok(extraction)
    }

    /// Deletes entries older than `ttl`. Runs on the blocking pool: a large prune
    /// can take a while and must not stall the async workers.
    pub async fn prune(&self, ttl: Duration) -> Result<usize> {
        let conn = self.writer.clone().lock_owned().await;
        let cutoff = now_secs() - ttl.as_secs() as i64;
        let removed = tokio::task::spawn_blocking(move || {
            conn.execute(
                "DELETE FROM extractions WHERE created_at < ?1",
                params![cutoff],
            )
        })
        .await??;
        Ok(removed)
    }
}
