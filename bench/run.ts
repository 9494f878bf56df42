/**
 * `npm run bench [-- --quick] [-- --only engine,http]`: every scenario, each beside its peer and
 * the machine's limit measured in the same run, printed as tables and written to
 * `bench/results/<timestamp>.json` and `bench/RESULTS.md`. Ratios are the figures to compare
 * across machines; absolute numbers move with the machine's load.
 * `--quick` runs each scenario small, to prove it still works: CI runs it (`npm run bench:quick`),
 * and a scenario that finds a correctness failure (an event lost, a duplicate run, a row missing)
 * throws, so the run exits 1. Speed is never asserted. Targets are judged in bench/targets.ts.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { execSync } from "node:child_process";
import { fileURLToPath, pathToFileURL } from "node:url";
import { quick, table, withAdmin } from "./lib.js";
import { targetRows, verdict, type TargetRow } from "./targets.js";

export interface ScenarioResult {
  rows: Record<string, string | number>[];
  figures: Record<string, number>;
  notes?: string[];
}

/** Scenario modules (compiled next to this file), each exporting `run(): Promise<ScenarioResult>`. */
const SCENARIOS: { name: string; title: string; file: string }[] = [
  { name: "http", title: "HTTP: cold start and { __typename } vs bare Apollo", file: "http.js" },
  { name: "engine", title: "Engine: step throughput vs raw commits, step hand-off latency", file: "engine.js" },
  { name: "subscriptions", title: "Subscriptions: graphql-ws subscribers while 1,000 step events/s commit, vs bare ws", file: "subscriptions.js" },
  { name: "scheduler", title: "Connectors: 10,000 due connectors, two scheduler processes", file: "scheduler.js" },
  { name: "reads", title: "Connectors: `connectors` (50) vs bare node:http + pg", file: "reads.js" },
  { name: "webhook", title: "Connectors: verified run reports/s vs bare verify-and-update", file: "webhook.js" },
  { name: "provisioning", title: "Tenant provisioning: time to ACTIVE, 50 tenants at once", file: "provisioning.js" },
  { name: "sync", title: "Runner: 1,000,000 tap-synthetic rows end to end vs COPY", file: "sync.js" },
];

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, "../..");

async function machine(): Promise<Record<string, string>> {
  const cpus = os.cpus();
  const pgVersion = await withAdmin(async (c) => (await c.query<{ v: string }>("select version() as v")).rows[0]!.v).catch(
    () => "unreachable",
  );
  let commit = "unknown";
  try {
    commit = execSync("git rev-parse --short HEAD", { cwd: repoRoot, encoding: "utf8" }).trim();
  } catch {
    // not a git checkout
  }
  return {
    cpu: `${cpus.length} × ${cpus[0]?.model ?? "unknown"}`,
    memory: `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`,
    node: process.version,
    postgres: pgVersion.split(" on ")[0]!,
    commit,
  };
}

async function main(): Promise<void> {
  const onlyArg = process.argv.find((a) => a.startsWith("--only="))?.slice("--only=".length);
  const only = onlyArg ? new Set(onlyArg.split(",")) : undefined;
  const selected = SCENARIOS.filter((s) => !only || only.has(s.name));
  const results: Record<string, ScenarioResult | { error: string }> = {};
  let failed = false;
  for (const scenario of selected) {
    process.stdout.write(`\n## ${scenario.title}\n`);
    const scenarioStarted = performance.now();
    try {
      const mod = (await import(pathToFileURL(path.join(here, scenario.file)).href)) as { run: () => Promise<ScenarioResult> };
      const result = await mod.run();
      results[scenario.name] = result;
      process.stdout.write(table(result.rows) + "\n");
      for (const note of result.notes ?? []) process.stdout.write(`- ${note}\n`);
      process.stdout.write(`(${((performance.now() - scenarioStarted) / 1000).toFixed(1)} s)\n`);
    } catch (err) {
      failed = true;
      results[scenario.name] = { error: err instanceof Error ? err.message : String(err) };
      process.stdout.write(`FAILED: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    }
  }

  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const info = await machine();
  const summary: TargetRow[] = selected.flatMap((s) => {
    const r = results[s.name]!;
    // A quick run's sizes are too small to judge a target by.
    return "error" in r ? [] : targetRows(s.name, r.figures).map((t) => (quick() ? { ...t, met: undefined } : t));
  });
  const summaryTable = table(
    summary.map((t) => ({ scenario: t.scenario, figure: t.figure, Gantry: t.gantry, peer: t.peer, limit: t.limit, ratio: t.ratio, target: t.target, result: verdict(t.met) })),
  );
  process.stdout.write(`\n## Summary${quick() ? " (--quick: sizes too small to judge targets)" : ""}\n${summaryTable}\n`);
  const report = { at: new Date().toISOString(), quick: quick(), machine: info, results, summary };
  const resultsDir = path.join(repoRoot, "bench/results");
  fs.mkdirSync(resultsDir, { recursive: true });
  fs.writeFileSync(path.join(resultsDir, `${stamp}.json`), JSON.stringify(report, null, 2));
  // RESULTS.md only from a full run of every scenario: quick or partial runs never overwrite it.
  if (!quick() && !only) {
    const md = [
      "# Benchmark results",
      "",
      "Generated by `npm run bench` (bench/run.ts) against the PostgreSQL at `DATABASE_URL`",
      "(default `postgresql://root@127.0.0.1:5432/postgres`), a fresh database per scenario. Each figure",
      "stands beside its peer (what a user would pick instead) and the machine's limit, measured in the",
      "same run: compare the ratios; absolute figures move with the machine's load.",
      "",
      ...Object.entries(info).map(([k, v]) => `- ${k}: ${v}`),
      `- at: ${report.at}`,
      "",
      "## Summary",
      "",
      summaryTable,
      "",
      ...selected.flatMap((s) => {
        const r = results[s.name]!;
        return [`## ${s.title}`, "", "error" in r ? `FAILED: ${r.error}` : table(r.rows), "", ...("notes" in r ? (r.notes ?? []).map((n) => `- ${n}`) : []), ""];
      }),
    ].join("\n");
    fs.writeFileSync(path.join(repoRoot, "bench/RESULTS.md"), md);
  }
  process.stdout.write(`\nwrote bench/results/${stamp}.json${quick() || only ? "" : " and bench/RESULTS.md"}\n`);
  if (failed) process.exit(1);
}

await main();
