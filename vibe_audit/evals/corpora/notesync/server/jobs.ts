import os from "node:os";
import { pool } from "./pg";

export type JobKind = "summarize" | "webhook";

export interface Job {
  id: string;
  kind: JobKind;
  note_id: string;
  payload: Record<string, unknown>;
  attempts: number;
}

export const WORKER_ID = `${os.hostname()}:${process.pid}`;

export async function enqueueJob(
  kind: JobKind,
  noteId: string,
  payload: Record<string, unknown> = {},
): Promise<string> {
  const { rows } = await pool.query<{ id: string }>(
    `INSERT INTO jobs (kind, note_id, payload) VALUES ($1, $2, $3) RETURNING id`,
    [kind, noteId, JSON.stringify(payload)],
  );
  return rows[0].id;
}

/** Claim up to `limit` due jobs for this worker. Safe to run from several worker processes. */
export async function claimJobs(limit: number): Promise<Job[]> {
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    const { rows } = await client.query<Job>(
      `SELECT id, kind, note_id, payload, attempts
         FROM jobs
        WHERE status = 'queued' AND run_after <= now()
        ORDER BY run_after
        LIMIT $1
        FOR UPDATE SKIP LOCKED`,
      [limit],
    );
    if (rows.length > 0) {
      await client.query(
        `UPDATE jobs
            SET status = 'running', locked_by = $2, locked_at = now(),
                attempts = attempts + 1, updated_at = now()
          WHERE id = ANY($1::bigint[])`,
        [rows.map((r) => r.id), WORKER_ID],
      );
    }
    await client.query("COMMIT");
    return rows;
  } catch (err) {
    await client.query("ROLLBACK");
    throw err;
  } finally {
    client.release();
  }
}

export async function completeJob(jobId: string): Promise<void> {
  await pool.query(
    `UPDATE jobs SET status = 'done', locked_by = NULL, updated_at = now() WHERE id = $1`,
    [jobId],
  );
}

export async function failJob(job: Job, err: unknown): Promise<void> {
  const delaySeconds = Math.min(300, 5 * 2 ** job.attempts);
  await pool.query(
    `UPDATE jobs
        SET status = 'queued', last_error = $2, locked_by = NULL,
            run_after = now() + make_interval(secs => $3), updated_at = now()
      WHERE id = $1`,
    [job.id, String(err), delaySeconds],
  );
}

/** Put jobs whose worker died back in the queue. */
export async function requeueStaleJobs(): Promise<number> {
  const { rowCount } = await pool.query(
    `UPDATE jobs SET status = 'queued', locked_by = NULL, updated_at = now()
      WHERE status = 'running' AND locked_at < now() - interval '2 minutes'`,
  );
  return rowCount ?? 0;
}

export async function jobStats(): Promise<Array<{ status: string; n: number }>> {
  const client = await pool.connect();
  const { rows } = await client.query<{ status: string; n: number }>(
    `SELECT status, count(*)::int AS n FROM jobs GROUP BY status ORDER BY status`,
  );
  client.release();
  return rows;
}
