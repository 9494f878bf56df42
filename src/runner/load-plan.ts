/**
 * How a staged stream becomes destination rows: its columns (name, PostgreSQL type), its key,
 * and a function from a staged record to a row. Pure logic, no SQL.
 *
 * - With field mappings for the stream: one column per mapping; the value is the CEL
 *   `transform` over `row` (compiled once per load), else `row[sourceField]`. The type is the
 *   mapping's `dataType`, else the transform's CEL type, else the field's SCHEMA type. The key
 *   is the mappings marked `isKey`, else the destination columns of the stream's key properties.
 * - Without any mappings: every property of the stream's SCHEMA loads as-is (names lowercased,
 *   other characters as `_`), keyed on its key properties.
 * A row whose transform fails, or whose value does not fit its column's type, or whose key is
 * null, is a {@link RowError}: counted in `transformErrors`, not loaded.
 */
import { compileTransform, type CompiledTransform } from "../connectors/mappings.js";
import type { JsonSchema } from "./singer.js";
import type { StagedStream } from "./staging.js";

export interface MappingSpec {
  stream: string;
  sourceField: string;
  destinationColumn: string;
  transform: string | null;
  dataType: string | null;
  isKey: boolean;
}

type Kind = "int" | "number" | "bool" | "time" | "text" | "json" | "uuid" | "other";

export interface ColumnPlan {
  name: string;
  /** The PostgreSQL type used in DDL and in `json_to_recordset`. */
  type: string;
  kind: Kind;
}

export interface StreamPlan {
  stream: string;
  columns: ColumnPlan[];
  keys: string[];
  /** Maps a staged record to the row's values (in `columns` order); throws RowError. */
  map(record: Record<string, unknown>): unknown[];
  /** True when no column has a transform (every value is a plain field copy). */
  plain: boolean;
  /** Source field of each column (plain plans only). */
  sources: string[];
}

export class RowError extends Error {
  override name = "RowError";
}

/** Types a mapping's `dataType` may name; anything else is refused rather than put into DDL. */
const TYPES: Array<[RegExp, Kind]> = [
  [/^(smallint|integer|int|int2|int4|int8|bigint)$/, "int"],
  [/^(real|float4|float8|double precision|numeric|decimal)(\(\d{1,3}(, ?\d{1,3})?\))?$/, "number"],
  [/^(boolean|bool)$/, "bool"],
  [/^(date|timestamp|timestamptz|timestamp with time zone|timestamp without time zone)$/, "time"],
  [/^(text|varchar|character varying|char|character)(\(\d{1,5}\))?$/, "text"],
  [/^(jsonb|json)$/, "json"],
  [/^uuid$/, "uuid"],
];

export function columnType(dataType: string, field: string): { type: string; kind: Kind } {
  const type = dataType.trim().replace(/\s+/g, " ");
  for (const [pattern, kind] of TYPES) if (pattern.test(type)) return { type, kind };
  throw new Error(`${field}: data type "${dataType}" is not supported by the loader`);
}

function schemaType(schema: JsonSchema | undefined): { type: string; kind: Kind } {
  const types = (Array.isArray(schema?.type) ? schema.type : schema?.type ? [schema.type] : []).filter((t) => t !== "null");
  if (types.length !== 1) return types.length === 0 && !schema?.type ? { type: "jsonb", kind: "json" } : { type: "text", kind: "text" };
  switch (types[0]) {
    case "integer":
      return { type: "bigint", kind: "int" };
    case "number":
      return { type: "double precision", kind: "number" };
    case "boolean":
      return { type: "boolean", kind: "bool" };
    case "object":
    case "array":
      return { type: "jsonb", kind: "json" };
    default:
      if (schema?.format === "date-time") return { type: "timestamptz", kind: "time" };
      if (schema?.format === "date") return { type: "date", kind: "time" };
      return { type: "text", kind: "text" };
  }
}

function celType(type: string): { type: string; kind: Kind } | undefined {
  switch (type) {
    case "int":
    case "uint":
      return { type: "bigint", kind: "int" };
    case "double":
      return { type: "double precision", kind: "number" };
    case "bool":
      return { type: "boolean", kind: "bool" };
    case "string":
      return { type: "text", kind: "text" };
    case "google.protobuf.Timestamp":
      return { type: "timestamptz", kind: "time" };
    default:
      return type.startsWith("map") || type.startsWith("list") ? { type: "jsonb", kind: "json" } : undefined;
  }
}

const INTEGER = /^[+-]?\d+$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Checks (and where harmless, normalises) a value for its column; throws RowError. */
export function fit(value: unknown, column: ColumnPlan): unknown {
  if (value === null || value === undefined) return null;
  switch (column.kind) {
    case "int":
      if (typeof value === "number" && Number.isInteger(value)) return value;
      if (typeof value === "string" && INTEGER.test(value.trim())) return value.trim();
      break;
    case "number":
      if (typeof value === "number" && Number.isFinite(value)) return value;
      if (typeof value === "string" && value.trim() !== "" && Number.isFinite(Number(value))) return value.trim();
      break;
    case "bool":
      if (typeof value === "boolean") return value;
      if (value === "true" || value === "false") return value === "true";
      break;
    case "time":
      if (typeof value === "string" && !Number.isNaN(Date.parse(value))) return value;
      if (value instanceof Date) return value.toISOString();
      break;
    case "text":
      if (typeof value === "string") return value;
      if (typeof value === "number" || typeof value === "boolean") return String(value);
      return JSON.stringify(value);
    case "uuid":
      if (typeof value === "string" && UUID.test(value)) return value;
      break;
    case "json":
    case "other":
      return value;
  }
  throw new RowError(`${column.name}: ${JSON.stringify(value)?.slice(0, 40)} is not a valid ${column.type}`);
}

/** A column name for a SCHEMA property loaded as-is. */
export function columnName(field: string): string {
  let name = field.toLowerCase().replace(/[^a-z0-9_]/g, "_");
  if (!/^[a-z_]/.test(name)) name = `_${name}`;
  return name.slice(0, 63);
}

/**
 * The plan for one staged stream, or undefined when the connector has mappings but none for
 * this stream (it is not loaded).
 */
export function planStream(stream: StagedStream, allMappings: MappingSpec[]): StreamPlan | undefined {
  const properties = stream.schema.properties ?? {};
  if (allMappings.length === 0) {
    const fields = Object.keys(properties);
    const columns = fields.map((f) => ({ name: columnName(f), ...schemaType(properties[f]) }));
    const keys = stream.keyProperties.map(columnName);
    const byName = new Map(columns.map((c) => [c.name, c]));
    for (const key of keys) if (!byName.has(key)) throw new Error(`stream ${stream.stream}: key property ${key} is not in its SCHEMA`);
    return {
      stream: stream.stream,
      columns,
      keys,
      plain: true,
      sources: fields,
      map: (record) => {
        const values = fields.map((f, i) => fit(record[f], columns[i]!));
        checkKeys(values, columns, keys);
        return values;
      },
    };
  }
  const mappings = allMappings.filter((m) => m.stream === stream.stream);
  if (mappings.length === 0) return undefined;
  const compiled: Array<CompiledTransform | undefined> = mappings.map((m) => (m.transform?.trim() ? compileTransform(m.transform) : undefined));
  const columns: ColumnPlan[] = mappings.map((m, i) => {
    const at = `mapping ${m.stream}.${m.destinationColumn}`;
    const typed = m.dataType ? columnType(m.dataType, at) : ((compiled[i] && celType(compiled[i]!.type)) ?? schemaType(properties[m.sourceField]));
    return { name: m.destinationColumn, ...typed };
  });
  let keys = mappings.filter((m) => m.isKey).map((m) => m.destinationColumn);
  if (keys.length === 0) {
    const mapped = stream.keyProperties.map((k) => mappings.find((m) => m.sourceField === k)?.destinationColumn);
    keys = mapped.every((k) => k !== undefined) ? (mapped as string[]) : [];
  }
  return {
    stream: stream.stream,
    columns,
    keys,
    plain: compiled.every((c) => c === undefined),
    sources: mappings.map((m) => m.sourceField),
    map: (record) => {
      const values = mappings.map((m, i) => {
        const transform = compiled[i];
        let value: unknown;
        if (transform) {
          try {
            value = transform.evaluate(record);
          } catch (err) {
            throw new RowError(`${m.destinationColumn}: ${(err as Error).message}`);
          }
        } else {
          value = record[m.sourceField];
        }
        return fit(value, columns[i]!);
      });
      checkKeys(values, columns, keys);
      return values;
    },
  };
}

function checkKeys(values: unknown[], columns: ColumnPlan[], keys: string[]): void {
  for (const key of keys) {
    const i = columns.findIndex((c) => c.name === key);
    if (values[i] === null) throw new RowError(`${key}: the key is null`);
  }
}
