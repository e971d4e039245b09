import express from "express";
import http from "node:http";
import { config } from "./config";
import { closeDb, migrate } from "./db";
import { migratePg, pool } from "./pg";
import { errorHandler, router } from "./routes";
import { removeStaleTempFiles } from "./snapshots";
import { attachWebSocket, closeAllClients, listenForWorkerEvents } from "./ws";

async function main(): Promise<void> {
  migrate();
  await migratePg();
  await removeStaleTempFiles();

  const app = express();
  app.disable("x-powered-by");
  app.use(express.json({ limit: "2mb" }));

  // Load balancer target.
  app.get("/healthz", (_req, res) => {
    res.json({ ok: true, uptime: process.uptime() });
  });

  app.use("/api", router);
  app.use(errorHandler);

  const server = http.createServer(app);
  const wss = attachWebSocket(server);
  const listener = await listenForWorkerEvents();

  server.listen(config.port, () => {
    console.log(`[api] listening on :${config.port}`);
  });

  let shuttingDown = false;
  const shutdown = (signal: string) => {
    if (shuttingDown) return;
    shuttingDown = true;
    console.log(`[api] ${signal} received, draining`);
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    closeAllClients();
    wss.close();
    server.close(() => {
      Promise.allSettled([listener.end(), pool.end()]).then(() => {
        closeDb();
        process.exit(0);
      });
    });
  };
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("SIGINT", () => shutdown("SIGINT"));
}

main().catch((err) => {
  console.error("[api] failed to start", err);
  process.exit(1);
});
