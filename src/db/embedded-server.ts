/**
 * The embedded database process: PGlite (PostgreSQL compiled to WASM) served over a local TCP
 * socket by pglite-socket, so the ordinary `pg` driver and MikroORM talk to it like a server.
 * It runs in its own process so that query execution never blocks the API's event loop.
 * Started by `src/db/embedded.ts`; reports `{ ready, url }` over IPC; SIGTERM closes it cleanly.
 */
import { PGlite } from "@electric-sql/pglite";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";

const dataDir = process.env.GANTRY_PGLITE_DIR;
const maxConnections = Number(process.env.GANTRY_PGLITE_MAX_CONNECTIONS ?? "4");

async function main(): Promise<void> {
  if (!dataDir) throw new Error("GANTRY_PGLITE_DIR is not set");
  const db = await PGlite.create({ dataDir });
  const server = new PGLiteSocketServer({ db, host: "127.0.0.1", port: 0, maxConnections });
  await server.start();
  const [host, port] = server.getServerConn().split(":");
  process.send?.({ ready: true, url: `postgresql://postgres:postgres@${host}:${port}/postgres` });

  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    await server.stop();
    await db.close(); // flushes the data directory
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop());
  process.on("SIGINT", () => void stop());
  process.on("disconnect", () => void stop()); // the parent died: do not linger
}

main().catch((err: unknown) => {
  process.send?.({ ready: false, error: err instanceof Error ? err.message : String(err) });
  process.exit(1);
});
