/**
 * The connector list reads only the columns a query asks for (src/connectors/list.ts): whatever
 * the shape of the selection — fragments, inline fragments, aliases, `edges` or `nodes`, a
 * conditional field, a computed one — every field answers what the single-connector read answers.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestGantry, type TestGantry } from "../helpers/server.js";
import { createTenant, register } from "../helpers/connectors.js";

const CONNECTOR_FIELDS = `id sourceSystem tapName connectorType destinationCatalog destinationTable lakehouseNamespace syncSchedule
  tapVersion meltanoEnvironment status consecutiveFailures rowsTotal lastSyncedAt nextRunAt hasConfig createdAt updatedAt
  mappingCount runCount totalRowsLoaded tapState`;
const RUN_FIELDS = `id connectorId status trigger rowsSynced rowsLoaded transformErrors lakehouseTable queuedAt startedAt completedAt durationS errorMsg`;

type Node = Record<string, unknown> & { id: string };

describe("connectors list: projection of the selection", () => {
  let t: TestGantry;
  let token: string;
  let full: Map<string, Node>;

  const gql = async (query: string, variables: Record<string, unknown> = {}) => {
    const res = await t.gql<Record<string, unknown>, Record<string, unknown>>(query, variables, { token });
    expect(res.errors).toBeUndefined();
    return res.data!;
  };

  beforeAll(async () => {
    t = await startTestGantry({ env: { GANTRY_ROLES: "api" } });
    const tenantId = await createTenant(t.db, "listed");
    token = await t.tokenFor(tenantId);
    const a = await register(t, token, { destinationTable: "a", config: { host: "h" } });
    const b = await register(t, token, { destinationTable: "b" });
    await register(t, token, { destinationTable: "c" });
    // Runs written directly: a finished one (every run column set) and a newer failed one on a.
    await t.db.query(
      `insert into connector_run (id, tenant_id, connector_id, status, rows_synced, rows_loaded, transform_errors, lakehouse_table,
                                  queued_at, started_at, completed_at, error_msg)
       values ($1, $3, $4, 'COMPLETED', 9007199254740, 40, 2, 'ns.a', now() - interval '2 hours', now() - interval '119 minutes', now() - interval '100 minutes', null),
              ($2, $3, $4, 'FAILED', null, null, 0, null, now() - interval '1 hour', null, now() - interval '59 minutes', 'tap exited 1'),
              ($5, $3, $6, 'COMPLETED', 5, 5, 0, 'ns.b', now() - interval '3 hours', now() - interval '3 hours', now() - interval '2 hours', null)`,
      [randomUUID(), randomUUID(), tenantId, a.connector.id, randomUUID(), b.connector.id],
    );
    await t.db.query(`update connector set rows_total = 9007199254740, last_synced_at = now() where id = $1`, [a.connector.id]);
    // The reference: each connector read on its own (entity path, batched lastRun).
    full = new Map();
    for (const id of [a.connector.id, b.connector.id]) {
      const data = await gql(`query($id: ID!) { connector(id: $id) { ${CONNECTOR_FIELDS} lastRun { ${RUN_FIELDS} } } }`, { id });
      full.set(id, data.connector as Node);
    }
  });
  afterAll(() => t.stop());

  const pick = (node: Node, keys: string[]) => Object.fromEntries(keys.map((k) => [k, node[k]]));

  it("answers every field as the single read does", async () => {
    const data = await gql(`{ connectors(first: 10) { nodes { ${CONNECTOR_FIELDS} lastRun { ${RUN_FIELDS} } } } }`);
    const nodes = (data.connectors as { nodes: Node[] }).nodes;
    expect(nodes).toHaveLength(3);
    for (const node of nodes) if (full.has(node.id)) expect(node).toEqual(full.get(node.id));
    expect(nodes.find((n) => !full.has(n.id))!.lastRun).toBeNull();
  });

  it("follows fragments, inline fragments, aliases, edges and skipped fields", async () => {
    const data = await gql(
      `query($no: Boolean!) {
         connectors(first: 10) {
           edges { cursor node { ...F name: sourceSystem ... on Connector { hasConfig } } }
           nodes { id lastRun @skip(if: $no) { ...R } }
           pageInfo { endCursor }
         }
       }
       fragment F on Connector { id rowsTotal lastRun { status durationS } }
       fragment R on ConnectorRun { errorMsg rowsSynced }`,
      { no: false },
    );
    const connection = data.connectors as { edges: { cursor: string; node: Node }[]; nodes: Node[]; pageInfo: { endCursor: string } };
    expect(connection.pageInfo.endCursor).toBe(connection.edges.at(-1)!.cursor);
    for (const [i, { node }] of connection.edges.entries()) {
      const ref = full.get(node.id);
      if (!ref) continue;
      const run = ref.lastRun as Node;
      expect(node).toEqual({ ...pick(ref, ["id", "rowsTotal", "hasConfig"]), name: ref.sourceSystem, lastRun: pick(run, ["status", "durationS"]) });
      expect(connection.nodes[i]!.lastRun).toEqual(pick(run, ["errorMsg", "rowsSynced"]));
    }
  });

  it("reads no last run when none is asked, and pages by cursor", async () => {
    const first = await gql(`{ connectors(first: 2) { nodes { id } pageInfo { endCursor hasNextPage } } }`);
    const page = first.connectors as { nodes: Node[]; pageInfo: { endCursor: string; hasNextPage: boolean } };
    expect(page.nodes).toHaveLength(2);
    expect(page.pageInfo.hasNextPage).toBe(true);
    const next = await gql(`query($after: String) { connectors(first: 2, after: $after) { nodes { id lastRun { id } } } }`, { after: page.pageInfo.endCursor });
    const rest = (next.connectors as { nodes: Node[] }).nodes;
    expect(rest).toHaveLength(1);
    expect(new Set([...page.nodes, ...rest].map((n) => n.id)).size).toBe(3);
  });
});
