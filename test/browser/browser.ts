/**
 * Headless Chromium (Debian's `chromium` package) driven by playwright-core, for the dashboard
 * tests. Without /usr/bin/chromium the tests skip with a message saying how to install it.
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type Browser } from "playwright-core";

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
export const HAS_CHROMIUM = fs.existsSync(CHROMIUM);
export const SKIP_MESSAGE = `browser tests skipped: ${CHROMIUM} not found (apt-get install -y chromium; .ci/run does it)`;

export const ARTIFACTS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "artifacts");

export async function launchChromium(): Promise<Browser> {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

export const artifact = (name: string) => path.join(ARTIFACTS, name);
