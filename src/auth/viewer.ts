/** Who is calling. Resolved once per HTTP request and once per graphql-ws connection. */
export type Viewer =
  | { kind: "anonymous" }
  | {
      kind: "admin";
      /** A short, non-secret id of the admin key used (first 12 hex chars of its SHA-256). */
      keyId: string;
    }
  | {
      kind: "tenant";
      tenantId: string;
      /** Token expiry (epoch seconds); re-checked on every graphql-ws subscribe. */
      expiresAt: number | undefined;
    };

export const ANONYMOUS: Viewer = { kind: "anonymous" };

export function isExpired(viewer: Viewer, nowSeconds = Date.now() / 1000): boolean {
  return viewer.kind === "tenant" && viewer.expiresAt !== undefined && viewer.expiresAt <= nowSeconds;
}
