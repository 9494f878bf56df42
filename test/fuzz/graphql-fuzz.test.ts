/**
 * Hostile GraphQL over HTTP, generated from the schema. `npm test` runs a few hundred cases;
 * `npm run fuzz` runs FUZZ_CASES (10,000) of them. Expect: never a crash, never an internal
 * error (masked or not), only closed error codes, never a stack trace or SQL in a message, and
 * a server that still answers afterwards within its memory bound.
 */
import fs from "node:fs";
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildGantrySchema } from "../../resolvers/index.js";
import { ERROR_CODES } from "../../src/errors/index.js";
import { fuzzCommand, generateCase, rng, type FuzzIds } from "./generate.js";
import { runCases } from "./pool.js";
import { recordReliability } from "../helpers/reliability.js";
import { noteSecret, scanForSecrets } from "../helpers/secrets.js";
import { startTestGantry, type TestGantry } from "../helpers/server.js";

const CASES = Number(process.env.FUZZ_CASES ?? 300);
const SEED = Number(process.env.FUZZ_SEED ?? 20261123);
const CONCURRENCY = 8;
const ALLOWED_STATUS = new Set([200, 400, 401, 403, 405, 413, 415]);
const LEAK = /\bat [\w.<>]+ \(|node_modules|\.ts:\d+|\bselect\b.*\bfrom\b|relation ".*"|syntax error at or near/i;

describe("GraphQL fuzz", () => {
  let t: TestGantry;
  let ids: FuzzIds;
  let tenantToken: string;

  beforeAll(async () => {
    t = await startTestGantry({ env: { LOG_LEVEL: "warn" } });
    const [a, b] = [randomUUID(), randomUUID()];
    await t.db.query(`insert into tenant (id, slug, name) values ($1, 'fuzz-a', 'A'), ($2, 'fuzz-b', 'B')`, [a, b]);
    ids = { ids: [a, b, randomUUID()], slugs: ["fuzz-a", "fuzz-b", "nobody"] };
    tenantToken = await t.tokenFor(a);
    noteSecret(t.adminKey, "admin key");
    noteSecret(t.jwtSecret, "JWT secret");
    noteSecret(tenantToken, "tenant JWT");
  });
  afterAll(() => t.stop());

  it(`survives ${CASES} generated cases`, async () => {
    const schema = await buildGantrySchema();
    const r = rng(SEED);
    const cases = Array.from({ length: CASES }, () => generateCase(r, schema, ids));
    const auths: Record<string, string>[] = [{}, { "x-api-key": t.adminKey }, { authorization: `Bearer ${tenantToken}` }, { "x-api-key": "forged-key-forged-key" }];
    const failures: string[] = [];
    const responses: string[] = [];
    let crashes = 0;
    let internal = 0;
    const codes: Record<string, number> = {};
    const { rssStart, rssPeak } = await runCases(cases, CONCURRENCY, async (c, index) => {
      const headers = { "content-type": "application/json", ...auths[index % auths.length] };
      let status = 0;
      let text = "";
      try {
        const res = await fetch(t.graphqlUrl, {
          method: "POST",
          headers,
          body: JSON.stringify({ query: c.query, variables: c.variables }),
        });
        status = res.status;
        text = await res.text();
      } catch (err) {
        crashes++;
        failures.push(`#${index} ${c.description}: transport error ${String(err)}`);
        return;
      }
      responses.push(text);
      if (status >= 500) internal++;
      if (!ALLOWED_STATUS.has(status)) failures.push(`#${index} ${c.description}: status ${status} ${text.slice(0, 200)}`);
      let body: { errors?: { message: string; extensions?: { code?: string } }[] };
      try {
        body = JSON.parse(text);
      } catch {
        failures.push(`#${index} ${c.description}: non-JSON answer (${status})`);
        return;
      }
      for (const error of body.errors ?? []) {
        const code = error.extensions?.code ?? "NONE";
        codes[code] = (codes[code] ?? 0) + 1;
        if (!ERROR_CODES.has(code)) failures.push(`#${index} ${c.description}: unknown code ${code}`);
        if (code === "INTERNAL_SERVER_ERROR") internal++;
        if (code === "INTERNAL_SERVER_ERROR") failures.push(`#${index} ${c.description}: internal error for ${c.query.slice(0, 300)}`);
        if (LEAK.test(error.message)) failures.push(`#${index} ${c.description}: leaky message ${error.message.slice(0, 200)}`);
      }
    });

    const alive = await t.gql("{ __typename }");
    fs.mkdirSync("test/artifacts", { recursive: true });
    fs.writeFileSync(
      "test/artifacts/fuzz-graphql.json",
      JSON.stringify({ cases: CASES, seed: SEED, failures: failures.length, codes, rssStartMb: rssStart / 2 ** 20, rssPeakMb: rssPeak / 2 ** 20 }, null, 2),
    );
    const leaks = scanForSecrets("GraphQL fuzz", [...responses, ...t.logs]);
    const alive_ = (alive.data as { __typename?: string } | undefined)?.__typename === "Query";
    recordReliability("fuzz-graphql", fuzzCommand(CASES, SEED), [
      { figure: "cases", value: CASES, target: "≥ 10,000 (full)", ok: CASES >= 10_000 || process.env.GANTRY_RELIABILITY_MODE !== "full" },
      { figure: "crashes", value: crashes + (alive_ ? 0 : 1), target: "0", ok: crashes === 0 && alive_ },
      { figure: "internal errors", value: internal, target: "0", ok: internal === 0 },
      { figure: "failures of any kind (status, code, leaky message)", value: failures.length, target: "0", ok: failures.length === 0 },
      { figure: "secrets leaked", value: leaks.length, target: "0", ok: leaks.length === 0 },
      { figure: "error codes", value: Object.entries(codes).map(([c, n]) => `${c}×${n}`).join(" ") },
      { figure: "peak RSS growth (MB)", value: Math.round((rssPeak - rssStart) / 2 ** 20), target: "< 1024", ok: rssPeak - rssStart < 1024 * 2 ** 20 },
    ]);
    expect(failures.slice(0, 20)).toEqual([]);
    expect(leaks).toEqual([]);
    expect(alive.data).toEqual({ __typename: "Query" });
    expect(rssPeak - rssStart).toBeLessThan(1024 * 2 ** 20);
  }, 600_000);
});
