/**
 * A streaming reader of the Singer protocol (singer-io/getting-started docs/SPEC.md): one JSON
 * message per line on a tap's stdout. SCHEMA, RECORD and STATE are understood; any other type
 * (ACTIVATE_VERSION, BATCH, …) is ignored, as the spec asks. A line that is not a JSON object, or
 * a known message missing its fields, is a {@link SingerProtocolError} naming the line number.
 *
 * Back-pressure comes from pulling: messages are handed out one input chunk at a time through an
 * async iterator, so while the consumer is busy (writing a batch) nothing more is read from the
 * pipe, the pipe fills, and the tap blocks on its own write. Memory stays at a chunk or two.
 */
import { isUtf8 } from "node:buffer";
import { StringDecoder } from "node:string_decoder";

export interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  format?: string;
  [key: string]: unknown;
}

export interface SchemaMessage {
  type: "SCHEMA";
  stream: string;
  schema: JsonSchema;
  key_properties: string[];
  bookmark_properties?: string[];
}

export interface RecordMessage {
  type: "RECORD";
  stream: string;
  record: Record<string, unknown>;
  time_extracted?: string;
}

/**
 * RECORD lines of one stream read without parsing them (`raw` reading), consecutive in the
 * tap's output: line `lines[i]` holds a record whose JSON text is `buf[starts[i], ends[i])`,
 * as the tap wrote it (UTF-8 bytes, only its structure checked), to be validated by whoever
 * stores it; a record it refuses is named with {@link protocolErrorOf}.
 */
export class RawRecords {
  readonly type = "RAW_RECORDS" as const;
  readonly starts: number[] = [];
  readonly ends: number[] = [];
  readonly lines: number[] = [];
  constructor(
    readonly stream: string,
    readonly buf: Buffer,
  ) {}
}

export interface StateMessage {
  type: "STATE";
  value: unknown;
}

export type SingerMessage = SchemaMessage | RecordMessage | StateMessage;

export type RawSingerMessage = SingerMessage | RawRecords;

const RAW_PREFIX = '{"type":"RECORD","stream":';
const RAW_MIDDLE = ',"record":';

export class SingerProtocolError extends Error {
  override name = "SingerProtocolError";
  constructor(
    readonly line: number,
    problem: string,
  ) {
    super(`Singer protocol error on line ${line} of the tap's output: ${problem}`);
  }
}

export interface SingerReaderOptions {
  /** Longest line accepted (bytes of text); a longer one is an error rather than unbounded memory. */
  maxLineLength?: number;
}

const DEFAULT_MAX_LINE = 32 * 1024 * 1024;

function excerpt(line: string): string {
  const text = line.length > 80 ? `${line.slice(0, 80)}…` : line;
  return JSON.stringify(text);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Parses one line; undefined for a blank line or a message type this reader ignores. */
export function parseLine(line: string, lineNo: number, schemas: Set<string>): SingerMessage | undefined {
  if (line.length === 0) return undefined;
  let message: unknown;
  try {
    message = JSON.parse(line);
  } catch (err) {
    if (line.trim() === "") return undefined;
    throw new SingerProtocolError(lineNo, `not valid JSON (${(err as Error).message}): ${excerpt(line)}`);
  }
  if (!isObject(message)) throw new SingerProtocolError(lineNo, `expected a JSON object: ${excerpt(line)}`);
  switch (message.type) {
    case "RECORD": {
      if (typeof message.stream !== "string") throw new SingerProtocolError(lineNo, "RECORD without a string `stream`");
      if (!isObject(message.record)) throw new SingerProtocolError(lineNo, `RECORD of stream "${message.stream}" without an object \`record\``);
      if (!schemas.has(message.stream)) throw new SingerProtocolError(lineNo, `RECORD of stream "${message.stream}" before its SCHEMA`);
      return message as unknown as RecordMessage;
    }
    case "SCHEMA": {
      if (typeof message.stream !== "string") throw new SingerProtocolError(lineNo, "SCHEMA without a string `stream`");
      if (!isObject(message.schema)) throw new SingerProtocolError(lineNo, `SCHEMA of stream "${message.stream}" without an object \`schema\``);
      const keys = message.key_properties ?? [];
      if (!Array.isArray(keys) || keys.some((k) => typeof k !== "string")) {
        throw new SingerProtocolError(lineNo, `SCHEMA of stream "${message.stream}": key_properties must be a list of strings`);
      }
      schemas.add(message.stream);
      return { ...(message as unknown as SchemaMessage), key_properties: keys as string[] };
    }
    case "STATE":
      if (!("value" in message)) throw new SingerProtocolError(lineNo, "STATE without a `value`");
      return message as unknown as StateMessage;
    default:
      if (typeof message.type !== "string") throw new SingerProtocolError(lineNo, `message without a string \`type\`: ${excerpt(line)}`);
      return undefined;
  }
}

/**
 * Reads Singer messages from a byte stream (a tap's stdout), yielding them a chunk's worth at a
 * time: the array is the messages of the lines completed by one input chunk. At the first bad
 * line it yields the messages before it, then throws {@link SingerProtocolError}.
 */
export async function* readSingerBatches(input: AsyncIterable<Buffer | string>, options: SingerReaderOptions = {}): AsyncGenerator<SingerMessage[]> {
  const maxLine = options.maxLineLength ?? DEFAULT_MAX_LINE;
  const decoder = new StringDecoder("utf8");
  const schemas = new Set<string>();
  let rest = "";
  let lineNo = 0;
  for await (const chunk of input) {
    const text = rest + (typeof chunk === "string" ? chunk : decoder.write(chunk));
    const messages: SingerMessage[] = [];
    let start = 0;
    for (let nl = text.indexOf("\n"); nl >= 0; nl = text.indexOf("\n", start)) {
      lineNo++;
      let message: SingerMessage | undefined;
      try {
        message = parseLine(text.slice(start, nl), lineNo, schemas);
      } catch (err) {
        // The good lines before the bad one are still handed out (their batch may be full and
        // staged); the bad line fails whatever batch it would have joined.
        if (messages.length > 0) yield messages;
        throw err;
      }
      if (message) messages.push(message);
      start = nl + 1;
    }
    rest = start === 0 ? text : text.slice(start);
    if (rest.length > maxLine) throw new SingerProtocolError(lineNo + 1, `line longer than ${maxLine} characters`);
    if (messages.length > 0) yield messages;
  }
  rest += decoder.end();
  if (rest.length > 0) {
    const message = parseLine(rest, lineNo + 1, schemas);
    if (message) yield [message];
  }
}

/**
 * The protocol error a raw record's line would have raised had it been parsed (undefined when it
 * parses: then whatever refused it is not a protocol matter).
 */
export function protocolErrorOf(stream: string, record: string, line: number): SingerProtocolError | undefined {
  try {
    parseLine(`${RAW_PREFIX}${JSON.stringify(stream)}${RAW_MIDDLE}${record}}`, line, new Set([stream]));
    return undefined;
  } catch (err) {
    if (err instanceof SingerProtocolError) return err;
    throw err;
  }
}

// `{"type":"RECORD","stream":"` and `","record":{` as bytes.
const HEAD = Buffer.from(`${RAW_PREFIX}"`);
const MIDDLE = Buffer.from(`"${RAW_MIDDLE}`);

/**
 * The record span of a compact RECORD line `buf[start, end)`, or -1 when the line is not one
 * (then it is parsed the ordinary way). Returns the start of the record; the record ends at
 * `end - 1` (the envelope's closing brace). Checks that the record is exactly one object with
 * balanced brackets outside strings, no raw control characters, and stream-name bytes without
 * escapes; whether its tokens are valid JSON is left to the consumer.
 */
function compactRecord(buf: Buffer, start: number, end: number): { stream: number; record: number } | undefined {
  const head = HEAD.length;
  if (end - start < head + MIDDLE.length + 3 || buf[end - 1] !== 0x7d) return undefined;
  for (let i = 0; i < head; i++) if (buf[start + i] !== HEAD[i]) return undefined;
  const quote = buf.indexOf(0x22, start + head);
  if (quote < 0 || quote + MIDDLE.length >= end) return undefined;
  for (let i = start + head; i < quote; i++) if (buf[i] === 0x5c || buf[i]! < 0x20) return undefined;
  for (let i = 0; i < MIDDLE.length; i++) if (buf[quote + i] !== MIDDLE[i]) return undefined;
  const record = quote + MIDDLE.length;
  const last = end - 2; // The record's closing brace.
  if (buf[record] !== 0x7b || buf[last] !== 0x7d) return undefined;
  let depth = 0;
  let inString = false;
  let high = false;
  for (let i = record; i <= last; i++) {
    const b = buf[i]!;
    if (b < 0x20) return undefined;
    if (b >= 0x80) high = true;
    else if (inString) {
      if (b === 0x22) inString = false;
      else if (b === 0x5c) {
        // An escape: the next character cannot close the string.
        i++;
        if (buf[i]! < 0x20) return undefined;
        if (buf[i]! >= 0x80) high = true;
      }
    } else if (b === 0x22) inString = true;
    else if (b === 0x7b || b === 0x5b) depth++;
    else if (b === 0x7d || b === 0x5d) {
      depth--;
      if (depth <= 0 && i !== last) return undefined;
    }
  }
  if (depth !== 0 || inString) return undefined;
  if (high && !isUtf8(buf.subarray(record, last + 1))) return undefined;
  return { stream: start + head, record };
}

/**
 * `readSingerBatches` for a consumer that validates JSON itself (COPY into jsonb: PostgreSQL
 * parses every record anyway). The input is split into lines as bytes; RECORD lines of the
 * compact form `{"type":"RECORD","stream":"<s>","record":{…}}` of a stream with a SCHEMA are
 * handed out as {@link RawRecords} without being parsed: their structure is checked (one JSON
 * object and nothing after it, no raw control characters, valid UTF-8) and their JSON is left
 * to the consumer, which must name a record it refuses with {@link protocolErrorOf}. Every
 * other line is decoded and parsed as {@link readSingerBatches} does.
 */
export async function* readSingerBatchesRaw(input: AsyncIterable<Buffer | string>, options: SingerReaderOptions = {}): AsyncGenerator<RawSingerMessage[]> {
  const maxLine = options.maxLineLength ?? DEFAULT_MAX_LINE;
  const schemas = new Set<string>();
  let rest: Buffer | undefined;
  let lineNo = 0;
  let lastStream = "";
  let lastStreamBytes = Buffer.alloc(0);
  let messages: RawSingerMessage[] = [];
  let group: RawRecords | undefined;
  // Lines [start, ...) of buf, up to its last newline; returns where the unfinished line starts.
  const lines = (buf: Buffer, start: number, once: boolean): number => {
    for (let nl = buf.indexOf(0x0a, start); nl >= 0; nl = buf.indexOf(0x0a, start)) {
      lineNo++;
      const end = nl > start && buf[nl - 1] === 0x0d ? nl - 1 : nl;
      const compact = compactRecord(buf, start, end);
      let raw = false;
      if (compact) {
        const nameEnd = compact.record - MIDDLE.length;
        let stream = lastStream;
        const sameName = nameEnd - compact.stream === lastStreamBytes.length && buf.compare(lastStreamBytes, 0, lastStreamBytes.length, compact.stream, nameEnd) === 0;
        if (!sameName) stream = buf.toString("utf8", compact.stream, nameEnd);
        if (schemas.has(stream)) {
          if (!sameName) {
            lastStream = stream;
            lastStreamBytes = Buffer.from(buf.subarray(compact.stream, nameEnd));
          }
          if (!group || group.buf !== buf || group.stream !== stream) messages.push((group = new RawRecords(stream, buf)));
          group.starts.push(compact.record);
          group.ends.push(end - 1);
          group.lines.push(lineNo);
          raw = true;
        }
      }
      if (!raw) {
        group = undefined;
        // Throws at a bad line; the caller hands out the messages before it first.
        const message = parseLine(buf.toString("utf8", start, nl), lineNo, schemas);
        if (message) messages.push(message);
      }
      start = nl + 1;
      if (once) break;
    }
    return start;
  };
  for await (const input_ of input) {
    let chunk = typeof input_ === "string" ? Buffer.from(input_) : input_;
    try {
      if (rest && rest.length > 0) {
        // The line that straddles the chunks is completed alone (no copy of the whole chunk).
        const nl = chunk.indexOf(0x0a);
        if (nl < 0) {
          rest = Buffer.concat([rest, chunk]);
          chunk = Buffer.alloc(0);
        } else {
          lines(Buffer.concat([rest, chunk.subarray(0, nl + 1)]), 0, true);
          chunk = chunk.subarray(nl + 1);
          rest = undefined;
        }
      }
      if (chunk.length > 0) {
        const start = lines(chunk, 0, false);
        rest = rest && rest.length > 0 ? Buffer.concat([rest, chunk.subarray(start)]) : chunk.subarray(start);
      }
    } catch (err) {
      if (messages.length > 0) yield messages;
      throw err;
    }
    if (rest && rest.length > maxLine) throw new SingerProtocolError(lineNo + 1, `line longer than ${maxLine} characters`);
    if (messages.length > 0) {
      const out = messages;
      messages = [];
      group = undefined;
      yield out;
    }
  }
  if (rest && rest.length > 0) {
    const message = parseLine(rest.toString("utf8"), lineNo + 1, schemas);
    if (message) yield [message];
  }
}

/** The same messages one by one (convenient where throughput does not matter). */
export async function* readSingerMessages(input: AsyncIterable<Buffer | string>, options?: SingerReaderOptions): AsyncGenerator<SingerMessage> {
  for await (const batch of readSingerBatches(input, options)) yield* batch;
}
