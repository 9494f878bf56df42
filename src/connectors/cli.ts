/**
 * `gantry encrypt-config [--file <path>]`: seals a tap config (a JSON object, from the file or
 * stdin) into the `configEncrypted` envelope that `registerConnector` accepts, with this
 * deployment's master key (GANTRY_MASTER_KEY or the data directory's secrets file). The plaintext
 * never reaches Gantry's API or database. Format: docs/SECRETS.md.
 */
import fs from "node:fs";
import { parseArgs } from "node:util";
import { loadConfig } from "../config.js";
import { resolveSecrets } from "../secrets.js";
import { makeClientEnvelope, requireMasterKey } from "./secrets.js";

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

export async function encryptConfigCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { file: { type: "string", short: "f" } } });
  const text = values.file && values.file !== "-" ? fs.readFileSync(values.file, "utf8") : await readStdin();
  let config: unknown;
  try {
    config = JSON.parse(text);
  } catch {
    process.stderr.write("gantry encrypt-config: the input is not valid JSON\n");
    return 2;
  }
  if (!config || typeof config !== "object" || Array.isArray(config)) {
    process.stderr.write("gantry encrypt-config: the tap config must be a JSON object\n");
    return 2;
  }
  const appConfig = loadConfig();
  const outcome = resolveSecrets(appConfig);
  if (outcome.generated.includes("GANTRY_MASTER_KEY")) {
    process.stderr.write(`gantry encrypt-config: generated a master key into ${outcome.file}; the server must use the same one\n`);
  }
  process.stdout.write(makeClientEnvelope(requireMasterKey(appConfig.masterKey), config as Record<string, unknown>) + "\n");
  return 0;
}
