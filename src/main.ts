/**
 * `npm start`: runs Gantry with the roles in GANTRY_ROLES (all by default) until SIGTERM/SIGINT.
 */
import "reflect-metadata";
import { ConfigError, loadConfig, type Config } from "./config.js";
import { createLogger } from "./log/logger.js";
import { startGantry, type Gantry } from "./app.js";
import { GRAPHQL_PATH } from "./http/server.js";

function printBanner(gantry: Gantry, config: Config): void {
  const lines = [
    "",
    `Gantry is ready`,
    `  GraphQL (HTTP + graphql-ws): ${config.publicUrl}${GRAPHQL_PATH}`,
    `  database: ${gantry.database}`,
    `  roles: ${[...config.roles].join(", ")}`,
  ];
  if (gantry.secrets.newAdminKey) {
    lines.push(`  admin key (shown once; also kept in ${gantry.secrets.file}): ${gantry.secrets.newAdminKey}`);
  } else if (gantry.secrets.generated.length === 0 && config.adminApiKeys.length > 0) {
    lines.push(`  admin key: from ADMIN_API_KEYS or ${gantry.secrets.file}`);
  }
  lines.push(
    `  send it as:  curl -H 'X-API-Key: <admin key>' -H 'content-type: application/json' \\`,
    `                 -d '{"query":"{ viewer { kind } }"}' ${config.publicUrl}${GRAPHQL_PATH}`,
    `  tenant token: npm run gantry -- token --tenant <slug-or-id>`,
    "",
  );
  process.stdout.write(lines.join("\n") + "\n");
}

export async function runServer(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`gantry: invalid configuration: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  const log = createLogger(config.logLevel);
  let gantry: Gantry;
  try {
    gantry = await startGantry(config, log);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`gantry: invalid configuration: ${err.message}\n`);
      process.exit(1);
    }
    log.fatal({ err }, "gantry failed to start");
    process.exit(1);
  }
  printBanner(gantry, config);

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "shutting down");
    const force = setTimeout(() => {
      log.error("shutdown took longer than 15 s; exiting");
      process.exit(1);
    }, 15_000);
    force.unref();
    gantry.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, "error during shutdown");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("SIGINT", () => shutdown("SIGINT"));
}

const invokedDirectly = process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/\\/g, "/"));
if (invokedDirectly) void runServer();
