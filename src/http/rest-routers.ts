/** The REST shim's routers; each domain adds its factory here as it lands. */
import type { RawRouteFactory, RestRouterFactory } from "./rest.js";
import { provisioningCallbackRouter } from "./provisioning-callback.js";
import { connectorWebhookRoute, connectorWebhookRouter } from "../connectors/webhook-router.js";
import { tenantAdminRouter } from "./tenant-admin.js";
import { webRouter } from "./web.js";

export const REST_ROUTERS: RestRouterFactory[] = [provisioningCallbackRouter, connectorWebhookRouter, tenantAdminRouter, webRouter];

/** Hot REST paths served on node:http before Express (see `RawRoute`). */
export const RAW_ROUTES: RawRouteFactory[] = [connectorWebhookRoute];
