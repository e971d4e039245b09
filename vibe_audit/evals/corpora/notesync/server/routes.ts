import { Router, type NextFunction, type Request, type Response } from "express";
import { remark } from "remark";
import { openReadonly } from "./db";
import { enqueueJob, jobStats } from "./jobs";
import {
  createNote,
  deleteNote,
  getNote,
  importFromUrls,
  listNotes,
  renameNote,
  toDto,
  updateContent,
  type NoteRow,
} from "./notes";
import { pruneSnapshots, readManifest, restoreSnapshot, takeSnapshot } from "./snapshots";
import { broadcast } from "./ws";

export const router = Router();

type Handler = (req: Request, res: Response) => Promise<unknown> | unknown;

/** Express 4 doesn't catch rejected promises; forward them to the error middleware. */
const h =
  (fn: Handler) =>
  (req: Request, res: Response, next: NextFunction): void => {
    Promise.resolve(fn(req, res)).catch(next);
  };

const userOf = (req: Request): string => String(req.header("x-user-id") ?? "anonymous");

const normalizer = remark();

function queueWebhook(type: "note.created" | "note.updated" | "note.deleted", note: NoteRow): void {
  enqueueJob("webhook", note.id, {
    event: { type, workspaceId: note.workspace_id, noteId: note.id },
  }).catch((err) => console.error(`[api] could not queue ${type} webhook for ${note.id}`, err));
}

router.get(
  "/workspaces/:ws/notes",
  h((req, res) => res.json(listNotes(req.params.ws).map(toDto))),
);

router.get(
  "/notes/:id",
  h((req, res) => {
    const note = getNote(req.params.id);
    if (!note) return res.status(404).json({ error: "not found" });
    return res.json(toDto(note));
  }),
);

router.post(
  "/workspaces/:ws/notes",
  h((req, res) => {
    const { title = "Untitled", content = "" } = req.body ?? {};
    const note = createNote({ workspaceId: req.params.ws, title, content, author: userOf(req) });
    broadcast(note.workspace_id, { type: "note.created", note: toDto(note) });
    queueWebhook("note.created", note);
    return res.status(201).json(toDto(note));
  }),
);

router.put(
  "/notes/:id",
  h(async (req, res) => {
    const { content, baseVersion } = req.body ?? {};
    if (typeof content !== "string") return res.status(400).json({ error: "content required" });

    const current = getNote(req.params.id);
    if (!current) return res.status(404).json({ error: "not found" });
    if (typeof baseVersion === "number" && baseVersion !== current.version) {
      return res.status(409).json({ error: "conflict", note: toDto(current) });
    }
    const normalized = String(await normalizer.process(content));
    const note = updateContent(current.id, normalized, userOf(req));

    broadcast(note.workspace_id, { type: "note.updated", note: toDto(note), by: userOf(req) });
    enqueueJob("summarize", note.id).catch((err) =>
      console.error(`[api] could not queue summary for ${note.id}`, err),
    );
    queueWebhook("note.updated", note);
    return res.json(toDto(note));
  }),
);

router.patch(
  "/notes/:id/title",
  h((req, res) => {
    const { title, version } = req.body ?? {};
    if (typeof title !== "string" || typeof version !== "number") {
      return res.status(400).json({ error: "title and version required" });
    }
    const note = renameNote(req.params.id, title.trim(), version);
    if (!note) return res.status(409).json({ error: "conflict" });
    broadcast(note.workspace_id, { type: "note.updated", note: toDto(note), by: userOf(req) });
    return res.json(toDto(note));
  }),
);

router.delete(
  "/notes/:id",
  h((req, res) => {
    const note = getNote(req.params.id);
    if (!note || !deleteNote(note.id)) return res.status(404).json({ error: "not found" });
    broadcast(note.workspace_id, { type: "note.deleted", noteId: note.id });
    queueWebhook("note.deleted", note);
    return res.status(204).end();
  }),
);

router.post(
  "/notes/:id/summarize",
  h(async (req, res) => {
    if (!getNote(req.params.id)) return res.status(404).json({ error: "not found" });
    const jobId = await enqueueJob("summarize", req.params.id, { requestedBy: userOf(req) });
    return res.status(202).json({ jobId });
  }),
);

router.post(
  "/workspaces/:ws/import",
  h(async (req, res) => {
    const urls: unknown = req.body?.urls;
    if (!Array.isArray(urls) || urls.length === 0 || urls.length > 50) {
      return res.status(400).json({ error: "urls: 1-50 URLs" });
    }
    const notes = await importFromUrls(req.params.ws, urls.map(String), userOf(req));
    for (const note of notes) broadcast(note.workspace_id, { type: "note.created", note: toDto(note) });
    return res.status(201).json(notes.map(toDto));
  }),
);

// Exports can be large; read them on a separate read-only handle.
router.get(
  "/workspaces/:ws/export",
  h((req, res) => {
    const ro = openReadonly();
    const rows = ro
      .prepare(`SELECT * FROM notes WHERE workspace_id = ? ORDER BY created_at`)
      .all(req.params.ws) as NoteRow[];
    res.setHeader("content-disposition", `attachment; filename="${req.params.ws}.json"`);
    return res.json({ workspaceId: req.params.ws, exportedAt: new Date().toISOString(), notes: rows.map(toDto) });
  }),
);

router.get(
  "/workspaces/:ws/snapshots",
  h(async (req, res) => res.json(await readManifest(req.params.ws))),
);

router.post(
  "/workspaces/:ws/snapshots",
  h(async (req, res) => {
    const entry = await takeSnapshot(req.params.ws);
    const pruned = await pruneSnapshots(req.params.ws);
    return res.status(201).json({ ...entry, pruned });
  }),
);

router.post(
  "/workspaces/:ws/restore",
  h(async (req, res) => {
    const file = req.body?.file;
    if (typeof file !== "string") return res.status(400).json({ error: "file required" });
    const restored = await restoreSnapshot(req.params.ws, file);
    return res.json({ restored });
  }),
);

router.get(
  "/admin/job-stats",
  h(async (_req, res) => res.json(await jobStats())),
);

export function errorHandler(err: Error, _req: Request, res: Response, _next: NextFunction): void {
  console.error("[api] unhandled error", err);
  res.status(500).json({ error: "internal error" });
}
