/**
 * Secrets at rest and tokens. AES-256-GCM envelopes for anything we must read back (webhook
 * secrets, tap configs, service credentials); SHA-256 digests for anything we only compare
 * (API keys, callback tokens). Envelope format (documented in docs/SECRETS.md):
 *   `gcm1.<iv base64url>.<ciphertext base64url>.<tag base64url>` with a 12-byte IV.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes, timingSafeEqual } from "node:crypto";

const PREFIX = "gcm1";

export function encryptSecret(key: Buffer, plaintext: string, aad = ""): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  if (aad) cipher.setAAD(Buffer.from(aad));
  const ciphertext = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
  const tag = cipher.getAuthTag();
  return [PREFIX, iv.toString("base64url"), ciphertext.toString("base64url"), tag.toString("base64url")].join(".");
}

export function decryptSecret(key: Buffer, envelope: string, aad = ""): string {
  const parts = envelope.split(".");
  if (parts.length !== 4 || parts[0] !== PREFIX) throw new Error("Not a gcm1 envelope");
  const [, iv, ciphertext, tag] = parts as [string, string, string, string];
  const decipher = createDecipheriv("aes-256-gcm", key, Buffer.from(iv, "base64url"));
  if (aad) decipher.setAAD(Buffer.from(aad));
  decipher.setAuthTag(Buffer.from(tag, "base64url"));
  return Buffer.concat([decipher.update(Buffer.from(ciphertext, "base64url")), decipher.final()]).toString("utf8");
}

export function isEnvelope(value: string): boolean {
  return /^gcm1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]{22}$/.test(value);
}

export function sha256Hex(value: string | Buffer): string {
  return createHash("sha256").update(value).digest("hex");
}

/** Constant-time comparison of two strings of any length (compares their digests). */
export function safeEqual(a: string, b: string): boolean {
  return timingSafeEqual(createHash("sha256").update(a).digest(), createHash("sha256").update(b).digest());
}

/** A random opaque token (URL-safe), e.g. for callback tokens and API keys. */
export function randomToken(bytes = 32, prefix = ""): string {
  return prefix + randomBytes(bytes).toString("base64url");
}
