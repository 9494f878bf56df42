/**
 * Secrets that were not configured are generated once into `<dataDir>/secrets.json` (mode 0600)
 * and reused on every later start, so a newcomer needs nothing set and a restart keeps working
 * tokens. Replicas must share them: set JWT_SECRET, ADMIN_API_KEYS and GANTRY_MASTER_KEY.
 */
import fs from "node:fs";
import path from "node:path";
import { randomBytes } from "node:crypto";
import type { Config } from "./config.js";
import { parseMasterKey } from "./config.js";
import { randomToken } from "./crypto/index.js";

interface StoredSecrets {
  jwtSecret?: string;
  adminApiKey?: string;
  masterKey?: string;
}

export interface SecretsOutcome {
  /** Names of the secrets generated during this start (first start only). */
  generated: string[];
  /** The generated admin key, to be shown once on the console when it was just created. */
  newAdminKey: string | undefined;
  file: string;
}

export function resolveSecrets(config: Config): SecretsOutcome {
  const file = path.join(config.dataDir, "secrets.json");
  const needJwt = !config.jwtSecret && !config.jwksUrl;
  const needAdmin = config.adminApiKeys.length === 0;
  const needMaster = !config.masterKey;
  const outcome: SecretsOutcome = { generated: [], newAdminKey: undefined, file };
  if (!needJwt && !needAdmin && !needMaster) return outcome;

  const stored: StoredSecrets = fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, "utf8")) as StoredSecrets) : {};
  if (needJwt && !stored.jwtSecret) {
    stored.jwtSecret = randomBytes(48).toString("base64url");
    outcome.generated.push("JWT_SECRET");
  }
  if (needAdmin && !stored.adminApiKey) {
    stored.adminApiKey = randomToken(24, "gak_");
    outcome.generated.push("ADMIN_API_KEYS");
    outcome.newAdminKey = stored.adminApiKey;
  }
  if (needMaster && !stored.masterKey) {
    stored.masterKey = randomBytes(32).toString("base64");
    outcome.generated.push("GANTRY_MASTER_KEY");
  }
  if (outcome.generated.length > 0) {
    fs.mkdirSync(config.dataDir, { recursive: true });
    fs.writeFileSync(file, JSON.stringify(stored, null, 2), { mode: 0o600 });
  }
  if (needJwt) config.jwtSecret = stored.jwtSecret;
  if (needAdmin) config.adminApiKeys = [stored.adminApiKey!];
  if (needMaster) config.masterKey = parseMasterKey("GANTRY_MASTER_KEY", stored.masterKey!);
  return outcome;
}
