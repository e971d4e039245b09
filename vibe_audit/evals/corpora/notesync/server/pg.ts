import pg from "pg";
import { config } from "./config";

// One pool per process: the API enqueues jobs, the worker claims and completes them.
export const pool = new pg.Pool({
  connectionString: config.databaseUrl,
  max: config.pgPoolSize,
  idleTimeoutMillis: 30_000,
  connectionTimeoutMillis: 5_000,
  statement_timeout: 10_000,
});

pool.on("error", (err) => {
  console.error("[pg] idle client error", err);
});

export async function migratePg(): Promise<void> {
  await pool.query(`
    CREATE TABLE IF NOT EXISTS jobs (
      id          BIGSERIAL PRIMARY KEY,
      kind        TEXT NOT NULL,
      note_id     TEXT NOT NULL,
      payload     JSONB NOT NULL DEFAULT '{}'::jsonb,
      status      TEXT NOT NULL DEFAULT 'queued',
      attempts    INTEGER NOT NULL DEFAULT 0,
      last_error  TEXT,
      locked_by   TEXT,
      locked_at   TIMESTAMPTZ,
      run_after   TIMESTAMPTZ NOT NULL DEFAULT now(),
      created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
      updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
    );
    CREATE INDEX IF NOT EXISTS jobs_claim_idx ON jobs (status, run_after);
  `);
}

export const EVENTS_CHANNEL = "notesync_events";

/** Fan an event out to every API process (they LISTEN and forward to WebSocket clients). */
export async function publishEvent(event: Record<string, unknown>): Promise<void> {
  await pool.query("SELECT pg_notify($1, $2)", [EVENTS_CHANNEL, JSON.stringify(event)]);
}
