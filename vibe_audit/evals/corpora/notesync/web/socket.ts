import { useNotes, type Note } from "./store";

type ServerEvent =
  | { type: "note.created"; note: Note }
  | { type: "note.updated"; note: Note; by: string }
  | { type: "note.deleted"; noteId: string }
  | { type: "note.summary"; noteId: string; summary: string }
  | { type: "presence"; noteId: string; users: string[] };

type PresenceListener = (noteId: string, users: string[]) => void;

let socket: WebSocket | null = null;
let reconnectTimer: ReturnType<typeof setTimeout> | undefined;
let reconnectDelay = 1_000;
let stopped = false;
const presenceListeners = new Set<PresenceListener>();

function handle(event: ServerEvent): void {
  const store = useNotes.getState();
  switch (event.type) {
    case "note.created":
    case "note.updated":
      store.upsertNote(event.note);
      break;
    case "note.deleted":
      store.removeNote(event.noteId);
      break;
    case "note.summary":
      store.patchNote(event.noteId, { summary: event.summary });
      break;
    case "presence":
      presenceListeners.forEach((fn) => fn(event.noteId, event.users));
      break;
  }
}

export function connectWorkspace(workspaceId: string, user: string): () => void {
  stopped = false;
  const proto = location.protocol === "https:" ? "wss" : "ws";
  const url = `${proto}://${location.host}/ws?workspace=${encodeURIComponent(workspaceId)}&user=${encodeURIComponent(user)}`;

  const open = () => {
    socket = new WebSocket(url);
    socket.onopen = () => {
      reconnectDelay = 1_000;
      console.info("[ws] connected");
    };
    socket.onmessage = (msg) => {
      try {
        handle(JSON.parse(msg.data as string) as ServerEvent);
      } catch (err) {
        console.warn("[ws] bad message", err);
      }
    };
    socket.onclose = () => {
      socket = null;
      if (stopped) return;
      reconnectTimer = setTimeout(open, reconnectDelay + Math.random() * 500);
      reconnectDelay = Math.min(reconnectDelay * 2, 30_000);
    };
  };
  open();

  return () => {
    stopped = true;
    clearTimeout(reconnectTimer);
    socket?.close();
    socket = null;
  };
}

export function announceViewing(noteId: string | null): void {
  if (socket?.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: "viewing", noteId }));
}

export function onPresence(fn: PresenceListener): () => void {
  presenceListeners.add(fn);
  return () => presenceListeners.delete(fn);
}
