/**
 * Operation documents generated from the schema, one per root field: every argument as a
 * variable (placeholders for the required ones, overridable), and a selection of every
 * argument-free field to a few levels, so an answer shows as much as the caller may see. Used by
 * the isolation matrix and the deprovisioned-token sweep, so a new operation is covered the day
 * it lands.
 */
import {
  getNamedType,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
  isObjectType,
  isScalarType,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLObjectType,
  type GraphQLSchema,
  type GraphQLType,
} from "graphql";
import { randomUUID } from "node:crypto";

export type RootKind = "query" | "mutation" | "subscription";

export interface RootField {
  kind: RootKind;
  name: string;
  /** `Query.x`, `Mutation.x`, `Subscription.x`. */
  key: string;
  field: GraphQLField<unknown, unknown>;
}

export function rootFields(schema: GraphQLSchema): RootField[] {
  const roots: [RootKind, GraphQLObjectType | null | undefined][] = [
    ["query", schema.getQueryType()],
    ["mutation", schema.getMutationType()],
    ["subscription", schema.getSubscriptionType()],
  ];
  return roots.flatMap(([kind, type]) =>
    type ? Object.values(type.getFields()).map((field) => ({ kind, name: field.name, key: `${type.name}.${field.name}`, field })) : [],
  );
}

function placeholder(type: GraphQLInputType): unknown {
  if (isNonNullType(type)) return placeholder(type.ofType);
  if (isListType(type)) return [placeholder(type.ofType)];
  if (isEnumType(type)) return type.getValues()[0]!.value;
  if (isInputObjectType(type)) {
    const out: Record<string, unknown> = {};
    for (const f of Object.values(type.getFields())) if (isNonNullType(f.type)) out[f.name] = placeholder(f.type);
    return out;
  }
  switch (type.name) {
    case "ID":
      return randomUUID();
    case "Int":
    case "SafeInt":
    case "Float":
      return 0;
    case "Boolean":
      return true;
    case "JSONObject":
      return {};
    case "DateTimeISO":
      return new Date().toISOString();
    default:
      return "placeholder-value";
  }
}

function typeString(type: GraphQLType): string {
  return String(type);
}

function selection(type: GraphQLType, depth: number): string {
  const named = getNamedType(type);
  if (isScalarType(named) || isEnumType(named)) return "";
  if (!isObjectType(named) || depth <= 0) return "{ __typename }";
  const parts = ["__typename"];
  for (const f of Object.values(named.getFields())) {
    if (f.args.some((a) => isNonNullType(a.type))) continue;
    const sub = selection(f.type, depth - 1);
    parts.push(sub ? `${f.name} ${sub}` : f.name);
  }
  return `{ ${parts.join(" ")} }`;
}

/** A document for one root field and its variables (placeholders, then `overrides`). */
export function documentFor(root: RootField, overrides: Record<string, unknown> = {}, depth = 3): { query: string; variables: Record<string, unknown> } {
  const defs: string[] = [];
  const args: string[] = [];
  const variables: Record<string, unknown> = {};
  for (const arg of root.field.args) {
    defs.push(`$${arg.name}: ${typeString(arg.type)}`);
    args.push(`${arg.name}: $${arg.name}`);
    if (arg.name in overrides) variables[arg.name] = overrides[arg.name];
    else if (isNonNullType(arg.type)) variables[arg.name] = placeholder(arg.type);
  }
  const head = `${root.kind} ${root.name}Op${defs.length ? `(${defs.join(", ")})` : ""}`;
  const call = `${root.name}${args.length ? `(${args.join(", ")})` : ""}`;
  return { query: `${head} { ${call} ${selection(root.field.type, depth)} }`, variables };
}
