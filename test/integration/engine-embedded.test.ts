/**
 * The engine on the embedded database (PGlite: one backend behind a few multiplexed
 * connections): parallel rounds, heartbeats, the callback endpoint and event reads share it
 * without deadlock, because no transaction ever waits on another connection. Runs the built
 * modules (the embedded database's launcher is a compiled script); `npm test` builds first.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { randomBytes, randomUUID } from "node:crypto";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Gantry } from "../../src/app.js";

// The same modules as src/, from dist/ (one registry, shared with the app started below).
const dist = (p: string) => pathToFileURL(path.resolve("dist", p)).href;
const { loadConfig } = (await import(dist("src/config.js"))) as typeof import("../../src/config.js");
const { createLogger } = (await import(dist("src/log/logger.js"))) as typeof import("../../src/log/logger.js");
const { startGantry } = (await import(dist("src/app.js"))) as typeof import("../../src/app.js");
const { systemEm } = (await import(dist("src/db/orm.js"))) as typeof import("../../src/db/orm.js");
const { defineWorkflow, startWorkflow, workflowRegistry } = (await import(dist("src/engine/index.js"))) as typeof import("../../src/engine/index.js");

let token: string | undefined;
let tokenArrived: () => void = () => undefined;
const arrived = new Promise<void>((r) => (tokenArrived = r));
workflowRegistry.register(
  defineWorkflow({
    kind: "test_embedded",
    steps: [
      { name: "one", kind: "action", run: async () => ({ output: { ok: 1 } }) },
      { name: "two", kind: "action", run: async (ctx) => ({ output: { seen: Object.keys(ctx.outputs) } }) },
      { name: "three", kind: "action", run: async () => undefined },
    ],
  }),
);
workflowRegistry.register(
  defineWorkflow({
    kind: "test_embedded_callback",
    steps: [
      {
        name: "wait",
        kind: "callback",
        run: async (ctx) => {
          token = ctx.callback!.token;
          tokenArrived();
        },
      },
    ],
  }),
);

describe("engine on the embedded database", () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "gantry-engine-embedded-"));
  let gantry: Gantry;
  beforeAll(async () => {
    const config = loadConfig({
      PORT: "0",
      GANTRY_DATA_DIR: dataDir,
      GANTRY_MASTER_KEY: randomBytes(32).toString("base64"),
      JWT_SECRET: randomBytes(32).toString("hex"),
      ADMIN_API_KEYS: `test-admin-${randomBytes(8).toString("hex")}`,
      LOG_LEVEL: "warn",
    });
    gantry = await startGantry(config, createLogger("warn"));
  }, 120_000);
  afterAll(async () => {
    await gantry?.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it("runs workflows to completion and takes a callback", { timeout: 120_000 }, async () => {
    const orm = gantry.services.orm;
    const tenantId = randomUUID();
    await orm.em.getConnection().execute(`insert into tenant (id, slug, name) values (?, 'embedded', 'Embedded')`, [tenantId]);
    const ids = await systemEm(orm).transactional(async (tem) => {
      const out: string[] = [];
      for (let i = 0; i < 20; i++) out.push((await startWorkflow(tem, { kind: "test_embedded", tenantId })).id);
      out.push((await startWorkflow(tem, { kind: "test_embedded_callback", tenantId })).id);
      return out;
    });
    await arrived;
    const res = await fetch(`${gantry.http!.url}/api/v1/provisioning/callback`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ callback_token: token, status: "success" }),
    });
    expect(res.status).toBe(200);
    // Wait on the event stream for the last workflow.completed.
    const events = gantry.services.events.subscribe({ types: ["workflow.completed"] }, 0);
    const done = new Set<string>();
    for await (const event of events) {
      done.add(event.topic.slice("workflow:".length));
      if (ids.every((id) => done.has(id))) break;
    }
    await events.return?.();
    const [row] = await orm.em.getConnection().execute<{ n: string }[]>(`select count(*) as n from workflow_step where status = 'COMPLETED'`);
    expect(Number(row!.n)).toBe(61);
  });
});
