/**
 * Workspace snapshots: a JSON dump of every note in a workspace, taken nightly and on
 * demand, kept under data/snapshots/<workspace>/ with a manifest listing them.
 */
import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import { config, snapshotRoot } from "./config";
import { db } from "./db";

interface SnapshotNote {
  id: string;
  title: string;
  content: string;
  summary: string | null;
  version: number;
}

interface Snapshot {
  workspaceId: string;
  takenAt: string;
  notes: SnapshotNote[];
}

export interface ManifestEntry {
  file: string;
  takenAt: string;
  noteCount: number;
}

const dirFor = (workspaceId: string) => path.join(snapshotRoot, workspaceId);
const manifestPath = (workspaceId: string) => path.join(dirFor(workspaceId), "manifest.json");

async function writeFileAtomic(target: string, data: string): Promise<void> {
  const tmp = `${target}.${process.pid}.tmp`;
  const fh = await fsp.open(tmp, "w");
  try {
    await fh.writeFile(data, "utf8");
    await fh.sync();
  } finally {
    await fh.close();
  }
  await fsp.rename(tmp, target);
}

/** Remove temp files left behind by a crash mid-write. Called once at startup. */
export async function removeStaleTempFiles(): Promise<void> {
  await fsp.mkdir(snapshotRoot, { recursive: true });
  for (const ws of await fsp.readdir(snapshotRoot)) {
    for (const name of await fsp.readdir(dirFor(ws))) {
      if (name.endsWith(".tmp")) await fsp.rm(path.join(dirFor(ws), name), { force: true });
    }
  }
}

export async function readManifest(workspaceId: string): Promise<ManifestEntry[]> {
  try {
    return JSON.parse(await fsp.readFile(manifestPath(workspaceId), "utf8")) as ManifestEntry[];
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
}

async function appendToManifest(workspaceId: string, entry: ManifestEntry): Promise<void> {
  const manifest = await readManifest(workspaceId);
  manifest.push(entry);
  fs.writeFileSync(manifestPath(workspaceId), JSON.stringify(manifest, null, 2));
}

export async function takeSnapshot(workspaceId: string): Promise<ManifestEntry> {
  const notes = db
    .prepare(`SELECT id, title, content, summary, version FROM notes WHERE workspace_id = ?`)
    .all(workspaceId) as SnapshotNote[];
  const snapshot: Snapshot = {
    workspaceId,
    takenAt: new Date().toISOString(),
    notes,
  };
  await fsp.mkdir(dirFor(workspaceId), { recursive: true });
  const file = `${snapshot.takenAt.replace(/[:.]/g, "-")}.json`;
  await writeFileAtomic(path.join(dirFor(workspaceId), file), JSON.stringify(snapshot));
  const entry = { file, takenAt: snapshot.takenAt, noteCount: notes.length };
  await appendToManifest(workspaceId, entry);
  return entry;
}

/** Keep the newest `snapshotKeep` snapshots; delete the rest. */
export async function pruneSnapshots(workspaceId: string): Promise<number> {
  const manifest = await readManifest(workspaceId);
  const expired = manifest.slice(0, Math.max(0, manifest.length - config.snapshotKeep));
  for (const entry of expired) {
    await fsp.rm(path.join(dirFor(workspaceId), entry.file), { force: true });
  }
  return expired.length;
}

/** Restore a workspace from one of its snapshot files (notes are upserted by id). */
export async function restoreSnapshot(workspaceId: string, file: string): Promise<number> {
  const raw = await fsp.readFile(path.join(dirFor(workspaceId), path.basename(file)), "utf8");
  const snapshot = JSON.parse(raw) as Snapshot;

  const upsert = db.prepare(
    `INSERT INTO notes (id, workspace_id, title, content, summary, version)
     VALUES (@id, @workspaceId, @title, @content, @summary, @version)
     ON CONFLICT(id) DO UPDATE SET
       title = excluded.title, content = excluded.content, summary = excluded.summary,
       version = notes.version + 1, updated_at = datetime('now')`,
  );
  db.exec("BEGIN IMMEDIATE");
  for (const note of snapshot.notes) {
    upsert.run({ ...note, workspaceId });
  }
  db.exec("COMMIT");
  return snapshot.notes.length;
}
