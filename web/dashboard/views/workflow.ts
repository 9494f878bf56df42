/**
 * One workflow: its steps as a timeline (status, attempts, errors), the event history, and the
 * admin actions. History loads once, then workflowStepChanged resumes after its last sequence.
 */
import { GraphQLFailure, gql, live, toast } from "../api.js";
import { badge, confirmDialog, h, short, when } from "../dom.js";
import type { Session } from "../main.js";
import { SUMMARY } from "./workflows.js";

const STEP = "id name position kind status attempt retryCount maxAttempts startedAt completedAt nextAttemptAt error";
const EVENT = `sequence occurredAt type detail workflow { ${SUMMARY} } step { ${STEP} }`;

interface Step {
  id: string;
  name: string;
  position: number;
  kind: string;
  status: string;
  attempt: number;
  retryCount: number;
  maxAttempts: number;
  startedAt: string | null;
  completedAt: string | null;
  nextAttemptAt: string | null;
  error: string | null;
}
interface Event {
  sequence: number;
  occurredAt: string;
  type: string;
  detail: Record<string, unknown> | null;
  workflow: { id: string; status: string; error: string | null; kind: string };
  step: Step | null;
}

const ACTIONS: { label: string; mutation: string; title: string }[] = [
  { label: "Force complete", mutation: "forceCompleteWorkflow", title: "Force-complete this workflow?" },
  { label: "Roll back", mutation: "rollbackWorkflow", title: "Roll this workflow back?" },
  { label: "Cancel", mutation: "cancelWorkflow", title: "Cancel this workflow?" },
];

export function workflowView(root: HTMLElement, session: Session, id: string): () => void {
  const steps = new Map<string, { step: Step; li: HTMLLIElement }>();
  const timeline = h("ol", { class: "timeline", id: "timeline", "aria-label": "Steps" });
  const history = h("tbody");
  const head = h("div", { class: "wf-head" });
  const problem = h("p", { class: "problem", role: "alert", id: "problem" });
  let stopLive = () => {};
  root.append(
    h("p", {}, h("a", { href: "#/workflows" }, "← All workflows")),
    head,
    problem,
    h("h2", {}, "Steps"),
    timeline,
    h("h2", {}, "History"),
    h(
      "table",
      { class: "grid", id: "history" },
      h("thead", {}, h("tr", {}, ...["#", "When", "Event", "Step", "Detail"].map((c) => h("th", { scope: "col" }, c)))),
      history,
    ),
  );

  async function act(title: string, mutation: string, variables: Record<string, unknown>, args: string) {
    if (!(await confirmDialog(title, `Workflow ${short(id)}. This is recorded in its history.`, "Confirm"))) return;
    problem.textContent = "";
    try {
      await gql(`mutation($id: ID!${args ? ", $step: String!" : ""}) { ${mutation}(${args || "id: $id"}) { id status } }`, variables);
    } catch (err) {
      const message = err instanceof GraphQLFailure ? `${err.code}: ${err.message}` : String(err);
      problem.textContent = message;
      toast(message);
    }
  }

  function renderHead(w: { id: string; kind: string; status: string; serviceSlug?: string | null; error: string | null; tenantId?: string }) {
    head.replaceChildren(
      h("h1", {}, `${w.kind} `, h("code", {}, short(w.id))),
      h("p", {}, "Status: ", h("span", { id: "wf-status" }, badge(w.status)), w.serviceSlug ? ` · service ${w.serviceSlug}` : ""),
      w.error ? h("p", { class: "err" }, w.error) : "",
      session.kind === "admin"
        ? h(
            "div",
            { class: "row actions" },
            ...ACTIONS.map((a) => h("button", { type: "button", onclick: () => void act(a.title, a.mutation, { id }, "") }, a.label)),
          )
        : "",
    );
  }

  function renderStep(step: Step) {
    const li = h(
      "li",
      { "data-step": step.name, "data-status": step.status, class: `st-${step.status.toLowerCase()}` },
      h("div", { class: "step-title" }, h("strong", {}, `${step.position}. ${step.name}`), " ", badge(step.status)),
      h(
        "div",
        { class: "muted" },
        `attempt ${step.attempt} · max attempts ${step.maxAttempts}`,
        step.retryCount ? ` · retried ${step.retryCount}×` : "",
        step.startedAt ? ` · started ${when(step.startedAt)}` : "",
        step.completedAt ? ` · done ${when(step.completedAt)}` : "",
        step.nextAttemptAt && step.status === "PENDING" ? ` · next try ${when(step.nextAttemptAt)}` : "",
      ),
      step.error ? h("pre", { class: "err" }, step.error) : null,
      session.kind === "admin" && step.status === "FAILED"
        ? h(
            "button",
            {
              type: "button",
              class: "retry",
              onclick: () => void act(`Retry ${step.name}?`, "retryWorkflowStep", { id, step: step.name }, "workflowId: $id, stepName: $step"),
            },
            `Retry ${step.name}`,
          )
        : null,
    );
    const existing = steps.get(step.name);
    if (existing) existing.li.replaceWith(li);
    else {
      const after = [...steps.values()].find((s) => s.step.position > step.position);
      if (after) after.li.before(li);
      else timeline.append(li);
    }
    steps.set(step.name, { step, li });
  }

  function addHistory(e: Event) {
    history.append(
      h(
        "tr",
        { "data-sequence": e.sequence },
        h("td", {}, e.sequence),
        h("td", {}, when(e.occurredAt)),
        h("td", {}, h("code", {}, e.type)),
        h("td", {}, e.step ? `${e.step.name} → ${e.step.status}` : "—"),
        h("td", { class: "detail" }, e.detail && Object.keys(e.detail).length ? JSON.stringify(e.detail) : ""),
      ),
    );
  }

  void gql<{ workflow: { id: string; kind: string; status: string; serviceSlug: string | null; error: string | null; tenantId: string; steps: Step[]; events: Event[] } }>(
    `query($id: ID!) { workflow(id: $id) { ${SUMMARY} steps { ${STEP} } events(limit: 1000) { ${EVENT} } } }`,
    { id },
  )
    .then(({ workflow }) => {
      renderHead(workflow);
      for (const step of workflow.steps) renderStep(step);
      for (const e of workflow.events) addHistory(e);
      const since = workflow.events.at(-1)?.sequence ?? 0;
      let current = { ...workflow };
      stopLive = live<Event>(
        `subscription($id: ID!, $since: SafeInt) { workflowStepChanged(workflowId: $id, since: $since) { ${EVENT} } }`,
        "workflowStepChanged",
        { id, since },
        (e) => {
          if (e.step) renderStep(e.step);
          if (e.workflow.status !== current.status || e.workflow.error !== current.error) {
            current = { ...current, status: e.workflow.status, error: e.workflow.error };
            renderHead(current);
          }
          addHistory(e);
        },
      ).stop;
    })
    .catch((err) => {
      problem.textContent = err instanceof GraphQLFailure ? `${err.code}: ${err.message}` : String(err);
    });
  return () => stopLive();
}
