/**
 * The runner's report: it posts the run's outcome to the webhook exactly as a third-party runner
 * would (Standard Webhooks, signed with the connector's `whsec_` secret by the stock library).
 * Network errors, 429 and 5xx are retried with exponential backoff under the same `webhook-id`,
 * so a report that arrived but whose answer was lost is deduplicated by the receiver.
 */
import { Webhook } from "standardwebhooks";
import type { Logger } from "pino";

export interface RunReportBody {
  connector_id: string;
  run_id: string;
  status: "success" | "failed";
  rows_synced: number;
  state: unknown;
  error_msg: string | null;
}

export interface PostReportOptions {
  url: string;
  secret: string;
  webhookId: string;
  body: RunReportBody;
  log?: Logger;
  /** Attempts in all (default 8: about 90 s of backoff). */
  attempts?: number;
  initialDelayMs?: number;
  maxDelayMs?: number;
  /** Stops retrying (the runner is stopping; the run's lease will lapse and it is run again). */
  signal?: AbortSignal;
}

export interface ReportOutcome {
  status: number;
  body: unknown;
}

const retryable = (status: number) => status === 429 || status >= 500;

export async function postRunReport(options: PostReportOptions): Promise<ReportOutcome> {
  const attempts = options.attempts ?? 8;
  const raw = JSON.stringify(options.body);
  const webhook = new Webhook(options.secret);
  let delay = options.initialDelayMs ?? 500;
  for (let attempt = 1; ; attempt++) {
    let failure: string;
    try {
      // Signed afresh per attempt: the timestamp must stay within the receiver's tolerance.
      const now = new Date();
      const res = await fetch(options.url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "webhook-id": options.webhookId,
          "webhook-timestamp": String(Math.floor(now.getTime() / 1000)),
          "webhook-signature": webhook.sign(options.webhookId, now, raw),
        },
        body: raw,
        signal: options.signal,
      });
      const text = await res.text();
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        // Not JSON: keep the text.
      }
      if (!retryable(res.status)) return { status: res.status, body };
      failure = `HTTP ${res.status}`;
    } catch (err) {
      if (options.signal?.aborted) throw err;
      failure = (err as Error).message;
    }
    if (attempt >= attempts) throw new Error(`run report not delivered after ${attempts} attempts: ${failure}`);
    options.log?.warn({ runId: options.body.run_id, attempt, failure }, "run report failed; retrying");
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(resolve, delay);
      options.signal?.addEventListener("abort", () => {
        clearTimeout(timer);
        reject(options.signal!.reason as Error);
      }, { once: true });
    });
    delay = Math.min(delay * 2, options.maxDelayMs ?? 30_000);
  }
}
