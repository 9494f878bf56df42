/**
 * One claimed run, start to report: read the connector, open its tap config, build the catalog
 * from its field mappings, run the tap into staging (renewing the lease meanwhile; a lost lease
 * kills the tap), then report the outcome through the signed webhook.
 */
import type { Logger } from "pino";
import type { Config } from "../config.js";
import type { Orm } from "../db/orm.js";
import { systemEm } from "../db/orm.js";
import { openConfig, openWebhookSecret, requireMasterKey } from "../connectors/secrets.js";
import { exec } from "../connectors/sql/exec.js";
import { WEBHOOK_PATH } from "../connectors/webhook.js";
import { stagingSchemaName } from "../tenants/naming.js";
import { withPgClients } from "./db.js";
import { postRunReport, type RunReportBody } from "./report.js";
import { renewClaim } from "./sql/claimRuns.js";
import { deleteStagedRun } from "./staging.js";
import { syncToStaging, TapRunError } from "./sync.js";
import type { TapRegistry } from "./tap-registry.js";

export interface ClaimedRun {
  runId: string;
  connectorId: string;
  attempt: number;
}

export interface RunnerDeps {
  orm: Orm;
  config: Config;
  log: Logger;
  registry: TapRegistry;
  runnerId: string;
}

interface ConnectorRow {
  id: string;
  tap_name: string;
  tap_version: string | null;
  connector_type: string;
  meltano_environment: string;
  source_system: string;
  config_envelope: string | null;
  config_source: string | null;
  webhook_secret_envelope: string;
  slug: string;
  state: Record<string, unknown> | null;
}

interface MappingRow {
  stream: string;
  source_field: string;
  is_key: boolean;
}

/**
 * A Singer catalog selecting the streams the mappings name (with their mapped fields and keys);
 * undefined without mappings, so the tap emits every stream and the loader takes every field.
 */
export function catalogFromMappings(mappings: MappingRow[]): unknown {
  if (mappings.length === 0) return undefined;
  const streams = new Map<string, MappingRow[]>();
  for (const m of mappings) streams.set(m.stream, [...(streams.get(m.stream) ?? []), m]);
  return {
    streams: [...streams].map(([stream, rows]) => {
      const keys = rows.filter((r) => r.is_key).map((r) => r.source_field);
      return {
        tap_stream_id: stream,
        stream,
        schema: { type: "object", properties: Object.fromEntries(rows.map((r) => [r.source_field, {}])) },
        key_properties: keys,
        metadata: [
          { breadcrumb: [], metadata: { selected: true, "table-key-properties": keys } },
          ...rows.map((r) => ({ breadcrumb: ["properties", r.source_field], metadata: { selected: true } })),
        ],
      };
    }),
  };
}

async function loadConnector(orm: Orm, connectorId: string): Promise<{ connector: ConnectorRow; mappings: MappingRow[] } | undefined> {
  const em = systemEm(orm);
  const [connector] = await exec<ConnectorRow>(
    em,
    `select c.id, c.tap_name, c.tap_version, c.connector_type, c.meltano_environment, c.source_system, c.config_envelope,
            c.config_source, c.webhook_secret_envelope, t.slug, s.state
       from connector c join tenant t on t.id = c.tenant_id left join connector_tap_state s on s.connector_id = c.id
      where c.id = ?`,
    [connectorId],
  );
  if (!connector) return undefined;
  const mappings = await exec<MappingRow>(em, `select stream, source_field, is_key from connector_field_mapping where connector_id = ? order by position`, [connectorId]);
  return { connector, mappings };
}

export async function executeRun(deps: RunnerDeps, claimed: ClaimedRun, stopping: AbortSignal): Promise<void> {
  const { orm, config, log: parentLog, registry, runnerId } = deps;
  const log = parentLog.child({ runId: claimed.runId, connectorId: claimed.connectorId, attempt: claimed.attempt });
  const loaded = await loadConnector(orm, claimed.connectorId);
  if (!loaded) return; // Deleted since it was claimed: the run went with it.
  const { connector, mappings } = loaded;
  const masterKey = requireMasterKey(config.masterKey);

  // Renew the lease while the tap runs; losing it (or the run finishing elsewhere) stops the tap.
  const lost = new AbortController();
  const renew = setInterval(() => {
    renewClaim(systemEm(orm), claimed.runId, claimed.attempt, runnerId, config.runnerLeaseMs)
      .then((held) => {
        if (!held) lost.abort(new Error("the run's lease was lost or the run finished elsewhere"));
      })
      .catch((err: unknown) => log.warn({ err }, "lease renewal failed"));
  }, Math.max(100, Math.floor(config.runnerLeaseMs / 3)));
  const onStop = () => lost.abort(new Error("the runner is stopping"));
  stopping.addEventListener("abort", onStop, { once: true });

  let body: RunReportBody;
  try {
    const stagingSchema = stagingSchemaName(config.namespacePrefix, connector.slug, connector.source_system);
    const configJson = connector.config_envelope
      ? JSON.stringify(openConfig(masterKey, connector.id, connector.config_envelope, connector.config_source === "CLIENT"))
      : "{}";
    const tap = registry.resolve({
      tapName: connector.tap_name,
      tapVersion: connector.tap_version,
      connectorType: connector.connector_type,
      meltanoEnvironment: connector.meltano_environment,
    });
    log.info({ tap: connector.tap_name, source: tap.source }, "sync started");
    // Two connections write staging batches in parallel, with COPY, on a PostgreSQL server; the
    // embedded database has one backend, a few connections and no COPY: one, with INSERTs.
    const connections = config.databaseUrl ? 2 : 1;
    const result = await withPgClients(orm, connections, async ([db, ...writers]) => {
      // Leftovers of an earlier attempt of this run (its runner crashed) go first.
      await deleteStagedRun(db, stagingSchema, claimed.runId);
      return syncToStaging({
        db,
        tap,
        configJson,
        state: connector.state ?? undefined,
        catalog: catalogFromMappings(mappings),
        stagingSchema,
        runId: claimed.runId,
        timeoutMs: config.runnerTapTimeoutMs,
        signal: lost.signal,
        writers,
        copy: !!config.databaseUrl,
      });
    });
    log.info({ rowsSynced: result.rowsSynced }, "sync staged");
    body = { connector_id: connector.id, run_id: claimed.runId, status: "success", rows_synced: result.rowsSynced, state: result.state ?? null, error_msg: null };
  } catch (err) {
    if (lost.signal.aborted) {
      log.warn({ reason: String(lost.signal.reason) }, "sync abandoned");
      return; // Another runner (or the reaper) owns the run now: report nothing.
    }
    const message = err instanceof TapRunError ? err.message : `sync failed: ${(err as Error).message}`;
    log.warn({ err: err instanceof TapRunError ? undefined : err, kind: (err as TapRunError).kind }, "sync failed");
    body = { connector_id: connector.id, run_id: claimed.runId, status: "failed", rows_synced: 0, state: null, error_msg: message };
  } finally {
    clearInterval(renew);
    stopping.removeEventListener("abort", onStop);
  }

  // Fenced: only the holder of the current attempt reports.
  if (!(await renewClaim(systemEm(orm), claimed.runId, claimed.attempt, runnerId, config.runnerLeaseMs))) {
    log.warn("lease lost before the report; not reporting");
    return;
  }
  const outcome = await postRunReport({
    url: `${config.publicUrl}${WEBHOOK_PATH}`,
    secret: openWebhookSecret(masterKey, connector.id, connector.webhook_secret_envelope),
    webhookId: `msg_run_${claimed.runId}_${claimed.attempt}`,
    body,
    log,
    signal: stopping,
  });
  if (outcome.status >= 300) {
    // Refused (e.g. 409: the run was reaped meanwhile): nothing will load what was staged.
    log.warn({ status: outcome.status, response: outcome.body }, "run report refused");
    if (body.status === "success") {
      const schema = stagingSchemaName(config.namespacePrefix, connector.slug, connector.source_system);
      await withPgClients(orm, 1, ([db]) => deleteStagedRun(db!, schema, claimed.runId)).catch((err: unknown) => log.warn({ err }, "clearing staging failed"));
    }
  } else {
    log.info({ status: body.status }, "run reported");
  }
}
