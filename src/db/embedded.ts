/**
 * Launches the embedded database process (see `embedded-server.ts`) and stops it on shutdown.
 */
import { fork, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export interface EmbeddedDatabase {
  url: string;
  /** Connections the embedded server accepts; the ORM pool plus listeners must stay within it. */
  maxConnections: number;
  stop(): Promise<void>;
}

export async function startEmbeddedDatabase(dataDir: string, maxConnections = 4): Promise<EmbeddedDatabase> {
  const pgDir = path.join(dataDir, "pglite");
  fs.mkdirSync(pgDir, { recursive: true });
  const here = path.dirname(fileURLToPath(import.meta.url));
  const script = path.join(here, "embedded-server.js");
  const child: ChildProcess = fork(script, [], {
    env: { ...process.env, GANTRY_PGLITE_DIR: pgDir, GANTRY_PGLITE_MAX_CONNECTIONS: String(maxConnections) },
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const url = await new Promise<string>((resolve, reject) => {
    child.once("message", (msg: { ready: boolean; url?: string; error?: string }) => {
      if (msg.ready && msg.url) resolve(msg.url);
      else reject(new Error(`embedded database failed to start: ${msg.error ?? "unknown error"}`));
    });
    child.once("exit", (code) => reject(new Error(`embedded database exited with code ${code}`)));
  });
  return {
    url,
    maxConnections,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}
