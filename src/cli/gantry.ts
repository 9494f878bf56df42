#!/usr/bin/env node
/**
 * The `gantry` command. `gantry` / `gantry start` runs the server; `gantry migrate` applies
 * migrations; `gantry token --tenant <slug-or-id>` mints a development token for a tenant;
 * `gantry help` prints the usage. Domains add commands to `COMMANDS`.
 *
 * The server and the database layer are imported by the commands that use them, not up front:
 * loading the whole app took ~1.5 s, which `gantry help`, a mistyped command and
 * `encrypt-config` (no database) paid for nothing.
 */
import "reflect-metadata";
import { parseArgs } from "node:util";
import { ConfigError, loadConfig } from "../config.js";
import { createLogger } from "../log/logger.js";
import { resolveSecrets } from "../secrets.js";
import { encryptConfigCommand } from "../connectors/cli.js";
import { tenantsCommand } from "./tenants.js";

type Command = (argv: string[]) => Promise<number>;

const USAGE = `usage: gantry [start]
       gantry help
       gantry migrate
       gantry token --tenant <slug-or-id> [--ttl <seconds>]
       gantry encrypt-config [--file <tap-config.json>]   (reads stdin without --file)
       gantry tenants create <slug> --name <name> [--watch] | gantry tenants status <slug>`;

async function migrateCommand(): Promise<number> {
  const config = loadConfig();
  const log = createLogger(config.logLevel);
  const { openDatabase } = await import("../app.js");
  const { orm, embedded, database } = await openDatabase(config, log);
  await orm.close(true);
  await embedded?.stop();
  process.stdout.write(`migrations applied on ${database}\n`);
  return 0;
}

async function tokenCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { tenant: { type: "string" }, ttl: { type: "string" } } });
  if (!values.tenant) {
    process.stderr.write("gantry token: --tenant <slug-or-id> is required\n");
    return 2;
  }
  const config = loadConfig();
  resolveSecrets(config);
  const log = createLogger("warn");
  const [{ openDatabase }, { Authenticator }] = await Promise.all([import("../app.js"), import("../auth/authenticator.js")]);
  const { orm, embedded } = await openDatabase(config, log);
  try {
    const rows = await orm.em
      .getConnection()
      .execute<{ id: string; slug: string; provisioning_state: string }[]>(
        `select id, slug, provisioning_state from tenant where slug = ? or id::text = ?`,
        [values.tenant, values.tenant],
      );
    const tenant = rows[0];
    if (!tenant) {
      process.stderr.write(`gantry token: no tenant "${values.tenant}"\n`);
      return 1;
    }
    if (tenant.provisioning_state === "DEPROVISIONED") {
      process.stderr.write(`gantry token: tenant "${tenant.slug}" is deprovisioned\n`);
      return 1;
    }
    const auth = new Authenticator(config, { isTenantActive: async () => true });
    const ttl = values.ttl ? Number(values.ttl) : 12 * 3600;
    process.stdout.write((await auth.signTenantToken(tenant.id, ttl)) + "\n");
    return 0;
  } finally {
    await orm.close(true);
    await embedded?.stop();
  }
}

export const COMMANDS: Record<string, Command> = {
  migrate: migrateCommand,
  token: tokenCommand,
  "encrypt-config": encryptConfigCommand,
  tenants: tenantsCommand,
};

async function main(): Promise<void> {
  const [name, ...rest] = process.argv.slice(2);
  if (!name || name === "start") return (await import("../main.js")).runServer();
  if (name === "help" || name === "--help" || name === "-h") {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`gantry: unknown command "${name}"\n${USAGE}\n`);
    process.exit(2);
  }
  try {
    process.exit(await command(rest));
  } catch (err) {
    if (err instanceof ConfigError) process.stderr.write(`gantry: invalid configuration: ${err.message}\n`);
    else process.stderr.write(`gantry ${name}: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  }
}

void main();
