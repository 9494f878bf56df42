/**
 * The services catalogue: which services a tenant can provision, and their steps. An operator
 * edits a JSON file named by GANTRY_SERVICES (default: docs/services.example.json, documented
 * there). It is validated at start; a bad entry stops start-up with one line naming the file
 * and the entry.
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { ConfigError } from "../config.js";
import { STEP_KINDS, type RetryPolicy, type StepKind } from "../engine/types.js";

export interface ServiceStepSpec {
  name: string;
  kind: StepKind;
  /** POSTed to run the step (action: the work; callback: the request; poll: the start). */
  url: string;
  /** Poll steps: GET for the status; `{operation_id}` is replaced. */
  statusUrl?: string;
  /** POSTed to undo the step on rollback. */
  compensateUrl?: string;
  timeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  pollIntervalMs?: number;
  pollBackoffFactor?: number;
  pollMaxIntervalMs?: number;
}

export interface ServiceSpec {
  slug: string;
  name: string;
  description: string;
  steps: ServiceStepSpec[];
}

export interface ServiceCatalogue {
  file: string;
  services: ServiceSpec[];
  get(slug: string): ServiceSpec | undefined;
}

const SLUG = /^[a-z][a-z0-9-]{1,38}[a-z0-9]$/;
const STEP_NAME = /^[a-z][a-z0-9_]{0,62}$/;
const RETRY_KEYS = ["maxAttempts", "initialDelayMs", "backoffFactor", "maxDelayMs", "jitter"] as const;

/** The example catalogue shipped in docs/, found from src/ or dist/src/. */
export function defaultCatalogueFile(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  for (const up of ["../..", "../../.."]) {
    const candidate = path.resolve(here, up, "docs/services.example.json");
    if (fs.existsSync(candidate)) return candidate;
  }
  return path.resolve("docs/services.example.json");
}

function httpUrl(value: unknown): boolean {
  if (typeof value !== "string") return false;
  try {
    return ["http:", "https:"].includes(new URL(value.replace("{operation_id}", "x")).protocol);
  } catch {
    return false;
  }
}

/** Validates a parsed catalogue; throws a message naming the bad entry. */
export function parseCatalogue(raw: unknown): ServiceSpec[] {
  const fail = (where: string, msg: string): never => {
    throw new Error(`${where}: ${msg}`);
  };
  if (!raw || typeof raw !== "object" || !Array.isArray((raw as { services?: unknown }).services)) {
    fail("(root)", 'must be an object with a "services" array');
  }
  const slugs = new Set<string>();
  return (raw as { services: unknown[] }).services.map((entry, i) => {
    const at = `services[${i}]`;
    if (!entry || typeof entry !== "object") fail(at, "must be an object");
    const s = entry as Record<string, unknown>;
    const where = typeof s.slug === "string" ? `${at} (${s.slug})` : at;
    if (typeof s.slug !== "string" || !SLUG.test(s.slug)) fail(where, `slug must match ${SLUG}`);
    if (slugs.has(s.slug as string)) fail(where, "duplicate slug");
    slugs.add(s.slug as string);
    if (typeof s.name !== "string" || !s.name.trim()) fail(where, "name is required");
    if (!Array.isArray(s.steps) || s.steps.length === 0) fail(where, "steps must be a non-empty array");
    const names = new Set<string>();
    const steps = (s.steps as unknown[]).map((stepRaw, j) => {
      const sat = `${where}.steps[${j}]`;
      if (!stepRaw || typeof stepRaw !== "object") fail(sat, "must be an object");
      const st = stepRaw as Record<string, unknown>;
      if (typeof st.name !== "string" || !STEP_NAME.test(st.name)) fail(sat, `name must match ${STEP_NAME}`);
      if (names.has(st.name as string)) fail(sat, "duplicate step name");
      names.add(st.name as string);
      if (!STEP_KINDS.includes(st.kind as StepKind)) fail(sat, `kind must be one of ${STEP_KINDS.join(", ")}`);
      if (!httpUrl(st.url)) fail(sat, "url must be an http(s) URL");
      if (st.kind === "poll" && !httpUrl(st.statusUrl)) fail(sat, "poll steps need statusUrl, an http(s) URL (may contain {operation_id})");
      if (st.compensateUrl !== undefined && !httpUrl(st.compensateUrl)) fail(sat, "compensateUrl must be an http(s) URL");
      for (const key of ["timeoutMs", "pollIntervalMs", "pollMaxIntervalMs"] as const) {
        if (st[key] !== undefined && (!Number.isInteger(st[key]) || (st[key] as number) < 1)) fail(sat, `${key} must be a positive integer`);
      }
      if (st.pollBackoffFactor !== undefined && (typeof st.pollBackoffFactor !== "number" || st.pollBackoffFactor < 1)) fail(sat, "pollBackoffFactor must be ≥ 1");
      if (st.retry !== undefined) {
        if (!st.retry || typeof st.retry !== "object") fail(sat, "retry must be an object");
        for (const [key, value] of Object.entries(st.retry as object)) {
          if (!RETRY_KEYS.includes(key as never)) fail(`${sat}.retry`, `unknown key "${key}"`);
          if (typeof value !== "number" || value < 0) fail(`${sat}.retry.${key}`, "must be a non-negative number");
        }
        const r = st.retry as Partial<RetryPolicy>;
        if (r.maxAttempts !== undefined && (!Number.isInteger(r.maxAttempts) || r.maxAttempts < 1)) fail(`${sat}.retry.maxAttempts`, "must be an integer ≥ 1");
        if (r.jitter !== undefined && r.jitter > 1) fail(`${sat}.retry.jitter`, "must be within 0–1");
      }
      return st as unknown as ServiceStepSpec;
    });
    return { slug: s.slug as string, name: s.name as string, description: typeof s.description === "string" ? s.description : "", steps };
  });
}

/** Reads and validates the catalogue file; a problem is a ConfigError on GANTRY_SERVICES. */
export function loadServiceCatalogue(file: string | undefined): ServiceCatalogue {
  const resolved = file ?? defaultCatalogueFile();
  let services: ServiceSpec[];
  try {
    services = parseCatalogue(JSON.parse(fs.readFileSync(resolved, "utf8")));
  } catch (err) {
    const why = err instanceof SyntaxError ? `invalid JSON (${err.message})` : err instanceof Error ? err.message : String(err);
    throw new ConfigError("GANTRY_SERVICES", `${resolved}: ${why}`);
  }
  const bySlug = new Map(services.map((s) => [s.slug, s]));
  return { file: resolved, services, get: (slug) => bySlug.get(slug) };
}
