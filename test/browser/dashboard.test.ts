/**
 * The dashboard in a real browser (headless Chromium) against a real Gantry with every role:
 * sign in, create tenants and watch their 9 steps reach ACTIVE live, retry a failed step from
 * the UI, the CONFLICT message of a refused action, a connector's run appearing, and the live
 * list resuming after the server goes away and comes back (missed events shown once each).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, beforeEach, describe, expect, it, onTestFailed } from "vitest";
import type { Browser, Page } from "playwright-core";
import { CreateTenantDocument, RegisterConnectorDocument, TenantStatusDocument } from "../../schema/generated/operations.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { startTestGantry, type TestGantry } from "../helpers/server.js";
import { eventually } from "../helpers/connectors.js";
import { HAS_CHROMIUM, SKIP_MESSAGE, artifact, launchChromium } from "./browser.js";

if (!HAS_CHROMIUM) console.warn(SKIP_MESSAGE);

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "fixtures", "tenant-sql-failing");
const FLOOR_MS = 1000;

interface SeenEvent {
  field: string;
  sequence: number;
  type: string;
  at: number;
}

describe.skipIf(!HAS_CHROMIUM)("dashboard in headless Chromium", () => {
  const migrations = fs.mkdtempSync(path.join(os.tmpdir(), "gantry-dash-sql-"));
  const env = {
    ADMIN_API_KEYS: `dash-admin-${randomBytes(8).toString("hex")}`,
    JWT_SECRET: randomBytes(32).toString("hex"),
    GANTRY_MASTER_KEY: randomBytes(32).toString("base64"),
    GANTRY_TENANT_MIGRATIONS_DIR: migrations,
    LOG_LEVEL: "info",
  };
  const admin = { apiKey: env.ADMIN_API_KEYS };
  let db: TestDatabase;
  let t: TestGantry;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];
  const latencies: number[] = [];

  beforeAll(async () => {
    fs.copyFileSync(path.join(fixtures, "001_core.sql"), path.join(migrations, "001_core.sql"));
    fs.copyFileSync(path.join(fixtures, "030_index.sql"), path.join(migrations, "030_index.sql"));
    db = await createTestDatabase();
    t = await startTestGantry({ db, env });
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.addInitScript(() => {
      (globalThis as unknown as { __gantryEvents: unknown[] }).__gantryEvents = [];
    });
    page.on("pageerror", (err) => pageErrors.push(String(err)));
    page.setDefaultTimeout(30_000);
  }, 120_000);

  beforeEach((ctx) => {
    // A failing test leaves a screenshot and the page's toast behind, to see what the user saw.
    onTestFailed(async () => {
      const name = ctx.task.name.replace(/[^a-z0-9]+/gi, "-").slice(0, 60);
      await page?.screenshot({ path: artifact(`failed-${name}.png`), fullPage: true }).catch(() => undefined);
      console.warn(`page at failure: ${page?.url()} toast=${await page?.textContent("#toast").catch(() => "")} errors=${pageErrors.join("; ")}`);
    });
  });

  afterAll(async () => {
    await browser?.close();
    await t?.stop();
    await db?.drop();
    fs.rmSync(migrations, { recursive: true, force: true });
    if (latencies.length) {
      const sorted = [...latencies].sort((a, b) => a - b);
      console.log(`dashboard: ${sorted.length} step events shown, commit→page p50 ${sorted[Math.floor(sorted.length / 2)]} ms, max ${sorted.at(-1)} ms`);
    }
  });

  const seen = () => page.evaluate(() => (globalThis as unknown as { __gantryEvents: SeenEvent[] }).__gantryEvents);

  /** Commit→screen latency of the page's events of `field` (the snapshot excluded), checked against the floor. */
  async function checkLatency(field: string, fromIndex = 0) {
    const events = (await seen()).slice(fromIndex).filter((e) => e.field === field && e.type !== "tenant.snapshot");
    expect(events.length).toBeGreaterThan(0);
    const rows = await db.query<{ sequence: string; occurred_at: Date }>(`select sequence, occurred_at from event where sequence = any($1::bigint[])`, [
      events.map((e) => e.sequence),
    ]);
    const committed = new Map(rows.map((r) => [Number(r.sequence), r.occurred_at.getTime()]));
    for (const e of events) {
      const at = committed.get(e.sequence);
      if (at === undefined) continue;
      latencies.push(e.at - at);
      expect(e.at - at, `event ${e.sequence} ${e.type} shown ${e.at - at} ms after it was written`).toBeLessThan(FLOOR_MS);
    }
  }

  async function tenantWorkflowId(slug: string): Promise<string> {
    const rows = await db.query<{ id: string }>(
      `select w.id from workflow w join tenant t on t.id = w.tenant_id where t.slug = $1 and w.kind = 'tenant_provisioning' order by w.created_at desc limit 1`,
      [slug],
    );
    return rows[0]!.id;
  }

  async function createInUi(slug: string, name: string) {
    await page.fill("#slug", slug);
    await page.fill("#tname", name);
    await page.press("#tname", "Enter");
    await page.locator(`section[data-slug="${slug}"]`).waitFor();
  }

  it("refuses bad credentials and signs in with an admin key using the keyboard", async () => {
    await page.goto(`${t.url}/dashboard/`);
    await page.locator("#secret").waitFor();
    // The sign-in field has focus; Tab order reaches the button; Enter submits.
    await page.keyboard.type("not-a-key");
    await page.keyboard.press("Enter");
    await expect.poll(() => page.textContent("#signin-error")).toMatch(/UNAUTHENTICATED|FORBIDDEN|not a valid/);
    await page.fill("#secret", env.ADMIN_API_KEYS);
    await page.screenshot({ path: artifact("signin.png") });
    await page.keyboard.press("Enter");
    await page.locator("#nav a[href='#/tenants']").waitFor();
    expect(await page.textContent("#who")).toContain("Signed in as admin");
    expect(await page.evaluate(() => (globalThis as unknown as { sessionStorage: { getItem(k: string): string | null } }).sessionStorage.getItem("gantry.credentials"))).toContain('"admin"');
  });

  it("creates a tenant and shows its 9 steps reaching ACTIVE live, without a reload", async () => {
    // Keyboard only: Tab to the Tenants link (focus is visible), Enter follows it.
    type Doc = { activeElement: { getAttribute(n: string): string | null } | null };
    const focused = () => page.evaluate(() => (globalThis as unknown as { document: Doc }).document.activeElement?.getAttribute("href") ?? null);
    for (let i = 0; i < 10 && (await focused()) !== "#/tenants"; i++) await page.keyboard.press("Tab");
    expect(await focused()).toBe("#/tenants");
    const outline = await page.locator("#nav a[href='#/tenants']").evaluate((el) => {
      const style = (globalThis as unknown as { getComputedStyle(e: unknown): { outlineStyle: string; outlineWidth: string } }).getComputedStyle(el);
      return `${style.outlineStyle} ${style.outlineWidth}`;
    });
    expect(outline).toBe("solid 3px");
    await page.keyboard.press("Enter");
    await page.locator("#slug").waitFor();
    await page.evaluate(() => ((globalThis as unknown as { __noReload: boolean }).__noReload = true));
    const from = (await seen()).length;
    await createInUi("acme", "Acme Corp");
    const card = page.locator(`section[data-slug="acme"]`);
    await card.locator(`xpath=self::*[@data-state="ACTIVE"]`).waitFor({ timeout: 60_000 });
    expect(await card.locator("li[data-status='COMPLETED']").count()).toBe(9);
    expect(await card.locator("[role=progressbar]").getAttribute("aria-valuenow")).toBe("9");
    expect(await card.textContent()).toContain("ACTIVE");
    expect(await page.evaluate(() => (globalThis as unknown as { __noReload?: boolean }).__noReload)).toBe(true);
    // It moved step by step on the page: more than the snapshot and the final state arrived.
    const events = (await seen()).slice(from).filter((e) => e.field === "tenantProvisioningChanged");
    expect(events.length).toBeGreaterThan(9);
    await checkLatency("tenantProvisioningChanged", from);
    await page.screenshot({ path: artifact("tenants.png"), fullPage: true });
  }, 90_000);

  it("retries a failed step from the UI; a refused action shows the CONFLICT message", async () => {
    // A broken tenant migration (027b) fails step_3 for the next tenant.
    fs.copyFileSync(path.join(fixtures, "027b_backfill.sql"), path.join(migrations, "027b_backfill.sql"));
    await createInUi("bolt", "Bolt Ltd");
    const card = page.locator(`section[data-slug="bolt"]`);
    await card.locator(`xpath=self::*[@data-state="FAILED"]`).waitFor({ timeout: 60_000 });
    expect(await card.locator("li[data-step='step_3']").getAttribute("data-status")).toBe("FAILED");
    expect(await card.textContent()).toContain("027b");

    await card.getByRole("link", { name: "workflow" }).click();
    const step3 = page.locator("#timeline li[data-step='step_3']");
    await expect.poll(() => step3.getAttribute("data-status")).toBe("FAILED");
    expect(await step3.textContent()).toContain("027b");
    await page.screenshot({ path: artifact("workflow-failed.png"), fullPage: true });

    // Fix the migration (it never applied, so it may still change), then retry from the page.
    fs.writeFileSync(path.join(migrations, "027b_backfill.sql"), "create table widget_backfill (id bigint primary key);\n");
    const from = (await seen()).length;
    await step3.getByRole("button", { name: "Retry step_3" }).click();
    await page.locator("dialog.confirm").waitFor();
    await page.getByRole("button", { name: "Confirm" }).click();
    await expect.poll(() => page.locator("#timeline li[data-step='step_9']").getAttribute("data-status"), { timeout: 60_000 }).toBe("COMPLETED");
    await expect.poll(() => page.textContent("#wf-status")).toBe("COMPLETED");
    expect(await step3.getAttribute("data-status")).toBe("COMPLETED");
    expect(await step3.textContent()).toContain("retried 1×");
    await checkLatency("workflowStepChanged", from);
    // History rows are unique by sequence and in order.
    const sequences = (await page.locator("#history tbody tr").evaluateAll((rows) => rows.map((r) => Number(r.getAttribute("data-sequence")))));
    expect(new Set(sequences).size).toBe(sequences.length);
    expect([...sequences].sort((a, b) => a - b)).toEqual(sequences);
    expect(await page.locator("#history").textContent()).toContain("step.retry");

    // Cancel on a COMPLETED workflow is refused: the page says so, with the code.
    await page.getByRole("button", { name: "Cancel" }).click();
    await page.getByRole("button", { name: "Confirm" }).click();
    await expect.poll(() => page.textContent("#problem")).toMatch(/^CONFLICT: Cannot cancel a workflow that is COMPLETED/);
    await page.screenshot({ path: artifact("workflow.png"), fullPage: true });
    const state = await t.gql(TenantStatusDocument, { slug: "bolt" }, admin);
    expect(state.data!.tenantStatus.provisioningState).toBe("ACTIVE");
  }, 120_000);

  it("shows a connector's run appear after a trigger from the page (tenant sign-in)", async () => {
    const tenantId = (await t.gql(TenantStatusDocument, { slug: "acme" }, admin)).data!.tenantStatus.tenantId;
    const token = await t.tokenFor(tenantId);
    const registered = await t.gql(
      RegisterConnectorDocument,
      { input: { sourceSystem: "synthetic", tapName: "tap-synthetic", destinationTable: "numbers", config: { rows: 25 }, syncSchedule: "0 2 * * *" } },
      { token },
    );
    expect(registered.errors).toBeUndefined();
    const id = registered.data!.registerConnector.connector.id;

    await page.click("#signout");
    await page.locator("#secret").waitFor();
    await page.selectOption("#kind", "tenant");
    await page.fill("#secret", token);
    await page.press("#secret", "Enter");
    await page.locator("#nav a[href='#/connectors']").waitFor();
    expect(await page.locator("#nav a[href='#/tenants']").isHidden()).toBe(true);
    await page.click("#nav a[href='#/connectors']");
    await page.locator(`#connectors tr[data-id="${id}"] a`).click();
    await page.getByRole("button", { name: "Trigger sync" }).waitFor();
    expect(await page.locator("#runs tbody tr").count()).toBe(0);
    await page.getByRole("button", { name: "Trigger sync" }).click();
    const run = page.locator("#runs tbody tr").first();
    await expect.poll(() => run.getAttribute("data-status"), { timeout: 60_000 }).toBe("COMPLETED");
    expect(await run.locator("td").nth(3).textContent()).toBe("25");
    expect(await run.locator("td").nth(4).textContent()).toBe("25");
    expect(await page.locator("#rows-chart rect.loaded").count()).toBe(1);
    expect(await page.textContent("#last-run")).toContain("COMPLETED");

    // Pause then trigger: the CONFLICT is shown; resume re-arms it.
    await page.getByRole("button", { name: "Pause" }).click();
    await expect.poll(() => page.locator(`#connectors tr[data-id="${id}"]`).getAttribute("data-status")).toBe("PAUSED");
    await page.getByRole("button", { name: "Trigger sync" }).click();
    await expect.poll(() => page.textContent("#connector .problem")).toMatch(/^CONFLICT/);
    await page.getByRole("button", { name: "Resume" }).click();
    await expect.poll(() => page.locator(`#connectors tr[data-id="${id}"]`).getAttribute("data-status")).toBe("ACTIVE");
    await page.screenshot({ path: artifact("connectors.png"), fullPage: true });
  }, 120_000);

  it("resumes the live workflow list after the server goes away: missed events shown once each", async () => {
    await page.click("#signout");
    await page.locator("#secret").waitFor();
    await page.selectOption("#kind", "admin");
    await page.fill("#secret", env.ADMIN_API_KEYS);
    await page.press("#secret", "Enter");
    await page.locator("#workflows").waitFor();
    await page.locator("#workflows tbody tr").first().waitFor();
    await expect.poll(() => page.textContent("#live")).toContain("Live");
    const port = new URL(t.url).port;

    // The network drops: the server goes away with the page open.
    await t.stop();
    await expect.poll(() => page.textContent("#live")).toMatch(/Offline|Connecting/);

    // Meanwhile another replica (same database) provisions a tenant: events the page misses.
    const other = await startTestGantry({ db, env });
    const created = await other.gql(CreateTenantDocument, { input: { slug: "carp", name: "Carp" } }, admin);
    expect(created.errors).toBeUndefined();
    await eventually(async () => (await other.gql(TenantStatusDocument, { slug: "carp" }, admin)).data?.tenantStatus.provisioningState === "ACTIVE", 60_000);
    await other.stop();
    const carp = await tenantWorkflowId("carp");
    const missed = (await db.query<{ sequence: string }>(`select sequence from event where topic = $1 order by sequence`, [`workflow:${carp}`])).map((r) =>
      Number(r.sequence),
    );
    expect(missed.length).toBeGreaterThan(9);

    // The network comes back: a server on the same port.
    t = await startTestGantry({ db, env: { ...env, PORT: port } });
    await expect.poll(() => page.textContent("#live"), { timeout: 30_000 }).toContain("Live");
    await page.locator(`#workflows tr[data-id="${carp}"][data-status="COMPLETED"]`).waitFor();
    await expect
      .poll(async () => {
        const shown = await page.locator("#feed li").evaluateAll((items) => items.map((li) => Number(li.getAttribute("data-sequence"))));
        return missed.every((s) => shown.includes(s));
      })
      .toBe(true);
    const shown = await page.locator("#feed li").evaluateAll((items) => items.map((li) => Number(li.getAttribute("data-sequence"))));
    expect(new Set(shown).size).toBe(shown.length);
    expect(await page.locator(`#workflows tr[data-id="${carp}"]`).count()).toBe(1);
    await page.screenshot({ path: artifact("workflows.png"), fullPage: true });
    expect(pageErrors).toEqual([]);
  }, 180_000);

  it("serves GraphiQL from its own bundle: a query, then a subscription over graphql-ws with the admin key from the header editor", async () => {
    const res = await fetch(`${t.url}/graphiql/`);
    expect(res.status).toBe(200);
    expect(await res.text()).not.toMatch(/https?:\/\/(?!www\.w3\.org)/);
    const gi = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const external: string[] = [];
    gi.on("request", (r) => {
      if (!r.url().startsWith(t.url) && !r.url().startsWith("data:") && !r.url().startsWith("blob:")) external.push(r.url());
    });
    await gi.goto(`${t.url}/graphiql/`);
    await gi.locator(".graphiql-container").waitFor();
    await gi.getByRole("button", { name: /Execute query/i }).click();
    await expect.poll(async () => (await gi.locator(".result-window").textContent()) ?? "", { timeout: 20_000 }).toContain("ANONYMOUS");

    // A subscription over graphql-ws with the admin key from the header editor.
    await gi.evaluate(
      ({ key }) => {
        type Cm = { CodeMirror: { setValue(v: string): void } };
        const doc = (globalThis as unknown as { document: { querySelector(s: string): unknown } }).document;
        (doc.querySelector(".graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror") as Cm).CodeMirror.setValue(JSON.stringify({ "x-api-key": key }));
      },
      { key: env.ADMIN_API_KEYS },
    );
    // Typed as a user would (GraphiQL tracks the operation name from editor input).
    await gi.locator(".graphiql-query-editor .CodeMirror").click();
    await gi.keyboard.press("Control+A");
    await gi.keyboard.press("Delete");
    await gi.keyboard.type("subscription Live { workflowChanged { sequence type workflow { kind status } } }");
    await expect.poll(async () => (await gi.locator(".graphiql-sessions").textContent()) ?? "").toContain("Live");
    await gi.getByRole("button", { name: /Execute query/i }).click();
    await expect.poll(async () => (await gi.locator(".result-window").textContent()) ?? "").not.toContain("ANONYMOUS");
    const created = await t.gql(CreateTenantDocument, { input: { slug: "dove", name: "Dove" } }, admin);
    expect(created.errors).toBeUndefined();
    await expect
      .poll(async () => (await gi.locator(".result-window").textContent()) ?? "", { timeout: 30_000, message: "GraphiQL result window" })
      .toContain("tenant_provisioning");
    await gi.screenshot({ path: artifact("graphiql.png") });
    expect(external).toEqual([]);
    await gi.close();
  }, 60_000);
});
