/**
 * PostgreSQL text and jsonb cannot hold U+0000: a NUL byte in any string that reaches SQL fails
 * the statement ("invalid message format", "unsupported Unicode escape sequence"). Rather than
 * guard every column, the API boundary refuses NUL anywhere in a GraphQL operation's inline
 * literals and variables (HTTP and graphql-ws) and in the REST shim's JSON bodies, as
 * BAD_USER_INPUT naming where it is.
 */
import { Kind, visit, type DocumentNode } from "graphql";
import type { ValidationDetail } from "./rest.js";

export const NUL_MESSAGE = "must not contain the NUL character (U+0000)";

type Path = (string | number)[];

/** The path (keys and indices) of the first string or key holding U+0000 in a JSON value, or null. */
export function nulPath(value: unknown, path: Path = []): Path | null {
  if (typeof value === "string") return value.includes("\u0000") ? path : null;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = nulPath(value[i], [...path, i]);
      if (found) return found;
    }
    return null;
  }
  if (value && typeof value === "object") {
    for (const [key, v] of Object.entries(value)) {
      if (key.includes("\u0000")) return [...path, key];
      const found = nulPath(v, [...path, key]);
      if (found) return found;
    }
  }
  return null;
}

/** The REST shim's 422 detail for a JSON body holding U+0000, or null (`loc` starts at `root`). */
export function nulDetail(body: unknown, root: Path, type: string): ValidationDetail | null {
  const at = nulPath(body);
  return at ? { loc: [...root, ...at], msg: NUL_MESSAGE, type } : null;
}

/**
 * Whether a parsed document has U+0000 in a string literal, remembered per document: Apollo (and
 * graphql-ws's shared execution) hand the same cached DocumentNode to every request of the same
 * text, so the walk runs once per document instead of once per request.
 */
const literalNul = new WeakMap<DocumentNode, boolean>();

function hasNulLiteral(document: DocumentNode): boolean {
  let found = literalNul.get(document);
  if (found === undefined) {
    found = false;
    visit(document, {
      [Kind.STRING](node) {
        if (node.value.includes("\u0000")) found = true;
      },
    });
    literalNul.set(document, found);
  }
  return found;
}

/** Where a GraphQL operation carries U+0000 (an inline string literal or a variable), or null. */
export function operationNulPath(document: DocumentNode, variables: Record<string, unknown> | null | undefined): string | null {
  if (hasNulLiteral(document)) return "a string literal in the document";
  if (!variables) return null;
  const at = nulPath(variables);
  return at ? at.map((k, i) => (typeof k === "number" ? `[${k}]` : i === 0 ? k : `.${k}`)).join("") || "value" : null;
}
