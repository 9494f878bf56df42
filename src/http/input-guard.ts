/**
 * PostgreSQL text and jsonb cannot hold U+0000: a NUL byte in any string that reaches SQL fails
 * the statement ("invalid message format", "unsupported Unicode escape sequence"). Rather than
 * guard every column, the API boundary refuses NUL anywhere in a GraphQL operation's inline
 * literals and variables (HTTP and graphql-ws) and in the REST shim's JSON bodies, as
 * BAD_USER_INPUT naming where it is.
 */
import { Kind, visit, type DocumentNode } from "graphql";

export const NUL_MESSAGE = "must not contain the NUL character (U+0000)";

/** The path of the first string holding U+0000 in a JSON value, or null. */
export function nulPath(value: unknown, path = ""): string | null {
  if (typeof value === "string") return value.includes("\u0000") ? path || "value" : null;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = nulPath(value[i], `${path}[${i}]`);
      if (found) return found;
    }
    return null;
  }
  if (value && typeof value === "object") {
    for (const [key, v] of Object.entries(value)) {
      if (key.includes("\u0000")) return path ? `${path}.${key}` : key;
      const found = nulPath(v, path ? `${path}.${key}` : key);
      if (found) return found;
    }
  }
  return null;
}

/** Where a GraphQL operation carries U+0000 (an inline string literal or a variable), or null. */
export function operationNulPath(document: DocumentNode, variables: Record<string, unknown> | null | undefined): string | null {
  let found: string | null = null;
  visit(document, {
    [Kind.STRING](node) {
      if (!found && node.value.includes("\u0000")) found = "a string literal in the document";
    },
  });
  return found ?? (variables ? nulPath(variables) : null);
}
