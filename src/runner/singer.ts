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

export interface StateMessage {
  type: "STATE";
  value: unknown;
}

export type SingerMessage = SchemaMessage | RecordMessage | StateMessage;

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
function parseLine(line: string, lineNo: number, schemas: Set<string>): SingerMessage | undefined {
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

/** The same messages one by one (convenient where throughput does not matter). */
export async function* readSingerMessages(input: AsyncIterable<Buffer | string>, options?: SingerReaderOptions): AsyncGenerator<SingerMessage> {
  for await (const batch of readSingerBatches(input, options)) yield* batch;
}
