import { describe, expect, it } from "vitest";
import { protocolErrorOf, readSingerBatchesRaw, readSingerMessages, SingerProtocolError, type RawSingerMessage, type SingerMessage } from "../../src/runner/singer.js";

async function* chunks(...parts: Array<string | Buffer>): AsyncGenerator<Buffer> {
  for (const part of parts) yield typeof part === "string" ? Buffer.from(part) : part;
}

async function readAll(...parts: Array<string | Buffer>): Promise<SingerMessage[]> {
  const out: SingerMessage[] = [];
  for await (const m of readSingerMessages(chunks(...parts))) out.push(m);
  return out;
}

const schema = '{"type":"SCHEMA","stream":"s","schema":{"type":"object"},"key_properties":["id"]}\n';

describe("Singer reader", () => {
  it("reads SCHEMA, RECORD and STATE split anywhere across chunks, CRLF and blank lines included", async () => {
    const text = `${schema}{"type":"RECORD","stream":"s","record":{"id":1,"name":"héllo"}}\r\n\n{"type":"STATE","value":{"bookmarks":{"s":{"id":1}}}}`;
    const bytes = Buffer.from(text);
    for (const cut of [1, 7, schema.length, schema.length + 40, bytes.indexOf("é") + 1, bytes.length - 1]) {
      const messages = await readAll(bytes.subarray(0, cut), bytes.subarray(cut));
      expect(messages.map((m) => m.type)).toEqual(["SCHEMA", "RECORD", "STATE"]);
      expect((messages[1] as { record: unknown }).record).toEqual({ id: 1, name: "héllo" });
      expect((messages[2] as { value: unknown }).value).toEqual({ bookmarks: { s: { id: 1 } } });
    }
  });

  it("ignores message types it does not know, as the Singer spec asks", async () => {
    const messages = await readAll(schema, '{"type":"ACTIVATE_VERSION","stream":"s","version":1}\n{"type":"BATCH","stream":"s"}\n');
    expect(messages.map((m) => m.type)).toEqual(["SCHEMA"]);
  });

  it("names the line of a malformed message", async () => {
    const bad = readAll(schema, '{"type":"RECORD","stream":"s","record":{"id":1}}\n', '{"type":"RECORD","stream":"s","rec\n');
    await expect(bad).rejects.toThrow(SingerProtocolError);
    await expect(bad).rejects.toThrow(/line 3 of the tap's output: not valid JSON/);
  });

  it("refuses a RECORD before its SCHEMA, a RECORD without a record, a non-object line", async () => {
    await expect(readAll('{"type":"RECORD","stream":"x","record":{}}\n')).rejects.toThrow(/line 1.*before its SCHEMA/);
    await expect(readAll(schema, '{"type":"RECORD","stream":"s"}\n')).rejects.toThrow(/line 2.*without an object `record`/);
    await expect(readAll(schema, "[1,2]\n")).rejects.toThrow(/line 2.*expected a JSON object/);
    await expect(readAll(schema, '{"stream":"s"}\n')).rejects.toThrow(/line 2.*without a string `type`/);
  });

  it("bounds the length of a line instead of buffering without end", async () => {
    const long = async function* () {
      yield Buffer.from(schema);
      for (let i = 0; i < 10; i++) yield Buffer.alloc(1024, "a");
    };
    const read = async () => {
      for await (const _ of readSingerMessages(long(), { maxLineLength: 4096 })) void _;
    };
    await expect(read()).rejects.toThrow(/line 2.*longer than 4096/);
  });

  it("hands out compact RECORD lines raw, split anywhere across chunks, and parses every other line", async () => {
    const compact = '{"type":"RECORD","stream":"s","record":{"id":1,"t":"}{\\"\\\\"}}';
    const lines = [
      schema.trimEnd(),
      compact,
      '{"type":"RECORD","stream":"s","record":{"id":2,"name":"héllo"}}\r',
      '{"type":"RECORD","stream":"s","record":{"id":3},"time_extracted":"2024-01-01T00:00:00Z"}',
      '{"type": "RECORD", "stream": "s", "record": {"id": 4}}',
      '{"type":"RECORD","stream":"s","record":{"id":5}}',
      '{"type":"STATE","value":1}',
    ];
    const bytes = Buffer.from(lines.join("\n") + "\n");
    for (const cut of [1, 30, schema.length + 5, bytes.indexOf("é") + 1, bytes.length - 2]) {
      const out: Array<RawSingerMessage> = [];
      for await (const batch of readSingerBatchesRaw(chunks(bytes.subarray(0, cut), bytes.subarray(cut)))) out.push(...batch);
      const flat = out.flatMap((m): unknown[] =>
        m.type === "RAW_RECORDS" ? m.starts.map((s, i) => ({ raw: m.buf.toString("utf8", s, m.ends[i]), line: m.lines[i] })) : [m.type === "RECORD" ? { record: m.record } : { type: m.type }],
      );
      expect(flat).toEqual([
        { type: "SCHEMA" },
        { raw: '{"id":1,"t":"}{\\"\\\\"}', line: 2 },
        { raw: '{"id":2,"name":"héllo"}', line: 3 },
        { record: { id: 3 } },
        { record: { id: 4 } },
        { raw: '{"id":5}', line: 6 },
        { type: "STATE" },
      ]);
    }
  });

  it("names a raw record's bad line as parsing would have, and refuses a raw record before its SCHEMA", async () => {
    const err = protocolErrorOf("s", '{"id":tru}', 7);
    expect(err?.message).toMatch(/^Singer protocol error on line 7 of the tap's output: not valid JSON/);
    expect(protocolErrorOf("s", '{"id":true}', 7)).toBeUndefined();
    const read = async () => {
      for await (const _ of readSingerBatchesRaw(chunks('{"type":"RECORD","stream":"x","record":{}}\n'))) void _;
    };
    await expect(read()).rejects.toThrow(/line 1.*before its SCHEMA/);
  });
});
