/**
 * Hostile GraphQL documents generated from the schema itself, so a new operation is fuzzed the
 * day it lands. Deterministic for a seed: a failure prints its seed and case number.
 */
import {
  getNamedType,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
  isObjectType,
  isInterfaceType,
  isScalarType,
  isUnionType,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLObjectType,
  type GraphQLSchema,
} from "graphql";

export type Rng = () => number;

/** mulberry32: small, fast, seedable. */
export function rng(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pick = <T>(r: Rng, items: readonly T[]): T => items[Math.floor(r() * items.length)]!;

export const HOSTILE_STRINGS = [
  "",
  " ",
  "a\u0000b",
  "\u0000",
  "'; drop table tenant; --",
  'a"; drop schema public; --',
  "${7*7}",
  "{{constructor.constructor('return process')()}}",
  "../../etc/passwd",
  "\u202eevil\u202c",
  "ｅｘａｍｐｌｅ",
  "e\u0301\u0301\u0301",
  "😀".repeat(50),
  "\ud800", // lone surrogate
  "x".repeat(70_000),
  "0 2 * * *",
  "* * * * * * *",
  "row.amount * 100",
  "__proto__",
  "null",
  "-1",
  "1e309",
];

export interface FuzzIds {
  /** Ids that exist (some of another tenant), mixed with random and malformed ones. */
  ids: string[];
  slugs: string[];
}

function scalarValue(r: Rng, name: string, ids: FuzzIds): unknown {
  const roll = r();
  if (roll < 0.15) return pick(r, HOSTILE_STRINGS);
  if (roll < 0.2) return pick(r, [null, true, -1, 2 ** 53, 1.5, {}, [], { __proto__: { x: 1 } }]);
  switch (name) {
    case "ID":
      return r() < 0.6 ? pick(r, ids.ids) : pick(r, [crypto.randomUUID(), "not-a-uuid", "1", ""]);
    case "Int":
    case "SafeInt":
      return pick(r, [0, 1, 50, 200, 201, -1, 2 ** 31, 2 ** 31 - 1, 10_000]);
    case "Float":
      return pick(r, [0, 1.5, -1e308, 1e308]);
    case "Boolean":
      return r() < 0.5;
    case "String":
      return r() < 0.5 ? pick(r, ids.slugs) : pick(r, HOSTILE_STRINGS);
    case "DateTimeISO":
      return pick(r, [new Date().toISOString(), "2026-13-45T99:99:99Z", "yesterday"]);
    default:
      return pick(r, [{ rows: 10 }, { a: { b: { c: [1, 2, 3] } } }, "x", 1, null]);
  }
}

export function inputValue(r: Rng, type: GraphQLInputType, ids: FuzzIds, depth = 0): unknown {
  if (depth > 6) return null;
  if (isNonNullType(type)) return r() < 0.05 ? null : inputValue(r, type.ofType, ids, depth);
  if (r() < 0.05) return null;
  if (isListType(type)) {
    const size = r() < 0.05 ? 10_000 : Math.floor(r() * 4);
    if (size === 10_000) {
      const one = inputValue(r, type.ofType, ids, depth + 1);
      // Keep the request serialisable (~10 MB at most, still far over the body limit): 10,000
      // copies of an input object holding 70 kB strings would not fit in one JS string.
      const bytes = JSON.stringify(one ?? null).length;
      return Array.from({ length: Math.min(size, Math.max(1, Math.floor(10_000_000 / Math.max(1, bytes)))) }, () => one);
    }
    return Array.from({ length: size }, () => inputValue(r, type.ofType, ids, depth + 1));
  }
  if (isEnumType(type)) return r() < 0.9 ? pick(r, type.getValues()).name : "NOT_A_VALUE";
  if (isInputObjectType(type)) {
    const out: Record<string, unknown> = {};
    for (const field of Object.values(type.getFields())) {
      if (r() < 0.9) out[field.name] = inputValue(r, field.type, ids, depth + 1);
    }
    if (r() < 0.1) out.unexpectedField = "surprise";
    return out;
  }
  return scalarValue(r, getNamedType(type).name, ids);
}

function selection(r: Rng, type: GraphQLObjectType, depth: number, maxDepth: number): string {
  const fields = Object.values(type.getFields());
  const chosen = fields.filter(() => r() < 0.5);
  if (chosen.length === 0) chosen.push(pick(r, fields));
  const parts: string[] = ["__typename"];
  for (const field of chosen) {
    const named = getNamedType(field.type);
    const args = field.args.filter((a) => isNonNullType(a.type));
    if (args.length > 0) continue; // nested fields with required args are rare; keep documents valid-ish
    if (isObjectType(named)) {
      if (depth >= maxDepth) continue;
      parts.push(`${field.name} { ${selection(r, named, depth + 1, maxDepth)} }`);
    } else if (isInterfaceType(named) || isUnionType(named)) {
      parts.push(`${field.name} { __typename }`);
    } else if (isScalarType(named) || isEnumType(named)) {
      parts.push(field.name);
    }
  }
  return parts.join(" ");
}

export interface FuzzCase {
  query: string;
  variables: Record<string, unknown>;
  description: string;
}

function rootCall(r: Rng, field: GraphQLField<unknown, unknown>, ids: FuzzIds): { call: string; vars: Record<string, unknown>; defs: string[] } {
  const vars: Record<string, unknown> = {};
  const defs: string[] = [];
  const args: string[] = [];
  for (const arg of field.args) {
    if (!isNonNullType(arg.type) && r() < 0.4) continue;
    const name = `v_${arg.name}`;
    defs.push(`$${name}: ${String(arg.type)}`);
    args.push(`${arg.name}: $${name}`);
    vars[name] = inputValue(r, arg.type, ids);
  }
  const named = getNamedType(field.type);
  const maxDepth = r() < 0.1 ? 14 : 3;
  const body = isObjectType(named) ? ` { ${selection(r, named, 1, maxDepth)} }` : "";
  return { call: `${field.name}${args.length ? `(${args.join(", ")})` : ""}${body}`, vars, defs };
}

/** One random operation over HTTP (queries and mutations; subscriptions are graphql-ws only). */
export function generateCase(r: Rng, schema: GraphQLSchema, ids: FuzzIds): FuzzCase {
  const roll = r();
  if (roll < 0.03) return { query: "{ ".repeat(5000) + "__typename" + " }".repeat(5000), variables: {}, description: "deep nesting" };
  if (roll < 0.06) {
    const aliases = Array.from({ length: 10_000 }, (_, i) => `a${i}: __typename`).join(" ");
    return { query: `{ ${aliases} }`, variables: {}, description: "10,000 aliases" };
  }
  if (roll < 0.08) return { query: "{ __typename " + "@include(if: true) ".repeat(500) + "}", variables: {}, description: "directive flood" };
  if (roll < 0.1) return { query: pick(r, ["{", "query {", "mutation", "}}}", "{ viewer { ", "\u0000"]), variables: {}, description: "syntax" };

  const mutation = r() < 0.5 && schema.getMutationType();
  const root = mutation ? schema.getMutationType()! : schema.getQueryType()!;
  const field = pick(r, Object.values(root.getFields()));
  const { call, vars, defs } = rootCall(r, field, ids);
  const op = mutation ? "mutation" : "query";
  let query = `${op} Fuzz${defs.length ? `(${defs.join(", ")})` : ""} { ${call} }`;
  if (r() < 0.05) query = query.slice(0, Math.floor(r() * query.length)); // truncated
  const variables = r() < 0.05 ? { ...vars, [pick(r, Object.keys(vars).concat("x"))]: pick(r, HOSTILE_STRINGS) } : vars;
  return { query, variables, description: `${op} ${field.name}` };
}

/** The command that reproduces a fuzz suite's figures (for docs/RELIABILITY.md). */
export function fuzzCommand(cases: number, seed: number): string {
  return process.env.GANTRY_RELIABILITY_MODE === "full" ? `npm run fuzz (FUZZ_CASES=${cases}, FUZZ_SEED=${seed})` : `npm test (FUZZ_CASES=${cases}, FUZZ_SEED=${seed})`;
}
