/**
 * The webhook's connector lookups, grouped: reports that arrive while a lookup is in flight wait
 * for the next one, which reads all their connectors in one statement (the report batcher's group
 * commit, for the read that comes before the signature check). One statement per report was a
 * pooled connection, a round trip and its syscalls each, about a fifth of the api's CPU per
 * report; when idle, a report waits for no one (the lookup starts at the end of the event-loop
 * turn that read it). Nothing is cached: every report reads its connector's current secret.
 */
import DataLoader from "dataloader";
import { systemEm, type Orm } from "../db/orm.js";
import { findWebhookConnectors, type WebhookConnectorRow } from "./sql/findWebhookConnectors.js";

/** Lookups in flight at once; more wait and are read together. */
const CONCURRENCY = 2;
const MAX_BATCH = 500;

export class WebhookConnectorLookup {
  private inFlight = 0;
  private readonly waiting: Array<() => void> = [];
  private readonly loader: DataLoader<string, WebhookConnectorRow | null>;

  /** `readRows` reads the rows of the given connector ids (one statement: `findWebhookConnectors`). */
  constructor(private readonly readRows: (ids: readonly string[]) => Promise<WebhookConnectorRow[]>) {
    this.loader = new DataLoader((ids) => this.read(ids), {
      cache: false,
      maxBatchSize: MAX_BATCH,
      // A batch starts after the event-loop turn that filled it (every report read in that turn),
      // or, with CONCURRENCY lookups in flight, when one of them is done (everything meanwhile).
      batchScheduleFn: (dispatch) => {
        if (this.inFlight < CONCURRENCY) setImmediate(dispatch);
        else this.waiting.push(dispatch);
      },
    });
  }

  /** The connector's tenant and sealed webhook secret, or null when there is no such connector. */
  find(id: string): Promise<WebhookConnectorRow | null> {
    return this.loader.load(id);
  }

  private async read(ids: readonly string[]): Promise<Array<WebhookConnectorRow | null>> {
    this.inFlight++;
    try {
      const rows = await this.readRows([...new Set(ids)]);
      const byId = new Map(rows.map((row) => [row.id, row]));
      return ids.map((id) => byId.get(id) ?? null);
    } finally {
      this.inFlight--;
      const next = this.waiting.shift();
      if (next) setImmediate(next);
    }
  }
}

const lookups = new WeakMap<Orm, WebhookConnectorLookup>();

/** The process's lookup for this ORM (one per api process). */
export function webhookConnectorLookup(orm: Orm): WebhookConnectorLookup {
  let lookup = lookups.get(orm);
  if (!lookup) {
    // Raw SQL on a pooled connection only: the EntityManager holds no entities, so one serves all.
    const em = systemEm(orm);
    lookup = new WebhookConnectorLookup((ids) => findWebhookConnectors(em, ids));
    lookups.set(orm, lookup);
  }
  return lookup;
}
