/**
 * One sync's extract half: run the tap, read its Singer output, stage the records. Either every
 * record is staged and the tap exited 0 (the result carries the last STATE the tap emitted), or
 * a {@link TapRunError} says why and nothing of the run is left in staging.
 */
import type { RecordMessage } from "./singer.js";
import { readSingerBatches, readSingerBatchesRaw, SingerProtocolError, type RawSingerMessage } from "./singer.js";
import { deleteStagedRun, ensureStagingSchema, StagingWriter, type SqlClient, type StagedStream } from "./staging.js";
import { startTap, type TapExit, type TapProcess } from "./tap-process.js";
import type { ResolvedTap } from "./tap-registry.js";

export interface SyncToStagingOptions {
  db: SqlClient;
  tap: ResolvedTap;
  configJson: string;
  state?: unknown;
  catalog?: unknown;
  stagingSchema: string;
  runId: string;
  timeoutMs: number;
  killGraceMs?: number;
  batchRows?: number;
  /** Extra connections that write staging batches in parallel. */
  writers?: SqlClient[];
  /** Stage with COPY (a PostgreSQL server only; see staging.ts). */
  copy?: boolean;
  /** Aborting kills the tap (the run's lease was lost, the runner is stopping). */
  signal?: AbortSignal;
  /** Called after each committed batch with the rows staged so far (progress, heartbeats). */
  onProgress?: (rowsStaged: number) => void | Promise<void>;
}

export interface SyncToStagingResult {
  rowsSynced: number;
  /** The last STATE value the tap emitted (undefined when it emitted none). */
  state: unknown;
  streams: StagedStream[];
  stderr: string;
}

export type TapRunFailure = "start" | "exit" | "timeout" | "protocol" | "staging";

export class TapRunError extends Error {
  override name = "TapRunError";
  constructor(
    readonly kind: TapRunFailure,
    message: string,
    readonly stderr: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

function describeExit(name: string, exit: TapExit, timeoutMs: number): string {
  if (exit.timedOut) return `${name} timed out after ${Math.round(timeoutMs / 1000)} s and was killed`;
  if (exit.signal) return `${name} was killed by ${exit.signal}`;
  return `${name} exited with code ${exit.code}`;
}

/** Characters of stderr quoted in an error message: its end, where a tap says why it died. */
export const STDERR_IN_MESSAGE = 3000;

function withStderr(message: string, stderr: string): string {
  let text = stderr.trim();
  if (text.length > STDERR_IN_MESSAGE) text = `…${text.slice(text.length - STDERR_IN_MESSAGE)}`;
  return text ? `${message}; stderr:\n${text}` : message;
}

export async function syncToStaging(options: SyncToStagingOptions): Promise<SyncToStagingResult> {
  const name = options.tap.vars.tapName ?? "tap";
  await ensureStagingSchema(options.db, options.stagingSchema);
  let proc: TapProcess;
  try {
    proc = await startTap({
      tap: options.tap,
      configJson: options.configJson,
      state: options.state,
      catalog: options.catalog,
      timeoutMs: options.timeoutMs,
      killGraceMs: options.killGraceMs,
    });
  } catch (err) {
    throw new TapRunError("start", `${name} could not start: ${(err as Error).message}`, "", { cause: err });
  }
  const onAbort = () => proc.kill();
  if (options.signal?.aborted) proc.kill();
  options.signal?.addEventListener("abort", onAbort, { once: true });
  const writer = new StagingWriter(options.db, {
    schema: options.stagingSchema,
    runId: options.runId,
    batchRows: options.batchRows,
    writers: options.writers,
    copy: options.copy,
  });
  let state: unknown;
  let reported = 0;
  try {
    // With COPY, compact RECORD lines go to staging as the tap wrote them (PostgreSQL's jsonb
    // input is the parser; a record it refuses is reported as that line's protocol error).
    const read: AsyncIterable<RawSingerMessage[]> = options.copy ? readSingerBatchesRaw(proc.stdout) : readSingerBatches(proc.stdout);
    for await (const batch of read) {
      for (const message of batch) {
        if (message.type === "RAW_RECORDS") {
          for (let next = 0; next < message.starts.length; ) {
            const step = writer.rawRecords(message, next);
            next = step.next;
            if (step.wait) {
              await step.wait;
              if (options.onProgress && writer.stagedRows !== reported) await options.onProgress((reported = writer.stagedRows));
            }
          }
        } else if (message.type === "RECORD") {
          const wait = writer.record(message as RecordMessage);
          if (wait) {
            await wait;
            if (options.onProgress && writer.stagedRows !== reported) await options.onProgress((reported = writer.stagedRows));
          }
        } else if (message.type === "SCHEMA") {
          await writer.schema(message);
        } else {
          state = message.value;
        }
      }
    }
    // The output ended; only a clean exit makes the run good (a tap may fail after its last line).
    const exit = await proc.exited;
    if (exit.timedOut || exit.code !== 0) {
      throw new TapRunError(exit.timedOut ? "timeout" : "exit", withStderr(describeExit(name, exit, options.timeoutMs), exit.stderr), exit.stderr);
    }
    const streams = await writer.finish();
    return { rowsSynced: writer.stagedRows, state, streams, stderr: exit.stderr };
  } catch (caught) {
    proc.kill();
    let err = caught;
    // An earlier line that turns out malformed (a raw record refused, or still pending) is the
    // failure, as it would have been had every line been parsed as it was read.
    const malformed = await writer.abandon().catch(() => undefined);
    if (malformed && !(err instanceof SingerProtocolError && err.line <= malformed.line)) err = malformed;
    const exit = await proc.exited;
    await deleteStagedRun(options.db, options.stagingSchema, options.runId).catch(() => undefined);
    if (err instanceof TapRunError) throw err;
    if (err instanceof SingerProtocolError) throw new TapRunError("protocol", withStderr(`${name}: ${err.message}`, exit.stderr), exit.stderr, { cause: err });
    // A stream error while the tap was being killed for its timeout is the timeout.
    if (exit.timedOut) throw new TapRunError("timeout", withStderr(describeExit(name, exit, options.timeoutMs), exit.stderr), exit.stderr, { cause: err });
    throw new TapRunError("staging", `staging the records of ${name} failed: ${(err as Error).message}`, exit.stderr, { cause: err });
  } finally {
    options.signal?.removeEventListener("abort", onAbort);
  }
}
