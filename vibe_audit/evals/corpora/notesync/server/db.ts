import Database from "better-sqlite3";
import fs from "node:fs";
import { config, dbPath } from "./config";

fs.mkdirSync(config.dataDir, { recursive: true });

// One connection per process: the API server and the worker each open their own.
export const db = new Database(dbPath);
db.pragma("synchronous = NORMAL");
db.pragma("cache_size = -16000");
db.pragma("temp_store = MEMORY");

const SCHEMA = `
CREATE TABLE IF NOT EXISTS workspaces (
  id           TEXT PRIMARY KEY,
  name         TEXT NOT NULL,
  webhook_url  TEXT,
  created_at   TEXT NOT NULL DEFAULT (datetime('now'))
);

CREATE TABLE IF NOT EXISTS notes (
  id            TEXT PRIMARY KEY,
  workspace_id  TEXT NOT NULL REFERENCES workspaces(id),
  title         TEXT NOT NULL DEFAULT '',
  content       TEXT NOT NULL DEFAULT '',
  summary       TEXT,
  version       INTEGER NOT NULL DEFAULT 1,
  updated_by    TEXT,
  created_at    TEXT NOT NULL DEFAULT (datetime('now')),
  updated_at    TEXT NOT NULL DEFAULT (datetime('now'))
);

CREATE TABLE IF NOT EXISTS note_revisions (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  note_id     TEXT NOT NULL REFERENCES notes(id) ON DELETE CASCADE,
  version     INTEGER NOT NULL,
  content     TEXT NOT NULL,
  author      TEXT,
  created_at  TEXT NOT NULL DEFAULT (datetime('now'))
);

CREATE INDEX IF NOT EXISTS idx_notes_workspace ON notes(workspace_id, updated_at);
CREATE UNIQUE INDEX IF NOT EXISTS idx_revisions_note ON note_revisions(note_id, version);
`;

export function migrate(): void {
  db.exec(SCHEMA);
}

/** Separate read-only handle for big reads (exports) so they don't tie up the main connection. */
export function openReadonly(): Database.Database {
  return new Database(dbPath, { readonly: true, fileMustExist: true });
}

export function closeDb(): void {
  if (db.open) db.close();
}
