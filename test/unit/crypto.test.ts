import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { decryptSecret, encryptSecret, isEnvelope, safeEqual, sha256Hex } from "../../src/crypto/index.js";

describe("secret envelopes", () => {
  const key = randomBytes(32);

  it("round-trips and never contains the plaintext", () => {
    const envelope = encryptSecret(key, '{"password":"hunter2"}');
    expect(isEnvelope(envelope)).toBe(true);
    expect(envelope).not.toContain("hunter2");
    expect(decryptSecret(key, envelope)).toBe('{"password":"hunter2"}');
  });

  it("refuses a tampered envelope, a wrong key and a wrong associated context", () => {
    const envelope = encryptSecret(key, "secret", "connector:1");
    const parts = envelope.split(".");
    parts[2] = Buffer.from("XXXXXX").toString("base64url");
    expect(() => decryptSecret(key, parts.join("."), "connector:1")).toThrow();
    expect(() => decryptSecret(randomBytes(32), envelope, "connector:1")).toThrow();
    expect(() => decryptSecret(key, envelope, "connector:2")).toThrow();
  });

  it("compares and hashes", () => {
    expect(safeEqual("abc", "abc")).toBe(true);
    expect(safeEqual("abc", "abcd")).toBe(false);
    expect(sha256Hex("abc")).toHaveLength(64);
  });
});
