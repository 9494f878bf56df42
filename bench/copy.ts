/** COPY text of the synthetic tap's rows: the limit the sync scenarios compare against. */
import { syntheticRow } from "../src/taps/synthetic.js";

/** Rows 1..n in COPY text format (id, name, amount, created_at), in ~64 KB chunks. */
export function* copyText(n: number): Generator<string> {
  let chunk = "";
  for (let id = 1; id <= n; id++) {
    const r = syntheticRow(id);
    chunk += `${r.id}\t${r.name}\t${r.amount}\t${r.created_at}\n`;
    if (chunk.length > 64 * 1024) {
      yield chunk;
      chunk = "";
    }
  }
  if (chunk) yield chunk;
}
