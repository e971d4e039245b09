/**
 * Background worker: summarizes notes and delivers webhooks.
 * Run as its own process (`npm run worker`); several can run side by side.
 */
import { config } from "./config";
import { deliverWebhook, summarize, type WebhookEvent } from "./integrations";
import { claimJobs, completeJob, failJob, requeueStaleJobs, type Job } from "./jobs";
import { getNote, getWebhookUrl, setSummary } from "./notes";
import { publishEvent } from "./pg";

async function handleSummarize(job: Job): Promise<void> {
  const note = getNote(job.note_id);
  if (!note) return; // deleted since the job was queued
  if (note.content.trim().length < 40) return; // too short to be worth a summary

  const result = await summarize(note.content);
  try {
    setSummary(note.id, result.summary);
  } catch (err) {
    if ((err as { code?: string }).code === "SQLITE_BUSY") {
      console.warn(`[worker] database busy, skipping summary for ${note.id}`);
      return;
    }
    throw err;
  }
  await publishEvent({
    type: "note.summary",
    workspaceId: note.workspace_id,
    noteId: note.id,
    summary: result.summary,
  });
}

async function handleWebhook(job: Job): Promise<void> {
  const event = job.payload.event as WebhookEvent;
  const url = getWebhookUrl(event.workspaceId);
  if (!url) return;
  await deliverWebhook(url, event);
}

async function processJob(job: Job): Promise<void> {
  try {
    switch (job.kind) {
      case "summarize":
        await handleSummarize(job);
        break;
      case "webhook":
        await handleWebhook(job);
        break;
      default:
        throw new Error(`unknown job kind ${String(job.kind)}`);
    }
    await completeJob(job.id);
  } catch (err) {
    console.error(`[worker] job ${job.id} (${job.kind}) failed on attempt ${job.attempts + 1}`, err);
    await failJob(job, err);
  }
}

async function tick(): Promise<void> {
  const jobs = await claimJobs(config.workerConcurrency);
  await Promise.all(jobs.map(processJob));
}

console.log(`[worker] polling every ${config.workerPollMs}ms, concurrency ${config.workerConcurrency}`);
setInterval(tick, config.workerPollMs);

setInterval(async () => {
  try {
    const n = await requeueStaleJobs();
    if (n > 0) console.warn(`[worker] requeued ${n} stale job(s)`);
  } catch (err) {
    console.error("[worker] stale job sweep failed", err);
  }
}, 30_000);

process.on("SIGTERM", () => {
  console.log("[worker] SIGTERM, exiting");
  process.exit(0);
});
