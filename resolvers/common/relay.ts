/**
 * Relay cursor connections. Cursors are opaque (base64url of the sort key and id) and pages are
 * keyset-paginated, so a page costs one indexed query however deep it is.
 */
import { ArgsType, Field, Int, ObjectType, type ClassType } from "type-graphql";
import { DomainError } from "../../src/errors/index.js";

export const MAX_PAGE_SIZE = 100;
export const DEFAULT_PAGE_SIZE = 20;

@ObjectType({ simpleResolvers: true, description: "Relay page information." })
export class PageInfo {
  @Field(() => Boolean)
  hasNextPage!: boolean;

  @Field(() => Boolean)
  hasPreviousPage!: boolean;

  @Field(() => String, { nullable: true })
  startCursor!: string | null;

  @Field(() => String, { nullable: true })
  endCursor!: string | null;
}

@ArgsType()
export class PageArgs {
  @Field(() => Int, { nullable: true, description: `Page size, 1–${MAX_PAGE_SIZE} (default ${DEFAULT_PAGE_SIZE}).` })
  first?: number | null;

  @Field(() => String, { nullable: true, description: "Cursor of the last item of the previous page." })
  after?: string | null;
}

export interface Cursor {
  /** ISO timestamp (or other sortable text) of the sort key. */
  key: string;
  id: string;
}

export function encodeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify([cursor.key, cursor.id])).toString("base64url");
}

export function decodeCursor(value: string, field = "after"): Cursor {
  try {
    const parsed = JSON.parse(Buffer.from(value, "base64url").toString("utf8")) as unknown;
    if (Array.isArray(parsed) && parsed.length === 2 && parsed.every((v) => typeof v === "string")) {
      return { key: parsed[0] as string, id: parsed[1] as string };
    }
  } catch {
    // fall through
  }
  throw DomainError.badInput(field, "is not a valid cursor");
}

export function pageSize(first: number | null | undefined): number {
  if (first === null || first === undefined) return DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(first) || first < 1 || first > MAX_PAGE_SIZE) {
    throw DomainError.badInput("first", `must be between 1 and ${MAX_PAGE_SIZE}`);
  }
  return first;
}

export interface Edge<T> {
  cursor: string;
  node: T;
}

export interface Connection<T> {
  edges: Edge<T>[];
  nodes: T[];
  pageInfo: PageInfo;
  totalCount?: number;
}

/**
 * Builds a connection from `size + 1` fetched rows (the extra row tells whether there is more).
 * `edges` is built when first read (the default resolver reads it like a property): a client that
 * asks only for `nodes` pays for no cursor, and `pageInfo` encodes just its two.
 */
export function toConnection<T>(rows: T[], size: number, cursorOf: (row: T) => Cursor, hadCursor: boolean): Connection<T> {
  const hasNextPage = rows.length > size;
  const page = hasNextPage ? rows.slice(0, size) : rows;
  let edges: Edge<T>[] | undefined;
  return {
    get edges() {
      return (edges ??= page.map((node) => ({ node, cursor: encodeCursor(cursorOf(node)) })));
    },
    nodes: page,
    pageInfo: {
      hasNextPage,
      hasPreviousPage: hadCursor,
      startCursor: page.length > 0 ? encodeCursor(cursorOf(page[0]!)) : null,
      endCursor: page.length > 0 ? encodeCursor(cursorOf(page.at(-1)!)) : null,
    },
  };
}

/** Declares `<Name>Edge` and `<Name>Connection` object types for a node type. */
export function ConnectionType<T extends object>(name: string, node: ClassType<T>) {
  @ObjectType(`${name}Edge`, { simpleResolvers: true })
  class EdgeType {
    @Field(() => String)
    cursor!: string;

    @Field(() => node)
    node!: T;
  }

  @ObjectType(`${name}Connection`, { simpleResolvers: true })
  class ConnectionClass {
    @Field(() => [EdgeType])
    edges!: EdgeType[];

    @Field(() => [node], { description: "The nodes of `edges`, for clients that need no cursors." })
    nodes!: T[];

    @Field(() => PageInfo)
    pageInfo!: PageInfo;
  }
  return ConnectionClass;
}
