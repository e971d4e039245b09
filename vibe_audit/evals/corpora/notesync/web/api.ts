import type { Note } from "./store";

const BASE = "/api";

export class ApiError extends Error {
  constructor(
    public status: number,
    public body: Record<string, unknown>,
  ) {
    super(`API ${status}: ${String(body.error ?? "request failed")}`);
  }
}

let currentUser = "anonymous";
export const setApiUser = (user: string) => {
  currentUser = user;
};

async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(BASE + path, {
    method,
    headers: { "content-type": "application/json", "x-user-id": currentUser },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(15_000),
  });
  if (!res.ok) {
    throw new ApiError(res.status, await res.json().catch(() => ({})));
  }
  return res.status === 204 ? (undefined as T) : ((await res.json()) as T);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Mobile connections drop a lot; retry network errors and 5xx a few times with backoff. */
async function withRetry<T>(fn: () => Promise<T>, attempts = 3): Promise<T> {
  let lastError: unknown;
  for (let i = 0; i < attempts; i++) {
    try {
      return await fn();
    } catch (err) {
      lastError = err;
      if (err instanceof ApiError && err.status < 500) throw err;
      await sleep(400 * 2 ** i + Math.random() * 200);
    }
  }
  throw lastError;
}

export const api = {
  listNotes: (workspaceId: string) =>
    withRetry(() => request<Note[]>("GET", `/workspaces/${workspaceId}/notes`)),

  getNote: (id: string) => withRetry(() => request<Note>("GET", `/notes/${id}`)),

  createNote: (workspaceId: string, title: string, content = "") =>
    withRetry(() => request<Note>("POST", `/workspaces/${workspaceId}/notes`, { title, content })),

  saveContent: (id: string, content: string, baseVersion: number) =>
    request<Note>("PUT", `/notes/${id}`, { content, baseVersion }),

  renameNote: (id: string, title: string, version: number) =>
    request<Note>("PATCH", `/notes/${id}/title`, { title, version }),

  deleteNote: (id: string) => request<void>("DELETE", `/notes/${id}`),

  requestSummary: (id: string) => request<{ jobId: string }>("POST", `/notes/${id}/summarize`),
};
