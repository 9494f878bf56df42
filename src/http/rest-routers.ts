/** The REST shim's routers; each domain adds its factory here as it lands. */
import type { RestRouterFactory } from "./rest.js";
import { provisioningCallbackRouter } from "./provisioning-callback.js";
import { connectorWebhookRouter } from "../connectors/webhook-router.js";
import { tenantAdminRouter } from "./tenant-admin.js";

export const REST_ROUTERS: RestRouterFactory[] = [provisioningCallbackRouter, connectorWebhookRouter, tenantAdminRouter];
