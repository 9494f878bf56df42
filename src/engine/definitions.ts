/**
 * Workflow definitions live in code: `defineWorkflow` checks one and fills in defaults; a
 * {@link WorkflowRegistry} maps a workflow row (kind, service slug) back to its definition.
 */
import { DEFAULT_RETRY, STEP_KINDS, type PollPolicy, type RetryPolicy, type StepDefinition, type WorkflowDefinition } from "./types.js";

export const DEFAULT_TIMEOUT_MS = { action: 5 * 60_000, callback: 24 * 3_600_000, poll: 3_600_000 } as const;
export const DEFAULT_POLL: PollPolicy = { intervalMs: 5_000, backoffFactor: 1.5, maxIntervalMs: 60_000 };
const STEP_NAME = /^[a-z][a-z0-9_]{0,62}$/;

/** A step with every default resolved (what the runtime uses). */
export interface ResolvedStep extends StepDefinition {
  retry: RetryPolicy;
  timeoutMs: number;
  pollPolicy: PollPolicy;
}

export interface ResolvedWorkflow extends WorkflowDefinition {
  steps: ResolvedStep[];
}

/** Validates a definition and resolves its defaults. Throws on a programming mistake. */
export function defineWorkflow(definition: WorkflowDefinition): ResolvedWorkflow {
  if (!definition.kind) throw new Error("defineWorkflow: kind is required");
  if (definition.steps.length === 0) throw new Error(`workflow ${definition.kind}: needs at least one step`);
  const names = new Set<string>();
  const steps = definition.steps.map((step): ResolvedStep => {
    const where = `workflow ${definition.kind}, step ${step.name}`;
    if (!STEP_NAME.test(step.name)) throw new Error(`${where}: name must match ${STEP_NAME}`);
    if (names.has(step.name)) throw new Error(`${where}: duplicate step name`);
    names.add(step.name);
    if (!STEP_KINDS.includes(step.kind)) throw new Error(`${where}: unknown kind ${String(step.kind)}`);
    if (step.kind === "poll" && !step.poll) throw new Error(`${where}: poll steps need poll()`);
    const retry = { ...DEFAULT_RETRY, ...step.retry };
    if (!Number.isInteger(retry.maxAttempts) || retry.maxAttempts < 1) throw new Error(`${where}: retry.maxAttempts must be ≥ 1`);
    if (retry.jitter < 0 || retry.jitter > 1) throw new Error(`${where}: retry.jitter must be within 0–1`);
    return {
      ...step,
      retry,
      timeoutMs: step.timeoutMs ?? DEFAULT_TIMEOUT_MS[step.kind],
      pollPolicy: { ...DEFAULT_POLL, ...step.pollPolicy },
    };
  });
  const resolved = { ...definition, steps };
  RESOLVED.add(resolved);
  return resolved;
}

const RESOLVED = new WeakSet<object>();

function keyOf(kind: string, serviceSlug?: string | null): string {
  return serviceSlug ? `${kind}:${serviceSlug}` : kind;
}

/** Definitions by kind (and optionally service slug). Registering a key again replaces it. */
export class WorkflowRegistry {
  private readonly byKey = new Map<string, ResolvedWorkflow>();
  /** Kinds with a projection hook, kept as definitions register (read in every worker round). */
  private hooked: string[] = [];

  register(definition: WorkflowDefinition | ResolvedWorkflow): ResolvedWorkflow {
    const resolved = isResolved(definition) ? definition : defineWorkflow(definition);
    this.byKey.set(keyOf(resolved.kind, resolved.serviceSlug), resolved);
    this.hooked = [...new Set([...this.byKey.values()].filter((d) => d.onChange).map((d) => d.kind))];
    return resolved;
  }

  /** The definition for a workflow row: the service-specific one first, then the kind's. */
  find(kind: string, serviceSlug?: string | null): ResolvedWorkflow | undefined {
    return (serviceSlug ? this.byKey.get(keyOf(kind, serviceSlug)) : undefined) ?? this.byKey.get(kind);
  }

  /** Workflow kinds of which some definition has a projection hook (`onChange`). */
  hookedKinds(): readonly string[] {
    return this.hooked;
  }

  get(kind: string, serviceSlug?: string | null): ResolvedWorkflow {
    const found = this.find(kind, serviceSlug);
    if (!found) throw new Error(`no workflow definition registered for ${keyOf(kind, serviceSlug)}`);
    return found;
  }
}

function isResolved(d: WorkflowDefinition | ResolvedWorkflow): d is ResolvedWorkflow {
  return RESOLVED.has(d);
}

/**
 * The process-wide registry: definitions register here at import time (the tenant pipeline) or
 * at start (services from the catalogue). Workers and `startWorkflow` use it unless given another.
 */
export const workflowRegistry = new WorkflowRegistry();

/** Delay before retry n (n = failed attempts so far in this phase, ≥ 1), jitter applied. */
export function retryDelayMs(policy: RetryPolicy, failures: number, random: () => number = Math.random): number {
  const base = Math.min(policy.maxDelayMs, policy.initialDelayMs * policy.backoffFactor ** Math.max(0, failures - 1));
  const spread = base * policy.jitter * (2 * random() - 1);
  return Math.max(0, Math.round(Math.min(policy.maxDelayMs, base + spread)));
}

/** Interval before poll n (n ≥ 1). */
export function pollIntervalMs(policy: PollPolicy, polls: number): number {
  return Math.round(Math.min(policy.maxIntervalMs, policy.intervalMs * policy.backoffFactor ** Math.max(0, polls - 1)));
}
