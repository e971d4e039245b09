import crypto from "node:crypto";
import { config } from "./config";

export interface SummaryResult {
  summary: string;
  model: string;
}

/** Calls the hosted summarizer. Notes are short, so one request per note. */
export async function summarize(text: string): Promise<SummaryResult> {
  const res = await fetch(config.summarizerUrl, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      authorization: `Bearer ${config.summarizerKey}`,
    },
    body: JSON.stringify({ text, max_words: 80, style: "bullet" }),
  });
  if (!res.ok) {
    throw new Error(`summarizer responded ${res.status}: ${(await res.text()).slice(0, 200)}`);
  }
  const data = (await res.json()) as Partial<SummaryResult>;
  if (typeof data.summary !== "string") {
    throw new Error("summarizer returned no summary");
  }
  return { summary: data.summary.trim(), model: data.model ?? "unknown" };
}

export interface WebhookEvent {
  type: "note.created" | "note.updated" | "note.deleted" | "note.summarized";
  workspaceId: string;
  noteId: string;
  data?: Record<string, unknown>;
}

function sign(body: string): string {
  return crypto.createHmac("sha256", config.webhookSecret).update(body).digest("hex");
}

async function postSigned(url: string, body: string): Promise<Response> {
  return fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", "x-notesync-signature": sign(body) },
    body,
    signal: AbortSignal.timeout(5_000),
  });
}

/** POSTs a signed event to the workspace's webhook URL. Receivers dedupe on `id`. */
export async function deliverWebhook(url: string, event: WebhookEvent): Promise<void> {
  const body = JSON.stringify({ id: crypto.randomUUID(), sentAt: new Date().toISOString(), ...event });
  let lastError: unknown;
  for (let attempt = 1; attempt <= 5; attempt++) {
    try {
      const res = await postSigned(url, body);
      if (res.ok) return;
      lastError = new Error(`webhook ${url} responded ${res.status}`);
    } catch (err) {
      lastError = err;
    }
  }
  throw lastError;
}
