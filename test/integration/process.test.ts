/**
 * The built program as a newcomer runs it: `node dist/src/main.js` with no DATABASE_URL starts
 * on the embedded database, serves GraphQL, and keeps its data across a restart. Needs the build
 * (`npm test` builds first).
 */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { randomUUID } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { PGlite } from "@electric-sql/pglite";

const MAIN = path.resolve("dist/src/main.js");
// NODE_ENV too: a newcomer has none, and Apollo only installs its own signal handlers outside
// "test" (they made SIGTERM hang for 15 s and exit 1 until main.ts became their only owner).
const CLEAN_ENV = Object.fromEntries(
  Object.entries(process.env).filter(
    ([k]) => !["DATABASE_URL", "JWT_SECRET", "ADMIN_API_KEYS", "GANTRY_MASTER_KEY", "PORT", "NODE_ENV"].includes(k),
  ),
);

interface Running {
  child: ChildProcess;
  url: string;
  output: () => string;
}

function startMain(env: Record<string, string>): Promise<Running> {
  const child = spawn(process.execPath, [MAIN], { env: { ...CLEAN_ENV, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /GraphQL \(HTTP \+ graphql-ws\): (http:\/\/\S+)/.exec(output);
      if (match) resolve({ child, url: match[1]!, output: () => output });
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.once("exit", (code) => reject(new Error(`exited with ${code} before ready:\n${output}`)));
  });
}

function stop(running: Running): Promise<number | null> {
  return new Promise((resolve) => {
    running.child.once("exit", (code) => resolve(code));
    running.child.kill("SIGTERM");
  });
}

function runToExit(env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [MAIN], { env: { ...CLEAN_ENV, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve) => child.once("exit", (code) => resolve({ code, stderr })));
}

async function query(url: string, body: string, apiKey?: string): Promise<unknown> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (apiKey) headers["x-api-key"] = apiKey;
  return (await fetch(url, { method: "POST", headers, body })).json();
}

describe("the built program", () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "gantry-embedded-"));
  afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  it("starts on the embedded database, serves GraphQL, and keeps data across restarts", async () => {
    const env = { GANTRY_DATA_DIR: dataDir, PORT: "0", LOG_LEVEL: "warn" };
    const first = await startMain(env);
    expect(first.output()).toContain("embedded PostgreSQL (PGlite)");
    const adminKey = /admin key \(shown once[^)]*\): (\S+)/.exec(first.output())?.[1];
    expect(adminKey).toBeTruthy();
    expect(await query(first.url, '{"query":"{ __typename }"}')).toEqual({ data: { __typename: "Query" } });
    expect(await stop(first)).toBe(0);

    // Write a row straight into the stopped database, as an earlier run would have.
    const id = randomUUID();
    const pg = await PGlite.create({ dataDir: path.join(dataDir, "pglite") });
    await pg.query(`insert into tenant (id, slug, name) values ($1, 'kept', 'Kept')`, [id]);
    await pg.close();

    for (let restart = 0; restart < 2; restart++) {
      const again = await startMain(env);
      expect(again.output()).not.toContain("shown once");
      const res = await query(again.url, '{"query":"{ tenants { nodes { id slug } } }"}', adminKey);
      expect(res).toEqual({ data: { tenants: { nodes: [{ id, slug: "kept" }] } } });
      expect(await stop(again)).toBe(0);
    }
  }, 120_000);

  it.each([
    [{ DATABASE_URL: "postgres//nope" }, "DATABASE_URL"],
    [{ JWT_SECRET: "too-short" }, "JWT_SECRET"],
    [{ GANTRY_ROLES: "api,chef" }, "GANTRY_ROLES"],
  ])("exits 1 naming the variable for %o", async (env, variable) => {
    const { code, stderr } = await runToExit({ ...env, GANTRY_DATA_DIR: dataDir });
    expect(code).toBe(1);
    const lines = stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(variable);
  });
});
