/**
 * What every bundled tap shares: the Singer command line (`--config`, `--state`, `--catalog` or
 * `--properties`, `--discover`), a stdout writer that honours back-pressure, catalog stream
 * selection, and the exit contract (logs on stderr, exit 1 with the message on failure).
 *
 * The writer joins lines into ~64 KB chunks before writing and waits for `drain` when the pipe
 * is full, so a tap emitting millions of rows never buffers more than a chunk or two however
 * slowly the reader consumes: the child blocks instead of growing.
 */
import fs from "node:fs";
import { once } from "node:events";
import type { Writable } from "node:stream";

export interface TapArgs {
  config: Record<string, unknown>;
  state: SingerState | undefined;
  catalog: SingerCatalog | undefined;
  discover: boolean;
}

export interface SingerState {
  bookmarks?: Record<string, Record<string, unknown>>;
  [key: string]: unknown;
}

export interface JsonSchema {
  type: string | string[];
  properties?: Record<string, JsonSchema>;
  format?: string;
  [key: string]: unknown;
}

export interface CatalogStream {
  tap_stream_id: string;
  stream: string;
  schema: JsonSchema;
  key_properties?: string[];
  replication_key?: string;
  metadata?: Array<{ breadcrumb: string[]; metadata: Record<string, unknown> }>;
}

export interface SingerCatalog {
  streams: CatalogStream[];
}

/** A tap failure with a message meant for the operator (no stack trace needed). */
export class TapError extends Error {
  override name = "TapError";
}

function readJsonFile(flag: string, file: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    throw new TapError(`${flag} ${file}: ${(err as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new TapError(`${flag} ${file}: not valid JSON (${(err as Error).message})`);
  }
}

export function parseTapArgs(argv: string[]): TapArgs {
  const files: Record<string, string> = {};
  let discover = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--discover") {
      discover = true;
      continue;
    }
    const [flag, inline] = arg.split("=", 2) as [string, string | undefined];
    if (!["--config", "--state", "--catalog", "--properties"].includes(flag)) {
      throw new TapError(`unknown argument ${arg} (expected --config <file> [--state <file>] [--catalog <file>] [--discover])`);
    }
    const value = inline ?? argv[++i];
    if (!value) throw new TapError(`${flag} needs a file`);
    files[flag === "--properties" ? "--catalog" : flag] = value;
  }
  if (!files["--config"]) throw new TapError("--config <file> is required");
  const config = readJsonFile("--config", files["--config"]);
  if (typeof config !== "object" || config === null || Array.isArray(config)) {
    throw new TapError("--config must hold a JSON object");
  }
  const state = files["--state"] ? (readJsonFile("--state", files["--state"]) as SingerState | null) ?? undefined : undefined;
  const catalog = files["--catalog"] ? (readJsonFile("--catalog", files["--catalog"]) as SingerCatalog) : undefined;
  if (catalog && !Array.isArray(catalog.streams)) throw new TapError("--catalog must hold { \"streams\": [...] }");
  return { config: config as Record<string, unknown>, state, catalog, discover };
}

/**
 * Whether a stream is to be synced. Without a catalog every stream is; with one, a stream must
 * be listed and not deselected (`selected: false` in its stream-level metadata).
 */
export function isSelected(catalog: SingerCatalog | undefined, stream: string): boolean {
  if (!catalog) return true;
  const entry = catalog.streams.find((s) => s.stream === stream || s.tap_stream_id === stream);
  if (!entry) return false;
  const top = entry.metadata?.find((m) => m.breadcrumb.length === 0)?.metadata;
  return top?.selected !== false;
}

const CHUNK_BYTES = 64 * 1024;

/** Singer messages to stdout, chunked, with back-pressure. */
export class SingerWriter {
  private buffer = "";
  private lastStream: string | undefined;
  private recordPrefix = "";
  records = 0;

  constructor(private readonly out: Writable = process.stdout) {}

  /**
   * Writes one message. Returns a promise only when a chunk had to wait for `drain`; hot loops
   * write `const wait = out.record(...); if (wait) await wait;` to skip a microtask per row.
   */
  write(message: Record<string, unknown>): Promise<void> | undefined {
    return this.append(JSON.stringify(message));
  }

  private append(line: string): Promise<void> | undefined {
    this.buffer += line + "\n";
    return this.buffer.length >= CHUNK_BYTES ? this.flush() : undefined;
  }

  async schema(stream: string, schema: JsonSchema, keyProperties: string[], bookmarkProperties?: string[]): Promise<void> {
    const message: Record<string, unknown> = { type: "SCHEMA", stream, schema, key_properties: keyProperties };
    if (bookmarkProperties?.length) message.bookmark_properties = bookmarkProperties;
    await this.write(message);
  }

  record(stream: string, record: Record<string, unknown>): Promise<void> | undefined {
    this.records++;
    if (stream !== this.lastStream) {
      this.lastStream = stream;
      this.recordPrefix = `{"type":"RECORD","stream":${JSON.stringify(stream)},"record":`;
    }
    return this.append(this.recordPrefix + JSON.stringify(record) + "}");
  }

  async state(value: unknown): Promise<void> {
    await this.write({ type: "STATE", value });
  }

  async flush(): Promise<void> {
    if (!this.buffer) return;
    const chunk = this.buffer;
    this.buffer = "";
    if (!this.out.write(chunk)) await once(this.out, "drain");
  }
}

export function log(message: string): void {
  process.stderr.write(`${new Date().toISOString()} ${message}\n`);
}

/** Runs a tap's main: any error is printed on stderr and the process exits 1. */
export function runTap(name: string, main: (args: TapArgs, out: SingerWriter) => Promise<void>): void {
  const out = new SingerWriter();
  // A reader that goes away (EPIPE) is not our failure to report at length: stop quietly.
  process.stdout.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code === "EPIPE") process.exit(1);
  });
  (async () => {
    const args = parseTapArgs(process.argv.slice(2));
    await main(args, out);
    await out.flush();
  })().then(
    () => {
      // Let stdout drain before exiting so a piped reader gets every line.
      process.exitCode = 0;
    },
    (err: unknown) => {
      const message = err instanceof TapError ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err);
      log(`${name}: ${message}`);
      process.exitCode = 1;
    },
  );
}
