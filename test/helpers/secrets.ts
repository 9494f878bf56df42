/**
 * Secret scan (issue 8): tests register every secret they create or are shown once with
 * `noteSecret`, then `scanForSecrets` looks for each of them in captured log lines and recorded
 * responses. Secrets are matched verbatim and, for `whsec_`/prefixed ones, by their random body
 * too, so a log line that strips the prefix still counts as a leak.
 */
const secrets = new Map<string, string>();
const planted = new Set<string>();

/** Registers a secret under a label (what it is, for the failure message). Short values are refused: they would match by chance. */
export function noteSecret(value: string, label = "secret"): void {
  if (value.length < 12) throw new Error(`noteSecret(${label}): too short to scan for reliably`);
  secrets.set(value, label);
  planted.add(value);
  const body = value.replace(/^(whsec_|gtk_|gcb_|Bearer )/, "");
  if (body !== value && body.length >= 12) secrets.set(body, `${label} (without prefix)`);
}

/** How many distinct secrets were noted (a prefixed secret and its body count once). */
export function notedSecrets(): number {
  return planted.size;
}

export interface Leak {
  label: string;
  where: string;
  excerpt: string;
}

/**
 * Every occurrence of a noted secret in `texts`. `allowed` lists texts that may contain a given
 * secret (the one response that reveals it once).
 */
export function scanForSecrets(where: string, texts: readonly string[], allowed: ReadonlySet<string> = new Set()): Leak[] {
  const leaks: Leak[] = [];
  for (const text of texts) {
    if (allowed.has(text)) continue;
    for (const [value, label] of secrets) {
      const at = text.indexOf(value);
      if (at >= 0) leaks.push({ label, where, excerpt: text.slice(Math.max(0, at - 80), at + value.length + 20).replace(value, `<${label}>`) });
    }
  }
  return leaks;
}
