//! Per-stage checkpoints on local disk, so a retried job can resume after the
//! expensive extraction call instead of paying for it twice.
//!
//! Layout: <root>/<document_id>/<stage>.json, plus <root>/index.json listing the
//! documents whose final stage has been written (read by the nightly export).

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use uuid::Uuid;

pub const STAGE_EXTRACT: &str = "extract";
pub const STAGE_NORMALIZE: &str = "normalize";
pub const STAGE_FINAL: &str = "final";

#[derive(Debug, Serialize, Deserialize)]
pub struct StageCheckpoint<T> {
    pub document_id: Uuid,
    pub job_id: i64,
    pub stage: String,
    pub written_at: DateTime<Utc>,
    pub data: T,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Manifest {
    pub documents: BTreeMap<Uuid, ManifestEntry>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct ManifestEntry {
    pub revision: i32,
    pub job_id: i64,
    pub completed_at: DateTime<Utc>,
}

#[derive(Clone)]
pub struct CheckpointStore {
    root: PathBuf,
}

impl CheckpointStore {
    pub fn new(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        fs::create_dir_all(&root)
            .with_context(|| format!("creating checkpoint dir {}", root.display()))?;
        let store = Self { root };
        let swept = store.sweep_temp_files(Duration::from_secs(3600))?;
        if swept > 0 {
            tracing::info!(swept, "removed stale checkpoint temp files");
        }
        Ok(store)
    }

    /// Removes temp files left behind by a crash in the middle of a write.
    fn sweep_temp_files(&self, older_than: Duration) -> Result<usize> {
        let mut removed = 0;
        for dir in fs::read_dir(&self.root)? {
            let dir = dir?.path();
            if !dir.is_dir() {
                continue;
            }
            for entry in fs::read_dir(&dir)? {
                let entry = entry?;
                let name = entry.file_name();
                let stale = entry
                    .metadata()?
                    .modified()?
                    .elapsed()
                    .map(|age| age > older_than)
                    .unwrap_or(false);
                if name.to_string_lossy().ends_with(".tmp") && stale {
                    fs::remove_file(entry.path())?;
                    removed += 1;
                }
            }
        }
        Ok(removed)
    }

    fn stage_path(&self, document_id: Uuid, stage: &str) -> PathBuf {
        self.root
            .join(document_id.to_string())
            .join(format!("{stage}.json"))
    }

    fn manifest_path(&self) -> PathBuf {
        self.root.join("index.json")
    }

    pub async fn save_stage<T: Serialize>(
        &self,
        document_id: Uuid,
        job_id: i64,
        stage: &str,
        data: &T,
    ) -> Result<()> {
        let checkpoint = StageCheckpoint {
            document_id,
            job_id,
            stage: stage.to_string(),
            written_at: Utc::now(),
            data,
        };
        let bytes = serde_json::to_vec_pretty(&checkpoint)?;
        let path = self.stage_path(document_id, stage);
        tokio::task::spawn_blocking(move || write_atomic(&path, &bytes)).await??;
        Ok(())
    }

    pub async fn load_stage<T: DeserializeOwned>(
        &self,
        document_id: Uuid,
        stage: &str,
    ) -> Result<Option<StageCheckpoint<T>>> {
        let path = self.stage_path(document_id, stage);
        let bytes = match tokio::fs::read(&path).await {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let checkpoint = serde_json::from_slice(&bytes)
            .with_context(|| format!("reading checkpoint {}", path.display()))?;
        Ok(Some(checkpoint))
    }

    /// Adds the document to index.json once its final stage is on disk.
    pub async fn record_completed(
        &self,
        document_id: Uuid,
        revision: i32,
        job_id: i64,
    ) -> Result<()> {
        let mut manifest = self.read_manifest().await;
        manifest.documents.insert(
            document_id,
            ManifestEntry {
                revision,
                job_id,
                completed_at: Utc::now(),
            },
        );
        let bytes = serde_json::to_vec_pretty(&manifest)?;
        tokio::fs::write(self.manifest_path(), bytes).await?;
        Ok(())
    }

    pub async fn read_manifest(&self) -> Manifest {
        match tokio::fs::read(self.manifest_path()).await {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_default(),
            Err(_) => Manifest::default(),
        }
    }
}

/// Write to a unique temp file in the same directory, flush it to disk, then
/// rename over the target so readers see either the old or the new file.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().context("checkpoint path has no parent")?;
    fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        path.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("checkpoint"),
        Uuid::new_v4()
    ));
    let result = (|| -> Result<()> {
        let mut file = File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, path)?;
        File::open(dir)?.sync_all()?;
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}
