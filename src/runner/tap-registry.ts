/**
 * The tap registry: which command runs a connector's `tapName`. In order (docs/RUNNER.md):
 *   1. an entry of the operator's registry file (`GANTRY_TAPS`), by exact tap name;
 *   2. a bundled tap (`tap-csv`, `tap-postgres`, `tap-synthetic`), run with this Node;
 *   3. for `MELTANO` connectors, the `meltano invoke` template;
 *   4. otherwise the tap name itself, found on the PATH.
 * Tap names come from tenants, so only `tap-<name>` (no path separators) is ever executed by
 * name: a tenant cannot make the runner start an arbitrary program.
 *
 * Templates are an argv (no shell). Placeholders: `{tapName}`, `{tapVersion}` (`latest` when
 * unset), `{meltanoEnvironment}`, and the files `{config}`, `{state}`, `{catalog}`; the Singer
 * flags `--config`/`--state`/`--catalog` are appended for the files a template does not mention.
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export interface TapCommandTemplate {
  command: string;
  args?: string[];
  /** Extra environment for the tap (values may use the same placeholders). */
  env?: Record<string, string>;
}

export interface TapConnector {
  tapName: string;
  tapVersion?: string | null;
  connectorType?: string | null;
  meltanoEnvironment?: string | null;
}

export interface ResolvedTap {
  /** Where the command came from, for logs and errors. */
  source: "registry" | "bundled" | "meltano" | "path";
  template: TapCommandTemplate;
  vars: Record<string, string>;
}

export const BUNDLED_TAPS = ["tap-csv", "tap-postgres", "tap-synthetic"] as const;

export const MELTANO_TEMPLATE: TapCommandTemplate = {
  command: "meltano",
  args: ["--environment", "{meltanoEnvironment}", "invoke", "{tapName}"],
  env: { MELTANO_ENVIRONMENT: "{meltanoEnvironment}" },
};

const TAP_NAME = /^tap-[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** The repository root (the directory holding Gantry's package.json), from here or from dist/. */
function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = path.join(dir, "package.json");
    if (fs.existsSync(candidate) && fs.existsSync(path.join(dir, "src", "taps"))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error("cannot find Gantry's package root for the bundled taps");
    dir = parent;
  }
}

/** Absolute path of a bundled tap's compiled entry (`npm run build` produces it). */
export function bundledTapPath(name: (typeof BUNDLED_TAPS)[number]): string {
  return path.join(packageRoot(), "dist", "src", "taps", `${name}.js`);
}

/** Reads and checks an operator's registry file: `{ "taps": { "tap-x": { "command", "args", "env" } } }`. */
export function loadTapRegistryFile(file: string): Record<string, TapCommandTemplate> {
  const parsed = JSON.parse(fs.readFileSync(file, "utf8")) as { taps?: Record<string, TapCommandTemplate> };
  const taps = parsed.taps ?? {};
  for (const [name, entry] of Object.entries(taps)) {
    if (typeof entry?.command !== "string" || (entry.args !== undefined && !Array.isArray(entry.args))) {
      throw new Error(`${file}: taps.${name} needs "command" (a string) and optional "args" (a list)`);
    }
  }
  return taps;
}

export class TapRegistry {
  constructor(
    private readonly entries: Record<string, TapCommandTemplate> = {},
    private readonly meltano: TapCommandTemplate = MELTANO_TEMPLATE,
  ) {}

  resolve(connector: TapConnector): ResolvedTap {
    const vars = {
      tapName: connector.tapName,
      tapVersion: connector.tapVersion || "latest",
      meltanoEnvironment: connector.meltanoEnvironment || "prod",
    };
    const entry = this.entries[connector.tapName];
    if (entry) return { source: "registry", template: entry, vars };
    if (!TAP_NAME.test(connector.tapName)) {
      throw new Error(`tap "${connector.tapName}" is not in the tap registry and is not a tap-<name> command`);
    }
    if ((BUNDLED_TAPS as readonly string[]).includes(connector.tapName)) {
      const script = bundledTapPath(connector.tapName as (typeof BUNDLED_TAPS)[number]);
      if (!fs.existsSync(script)) throw new Error(`bundled tap ${connector.tapName} is not built (${script}); run npm run build`);
      return { source: "bundled", template: { command: process.execPath, args: [script] }, vars };
    }
    if (connector.connectorType === "MELTANO") return { source: "meltano", template: this.meltano, vars };
    return { source: "path", template: { command: connector.tapName }, vars };
  }
}

export interface TapFiles {
  config: string;
  state?: string;
  catalog?: string;
}

function fill(text: string, values: Record<string, string | undefined>): string {
  return text.replace(/\{(\w+)\}/g, (whole, name: string) => values[name] ?? whole);
}

/** The argv and environment for a resolved tap and its files. */
export function tapCommandLine(tap: ResolvedTap, files: TapFiles): { command: string; args: string[]; env: Record<string, string> } {
  const values: Record<string, string | undefined> = { ...tap.vars, config: files.config, state: files.state ?? "", catalog: files.catalog ?? "" };
  const template = tap.template.args ?? [];
  const args = template.map((a) => fill(a, values));
  const mentions = (name: string) => template.some((a) => a.includes(`{${name}}`));
  if (!mentions("config")) args.push("--config", files.config);
  if (files.state && !mentions("state")) args.push("--state", files.state);
  if (files.catalog && !mentions("catalog")) args.push("--catalog", files.catalog);
  const env = Object.fromEntries(Object.entries(tap.template.env ?? {}).map(([k, v]) => [k, fill(v, values)]));
  return { command: tap.template.command, args, env };
}
