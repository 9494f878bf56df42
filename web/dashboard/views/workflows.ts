/** Workflows: the live list (workflowChanged, resumed with `since`) and a live event feed. */
import { gql, live } from "../api.js";
import { badge, h, short, when } from "../dom.js";
import type { Session } from "../main.js";

export const SUMMARY = "id kind serviceSlug status tenantId error createdAt updatedAt";

interface Summary {
  id: string;
  kind: string;
  serviceSlug: string | null;
  status: string;
  tenantId: string;
  error: string | null;
  createdAt: string;
  updatedAt: string;
}

interface Change {
  sequence: number;
  occurredAt: string;
  type: string;
  workflow: Summary;
  step: { name: string; status: string; attempt: number } | null;
}

const CHANGED = `subscription WorkflowChanged($since: SafeInt) {
  workflowChanged(since: $since) { sequence occurredAt type workflow { ${SUMMARY} } step { name status attempt } }
}`;

export function workflowsView(root: HTMLElement, session: Session): () => void {
  const rows = new Map<string, { summary: Summary; tr: HTMLTableRowElement }>();
  const tbody = h("tbody");
  // Focusable so the scrolling feed can be read with the keyboard.
  const feed = h("ol", { class: "feed", id: "feed", "aria-label": "Live events", tabindex: 0 });
  const empty = h("p", { class: "muted" }, "No workflows yet.");
  root.append(
    h("h1", {}, "Workflows"),
    h(
      "table",
      { class: "grid", id: "workflows" },
      h("caption", { class: "sr-only" }, "Workflows, newest first; updates live"),
      h("thead", {}, h("tr", {}, ...["Workflow", "Kind", "Service", "Tenant", "Status", "Updated"].map((c) => h("th", { scope: "col" }, c)))),
      tbody,
    ),
    empty,
    h("h2", {}, "Live events"),
    feed,
  );

  function render(summary: Summary): void {
    const existing = rows.get(summary.id);
    // Events carry the whole summary; an older one (a replay racing the first load) never wins.
    if (existing && existing.summary.updatedAt > summary.updatedAt) return;
    const tr = h(
      "tr",
      { "data-id": summary.id, "data-status": summary.status },
      h("td", {}, h("a", { href: `#/workflows/${summary.id}` }, short(summary.id))),
      h("td", {}, summary.kind),
      h("td", {}, summary.serviceSlug ?? "—"),
      h("td", {}, h("code", {}, short(summary.tenantId))),
      h("td", {}, badge(summary.status), summary.error ? h("div", { class: "err" }, summary.error) : null),
      h("td", {}, when(summary.updatedAt)),
    );
    if (existing) existing.tr.replaceWith(tr);
    else tbody.prepend(tr);
    rows.set(summary.id, { summary, tr });
    empty.hidden = rows.size > 0;
  }

  const listQuery = session.kind === "admin"
    ? `query { list: adminWorkflows(first: 50) { nodes { ${SUMMARY} } } }`
    : `query { list: workflows(first: 50) { nodes { ${SUMMARY} } } }`;

  const sub = live<Change>(CHANGED, "workflowChanged", {}, (event) => {
    render(event.workflow);
    feed.prepend(
      h(
        "li",
        { "data-sequence": event.sequence },
        h("span", { class: "seq" }, `#${event.sequence}`),
        " ",
        h("code", {}, event.type),
        " ",
        h("a", { href: `#/workflows/${event.workflow.id}` }, `${event.workflow.kind} ${short(event.workflow.id)}`),
        event.step ? ` · ${event.step.name} → ${event.step.status}` : "",
      ),
    );
    while (feed.children.length > 200) feed.lastElementChild?.remove();
  });

  void gql<{ list: { nodes: Summary[] } }>(listQuery).then(async (data) => {
    for (const s of [...data.list.nodes].reverse()) render(s);
    empty.hidden = rows.size > 0;
    // workflowChanged without `since` starts live; to resume after a drop that comes before the
    // first event, seed it with the last sequence of the most recently changed workflow (a real,
    // committed sequence, so nothing after it can be missed; rows upsert, so an overlap is harmless).
    const newest = [...data.list.nodes].sort((a, b) => (a.updatedAt < b.updatedAt ? 1 : -1))[0];
    if (!newest) return sub.seed(0);
    const { workflow } = await gql<{ workflow: { events: { sequence: number }[] } }>(
      `query($id: ID!) { workflow(id: $id) { events(limit: 1000) { sequence } } }`,
      { id: newest.id },
    );
    sub.seed(workflow.events.at(-1)?.sequence ?? 0);
  });
  return () => sub.stop();
}
