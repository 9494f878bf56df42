/**
 * The dashboard's only way to the server: the public GraphQL API over HTTP (queries, mutations)
 * and graphql-ws (subscriptions). Credentials live in sessionStorage and go out as the same
 * headers any client sends, and in `connection_init` for the websocket.
 */
import { createClient, type Client } from "graphql-ws";

export interface Credentials {
  kind: "admin" | "tenant";
  secret: string;
}

const KEY = "gantry.credentials";

export function loadCredentials(): Credentials | null {
  try {
    const raw = sessionStorage.getItem(KEY);
    const parsed = raw ? (JSON.parse(raw) as Credentials) : null;
    return parsed && (parsed.kind === "admin" || parsed.kind === "tenant") && parsed.secret ? parsed : null;
  } catch {
    return null;
  }
}

export function saveCredentials(c: Credentials | null): void {
  if (c) sessionStorage.setItem(KEY, JSON.stringify(c));
  else sessionStorage.removeItem(KEY);
}

function authHeaders(c: Credentials): Record<string, string> {
  return c.kind === "admin" ? { "x-api-key": c.secret } : { authorization: `Bearer ${c.secret}` };
}

export class GraphQLFailure extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

export async function gql<T = any>(query: string, variables: Record<string, unknown> = {}, c = loadCredentials()): Promise<T> {
  const res = await fetch(graphqlUrl(), {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/graphql-response+json, application/json", ...(c ? authHeaders(c) : {}) },
    body: JSON.stringify({ query, variables }),
  });
  let body: { data?: T; errors?: { message: string; extensions?: { code?: string } }[] };
  try {
    body = await res.json();
  } catch {
    throw new GraphQLFailure(`HTTP ${res.status}`, "INTERNAL_SERVER_ERROR");
  }
  const first = body.errors?.[0];
  if (first) throw new GraphQLFailure(first.message, first.extensions?.code ?? "UNKNOWN");
  return body.data as T;
}

function graphqlUrl(): string {
  return new URL("/graphql", location.href).toString();
}

type Listener = (state: "connecting" | "live" | "offline") => void;
const listeners = new Set<Listener>();
let client: Client | null = null;

/** Connection state for the header ("Live" / "Reconnecting…"). */
export function onConnection(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

function emit(state: "connecting" | "live" | "offline"): void {
  for (const l of listeners) l(state);
}

function ws(): Client {
  if (client) return client;
  const url = graphqlUrl().replace(/^http/, "ws");
  client = createClient({
    url,
    lazy: true,
    lazyCloseTimeout: 2000,
    keepAlive: 10_000,
    // A dashboard never gives up: reconnect quickly and forever; each subscription resumes with
    // `since` (see `live`), so nothing is missed and nothing is shown twice.
    retryAttempts: Number.MAX_SAFE_INTEGER,
    shouldRetry: () => true,
    retryWait: async (retries) => new Promise((r) => setTimeout(r, Math.min(250 * 2 ** retries, 2000))),
    connectionParams: () => {
      const c = loadCredentials();
      return c ? (c.kind === "admin" ? { "x-api-key": c.secret } : { authorization: `Bearer ${c.secret}` }) : {};
    },
    on: {
      connecting: () => emit("connecting"),
      connected: () => emit("live"),
      closed: () => emit("offline"),
    },
  });
  return client;
}

export function clearToast(): void {
  document.getElementById("toast")?.classList.remove("shown");
}

export function resetConnection(): void {
  void client?.dispose();
  client = null;
  emit("offline");
}

export interface LiveEvent {
  sequence: number;
}

/**
 * A live subscription that survives reconnects. The payload object is the one graphql-ws re-sends
 * on every reconnect, so advancing `variables.since` after each event makes the server replay
 * exactly what came after the last one shown; events at or below it are dropped anyway, so a
 * replay overlap never shows twice.
 */
export function live<E extends LiveEvent>(
  query: string,
  field: string,
  variables: Record<string, unknown>,
  onEvent: (event: E) => void,
  onError: (message: string) => void = (m) => toast(m),
): Live {
  const payload = { query, variables: { ...variables } as Record<string, unknown> };
  let last = typeof variables.since === "number" ? variables.since : -1;
  const stop = ws().subscribe<Record<string, E>>(payload, {
    next(result) {
      if (result.errors?.length) return onError(result.errors[0]!.message);
      const event = result.data?.[field];
      if (!event || event.sequence <= last) return;
      last = event.sequence;
      payload.variables.since = last;
      (window as unknown as { __gantryEvents?: unknown[] }).__gantryEvents?.push({ field, sequence: event.sequence, type: (event as { type?: string }).type, at: Date.now() });
      onEvent(event);
    },
    error(err) {
      const message = Array.isArray(err) ? err[0]?.message : err instanceof Error ? err.message : "subscription closed";
      onError(String(message ?? "subscription closed"));
    },
    complete() {},
  });
  return {
    stop,
    seed(since: number) {
      // Only while nothing has arrived yet: a later reconnect then resumes from `since`.
      if (last < 0) {
        last = since;
        payload.variables.since = since;
      }
    },
  };
}

export interface Live {
  stop(): void;
  /** Sets the resume point when none is known yet (a subscription started without `since`). */
  seed(since: number): void;
}

let toastTimer: ReturnType<typeof setTimeout> | undefined;
export function toast(message: string): void {
  const el = document.getElementById("toast");
  if (!el) return;
  el.textContent = message;
  el.classList.add("shown");
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => el.classList.remove("shown"), 8000);
}
