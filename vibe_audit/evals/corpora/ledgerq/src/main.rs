mod api;
mod cache;
mod checkpoint;
mod client;
mod config;
mod db;
mod error;
mod models;
mod worker;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

use crate::api::AppState;
use crate::cache::ExtractionCache;
use crate::checkpoint::CheckpointStore;
use crate::client::ExtractorClient;
use crate::config::Config;
use crate::worker::Worker;

#[tokio::main]
async fn main() -> Result<()> {
    dotenvy::dotenv().ok();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .init();

    let cfg = Arc::new(Config::from_env()?);
    tracing::info!(worker_id = %cfg.worker_id, workers = cfg.worker_concurrency, "starting ledgerq");

    let pool = db::connect(&cfg).await?;
    sqlx::migrate!("./migrations").run(&pool).await?;

    let requeued = db::reset_running_jobs(&pool).await?;
    if requeued > 0 {
        tracing::warn!(
            requeued,
            "re-queued jobs interrupted by the previous shutdown"
        );
    }

    let cache = ExtractionCache::open(&cfg.cache_path)?;
    let checkpoints = CheckpointStore::new(&cfg.checkpoint_dir)?;
    let client = ExtractorClient::new(&cfg)?;

    let worker = Arc::new(Worker {
        pool: pool.clone(),
        client,
        cache: cache.clone(),
        checkpoints: checkpoints.clone(),
        cfg: cfg.clone(),
    });
    for slot in 0..cfg.worker_concurrency {
        tokio::spawn(worker::run(worker.clone(), slot));
    }

    let prune_cache = cache.clone();
    let ttl = cfg.cache_ttl;
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(3600));
        loop {
            tick.tick().await;
            match prune_cache.prune(ttl).await {
                Ok(removed) => tracing::info!(removed, "pruned extraction cache"),
                Err(e) => tracing::warn!(error = %e, "cache prune failed"),
            }
        }
    });

    let state = AppState {
        pool,
        cache,
        checkpoints,
        cfg: cfg.clone(),
    };
    let listener = TcpListener::bind(&cfg.bind_addr).await?;
    tracing::info!(addr = %cfg.bind_addr, "listening");
    axum::serve(listener, api::router(state))
        .with_graceful_shutdown(shutdown_signal())
        .await?;

    tracing::info!("server stopped");
    Ok(())
}

async fn shutdown_signal() {
    tokio::signal::ctrl_c()
        .await
        .expect("failed to install Ctrl+C handler");
    tracing::info!("shutdown signal received, draining HTTP connections");
}
