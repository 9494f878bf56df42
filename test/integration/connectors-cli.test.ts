/** `gantry encrypt-config` (built program): its envelope is accepted by registerConnector as `configEncrypted`. */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decryptSecret } from "../../src/crypto/index.js";
import { CLIENT_CONFIG_AAD } from "../../src/connectors/secrets.js";
import { startTestGantry, type TestGantry } from "../helpers/server.js";
import { createTenant, register } from "../helpers/connectors.js";

const CLI = path.resolve("dist/src/cli/gantry.js");

function encryptConfig(input: string, env: Record<string, string>, args: string[] = []): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [CLI, "encrypt-config", ...args], { env: { ...process.env, ...env } }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
    child.stdin!.end(input);
  });
}

describe("gantry encrypt-config", () => {
  const masterKey = randomBytes(32).toString("base64");
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "gantry-cli-"));
  let t: TestGantry;

  beforeAll(async () => {
    t = await startTestGantry({ env: { GANTRY_MASTER_KEY: masterKey } });
  });
  afterAll(async () => {
    await t.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it("seals a JSON config from stdin that registerConnector accepts and never echoes", async () => {
    const secretValue = `pw-${randomBytes(6).toString("hex")}`;
    const out = await encryptConfig(JSON.stringify({ password: secretValue }), { GANTRY_MASTER_KEY: masterKey, GANTRY_DATA_DIR: dataDir });
    expect(out.code).toBe(0);
    const envelope = out.stdout.trim();
    expect(envelope).toMatch(/^gcm1\./);
    expect(envelope).not.toContain(secretValue);
    expect(JSON.parse(decryptSecret(Buffer.from(masterKey, "base64"), envelope, CLIENT_CONFIG_AAD))).toEqual({ password: secretValue });

    const token = await t.tokenFor(await createTenant(t.db, "cli-tenant"));
    const registered = await register(t, token, { configEncrypted: envelope });
    expect(registered.connector.hasConfig).toBe(true);
    const [row] = await t.db.query(`select config_envelope, config_source from connector where id = $1`, [registered.connector.id]);
    expect(row).toEqual({ config_envelope: envelope, config_source: "CLIENT" });
  });

  it("refuses input that is not a JSON object", async () => {
    const out = await encryptConfig("[1,2]", { GANTRY_MASTER_KEY: masterKey, GANTRY_DATA_DIR: dataDir });
    expect(out.code).toBe(2);
    expect(out.stderr).toMatch(/JSON object/);
  });

  it("refuses an envelope sealed under another key", async () => {
    const other = await encryptConfig("{}", { GANTRY_MASTER_KEY: randomBytes(32).toString("base64"), GANTRY_DATA_DIR: dataDir });
    const token = await t.tokenFor(await createTenant(t.db, "cli-other"));
    await expect(register(t, token, { configEncrypted: other.stdout.trim() })).rejects.toThrow(/master key/);
  });
});
