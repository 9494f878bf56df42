import { describe, expect, it } from "vitest";
import { compileTransform, evaluateTransform, TransformCompileError, TransformEvaluationError } from "../../src/connectors/mappings.js";
import { firstRunAt, nextRunAfter, validateSchedule } from "../../src/connectors/schedule.js";

describe("field-mapping transforms (CEL)", () => {
  it("evaluates SPEC's example over staged JSON numbers", () => {
    const t = compileTransform("row.amount * 100");
    expect(evaluateTransform(t, { amount: 12.5 })).toBe(1250);
    expect(evaluateTransform(t, { amount: 3 })).toBe(300);
  });

  it("returns plain JSON values (BigInt back to number)", () => {
    expect(evaluateTransform(compileTransform("int(row.amount)"), { amount: 7.9 })).toBe(7);
    expect(evaluateTransform(compileTransform("row.name.upperAscii()"), { name: "ab" })).toBe("AB");
    expect(evaluateTransform(compileTransform('row.amount > 10.0 ? "big" : "small"'), { amount: 11 })).toBe("big");
  });

  it("refuses bad expressions at compile time", () => {
    expect(() => compileTransform("row.amount +")).toThrow(TransformCompileError);
    expect(() => compileTransform("other.x")).toThrow(TransformCompileError);
    expect(() => compileTransform("1 + 'a'")).toThrow(TransformCompileError);
  });

  it("reports a failing row as an evaluation error", () => {
    expect(() => evaluateTransform(compileTransform("row.missing * 2"), {})).toThrow(TransformEvaluationError);
  });
});

describe("schedules (croner, UTC)", () => {
  it("computes the next cron time and caps the first run at 5 minutes", () => {
    const now = new Date("2026-11-23T10:00:30Z");
    expect(nextRunAfter("0 2 * * *", now)!.toISOString()).toBe("2026-11-24T02:00:00.000Z");
    expect(firstRunAt("0 2 * * *", now).toISOString()).toBe("2026-11-23T10:05:30.000Z");
    expect(firstRunAt("*/2 * * * *", now).toISOString()).toBe("2026-11-23T10:02:00.000Z");
  });

  it("accepts 5 fields or a nickname, nothing else", () => {
    expect(validateSchedule(" 0  2 * * * ")).toBe("0 2 * * *");
    expect(validateSchedule("@daily")).toBe("@daily");
    expect(() => validateSchedule("* * * * * *")).toThrow(/5 fields/);
    expect(() => validateSchedule("61 * * * *")).toThrow(/cron/);
  });
});
