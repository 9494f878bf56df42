/**
 * Credentials → Viewer. Tenant users present a JWT (HS256 with JWT_SECRET, or RS256/ES256 keys
 * from JWKS_URL) whose `sub` is the tenant id; admins present `X-API-Key`. Bad credentials are
 * refused outright (UNAUTHENTICATED), never downgraded to anonymous.
 */
import { SignJWT, createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTVerifyGetKey } from "jose";
import type { Config } from "../config.js";
import { DomainError } from "../errors/index.js";
import { safeEqual, sha256Hex } from "../crypto/index.js";
import { ANONYMOUS, isExpired, type Viewer } from "./viewer.js";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface TenantAccess {
  /** Whether tokens of this tenant are honoured now (exists and is not deprovisioned). */
  isTenantActive(tenantId: string): Promise<boolean>;
  /** Resolves a tenant API credential (issued by the pipeline) to its tenant id, if any. */
  tenantForApiKey?(apiKey: string): Promise<string | null>;
}

export interface Credentials {
  authorization?: string | undefined;
  apiKey?: string | undefined;
}

/** Verified tokens are remembered this long at most (and never past their `exp`). */
const VERIFIED_TTL_MS = 60_000;
const VERIFIED_MAX = 10_000;

export class Authenticator {
  /**
   * Tokens already verified, by the token's SHA-256 (not the token): a client sends the same
   * token on every request, and verifying it again (WebCrypto HMAC or RSA on the thread pool,
   * key import) was a tenth of the CPU of a list query. The tenant check still runs every time.
   */
  private readonly verified = new Map<string, { payload: { sub?: string | undefined; exp?: number | undefined }; until: number }>();
  private readonly hsKey: Uint8Array | undefined;
  private readonly jwks: JWTVerifyGetKey | undefined;
  private readonly adminKeys: { key: string; id: string }[];

  constructor(
    config: Pick<Config, "jwtSecret" | "jwksUrl" | "adminApiKeys">,
    private readonly access: TenantAccess,
  ) {
    this.hsKey = config.jwtSecret ? new TextEncoder().encode(config.jwtSecret) : undefined;
    this.jwks = config.jwksUrl ? createRemoteJWKSet(new URL(config.jwksUrl)) : undefined;
    this.adminKeys = config.adminApiKeys.map((key) => ({ key, id: sha256Hex(key).slice(0, 12) }));
  }

  async authenticate(credentials: Credentials): Promise<Viewer> {
    const apiKey = credentials.apiKey?.trim();
    if (apiKey) return this.fromApiKey(apiKey);
    const header = credentials.authorization?.trim();
    if (!header) return ANONYMOUS;
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match) throw DomainError.unauthenticated("Authorization header must be `Bearer <token>`");
    return this.fromJwt(match[1]!);
  }

  private async fromApiKey(apiKey: string): Promise<Viewer> {
    // Compare against every key so timing does not reveal which (if any) matched.
    let matched: string | undefined;
    for (const admin of this.adminKeys) if (safeEqual(admin.key, apiKey) && !matched) matched = admin.id;
    if (matched) return { kind: "admin", keyId: matched };
    const tenantId = this.access.tenantForApiKey ? await this.access.tenantForApiKey(apiKey) : null;
    if (tenantId) return { kind: "tenant", tenantId, expiresAt: undefined };
    throw DomainError.unauthenticated("Invalid API key");
  }

  private async fromJwt(token: string): Promise<Viewer> {
    const hash = sha256Hex(token);
    const hit = this.verified.get(hash);
    let payload: { sub?: string | undefined; exp?: number | undefined };
    if (hit && Date.now() < hit.until) payload = hit.payload;
    else ({ payload } = await this.verifyJwt(token, hash));
    const tenantId = payload.sub;
    if (!tenantId || !UUID.test(tenantId)) throw DomainError.unauthenticated("Token subject is not a tenant id");
    if (!(await this.access.isTenantActive(tenantId))) {
      throw DomainError.unauthenticated("Tenant is unknown or deprovisioned");
    }
    return { kind: "tenant", tenantId, expiresAt: payload.exp };
  }

  private async verifyJwt(token: string, hash: string): Promise<{ payload: { sub?: string | undefined; exp?: number | undefined } }> {
    let payload;
    try {
      if (this.jwks) ({ payload } = await jwtVerify(token, this.jwks, { algorithms: ["RS256", "ES256"] }));
      else if (this.hsKey) ({ payload } = await jwtVerify(token, this.hsKey, { algorithms: ["HS256"] }));
      else throw DomainError.unauthenticated("Bearer tokens are not configured");
    } catch (err) {
      if (err instanceof DomainError) throw err;
      const reason = err instanceof joseErrors.JWTExpired ? "Token expired" : "Invalid token";
      throw DomainError.unauthenticated(reason);
    }
    const until = Math.min(Date.now() + VERIFIED_TTL_MS, payload.exp !== undefined ? payload.exp * 1000 : Infinity);
    if (this.verified.size >= VERIFIED_MAX) this.verified.clear();
    this.verified.set(hash, { payload: { sub: payload.sub, exp: payload.exp }, until });
    return { payload };
  }

  /**
   * Why a viewer resolved earlier (a graphql-ws connection) may no longer act, or null: its token
   * expired, or its tenant was deprovisioned since (checked again on every subscribe).
   */
  async revokedReason(viewer: Viewer): Promise<string | null> {
    if (isExpired(viewer)) return "Token expired";
    if (viewer.kind === "tenant" && !(await this.access.isTenantActive(viewer.tenantId))) return "Tenant is unknown or deprovisioned";
    return null;
  }

  /** Mints an HS256 tenant token (development and tests; production tokens come from your IdP). */
  async signTenantToken(tenantId: string, ttlSeconds = 12 * 3600): Promise<string> {
    if (!this.hsKey) throw new Error("JWT_SECRET is required to mint tokens");
    return new SignJWT({})
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .setSubject(tenantId)
      .setIssuedAt()
      .setExpirationTime(Math.floor(Date.now() / 1000) + ttlSeconds)
      .sign(this.hsKey);
  }
}
