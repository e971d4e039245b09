import type { Server } from "node:http";
import { WebSocket, WebSocketServer } from "ws";
import pg from "pg";
import { config } from "./config";
import type { NoteDto } from "./notes";
import { EVENTS_CHANNEL } from "./pg";

export type ServerEvent =
  | { type: "note.created"; note: NoteDto }
  | { type: "note.updated"; note: NoteDto; by: string }
  | { type: "note.deleted"; noteId: string }
  | { type: "note.summary"; noteId: string; summary: string }
  | { type: "presence"; noteId: string; users: string[] };

interface Client {
  socket: WebSocket;
  workspaceId: string;
  userId: string;
  viewing: string | null;
}

const clients = new Set<Client>();

export function attachWebSocket(server: Server): WebSocketServer {
  const wss = new WebSocketServer({ server, path: "/ws" });

  wss.on("connection", (socket, req) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    const client: Client = {
      socket,
      workspaceId: url.searchParams.get("workspace") ?? "",
      userId: url.searchParams.get("user") ?? "anonymous",
      viewing: null,
    };
    clients.add(client);
    socket.on("close", () => clients.delete(client));

    socket.on("message", (raw) => {
      let msg: { type?: string; noteId?: string };
      try {
        msg = JSON.parse(raw.toString());
      } catch {
        return; // ignore garbage from old clients
      }
      if (msg.type === "viewing") {
        client.viewing = msg.noteId ?? null;
        if (client.viewing) sendPresence(client.workspaceId, client.viewing);
      }
    });
  });

  return wss;
}

function sendPresence(workspaceId: string, noteId: string): void {
  const users = [...clients]
    .filter((c) => c.workspaceId === workspaceId && c.viewing === noteId)
    .map((c) => c.userId);
  broadcast(workspaceId, { type: "presence", noteId, users });
}

export function broadcast(workspaceId: string, event: ServerEvent): void {
  const payload = JSON.stringify(event);
  for (const c of clients) {
    if (c.workspaceId !== workspaceId || c.socket.readyState !== WebSocket.OPEN) continue;
    c.socket.send(payload);
  }
}

/** Forward events published by worker processes (pg_notify) to connected clients. */
export async function listenForWorkerEvents(): Promise<pg.Client> {
  // LISTEN needs a dedicated session, not a pooled one.
  const listener = new pg.Client({ connectionString: config.databaseUrl });
  await listener.connect();
  await listener.query(`LISTEN ${EVENTS_CHANNEL}`);
  listener.on("notification", (msg) => {
    if (!msg.payload) return;
    const event = JSON.parse(msg.payload) as ServerEvent & { workspaceId: string };
    broadcast(event.workspaceId, event);
  });
  return listener;
}

export function closeAllClients(): void {
  for (const c of clients) c.socket.close(1001, "server shutting down");
  clients.clear();
}
