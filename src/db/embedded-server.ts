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
  keepExtendedQueriesTogether(server);
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

/** pglite-socket's internal per-server queue of protocol messages (not in its public types). */
interface QueryQueue {
  queue: Array<{ handlerId: number; message: Uint8Array; resolve(bytes: number): void; reject(err: unknown): void; onData(data: Uint8Array): void }>;
  processing: boolean;
  lastHandlerId: number | null;
  db: PGlite;
  processQueue(): Promise<void>;
  clearTransactionIfNeeded(handlerId: number): Promise<void>;
}

/** Extended-protocol messages that leave a sequence open until the Sync: Parse, Bind, Describe, Execute, Close, Flush. */
const OPENS_SEQUENCE = new Set([0x50, 0x42, 0x44, 0x45, 0x43, 0x48]);

/**
 * pglite-socket serves every connection from PGlite's single session, one protocol message at a
 * time, and keeps a connection's messages together only inside a transaction. Outside one, a
 * second connection's Parse can land between a first connection's Parse and Bind and replace
 * its unnamed statement ("unnamed prepared statement does not exist"), which concurrent
 * parameterised queries (the runner beside the API) hit. This keeps a connection's messages
 * together from its first extended-protocol message to its Sync as well.
 */
function keepExtendedQueriesTogether(server: PGLiteSocketServer): void {
  const queue = (server as unknown as { queryQueue: QueryQueue }).queryQueue;
  let openSequence = false;
  queue.processQueue = async function processQueue(this: QueryQueue): Promise<void> {
    if (this.processing || this.queue.length === 0) return;
    this.processing = true;
    try {
      while (this.queue.length > 0) {
        const sticky = this.lastHandlerId !== null && (openSequence || this.db.isInTransaction());
        const index = sticky ? this.queue.findIndex((q) => q.handlerId === this.lastHandlerId) : 0;
        if (index < 0) break; // Wait for the rest of that connection's sequence or transaction.
        const [item] = this.queue.splice(index, 1);
        let bytes = 0;
        try {
          await this.db.runExclusive(() =>
            this.db.execProtocolRawStream(item!.message, {
              onRawData: (data: Uint8Array) => {
                bytes += data.length;
                item!.onData(data);
              },
            }),
          );
        } catch (err) {
          item!.reject(err);
          continue;
        }
        this.lastHandlerId = item!.handlerId;
        openSequence = OPENS_SEQUENCE.has(item!.message[0]!);
        item!.resolve(bytes);
      }
    } finally {
      this.processing = false;
    }
  };
  const clear = queue.clearTransactionIfNeeded.bind(queue);
  queue.clearTransactionIfNeeded = async function clearTransactionIfNeeded(this: QueryQueue, handlerId: number): Promise<void> {
    // A connection that went away mid-sequence must not hold the others back.
    if (this.lastHandlerId === handlerId && openSequence) {
      openSequence = false;
      if (!this.db.isInTransaction()) {
        this.lastHandlerId = null;
        await this.processQueue();
        return;
      }
    }
    await clear(handlerId);
  };
}

main().catch((err: unknown) => {
  process.send?.({ ready: false, error: err instanceof Error ? err.message : String(err) });
  process.exit(1);
});
