/**
 * `@Authorized()` roles and the auth checker. Anonymous callers get UNAUTHENTICATED; a signed-in
 * caller without the role gets FORBIDDEN. Tenant isolation itself is enforced in the data layer.
 */
import type { AuthChecker } from "type-graphql";
import type { Context } from "../../src/context.js";
import { DomainError } from "../../src/errors/index.js";
import { isExpired } from "../../src/auth/viewer.js";

export const ADMIN = "ADMIN";
export const TENANT = "TENANT";

export const authChecker: AuthChecker<Context> = ({ context }, roles) => {
  const { viewer } = context;
  if (viewer.kind === "anonymous") throw DomainError.unauthenticated();
  if (isExpired(viewer)) throw DomainError.unauthenticated("Token expired");
  if (roles.length === 0) return true;
  if (viewer.kind === "admin" && roles.includes(ADMIN)) return true;
  if (viewer.kind === "tenant" && roles.includes(TENANT)) return true;
  throw DomainError.forbidden(
    roles.includes(ADMIN) ? "This operation requires an admin API key" : "This operation is for tenant users",
  );
};
