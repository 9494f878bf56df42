/**
 * Writing connectors: register, replace field mappings, delete. The EntityManager passed in is
 * the caller's, already scoped to its tenant by the data-layer filter.
 */
import { LockMode } from "@mikro-orm/core";
import type { EntityManager } from "../db/orm.js";
import { DomainError } from "../errors/index.js";
import { Tenant } from "../../entities/tenant/tenant.entity.js";
import { ConfigSource, Connector, ConnectorStatus, ConnectorType } from "../../entities/connector/connector.entity.js";
import { FieldMapping } from "../../entities/connector/field-mapping.entity.js";
import { lakehouseNamespace } from "../tenants/naming.js";
import { isActiveCatalog } from "./catalogs.js";
import { compileTransform, TransformCompileError } from "./mappings.js";
import { DEFAULT_SCHEDULE, firstRunAt, validateSchedule } from "./schedule.js";
import { checkClientEnvelope, newWebhookSecret, requireMasterKey, sealConfig, sealWebhookSecret } from "./secrets.js";
import type { FieldMappingInput, RegisterConnectorInput } from "./types.js";
import { checkId, checkName } from "./validation.js";

export interface ConnectorDeps {
  masterKey: Buffer | undefined;
  namespacePrefix: string;
}

export interface Registered {
  connector: Connector;
  /** Shown once, in the registration response; stored only as an envelope. */
  webhookSecret: string;
}

const MAX_CONFIG_BYTES = 64 * 1024;

export async function registerConnector(
  em: EntityManager,
  deps: ConnectorDeps,
  tenantId: string,
  input: RegisterConnectorInput,
): Promise<Registered> {
  const key = requireMasterKey(deps.masterKey);
  const sourceSystem = checkName("sourceSystem", input.sourceSystem, "input.sourceSystem");
  const tapName = checkName("tapName", input.tapName, "input.tapName");
  const destinationTable = checkName("destinationTable", input.destinationTable, "input.destinationTable");
  const destinationCatalog = checkName("destinationCatalog", input.destinationCatalog ?? "lakehouse", "input.destinationCatalog");
  const tapVersion = input.tapVersion ? checkName("tapVersion", input.tapVersion, "input.tapVersion") : null;
  const meltanoEnvironment = checkName("meltanoEnvironment", input.meltanoEnvironment ?? "prod", "input.meltanoEnvironment");
  const syncSchedule = validateSchedule(input.syncSchedule ?? DEFAULT_SCHEDULE);
  if (input.config && input.configEncrypted) {
    throw DomainError.badInput("input.configEncrypted", "give either config or configEncrypted, not both");
  }
  if (input.config !== undefined && input.config !== null) {
    if (typeof input.config !== "object" || Array.isArray(input.config)) throw DomainError.badInput("input.config", "must be a JSON object");
    if (Buffer.byteLength(JSON.stringify(input.config)) > MAX_CONFIG_BYTES) {
      throw DomainError.badInput("input.config", `must be at most ${MAX_CONFIG_BYTES} bytes`);
    }
  }
  const clientEnvelope = input.configEncrypted ? checkClientEnvelope(key, input.configEncrypted) : null;

  const tenant = await em.findOne(Tenant, { id: tenantId });
  if (!tenant) throw DomainError.notFound("Tenant", tenantId);
  if (!(await isActiveCatalog(em, tenantId, destinationCatalog))) {
    throw DomainError.badInput("input.destinationCatalog", `no ACTIVE catalog named "${destinationCatalog}" for this tenant`);
  }

  const webhookSecret = newWebhookSecret();
  const connector = em.create(Connector, {
    tenant: tenantId,
    sourceSystem,
    tapName,
    connectorType: input.connectorType ?? ConnectorType.MELTANO,
    destinationCatalog,
    destinationTable,
    lakehouseNamespace: lakehouseNamespace(deps.namespacePrefix, tenant.slug),
    syncSchedule,
    tapVersion,
    meltanoEnvironment,
    status: ConnectorStatus.ACTIVE,
    nextRunAt: firstRunAt(syncSchedule),
    webhookSecretEnvelope: "",
  });
  connector.webhookSecretEnvelope = sealWebhookSecret(key, connector.id, webhookSecret);
  if (clientEnvelope) {
    connector.configEnvelope = clientEnvelope;
    connector.configSource = ConfigSource.CLIENT;
  } else if (input.config) {
    connector.configEnvelope = sealConfig(key, connector.id, input.config);
    connector.configSource = ConfigSource.GANTRY;
  }
  await em.flush();
  return { connector, webhookSecret };
}

/** A connector of the caller's tenant, or NOT_FOUND (a foreign id looks exactly like a missing one). */
export async function getConnector(em: EntityManager, id: string, options: { lock?: boolean } = {}): Promise<Connector> {
  const connector = await em.findOne(
    Connector,
    { id: checkId(id, "Connector") },
    options.lock ? { lockMode: LockMode.PESSIMISTIC_WRITE } : {},
  );
  if (!connector) throw DomainError.notFound("Connector", id);
  return connector;
}

/** Replaces the connector's mapping set; every transform is compiled first, so a bad one changes nothing. */
export async function setFieldMappings(
  em: EntityManager,
  connectorId: string,
  mappings: FieldMappingInput[],
): Promise<FieldMapping[]> {
  if (mappings.length > 1000) throw DomainError.badInput("mappings", "at most 1000 mappings");
  const seen = new Set<string>();
  mappings.forEach((m, i) => {
    const at = `mappings.${i}`;
    checkName("stream", m.stream, `${at}.stream`);
    checkName("sourceField", m.sourceField, `${at}.sourceField`);
    checkName("destinationColumn", m.destinationColumn, `${at}.destinationColumn`);
    if (m.dataType) checkName("dataType", m.dataType, `${at}.dataType`);
    const target = `${m.stream}\u0000${m.destinationColumn}`;
    if (seen.has(target)) throw DomainError.badInput(`${at}.destinationColumn`, "is mapped twice in this stream");
    seen.add(target);
    if (m.transform !== undefined && m.transform !== null && m.transform.trim() !== "") {
      try {
        compileTransform(m.transform);
      } catch (err) {
        if (err instanceof TransformCompileError) {
          throw DomainError.badInput(`${at}.transform`, `mapping ${i} (${m.destinationColumn}): invalid CEL expression: ${err.message}`);
        }
        throw err;
      }
    }
  });
  return em.transactional(async (tem) => {
    const connector = await getConnector(tem, connectorId);
    await tem.nativeDelete(FieldMapping, { connector: connector.id });
    const rows = mappings.map((m, position) =>
      tem.create(FieldMapping, {
        tenant: connector.tenant,
        connector,
        position,
        stream: m.stream,
        sourceField: m.sourceField,
        destinationColumn: m.destinationColumn,
        transform: m.transform?.trim() ? m.transform.trim() : null,
        dataType: m.dataType ?? null,
        isKey: m.isKey ?? false,
      }),
    );
    await tem.flush();
    return rows;
  });
}

/** Deletes the connector; mappings, runs, tap state and deliveries go with it (FK cascades). */
export async function deleteConnector(em: EntityManager, id: string): Promise<string> {
  const connector = await getConnector(em, id);
  await em.nativeDelete(Connector, { id: connector.id });
  return connector.id;
}
