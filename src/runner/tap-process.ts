/**
 * Runs one tap as a subprocess: its decrypted config goes into a private temporary directory
 * (0700, the file 0600) with the STATE and catalog, which is removed when the tap has exited,
 * whatever happened. The tap gets its own process group, so a timeout (or an abort because its
 * output was bad) can kill it together with anything it started: SIGTERM, then SIGKILL after a
 * grace period. stdout is handed to the caller unread; stderr is kept, bounded, for the error.
 */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { Readable } from "node:stream";
import { tapCommandLine, type ResolvedTap } from "./tap-registry.js";

export const STDERR_LIMIT = 64 * 1024;

export interface TapStartOptions {
  tap: ResolvedTap;
  /** The tap config as JSON text (already decrypted; never logged). */
  configJson: string;
  state?: unknown;
  catalog?: unknown;
  /** Kill the tap's process group after this long. */
  timeoutMs: number;
  /** Between SIGTERM and SIGKILL (default 5 s). */
  killGraceMs?: number;
  /** Where the private directory is made (default the OS temp dir). */
  tmpDir?: string;
}

export interface TapExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  /** The last {@link STDERR_LIMIT} bytes of stderr. */
  stderr: string;
}

export interface TapProcess {
  pid: number;
  stdout: Readable;
  /** Settles once the tap has exited and its files are removed; never rejects. */
  exited: Promise<TapExit>;
  /** The private directory (gone once `exited` settles). */
  dir: string;
  /** Kills the tap's process group (SIGTERM, then SIGKILL after the grace period). */
  kill(): void;
}

/** Keeps the tail of a stream of text within a byte budget. */
export class BoundedTail {
  private parts: Buffer[] = [];
  private size = 0;
  truncated = false;

  constructor(private readonly limit: number) {}

  push(chunk: Buffer): void {
    this.parts.push(chunk);
    this.size += chunk.length;
    while (this.size - this.parts[0]!.length >= this.limit) {
      this.size -= this.parts.shift()!.length;
      this.truncated = true;
    }
  }

  toString(): string {
    let buf = Buffer.concat(this.parts);
    if (buf.length > this.limit) {
      buf = buf.subarray(buf.length - this.limit);
      this.truncated = true;
    }
    // Cut to a line start so a multi-byte character or a half line is not shown.
    let text = buf.toString("utf8");
    if (this.truncated) {
      const nl = text.indexOf("\n");
      text = "…" + (nl >= 0 && nl < text.length - 1 ? text.slice(nl + 1) : text);
    }
    return text;
  }
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // Already gone.
  }
}

export async function startTap(options: TapStartOptions): Promise<TapProcess> {
  const dir = await fs.mkdtemp(path.join(options.tmpDir ?? os.tmpdir(), "gantry-tap-"));
  const cleanup = () => fs.rm(dir, { recursive: true, force: true });
  let child: ChildProcess;
  try {
    await fs.chmod(dir, 0o700);
    const files = { config: path.join(dir, "config.json"), state: undefined as string | undefined, catalog: undefined as string | undefined };
    await fs.writeFile(files.config, options.configJson, { mode: 0o600, flag: "wx" });
    if (options.state !== undefined && options.state !== null) {
      files.state = path.join(dir, "state.json");
      await fs.writeFile(files.state, JSON.stringify(options.state), { mode: 0o600, flag: "wx" });
    }
    if (options.catalog !== undefined && options.catalog !== null) {
      files.catalog = path.join(dir, "catalog.json");
      await fs.writeFile(files.catalog, JSON.stringify(options.catalog), { mode: 0o600, flag: "wx" });
    }
    const { command, args, env } = tapCommandLine(options.tap, files);
    child = spawn(command, args, {
      // Its own process group, so the whole tree can be signalled at once.
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
      // The tap inherits this process's environment (PATH, HOME, proxies) plus its template's.
      env: Object.keys(env).length > 0 ? { ...process.env, ...env } : undefined,
    });
  } catch (err) {
    await cleanup();
    throw err;
  }

  const stderr = new BoundedTail(STDERR_LIMIT);
  child.stderr!.on("data", (chunk: Buffer) => stderr.push(chunk));
  let timedOut = false;
  let killTimer: NodeJS.Timeout | undefined;
  const kill = () => {
    if (killTimer || child.exitCode !== null || child.signalCode !== null) return;
    killGroup(child, "SIGTERM");
    killTimer = setTimeout(() => killGroup(child, "SIGKILL"), options.killGraceMs ?? 5000);
    killTimer.unref();
  };
  const timeout = setTimeout(() => {
    timedOut = true;
    kill();
  }, options.timeoutMs);
  timeout.unref();

  const exited = new Promise<TapExit>((resolve) => {
    let spawnError: Error | undefined;
    let settled = false;
    child.once("error", (err) => {
      spawnError = err;
      // A command that cannot start emits no "close": settle here.
      if (child.pid === undefined) finish(null, null);
    });
    const finish = (code: number | null, signal: NodeJS.Signals | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timeout);
      // Anything the tap left running in its group goes too.
      killGroup(child, "SIGKILL");
      if (killTimer) clearTimeout(killTimer);
      if (spawnError) stderr.push(Buffer.from(`${spawnError.message}\n`));
      void cleanup().then(() => resolve({ code, signal, timedOut, stderr: stderr.toString() }));
    };
    child.once("close", finish);
  });

  return { pid: child.pid ?? -1, stdout: child.stdout!, exited, dir, kill };
}
