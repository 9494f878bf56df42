/**
 * The connector's two secrets. Both are AES-256-GCM envelopes under the master key (see
 * docs/SECRETS.md); the additional data binds each to its connector and purpose, so an envelope
 * copied onto another connector's row does not decrypt.
 */
import { randomBytes } from "node:crypto";
import { decryptSecret, encryptSecret, isEnvelope } from "../crypto/index.js";
import { DomainError } from "../errors/index.js";

/** AAD of an envelope made client-side with `gantry encrypt-config` (the connector id is unknown then). */
export const CLIENT_CONFIG_AAD = "gantry:tap-config:v1";

export const configAad = (connectorId: string) => `gantry:connector:${connectorId}:config`;
export const webhookSecretAad = (connectorId: string) => `gantry:connector:${connectorId}:webhook-secret`;

export function requireMasterKey(key: Buffer | undefined): Buffer {
  if (!key) throw new Error("GANTRY_MASTER_KEY is not configured");
  return key;
}

/** A Standard Webhooks secret: `whsec_` + base64 of 32 random bytes. */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString("base64")}`;
}

export function sealConfig(key: Buffer, connectorId: string, config: Record<string, unknown>): string {
  return encryptSecret(key, JSON.stringify(config), configAad(connectorId));
}

/** Checks a client-made envelope opens under the master key (so the runner can read it). */
export function checkClientEnvelope(key: Buffer, envelope: string, field = "input.configEncrypted"): string {
  const value = envelope.trim();
  if (!isEnvelope(value)) throw DomainError.badInput(field, "is not a gcm1 envelope (see docs/SECRETS.md)");
  let plaintext: string;
  try {
    plaintext = decryptSecret(key, value, CLIENT_CONFIG_AAD);
  } catch {
    throw DomainError.badInput(field, "does not open with this deployment's master key");
  }
  try {
    const parsed = JSON.parse(plaintext) as unknown;
    if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error("not an object");
  } catch {
    throw DomainError.badInput(field, "does not contain a JSON object");
  }
  return value;
}

export function makeClientEnvelope(key: Buffer, config: Record<string, unknown>): string {
  return encryptSecret(key, JSON.stringify(config), CLIENT_CONFIG_AAD);
}

/** The tap config in clear, for the runner. */
export function openConfig(key: Buffer, connectorId: string, envelope: string, clientMade: boolean): Record<string, unknown> {
  return JSON.parse(decryptSecret(key, envelope, clientMade ? CLIENT_CONFIG_AAD : configAad(connectorId))) as Record<string, unknown>;
}

export function sealWebhookSecret(key: Buffer, connectorId: string, secret: string): string {
  return encryptSecret(key, secret, webhookSecretAad(connectorId));
}

export function openWebhookSecret(key: Buffer, connectorId: string, envelope: string): string {
  return decryptSecret(key, envelope, webhookSecretAad(connectorId));
}
