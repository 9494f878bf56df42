/**
 * A minimal client of the Iceberg REST catalog API (apache/iceberg `open-api/rest-catalog-open-api.yaml`):
 * create and drop one single-level namespace. `baseUrl` is the catalog's root including any
 * prefix, so requests go to `<baseUrl>/v1/namespaces`.
 */
import { StepFailure } from "./types.js";

const TIMEOUT_MS = 10_000;

function endpoint(baseUrl: string, suffix: string): string {
  return `${baseUrl.replace(/\/+$/, "")}/v1/namespaces${suffix}`;
}

async function failure(res: Response, action: string): Promise<StepFailure> {
  let detail = "";
  try {
    const body = (await res.json()) as { error?: { message?: unknown; type?: unknown } };
    if (typeof body.error?.message === "string") detail = `: ${body.error.message.slice(0, 300)}`;
  } catch {
    // not JSON: the status says enough
  }
  return new StepFailure(`Iceberg catalog refused to ${action} (HTTP ${res.status})${detail}`);
}

function signalFor(signal: AbortSignal | undefined): AbortSignal {
  const timeout = AbortSignal.timeout(TIMEOUT_MS);
  return signal ? AbortSignal.any([signal, timeout]) : timeout;
}

/** Creates the namespace; an existing one (409) is success, so the call is idempotent. */
export async function createIcebergNamespace(
  baseUrl: string,
  namespace: string,
  properties: Record<string, string>,
  signal?: AbortSignal,
): Promise<"created" | "existed"> {
  const res = await fetch(endpoint(baseUrl, ""), {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json" },
    body: JSON.stringify({ namespace: [namespace], properties }),
    signal: signalFor(signal),
  });
  if (res.ok) {
    await res.body?.cancel();
    return "created";
  }
  if (res.status === 409) {
    await res.body?.cancel();
    return "existed";
  }
  throw await failure(res, `create namespace ${namespace}`);
}

/** Drops the namespace; a missing one (404) is success. A non-empty one (409) is refused. */
export async function dropIcebergNamespace(baseUrl: string, namespace: string, signal?: AbortSignal): Promise<"dropped" | "absent"> {
  const res = await fetch(endpoint(baseUrl, `/${encodeURIComponent(namespace)}`), {
    method: "DELETE",
    headers: { accept: "application/json" },
    signal: signalFor(signal),
  });
  if (res.ok) {
    await res.body?.cancel();
    return "dropped";
  }
  if (res.status === 404) {
    await res.body?.cancel();
    return "absent";
  }
  throw await failure(res, `drop namespace ${namespace}`);
}
