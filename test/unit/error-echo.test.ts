import { describe, expect, it } from "vitest";
import { withoutEchoedValues } from "../../src/http/errors.js";

describe("withoutEchoedValues", () => {
  it("keeps the variable, path and reason of a coercion error, not the value", () => {
    const out = withoutEchoedValues(
      'Variable "$input" got invalid value "s3cret; x" at "input.config"; Expected type "JSONObject". JSONObject cannot represent non-object value: s3cret; x',
    );
    expect(out).not.toContain("s3cret");
    expect(out).toMatch(/^Variable "\$input" got invalid value at "input.config"; Expected type "JSONObject"\./);
    expect(withoutEchoedValues('Variable "$input" got invalid value { a: "s3cret; x" }; Field "name" of required type "String!" was not provided.')).toBe(
      'Variable "$input" got invalid value; Field "name" of required type "String!" was not provided.',
    );
  });

  it("drops the value of a literal error and of a scalar's own message", () => {
    expect(withoutEchoedValues('Expected value of type "JSONObject", found "s3cret"; JSONObject cannot represent non-object value: s3cret')).not.toContain("s3cret");
    expect(withoutEchoedValues("JSONObject cannot represent non-object value: s3cret")).toBe("JSONObject cannot represent non-object value (not shown)");
  });

  it("leaves other messages alone", () => {
    expect(withoutEchoedValues('Cannot query field "nope" on type "Query".')).toBe('Cannot query field "nope" on type "Query".');
  });
});
