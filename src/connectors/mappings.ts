/**
 * Field-mapping transforms: CEL expressions over the staged record `row` (e.g. `row.amount * 100`),
 * compiled and type-checked once when mappings are written, evaluated per row by the loader.
 * CEL is not Turing-complete and has no access to the process: nothing here reaches `eval`.
 *
 * Staged JSON numbers arrive as doubles; CEL has no implicit int/double promotion, so mixed
 * arithmetic (`double * int`, `int + double`, …) is registered to keep `row.amount * 100` working.
 */
import { Environment } from "@marcbachmann/cel-js";

const env = new Environment({
  limits: { maxAstNodes: 500, maxDepth: 32, maxListElements: 1000, maxMapEntries: 1000, maxCallArguments: 16 },
}).registerVariable("row", "map");

for (const op of ["+", "-", "*", "/"] as const) {
  const apply = (a: number, b: number): number =>
    op === "+" ? a + b : op === "-" ? a - b : op === "*" ? a * b : a / b;
  env.registerOperator(`double ${op} int`, (a: number, b: bigint) => apply(a, Number(b)));
  env.registerOperator(`int ${op} double`, (a: bigint, b: number) => apply(Number(a), b));
}

/** A transform refused at compile time: `message` says why (no row data in it). */
export class TransformCompileError extends Error {
  override name = "TransformCompileError";
}

/** A transform that failed on one row; the loader counts it in `transformErrors`. */
export class TransformEvaluationError extends Error {
  override name = "TransformEvaluationError";
}

export interface CompiledTransform {
  readonly expression: string;
  /** The CEL type the checker inferred (`int`, `double`, `string`, `dyn`, …). */
  readonly type: string;
  evaluate(row: Record<string, unknown>): unknown;
}

function firstLine(message: string): string {
  return message.split("\n")[0]!.trim();
}

/** Compiles and type-checks `expression`; throws TransformCompileError when it cannot run. */
export function compileTransform(expression: string): CompiledTransform {
  if (expression.length > 2000) throw new TransformCompileError("is longer than 2000 characters");
  let parsed: ReturnType<Environment["parse"]>;
  try {
    parsed = env.parse(expression);
  } catch (err) {
    throw new TransformCompileError(firstLine(err instanceof Error ? err.message : String(err)));
  }
  const checked = parsed.check();
  if (!checked.valid) throw new TransformCompileError(firstLine(checked.error?.message ?? "does not type-check"));
  return {
    expression,
    type: checked.type ?? "dyn",
    evaluate(row) {
      try {
        return toJsonValue(parsed({ row }));
      } catch (err) {
        throw new TransformEvaluationError(firstLine(err instanceof Error ? err.message : String(err)), { cause: err });
      }
    },
  };
}

/** Evaluates a compiled transform over one staged record. */
export function evaluateTransform(compiled: CompiledTransform, row: Record<string, unknown>): unknown {
  return compiled.evaluate(row);
}

/** CEL integers are BigInt: bring them back to numbers when exact, else to decimal strings. */
export function toJsonValue(value: unknown): unknown {
  if (typeof value === "bigint") {
    return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value.toString();
  }
  if (Array.isArray(value)) return value.map(toJsonValue);
  if (value instanceof Map) return Object.fromEntries([...value].map(([k, v]) => [String(k), toJsonValue(v)]));
  if (value instanceof Uint8Array) return Buffer.from(value).toString("base64");
  if (value && typeof value === "object" && value.constructor === Object) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toJsonValue(v)]));
  }
  return value;
}
