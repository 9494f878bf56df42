/**
 * Cuts off graphql-ws connections whose credentials stop being valid while they are open. Every
 * subscribe re-checks the viewer (ws.ts), but a subscription already running would otherwise
 * stream on for as long as the socket lives:
 *  - a tenant token's socket is closed with 4401 at the token's `exp` (as Hasura does at a JWT's
 *    expiry); the client reconnects with a fresh token;
 *  - a tenant's sockets are closed with 4403 when the tenant is deprovisioned, on every api
 *    replica: the `tenant.deprovisioned` event reaches each one through its event bus.
 * The bus is read for this only while the process holds a tenant's socket, so an api serving no
 * tenant sockets reads no events for it.
 */
import type { WebSocket } from "ws";
import type { Logger } from "pino";
import { isExpired, type Viewer } from "../auth/viewer.js";
import type { EventBus, StoredEvent } from "../events/index.js";
import { TenantEventType } from "../tenants/events.js";

export const CLOSE_UNAUTHORIZED = 4401;
export const CLOSE_FORBIDDEN = 4403;

/** setTimeout's longest delay (about 24.8 days); a later expiry re-arms the timer. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export class ConnectionRevoker {
  private readonly byTenant = new Map<string, Set<WebSocket>>();
  private feed: AsyncIterableIterator<StoredEvent> | undefined;

  constructor(
    private readonly events: EventBus,
    private readonly log: Logger,
    /** The tenant's state now (the subscribe-time check), for the window before the feed started. */
    private readonly isRevoked: (viewer: Viewer) => Promise<string | null>,
  ) {}

  /** Watches an authenticated socket until it closes. Admin sockets are not watched. */
  track(socket: WebSocket, viewer: Viewer): void {
    // Closed while it authenticated: its close event has gone by, nothing to watch.
    if (viewer.kind !== "tenant" || socket.readyState !== socket.OPEN) return;
    const { tenantId, expiresAt } = viewer;
    let timer: NodeJS.Timeout | undefined;
    const arm = () => {
      const left = expiresAt! * 1000 - Date.now();
      if (left <= 0) return socket.close(CLOSE_UNAUTHORIZED, "Unauthorized: token expired");
      timer = setTimeout(arm, Math.min(left, MAX_TIMER_MS));
      timer.unref();
    };
    if (expiresAt !== undefined) arm();

    const sockets = this.byTenant.get(tenantId) ?? new Set<WebSocket>();
    sockets.add(socket);
    this.byTenant.set(tenantId, sockets);
    this.ensureFeed();
    socket.once("close", () => {
      clearTimeout(timer);
      sockets.delete(socket);
      if (sockets.size === 0 && this.byTenant.get(tenantId) === sockets) this.byTenant.delete(tenantId);
      if (this.byTenant.size === 0) this.stopFeed();
    });
    // A deprovision committed between the connection's authentication and the feed's start is
    // not in the feed: ask once more, now that the feed is running.
    // (An expired token is the timer's to close.)
    void this.isRevoked(viewer).then(
      (reason) => void (reason && !isExpired(viewer) && socket.close(CLOSE_FORBIDDEN, "Forbidden: tenant deprovisioned")),
      (err: unknown) => this.log.warn({ err }, "re-checking a graphql-ws connection's tenant failed"),
    );
  }

  /** Stops watching (on dispose, which terminates the sockets itself). */
  stop(): void {
    this.byTenant.clear();
    this.stopFeed();
  }

  private closeTenant(tenantId: string): void {
    for (const socket of [...(this.byTenant.get(tenantId) ?? [])]) socket.close(CLOSE_FORBIDDEN, "Forbidden: tenant deprovisioned");
  }

  private ensureFeed(): void {
    if (this.feed) return;
    const feed = this.events.subscribe({ types: [TenantEventType.DEPROVISIONED] });
    this.feed = feed;
    void (async () => {
      try {
        for await (const event of feed) if (event.tenantId) this.closeTenant(event.tenantId);
      } catch (err) {
        // The next tracked socket starts a new feed.
        this.log.warn({ err }, "the graphql-ws deprovision feed ended");
      } finally {
        if (this.feed === feed) this.feed = undefined;
      }
    })();
  }

  private stopFeed(): void {
    const feed = this.feed;
    this.feed = undefined;
    void feed?.return?.();
  }
}
