/**
 * The summary of a bench run: for every scenario, Gantry's figure beside its peer and its limit
 * (measured in the same run), the ratio, and the target from issue 7 — met or missed. Computed
 * from each scenario's `figures`, so scenarios only report numbers and this file owns the aims.
 */
export interface TargetRow {
  scenario: string;
  figure: string;
  gantry: string;
  peer: string;
  limit: string;
  ratio: string;
  target: string;
  /** undefined: not judged (no target, or a size smaller than the target's, e.g. --quick). */
  met: boolean | undefined;
}

type Figures = Record<string, number>;

const n0 = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? "—" : Math.round(x).toLocaleString("en-US"));
const ms = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? "—" : `${x.toFixed(x < 10 ? 2 : 0)} ms`);
const pct = (x: number) => (Number.isFinite(x) ? `${Math.round(x * 100)} %` : "—");
const times = (x: number) => (Number.isFinite(x) ? `${x.toFixed(2)}×` : "—");

/** The rows for one scenario's figures (empty when it has none we know). */
export function targetRows(scenario: string, f: Figures): TargetRow[] {
  const row = (r: Omit<TargetRow, "scenario">): TargetRow => ({ scenario, ...r });
  switch (scenario) {
    case "engine": {
      const vsPeer = f.stepsPerSecond! / f.graphileJobsPerSecond!;
      const vsLimit = f.stepsPerSecond! / f.rawUpdateCommitsPerSecond!;
      const full = f.workflows! >= 1000;
      return [
        row({
          figure: `steps/s, ${n0(f.workflows)} workflows × ${n0(f.steps! / f.workflows!)} no-op steps`,
          gantry: n0(f.stepsPerSecond),
          peer: `graphile-worker ${n0(f.graphileJobsPerSecond)} jobs/s`,
          limit: `raw UPDATE commits ${n0(f.rawUpdateCommitsPerSecond)}/s`,
          ratio: `${times(vsPeer)} peer, ${pct(vsLimit)} of limit`,
          target: "≥ 1.0× graphile-worker and ≥ 50 % of the commit limit",
          met: full ? vsPeer >= 1 && vsLimit >= 0.5 : undefined,
        }),
        row({
          figure: "step hand-off p50 / p99",
          gantry: `${ms(f.handoffP50Ms)} / ${ms(f.handoffP99Ms)}`,
          peer: `graphile-worker ${ms(f.graphileHandoffP50Ms)} / ${ms(f.graphileHandoffP99Ms)}`,
          limit: "—",
          // graphile-worker's chained job waits behind the whole backlog (FIFO): its hand-off is
          // seconds, so "how many times shorter" reads better than a ratio that rounds to 0.00×.
          ratio: f.graphileHandoffP50Ms! > 0 && f.handoffP50Ms! > 0 ? `${times(f.graphileHandoffP50Ms! / f.handoffP50Ms!)} shorter than the peer's` : "—",
          target: "p50 < 5 ms",
          met: full ? f.handoffP50Ms! < 5 : undefined,
        }),
      ];
    }
    case "subscriptions": {
      const n = f.largest!;
      return [
        row({
          figure: `commit → delivery p99, ${n0(n)} subscribers, ${n0(f.rate)} events/s`,
          gantry: `${ms(f.gantryP99Ms)} (p50 ${ms(f[`gantry${n}P50Ms`])}), ${n0(f.gantryDropped)} dropped`,
          peer: "—",
          limit: `bare ws ${ms(f.bareP99Ms)} (p50 ${ms(f[`bare${n}P50Ms`])})`,
          ratio: `${times(f.gantryP99Ms! / f.bareP99Ms!)} the bare p99`,
          target: "10,000 subscribers, p99 < 100 ms, 0 dropped",
          met: n >= 10_000 ? f.gantryP99Ms! < 100 && f.gantryDropped === 0 : undefined,
        }),
      ];
    }
    case "reads":
      return [
        row({
          figure: "`connectors` (50 with last run) req/s, 32 connections",
          gantry: n0(f.gantryRps),
          peer: "—",
          limit: `bare node:http + pg ${n0(f.bareRps)}`,
          ratio: pct(f.ratio!),
          target: "≥ 50 % of the bare handler",
          met: f.ratio! >= 0.5,
        }),
      ];
    case "webhook":
      return [
        row({
          figure: "verified run reports/s",
          gantry: n0(f.gantryReportsPerSecond),
          peer: "—",
          limit: `bare verify + update ${n0(f.bareReportsPerSecond)}`,
          ratio: pct(f.ratio!),
          target: "≥ 50 % of the bare handler",
          met: f.ratio! >= 0.5,
        }),
      ];
    case "sync":
      return [
        row({
          figure: `rows/s end to end, ${n0(f.rows)} tap-synthetic rows`,
          gantry: n0(f.syncRowsPerSecond),
          peer: "—",
          limit: `COPY ${n0(f.copyRowsPerSecond)} rows/s`,
          ratio: `${n0(f.syncVsCopyPercent)} %`,
          target: "≥ 50,000 rows/s and ≥ 30 % of COPY",
          met: f.rows === undefined || f.rows >= 1_000_000 ? f.syncRowsPerSecond! >= 50_000 && f.syncVsCopyPercent! >= 30 : undefined,
        }),
      ];
    case "scheduler":
      return [
        row({
          figure: `${n0(f.connectors)} due connectors, 2 schedulers: time to dispatch all`,
          gantry: `${ms(f.dispatchAllMs)}, ${n0(f.duplicates)} duplicates`,
          peer: "—",
          limit: "—",
          ratio: "—",
          target: "< 5 s, 0 duplicates",
          met: f.connectors! >= 10_000 ? f.dispatchAllMs! < 5000 && f.duplicates === 0 : undefined,
        }),
      ];
    case "provisioning":
      return [
        row({
          figure: "tenants at once through the 9-step pipeline: tenants/minute (PostgreSQL)",
          gantry: n0(f.postgresTenantsPerMinute),
          peer: "—",
          limit: "—",
          ratio: "—",
          target: "— (reported, no target)",
          met: undefined,
        }),
      ];
    case "http":
      return [
        row({
          figure: "`{ __typename }` req/s",
          gantry: n0(f.gantryRps),
          peer: `bare Apollo ${n0(f.bareApolloRps)}`,
          limit: "—",
          ratio: pct(f.ratio!),
          target: "— (reported, no target)",
          met: undefined,
        }),
      ];
    default:
      return [];
  }
}

export function verdict(met: boolean | undefined): string {
  return met === undefined ? "—" : met ? "met" : "**missed**";
}
