use std::env;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};

/// Runtime configuration, read once from the environment at startup.
#[derive(Debug, Clone)]
pub struct Config {
    pub bind_addr: String,
    pub database_url: String,
    pub db_max_connections: u32,
    pub worker_concurrency: usize,
    pub worker_id: String,
    pub poll_interval: Duration,
    pub max_attempts: i32,
    pub extractor_url: String,
    pub extractor_token: String,
    pub extractor_timeout: Duration,
    pub extractor_retries: u32,
    pub checkpoint_dir: PathBuf,
    pub cache_path: PathBuf,
    pub cache_ttl: Duration,
}

fn var_or(name: &str, default: &str) -> String {
    env::var(name).unwrap_or_else(|_| default.to_string())
}

fn parse_or<T: std::str::FromStr>(name: &str, default: T) -> Result<T> {
    match env::var(name) {
        Ok(raw) => raw
            .parse::<T>()
            .map_err(|_| anyhow::anyhow!("invalid value for {name}: {raw}")),
        Err(_) => Ok(default),
    }
}

impl Config {
    pub fn from_env() -> Result<Self> {
        let host = hostname();
        Ok(Config {
            bind_addr: var_or("LEDGERQ_BIND", "0.0.0.0:8080"),
            database_url: env::var("DATABASE_URL").context("DATABASE_URL must be set")?,
            db_max_connections: parse_or("LEDGERQ_DB_MAX_CONNECTIONS", 10)?,
            worker_concurrency: parse_or("LEDGERQ_WORKERS", 16)?,
            worker_id: var_or(
                "LEDGERQ_WORKER_ID",
                &format!("{host}-{}", std::process::id()),
            ),
            poll_interval: Duration::from_millis(parse_or("LEDGERQ_POLL_MS", 500)?),
            max_attempts: parse_or("LEDGERQ_MAX_ATTEMPTS", 5)?,
            extractor_url: var_or("EXTRACTOR_URL", "https://api.extractly.io"),
            extractor_token: env::var("EXTRACTOR_TOKEN").context("EXTRACTOR_TOKEN must be set")?,
            extractor_timeout: Duration::from_secs(parse_or("EXTRACTOR_TIMEOUT_SECS", 90)?),
            extractor_retries: parse_or("EXTRACTOR_RETRIES", 4)?,
            checkpoint_dir: PathBuf::from(var_or(
                "LEDGERQ_CHECKPOINT_DIR",
                "/var/lib/ledgerq/checkpoints",
            )),
            cache_path: PathBuf::from(var_or("LEDGERQ_CACHE_PATH", "/var/lib/ledgerq/cache.db")),
            cache_ttl: Duration::from_secs(parse_or("LEDGERQ_CACHE_TTL_SECS", 7 * 24 * 3600)?),
        })
    }
}

fn hostname() -> String {
    env::var("HOSTNAME").unwrap_or_else(|_| "ledgerq".to_string())
}
