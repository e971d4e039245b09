import { create } from "zustand";
import { createJSONStorage, persist } from "zustand/middleware";

export interface Note {
  id: string;
  workspaceId: string;
  title: string;
  content: string;
  summary: string | null;
  version: number;
  updatedBy: string | null;
  updatedAt: string;
}

export type SaveState = "idle" | "dirty" | "saving" | "saved" | "error";

interface NotesState {
  workspaceId: string | null;
  user: string;
  notes: Record<string, Note>;
  order: string[];
  /** Local edits not yet acknowledged by the server, by note id. */
  drafts: Record<string, string>;
  saveState: Record<string, SaveState>;

  setWorkspace: (workspaceId: string) => void;
  setUser: (user: string) => void;
  loadNotes: (notes: Note[]) => void;
  upsertNote: (note: Note) => void;
  patchNote: (id: string, patch: Partial<Note>) => void;
  removeNote: (id: string) => void;
  applyLocalEdit: (id: string, content: string) => void;
  markSaving: (id: string) => void;
  markSaved: (id: string, saved: Note) => void;
  markSaveFailed: (id: string) => void;
}

export const useNotes = create<NotesState>()(
  persist(
    (set) => ({
      workspaceId: null,
      user: "anonymous",
      notes: {},
      order: [],
      drafts: {},
      saveState: {},

      setWorkspace: (workspaceId) => set({ workspaceId, notes: {}, order: [] }),
      setUser: (user) => set({ user }),

      loadNotes: (notes) =>
        set({
          notes: Object.fromEntries(notes.map((n) => [n.id, n])),
          order: notes.map((n) => n.id),
        }),

      upsertNote: (note) =>
        set((s) => ({
          notes: { ...s.notes, [note.id]: note },
          order: s.order.includes(note.id) ? s.order : [note.id, ...s.order],
        })),

      patchNote: (id, patch) =>
        set((s) => (s.notes[id] ? { notes: { ...s.notes, [id]: { ...s.notes[id], ...patch } } } : s)),

      removeNote: (id) =>
        set((s) => {
          const { [id]: _removed, ...notes } = s.notes;
          const { [id]: _draft, ...drafts } = s.drafts;
          return { notes, drafts, order: s.order.filter((x) => x !== id) };
        }),

      // Optimistic: the editor shows the edit immediately, autosave sends it later.
      applyLocalEdit: (id, content) =>
        set((s) => ({
          notes: { ...s.notes, [id]: { ...s.notes[id], content } },
          drafts: { ...s.drafts, [id]: content },
          saveState: { ...s.saveState, [id]: "dirty" },
        })),

      markSaving: (id) => set((s) => ({ saveState: { ...s.saveState, [id]: "saving" } })),

      markSaved: (id, saved) =>
        set((s) => {
          const { [id]: _sent, ...drafts } = s.drafts;
          return {
            drafts,
            notes: { ...s.notes, [id]: { ...s.notes[id], version: saved.version, updatedAt: saved.updatedAt } },
            saveState: { ...s.saveState, [id]: "saved" },
          };
        }),

      markSaveFailed: (id) => set((s) => ({ saveState: { ...s.saveState, [id]: "error" } })),
    }),
    {
      name: "notesync",
      storage: createJSONStorage(() => localStorage),
      // Keep unsaved drafts across reloads so nothing typed offline is lost.
      partialize: (s) => ({ workspaceId: s.workspaceId, user: s.user, notes: s.notes, order: s.order, drafts: s.drafts }),
    },
  ),
);
