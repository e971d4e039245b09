import { randomUUID } from "node:crypto";
import { db } from "./db";

export interface NoteRow {
  id: string;
  workspace_id: string;
  title: string;
  content: string;
  summary: string | null;
  version: number;
  updated_by: string | null;
  updated_at: string;
}

export interface NoteDto {
  id: string;
  workspaceId: string;
  title: string;
  content: string;
  summary: string | null;
  version: number;
  updatedBy: string | null;
  updatedAt: string;
}

export function toDto(row: NoteRow): NoteDto {
  return {
    id: row.id,
    workspaceId: row.workspace_id,
    title: row.title,
    content: row.content,
    summary: row.summary,
    version: row.version,
    updatedBy: row.updated_by,
    updatedAt: row.updated_at,
  };
}

const stmts = {
  byId: db.prepare(`SELECT * FROM notes WHERE id = ?`),
  byWorkspace: db.prepare(
    `SELECT * FROM notes WHERE workspace_id = ? ORDER BY updated_at DESC LIMIT 500`,
  ),
  insert: db.prepare(
    `INSERT INTO notes (id, workspace_id, title, content, updated_by)
     VALUES (@id, @workspaceId, @title, @content, @author)`,
  ),
  insertRevision: db.prepare(
    `INSERT INTO note_revisions (note_id, version, content, author) VALUES (?, ?, ?, ?)`,
  ),
  updateContent: db.prepare(
    `UPDATE notes SET content = ?, version = version + 1, updated_by = ?, updated_at = datetime('now')
     WHERE id = ?`,
  ),
  rename: db.prepare(
    `UPDATE notes SET title = ?, version = version + 1, updated_at = datetime('now')
     WHERE id = ? AND version = ?`,
  ),
  setSummary: db.prepare(`UPDATE notes SET summary = ? WHERE id = ?`),
  remove: db.prepare(`DELETE FROM notes WHERE id = ?`),
  webhookUrl: db.prepare(`SELECT webhook_url FROM workspaces WHERE id = ?`),
};

export function getNote(id: string): NoteRow | undefined {
  return stmts.byId.get(id) as NoteRow | undefined;
}

export function listNotes(workspaceId: string): NoteRow[] {
  return stmts.byWorkspace.all(workspaceId) as NoteRow[];
}

export interface NewNote {
  workspaceId: string;
  title: string;
  content: string;
  author: string;
}

export const createNote = db.transaction((input: NewNote): NoteRow => {
  const id = randomUUID();
  stmts.insert.run({ id, ...input });
  stmts.insertRevision.run(id, 1, input.content, input.author);
  return getNote(id)!;
});

/** Writes new content and records the revision in the same transaction. */
export const updateContent = db.transaction(
  (id: string, content: string, author: string): NoteRow => {
    stmts.updateContent.run(content, author, id);
    const note = getNote(id)!;
    stmts.insertRevision.run(id, note.version, content, author);
    return note;
  },
);

/** Optimistic rename: returns null when someone else changed the note first. */
export function renameNote(id: string, title: string, expectedVersion: number): NoteRow | null {
  const res = stmts.rename.run(title, id, expectedVersion);
  if (res.changes === 0) return null;
  return getNote(id)!;
}

export function setSummary(id: string, summary: string): void {
  stmts.setSummary.run(summary, id);
}

export function deleteNote(id: string): boolean {
  // note_revisions rows go with the note (ON DELETE CASCADE)
  return stmts.remove.run(id).changes > 0;
}

export function getWebhookUrl(workspaceId: string): string | null {
  const row = stmts.webhookUrl.get(workspaceId) as { webhook_url: string | null } | undefined;
  return row?.webhook_url ?? null;
}

/**
 * Bulk import: pulls each URL (markdown or plain text) and creates one note per URL.
 * All-or-nothing, so a failed URL doesn't leave half an import behind.
 */
export async function importFromUrls(
  workspaceId: string,
  urls: string[],
  author: string,
): Promise<NoteRow[]> {
  const imported: NoteRow[] = [];
  db.exec("BEGIN");
  try {
    for (const url of urls) {
      const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
      if (!res.ok) throw new Error(`import: ${url} responded ${res.status}`);
      const content = await res.text();
      const title = new URL(url).pathname.split("/").pop() || url;
      imported.push(createNote({ workspaceId, title, content, author }));
    }
    db.exec("COMMIT");
  } catch (err) {
    db.exec("ROLLBACK");
    throw err;
  }
  return imported;
}
