/**
 * `gantry tenants create <slug> --name <name> [--watch]` and `gantry tenants status <slug>`: a
 * client of the GraphQL API (HTTP for the mutation and query, graphql-ws for `--watch`), with the
 * admin key. Defaults come from the same configuration as the server (GANTRY_PUBLIC_URL or
 * HOST:PORT; ADMIN_API_KEYS, or the key generated into the data directory), so on the machine
 * that runs `npm start` no flag is needed. `--watch` draws the nine steps live and exits 0 when
 * the tenant is ACTIVE, 1 when its pipeline fails.
 */
import fs from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { createClient } from "graphql-ws";
import WebSocket from "ws";
import { loadConfig } from "../config.js";
import { TENANT_STEP_TITLES } from "../tenants/step-names.js";
import { renderLine, renderPipeline, type PipelineView } from "./pipeline-view.js";

const USAGE = `usage: gantry tenants create <slug> --name <name> [--watch] [--url <graphql url>] [--api-key <admin key>]
       gantry tenants status <slug> [--json] [--url <graphql url>] [--api-key <admin key>]`;

const STATUS_FIELDS = "tenantId slug provisioningState completedSteps failedSteps lastError updatedAt";
const CREATE = `mutation ($input: CreateTenantInput!) { createTenant(input: $input) { id slug provisioningState completedSteps failedSteps lastError } }`;
const STATUS = `query ($slug: String!) { tenantStatus(slug: $slug) { ${STATUS_FIELDS} } }`;
const WATCH = `subscription ($slug: String!) { tenantProvisioningChanged(slug: $slug) {
  type workflowStatus tenant { ${STATUS_FIELDS} } steps { name title status attempt error } } }`;

interface TenantStatus {
  slug: string;
  provisioningState: string;
  completedSteps: string[];
  failedSteps: string[];
  lastError: string | null;
}

interface Endpoint {
  url: string;
  apiKey: string;
}

class CliError extends Error {}

function endpoint(values: { url?: string | undefined; "api-key"?: string | undefined }): Endpoint {
  const config = loadConfig();
  const url = values.url ?? `${config.publicUrl}/graphql`;
  let apiKey: string | undefined = values["api-key"] ?? config.adminApiKeys[0];
  if (!apiKey) {
    // The key `npm start` generated on first start (read only: a client never generates secrets).
    const file = path.join(config.dataDir, "secrets.json");
    if (fs.existsSync(file)) apiKey = (JSON.parse(fs.readFileSync(file, "utf8")) as { adminApiKey?: string }).adminApiKey;
  }
  if (!apiKey) throw new CliError("no admin key: pass --api-key or set ADMIN_API_KEYS");
  return { url, apiKey };
}

async function gql<T>(ep: Endpoint, query: string, variables: Record<string, unknown>): Promise<T> {
  let res: Response;
  try {
    res = await fetch(ep.url, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json", "x-api-key": ep.apiKey },
      body: JSON.stringify({ query, variables }),
    });
  } catch (err) {
    throw new CliError(`cannot reach ${ep.url}: ${(err as Error).cause ? String((err as { cause: unknown }).cause) : (err as Error).message}`);
  }
  const body = (await res.json().catch(() => ({}))) as { data?: T; errors?: { message: string; extensions?: { code?: string } }[] };
  const error = body.errors?.[0];
  if (error) throw new CliError(`${error.extensions?.code ?? "ERROR"}: ${error.message}`);
  if (!body.data) throw new CliError(`unexpected answer from ${ep.url} (HTTP ${res.status})`);
  return body.data;
}

function viewOf(tenant: TenantStatus, steps?: { name: string; title: string; status: string; attempt: number; error: string | null }[]): PipelineView {
  const all =
    steps && steps.length > 0
      ? steps
      : Object.entries(TENANT_STEP_TITLES).map(([name, title]) => ({
          name,
          title,
          status: tenant.completedSteps.includes(name) ? "COMPLETED" : tenant.failedSteps.includes(name) ? "FAILED" : "PENDING",
          attempt: 0,
          error: null,
        }));
  return { slug: tenant.slug, provisioningState: tenant.provisioningState, lastError: tenant.lastError, steps: all };
}

/** Draws frames: redrawn in place on a terminal, one line per change otherwise. */
class Screen {
  private drawn = 0;
  private last = "";
  constructor(private readonly out: NodeJS.WriteStream) {}

  draw(view: PipelineView): void {
    if (this.out.isTTY) {
      const lines = renderPipeline(view);
      if (this.drawn > 0) this.out.write(`\x1b[${this.drawn}A\x1b[J`);
      this.out.write(lines.join("\n") + "\n");
      this.drawn = lines.length;
      return;
    }
    const line = renderLine(view);
    if (line !== this.last) this.out.write(line + "\n");
    this.last = line;
  }

  finish(view: PipelineView): void {
    if (!this.out.isTTY) this.out.write(renderPipeline(view).join("\n") + "\n");
  }
}

const SETTLED_WORKFLOW = new Set(["COMPLETED", "FAILED", "ROLLED_BACK", "CANCELLED"]);

/** Follows the tenant until its pipeline settles; resolves with the final state. */
async function watch(ep: Endpoint, slug: string, screen: Screen): Promise<PipelineView> {
  const client = createClient({
    url: ep.url.replace(/^http/, "ws"),
    webSocketImpl: WebSocket,
    connectionParams: { "x-api-key": ep.apiKey },
    retryAttempts: 5,
    lazy: true,
  });
  try {
    let view: PipelineView | undefined;
    for await (const result of client.iterate<{
      tenantProvisioningChanged: { type: string; workflowStatus: string | null; tenant: TenantStatus; steps: PipelineView["steps"] };
    }>({ query: WATCH, variables: { slug } })) {
      if (result.errors?.length) throw new CliError(result.errors.map((e) => e.message).join("; "));
      const event = result.data!.tenantProvisioningChanged;
      view = viewOf(event.tenant, event.steps);
      screen.draw(view);
      const state = event.tenant.provisioningState;
      // The snapshot of an ACTIVE/FAILED tenant is final; a step event is final once its workflow is.
      const settled = event.type === "tenant.snapshot" ? state !== "PROVISIONING" : SETTLED_WORKFLOW.has(event.workflowStatus ?? "") || state === "DEPROVISIONED";
      if (settled) return view;
    }
    throw new CliError("the server closed the subscription");
  } catch (err) {
    if (Array.isArray(err)) throw new CliError(err.map((e: { message?: string }) => e.message).join("; "));
    if (err && typeof err === "object" && "code" in err && "reason" in err) {
      throw new CliError(`connection closed (${String((err as { code: unknown }).code)}): ${String((err as { reason: unknown }).reason)}`);
    }
    throw err;
  } finally {
    await client.dispose();
  }
}

async function create(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { name: { type: "string" }, watch: { type: "boolean" }, url: { type: "string" }, "api-key": { type: "string" } },
  });
  const slug = positionals[0];
  if (!slug || !values.name) {
    process.stderr.write(`gantry tenants create: <slug> and --name are required\n${USAGE}\n`);
    return 2;
  }
  const ep = endpoint(values);
  const { createTenant } = await gql<{ createTenant: TenantStatus & { id: string } }>(ep, CREATE, { input: { slug, name: values.name } });
  if (!values.watch) {
    process.stdout.write(`${createTenant.slug} ${createTenant.provisioningState} (${createTenant.id})\n`);
    return createTenant.provisioningState === "FAILED" ? 1 : 0;
  }
  const screen = new Screen(process.stdout);
  const final = await watch(ep, slug, screen);
  screen.finish(final);
  return final.provisioningState === "ACTIVE" ? 0 : 1;
}

async function status(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { json: { type: "boolean" }, url: { type: "string" }, "api-key": { type: "string" } },
  });
  const slug = positionals[0];
  if (!slug) {
    process.stderr.write(`gantry tenants status: <slug> is required\n${USAGE}\n`);
    return 2;
  }
  const { tenantStatus } = await gql<{ tenantStatus: TenantStatus }>(endpoint(values), STATUS, { slug });
  if (values.json) process.stdout.write(JSON.stringify(tenantStatus, null, 2) + "\n");
  else process.stdout.write(renderPipeline(viewOf(tenantStatus)).join("\n") + "\n");
  return 0;
}

/** `gantry tenants …`. Exit codes: 0 success, 1 failure (pipeline or API), 2 usage. */
export async function tenantsCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  try {
    if (sub === "create") return await create(rest);
    if (sub === "status") return await status(rest);
  } catch (err) {
    if (err instanceof CliError) {
      process.stderr.write(`gantry tenants ${sub}: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
  process.stderr.write(`${USAGE}\n`);
  return 2;
}
