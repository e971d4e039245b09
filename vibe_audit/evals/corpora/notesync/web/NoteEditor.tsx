import { useCallback, useEffect, useState } from "react";
import { api, ApiError } from "./api";
import { announceViewing, onPresence } from "./socket";
import { useNotes, type Note } from "./store";

const AUTOSAVE_DELAY_MS = 800;

interface Props {
  noteId: string;
}

export function NoteEditor({ noteId }: Props) {
  const note = useNotes((s) => s.notes[noteId]);
  const draft = useNotes((s) => s.drafts[noteId]);
  const saveState = useNotes((s) => s.saveState[noteId] ?? "idle");
  const { applyLocalEdit, markSaving, markSaved, markSaveFailed, upsertNote } = useNotes.getState();
  const [viewers, setViewers] = useState<string[]>([]);
  const [title, setTitle] = useState(note?.title ?? "");

  // Fetch the latest copy when the note is opened.
  useEffect(() => {
    let cancelled = false;
    api
      .getNote(noteId)
      .then((fresh) => {
        if (!cancelled && !useNotes.getState().drafts[noteId]) upsertNote(fresh);
      })
      .catch((err) => console.warn("could not refresh note", err));
    announceViewing(noteId);
    const off = onPresence((id, users) => id === noteId && setViewers(users));
    return () => {
      cancelled = true;
      off();
      announceViewing(null);
    };
  }, [noteId, upsertNote]);

  useEffect(() => setTitle(note?.title ?? ""), [note?.title]);

  const save = useCallback(async () => {
    const state = useNotes.getState();
    const content = state.drafts[noteId];
    const current = state.notes[noteId];
    if (content === undefined || !current) return;

    markSaving(noteId);
    try {
      const saved = await api.saveContent(noteId, content, current.version);
      markSaved(noteId, saved);
    } catch (err) {
      if (err instanceof ApiError && err.status === 409) {
        // Someone saved in between: rebase onto their version and save ours.
        const theirs = err.body.note as Note;
        const saved = await api.saveContent(noteId, content, theirs.version);
        markSaved(noteId, saved);
        return;
      }
      console.error("autosave failed", err);
      markSaveFailed(noteId);
    }
  }, [noteId, markSaving, markSaved, markSaveFailed]);

  // Debounced autosave: restart the timer on every keystroke.
  useEffect(() => {
    if (saveState !== "dirty") return;
    const timer = setTimeout(() => void save(), AUTOSAVE_DELAY_MS);
    return () => clearTimeout(timer);
  }, [draft, saveState, save]);

  const commitTitle = async () => {
    if (!note || title.trim() === note.title) return;
    try {
      upsertNote(await api.renameNote(noteId, title, note.version));
    } catch (err) {
      if (err instanceof ApiError && err.status === 409) {
        setTitle(note.title);
        alert("This note was changed by someone else. Your title was not saved.");
      } else {
        console.error("rename failed", err);
      }
    }
  };

  if (!note) return <div className="editor editor--empty">Loading…</div>;

  return (
    <div className="editor">
      <header className="editor__header">
        <input
          className="editor__title"
          value={title}
          onChange={(e) => setTitle(e.target.value)}
          onBlur={() => void commitTitle()}
        />
        <span className={`editor__status editor__status--${saveState}`}>{saveState}</span>
        {viewers.length > 1 && <span className="editor__viewers">{viewers.length} viewing</span>}
      </header>
      <textarea
        className="editor__body"
        value={draft ?? note.content}
        onChange={(e) => applyLocalEdit(noteId, e.target.value)}
      />
      {note.summary && (
        <aside className="editor__summary">
          <h4>Summary</h4>
          <p>{note.summary}</p>
        </aside>
      )}
      <button onClick={() => void api.requestSummary(noteId)}>Summarize again</button>
    </div>
  );
}
