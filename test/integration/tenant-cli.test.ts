/**
 * `gantry tenants create … --watch` and `gantry tenants status` as an operator runs them: the built
 * CLI as a subprocess against a real server (HTTP + graphql-ws). Needs the build (`npm test`
 * builds first).
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundledMigrationsDir } from "../../src/tenants/steps/index.js";
import { startTestGantry, type TestGantry } from "../helpers/server.js";

const CLI = path.resolve("dist/src/cli/gantry.js");

function gantry(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
  child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve) => child.once("exit", (code) => resolve({ code, stdout, stderr })));
}

describe("gantry", () => {
  it("prints its usage on help (exit 0, stdout) and refuses an unknown command (exit 2, stderr)", async () => {
    for (const flag of ["help", "--help", "-h"]) {
      const res = await gantry([flag]);
      expect(res).toMatchObject({ code: 0, stderr: "" });
      expect(res.stdout).toMatch(/^usage: gantry \[start\]\n[\s\S]*gantry tenants create/);
    }
    const unknown = await gantry(["nope"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stdout).toBe("");
    expect(unknown.stderr).toMatch(/^gantry: unknown command "nope"\nusage: gantry \[start\]/);
  });
});

// Each case spawns the CLI (a whole Node process) several times: on a loaded machine that takes a while.
describe("gantry tenants", { timeout: 180_000 }, () => {
  let t: TestGantry;
  let sqlDir: string;
  let auth: string[];

  beforeAll(async () => {
    sqlDir = fs.mkdtempSync(path.join(os.tmpdir(), "gantry-cli-sql-"));
    fs.cpSync(bundledMigrationsDir(), sqlDir, { recursive: true });
    t = await startTestGantry({ env: { GANTRY_TENANT_MIGRATIONS_DIR: sqlDir } });
    auth = ["--url", t.graphqlUrl, "--api-key", t.adminKey];
  });
  afterAll(async () => {
    await t.stop();
    fs.rmSync(sqlDir, { recursive: true, force: true });
  });

  it("creates a tenant and watches the nine steps to ACTIVE (exit 0)", async () => {
    const res = await gantry(["tenants", "create", "cli-ok", "--name", "CLI OK", "--watch", ...auth]);
    expect(res.stderr).toBe("");
    expect(res.code).toBe(0);
    const lines = res.stdout.trim().split("\n");
    expect(lines[0]).toMatch(/^cli-ok PROVISIONING \[.*\] \d\/9/);
    expect(lines).toContain("Tenant cli-ok: ACTIVE  [███████████████████████████] 9/9");
    expect(lines.filter((l) => l.startsWith("  ✔ step_"))).toHaveLength(9);
    // Progress lines were printed as the steps moved, not only at the end.
    expect(lines.filter((l) => l.startsWith("cli-ok PROVISIONING")).length).toBeGreaterThan(2);

    const status = await gantry(["tenants", "status", "cli-ok", "--json", ...auth]);
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ slug: "cli-ok", provisioningState: "ACTIVE", failedSteps: [] });
  });

  it("exits 1 naming the failed migration when the pipeline fails", async () => {
    fs.writeFileSync(path.join(sqlDir, "027b_broken.sql"), "select * from missing_table;\n");
    try {
      const res = await gantry(["tenants", "create", "cli-bad", "--name", "CLI Bad", "--watch", ...auth]);
      expect(res.code).toBe(1);
      expect(res.stdout).toContain("  ✘ step_3  Apply the tenant's SQL migrations — Migration 027b failed");
      expect(res.stdout).toContain('error: step_3: Migration 027b failed: relation "missing_table" does not exist');
      const status = await gantry(["tenants", "status", "cli-bad", ...auth]);
      expect(status.stdout).toContain("Tenant cli-bad: FAILED  [██████░░░░░░░░░░░░░░░░░░░░░] 2/9");
    } finally {
      fs.rmSync(path.join(sqlDir, "027b_broken.sql"));
    }
  });

  it("reports API errors and usage", async () => {
    const missing = await gantry(["tenants", "status", "no-such", ...auth]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('NOT_FOUND: Tenant "no-such" not found');
    const bad = await gantry(["tenants", "create", "Bad!", "--name", "x", ...auth]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("BAD_USER_INPUT");
    const wrongKey = await gantry(["tenants", "status", "cli-ok", "--url", t.graphqlUrl, "--api-key", "not-the-admin-key-at-all"]);
    expect(wrongKey.stderr).toContain("UNAUTHENTICATED");
    expect((await gantry(["tenants", "create", "no-name", ...auth])).code).toBe(2);
  });
});
