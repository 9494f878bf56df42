import { describe, expect, it } from "vitest";
import { isoTimestamp } from "../../src/db/timestamps.js";

describe("isoTimestamp", () => {
  it("gives what Date#toISOString gives for PostgreSQL's UTC text, at every fraction length", () => {
    // PostgreSQL drops trailing zeros of the fraction, and the fraction itself when it is zero.
    const texts = ["2026-11-23 21:08:07+00", "2026-11-23 21:08:07.5+00", "2026-11-23 21:08:07.38+00", "2026-11-23 21:08:07.382+00", "2026-11-23 21:08:07.3829+00", "2026-11-23 21:08:07.99999+00", "2026-11-23 21:08:07.999999+00", "2000-02-29 00:00:00.000001+00", "9999-12-31 23:59:59.999999+00"];
    for (let i = 0; i < 500; i++) {
      const us = Math.floor(Math.random() * 86_400_000_000 * 365);
      const date = new Date(Date.UTC(2020, 0, 1) + Math.floor(us / 1000));
      const fraction = String(us % 1_000_000).padStart(6, "0").replace(/0+$/, "");
      texts.push(`${date.toISOString().slice(0, 19).replace("T", " ")}${fraction ? `.${fraction}` : ""}+00`);
    }
    // And as `to_jsonb` writes them inside a row.
    texts.push(...texts.map((t) => t.replace(" ", "T").replace(/\+00$/, "+00:00")));
    for (const text of texts) expect(isoTimestamp(text), text).toBe(new Date(text).toISOString());
  });

  it("leaves every other form to Date", () => {
    for (const text of ["2026-11-23 21:08:07.5+02", "2026-11-23 21:08:07+05:30", "2026-11-23T21:08:07.500Z"]) {
      expect(isoTimestamp(text)).toBe(new Date(text).toISOString());
    }
    const date = new Date("2026-11-23T21:08:07.123Z");
    expect(isoTimestamp(date)).toBe("2026-11-23T21:08:07.123Z");
    expect(() => isoTimestamp("infinity")).toThrow(RangeError);
  });
});
