/**
 * The request context every resolver receives: who is calling, an EntityManager forked for this
 * request and scoped by the tenant filter, a logger carrying the request id, and the app's
 * long-lived parts. Built once per HTTP request and once per graphql-ws operation.
 */
import type { Logger } from "pino";
import type { EntityManager, Orm } from "./db/orm.js";
import { systemEm, tenantEm } from "./db/orm.js";
import type { Viewer } from "./auth/viewer.js";
import { DomainError } from "./errors/index.js";
import type { AppServices } from "./app-services.js";

export interface Context {
  requestId: string;
  viewer: Viewer;
  em: EntityManager;
  log: Logger;
  app: AppServices;
}

/** A tenant id no row can have: anonymous callers see nothing even if a resolver forgets a check. */
const NOBODY = "00000000-0000-0000-0000-000000000000";

export function emForViewer(orm: Orm, viewer: Viewer): EntityManager {
  switch (viewer.kind) {
    case "admin":
      return systemEm(orm);
    case "tenant":
      return tenantEm(orm, viewer.tenantId);
    default:
      return tenantEm(orm, NOBODY);
  }
}

/**
 * Builds a request context. The EntityManager fork and the child logger are made on first use:
 * many operations (`__typename`, `viewer` for admins) need neither.
 */
export function createContext(app: AppServices, viewer: Viewer, requestId: string, log?: Logger): Context {
  let em: EntityManager | undefined;
  let childLog = log;
  return {
    requestId,
    viewer,
    app,
    get em() {
      return (em ??= emForViewer(app.orm, viewer));
    },
    get log() {
      return (childLog ??= app.log.child({ requestId }));
    },
  };
}

/** The caller's tenant id; admins and anonymous callers are refused. */
export function requireTenant(ctx: Pick<Context, "viewer">): string {
  if (ctx.viewer.kind === "tenant") return ctx.viewer.tenantId;
  if (ctx.viewer.kind === "anonymous") throw DomainError.unauthenticated();
  throw DomainError.forbidden("This operation is for tenant users (Bearer token)");
}

export function requireAdmin(ctx: Pick<Context, "viewer">): { keyId: string } {
  if (ctx.viewer.kind === "admin") return { keyId: ctx.viewer.keyId };
  if (ctx.viewer.kind === "anonymous") throw DomainError.unauthenticated();
  throw DomainError.forbidden("This operation requires an admin API key");
}
