import path from "node:path";

const env = process.env;

export const config = {
  port: Number(env.PORT ?? 4000),
  dataDir: env.DATA_DIR ?? path.resolve("data"),
  sqliteFile: env.SQLITE_FILE ?? "notesync.db",
  databaseUrl: env.DATABASE_URL ?? "postgres://notesync:notesync@localhost:5432/notesync",
  pgPoolSize: Number(env.PG_POOL_SIZE ?? 10),
  summarizerUrl: env.SUMMARIZER_URL ?? "https://api.summarize.example.com/v1/summarize",
  summarizerKey: env.SUMMARIZER_API_KEY ?? "",
  webhookSecret: env.WEBHOOK_SECRET ?? "dev-secret",
  workerConcurrency: Number(env.WORKER_CONCURRENCY ?? 4),
  workerPollMs: Number(env.WORKER_POLL_MS ?? 1000),
  snapshotKeep: Number(env.SNAPSHOT_KEEP ?? 14),
};

export const dbPath = path.join(config.dataDir, config.sqliteFile);
export const snapshotRoot = path.join(config.dataDir, "snapshots");
