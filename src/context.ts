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
 * A request context. The EntityManager fork and the child logger are made on first use: many
 * operations (`__typename`, `viewer` for admins) need neither. The getters live on the prototype
 * and the caches are plain fields because Apollo copies the context per operation
 * (`Object.assign(Object.create(proto), ctx)`): own getters would be invoked by that copy, forking
 * an EntityManager and a logger for every request, and private fields would not survive it.
 */
class RequestContext implements Context {
  private emCache: EntityManager | undefined = undefined;

  constructor(
    readonly app: AppServices,
    readonly viewer: Viewer,
    readonly requestId: string,
    private logCache: Logger | undefined,
  ) {}

  get em(): EntityManager {
    return (this.emCache ??= emForViewer(this.app.orm, this.viewer));
  }

  get log(): Logger {
    return (this.logCache ??= this.app.log.child({ requestId: this.requestId }));
  }

  /**
   * Lets go of the EntityManager fork (a later `em` forks a new one). A subscription's context
   * lives as long as the subscription, while its fork (identity map, unit of work, loaders) is
   * only needed to authorise and start it.
   */
  releaseEntityManager(): void {
    this.emCache = undefined;
  }
}

/** Drops a context's EntityManager fork, if it is a request context that has one. */
export function releaseEntityManager(context: unknown): void {
  if (context instanceof RequestContext) context.releaseEntityManager();
}

/** Builds a request context (see RequestContext). */
export function createContext(app: AppServices, viewer: Viewer, requestId: string, log?: Logger): Context {
  return new RequestContext(app, viewer, requestId, log);
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
