/** Every entity class, listed once: MikroORM discovers them from here (no folder globbing). */
import { Catalog } from "./catalog/catalog.entity.js";
import { Tenant } from "./tenant/tenant.entity.js";
import { TenantApiKey } from "./tenant/tenant-api-key.entity.js";
import { TenantSettings } from "./tenant/tenant-settings.entity.js";
import { Workflow } from "./workflow/workflow.entity.js";
import { WorkflowStep } from "./workflow/workflow-step.entity.js";
import { WorkflowCallbackToken } from "./workflow/workflow-callback-token.entity.js";
import { CONNECTOR_ENTITIES } from "./connector/index.js";

export const ALL_ENTITIES = [
  Tenant,
  Catalog,
  Workflow,
  WorkflowStep,
  WorkflowCallbackToken,
  TenantApiKey,
  TenantSettings,
  ...CONNECTOR_ENTITIES,
];
