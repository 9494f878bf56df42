import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config.js";

function errorFor(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error("expected a ConfigError");
}

describe("loadConfig", () => {
  it("defaults every variable", () => {
    const config = loadConfig({});
    expect(config.port).toBe(4000);
    expect(config.host).toBe("127.0.0.1");
    expect([...config.roles]).toEqual(["api", "scheduler", "worker", "runner"]);
    expect(config.databaseUrl).toBeUndefined();
    expect(config.dataDir.endsWith("/data")).toBe(true);
  });

  it.each([
    [{ DATABASE_URL: "not a url" }, "DATABASE_URL"],
    [{ DATABASE_URL: "mysql://localhost/x" }, "DATABASE_URL"],
    [{ PORT: "70000" }, "PORT"],
    [{ PORT: "abc" }, "PORT"],
    [{ GANTRY_ROLES: "api,cook" }, "GANTRY_ROLES"],
    [{ JWT_SECRET: "short" }, "JWT_SECRET"],
    [{ GANTRY_TENANT_MIGRATIONS_DIR: "/nonexistent/tenant-sql" }, "GANTRY_TENANT_MIGRATIONS_DIR"],
    [{ JWKS_URL: "ftp://keys" }, "JWKS_URL"],
    [{ ADMIN_API_KEYS: "tiny" }, "ADMIN_API_KEYS"],
    [{ GANTRY_MASTER_KEY: "c2hvcnQ=" }, "GANTRY_MASTER_KEY"],
    [{ GANTRY_SERVICES: "/nonexistent/services.json" }, "GANTRY_SERVICES"],
    [{ ICEBERG_CATALOG_URL: "nope" }, "ICEBERG_CATALOG_URL"],
    [{ LOG_LEVEL: "loud" }, "LOG_LEVEL"],
  ])("names the bad variable: %o", (env, variable) => {
    const err = errorFor(env);
    expect(err.variable).toBe(variable);
    expect(err.message.startsWith(`${variable}:`)).toBe(true);
  });

  it("accepts a 32-byte base64 master key and a roles subset", () => {
    const key = Buffer.alloc(32, 7).toString("base64");
    const config = loadConfig({ GANTRY_MASTER_KEY: key, GANTRY_ROLES: "api, worker" });
    expect(config.masterKey?.length).toBe(32);
    expect([...config.roles]).toEqual(["api", "worker"]);
  });
});
