/**
 * The seed's tenant endpoints, kept for its clients (admin key in `X-API-Key`):
 * - `POST /v1/admin/tenants` `{ slug, name }` → 202 with the status (starts the pipeline; on a
 *   FAILED tenant resumes it; on a PROVISIONING or ACTIVE one changes nothing), same as
 *   `createTenant`;
 * - `GET /v1/admin/tenants/{slug}/status` → 200 `{ tenant_id, slug, provisioning_state
 *   (provisioning | active | failed | deprovisioned), completed_steps, failed_steps, last_error,
 *   updated_at }`; 404 for an unknown slug.
 * Both answer in the shim's `{ data, meta }` shape; 401 without a valid key, 403 for a tenant.
 */
import express, { Router, type Request } from "express";
import type { AppServices } from "../app-services.js";
import type { Tenant } from "../../entities/tenant/tenant.entity.js";
import { systemEm } from "../db/orm.js";
import { DomainError } from "../errors/index.js";
import { createTenant } from "../tenants/create.js";
import { getTenantBySlug } from "../tenants/queries.js";
import { sendData, sendError, sendValidation } from "./rest.js";
import { nulDetail } from "./input-guard.js";

async function requireAdminKey(app: AppServices, req: Request): Promise<string> {
  const viewer = await app.auth.authenticate({ apiKey: req.get("x-api-key"), authorization: req.get("authorization") });
  if (viewer.kind === "admin") return viewer.keyId;
  if (viewer.kind === "anonymous") throw DomainError.unauthenticated("An admin API key (X-API-Key) is required");
  throw DomainError.forbidden("This endpoint requires an admin API key");
}

function statusBody(tenant: Tenant) {
  return {
    tenant_id: tenant.id,
    slug: tenant.slug,
    provisioning_state: tenant.provisioningState.toLowerCase(),
    completed_steps: tenant.completedSteps,
    failed_steps: tenant.failedSteps,
    last_error: tenant.lastError,
    updated_at: tenant.updatedAt.toISOString(),
  };
}

export function tenantAdminRouter(app: AppServices): Router {
  const router = Router();
  router.post("/v1/admin/tenants", express.json({ limit: "16kb" }), async (req, res) => {
    try {
      const actor = await requireAdminKey(app, req);
      const body = req.body as { slug?: unknown; name?: unknown } | undefined;
      const missing = (["slug", "name"] as const).filter((f) => typeof body?.[f] !== "string");
      const nul = nulDetail(body, ["body"], "value_error.str");
      if (nul) return sendValidation(res, [nul]);
      if (missing.length > 0) {
        return sendValidation(res, missing.map((f) => ({ loc: ["body", f], msg: "field required (a string)", type: "value_error.missing" })));
      }
      const { tenant } = await createTenant(
        systemEm(app.orm),
        { slug: body!.slug as string, name: body!.name as string },
        { namespacePrefix: app.config.namespacePrefix, actor },
      );
      sendData(res, statusBody(tenant), 202);
    } catch (err) {
      if (err instanceof DomainError && err.field?.startsWith("input.")) {
        // The GraphQL input's field names are the body's here.
        return sendError(app, req, res, DomainError.badInput(err.field.slice("input.".length), err.message.replace(/^[^:]*: /, "")));
      }
      sendError(app, req, res, err);
    }
  });
  router.get("/v1/admin/tenants/:slug/status", async (req, res) => {
    try {
      await requireAdminKey(app, req);
      sendData(res, statusBody(await getTenantBySlug(systemEm(app.orm), String(req.params.slug))));
    } catch (err) {
      sendError(app, req, res, err);
    }
  });
  return router;
}
