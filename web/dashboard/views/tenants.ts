/** Tenants (admin): create one, and each tenant's 9-step pipeline as a live progress bar. */
import { GraphQLFailure, gql, live } from "../api.js";
import { badge, h, when } from "../dom.js";

interface PipelineStep {
  name: string;
  position: number;
  title: string;
  status: string;
  attempt: number;
  error: string | null;
}
interface Status {
  slug: string;
  provisioningState: string;
  completedSteps: string[];
  failedSteps: string[];
  lastError: string | null;
  updatedAt: string;
}
interface ProvisioningEvent {
  sequence: number;
  type: string;
  steps: PipelineStep[];
  tenant: Status;
  workflowId: string | null;
}

const STATUS = "tenantId slug provisioningState completedSteps failedSteps lastError updatedAt";
const CHANGED = `subscription($slug: String!, $since: SafeInt) {
  tenantProvisioningChanged(slug: $slug, since: $since) {
    sequence type workflowId workflowStatus tenant { ${STATUS} } steps { name position title status attempt error }
  }
}`;
const TOTAL = 9;

export function tenantsView(root: HTMLElement): () => void {
  const cards = new Map<string, { card: HTMLElement; stop: () => void }>();
  const list = h("div", { class: "tenants", id: "tenants" });
  const message = h("p", { role: "status", class: "muted", id: "create-status" });
  const slug = h("input", { id: "slug", name: "slug", required: true, pattern: "[a-z][a-z0-9-]*[a-z0-9]", minlength: 3, maxlength: 40, autocomplete: "off" });
  const name = h("input", { id: "tname", name: "name", required: true, maxlength: 200, autocomplete: "off" });
  const form = h(
    "form",
    { class: "row create", "aria-label": "Create a tenant" },
    h("label", { for: "slug" }, "Slug"),
    slug,
    h("label", { for: "tname" }, "Name"),
    name,
    h("button", { type: "submit" }, "Create tenant"),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    message.textContent = "Creating…";
    gql<{ createTenant: { slug: string } }>(`mutation($input: CreateTenantInput!) { createTenant(input: $input) { slug } }`, {
      input: { slug: slug.value.trim(), name: name.value.trim() },
    })
      .then(({ createTenant }) => {
        message.textContent = `Started provisioning ${createTenant.slug}.`;
        track(createTenant.slug);
        form.reset();
      })
      .catch((err) => {
        message.textContent = err instanceof GraphQLFailure ? `${err.code}: ${err.message}` : String(err);
      });
  });
  root.append(h("h1", {}, "Tenants"), form, message, list);

  function track(s: string): void {
    if (cards.has(s)) return;
    const card = h("section", { class: "card tenant", "data-slug": s, "aria-label": `Tenant ${s}` }, h("h2", {}, s), h("p", { class: "muted" }, "Loading…"));
    list.prepend(card);
    const entry = { card, stop: () => {} };
    cards.set(s, entry);
    // No `since`: the first event is a snapshot of the current state, then every change.
    entry.stop = live<ProvisioningEvent>(CHANGED, "tenantProvisioningChanged", { slug: s }, (e) => render(entry, e)).stop;
  }

  function render(entry: { card: HTMLElement }, e: ProvisioningEvent): void {
    const t = e.tenant;
    const done = e.steps.filter((st) => st.status === "COMPLETED" || st.status === "SKIPPED").length;
    const pct = Math.round((done / TOTAL) * 100);
    const fill = h("div", { class: "fill" });
    fill.style.width = `${pct}%`;
    const bar = h(
      "div",
      {
        class: `bar st-${t.provisioningState.toLowerCase()}`,
        role: "progressbar",
        "aria-valuemin": 0,
        "aria-valuemax": TOTAL,
        "aria-valuenow": done,
        "aria-valuetext": `${done} of ${TOTAL} steps done, ${t.provisioningState}`,
        "aria-label": `Provisioning of ${t.slug}`,
      },
      fill,
    );
    entry.card.setAttribute("data-state", t.provisioningState);
    entry.card.replaceChildren(
      h("h2", {}, t.slug, " ", badge(t.provisioningState)),
      h("p", { class: "progress-text" }, `${done} / ${TOTAL} steps`, " · updated ", when(t.updatedAt), e.workflowId ? " · " : "", e.workflowId ? h("a", { href: `#/workflows/${e.workflowId}` }, "workflow") : null),
      bar,
      h(
        "ol",
        { class: "steps" },
        ...[...e.steps]
          .sort((a, b) => a.position - b.position)
          .map((st) =>
            h(
              "li",
              { "data-step": st.name, "data-status": st.status, class: `st-${st.status.toLowerCase()}` },
              h("span", { class: "mark", "aria-hidden": "true" }, mark(st.status)),
              ` ${st.position}. ${st.title} `,
              h("span", { class: "step-status" }, `(${st.status.replace(/_/g, " ")}${st.attempt > 1 ? `, attempt ${st.attempt}` : ""})`),
            ),
          ),
      ),
      t.lastError ? h("pre", { class: "err" }, t.lastError) : "",
    );
  }

  const load = () =>
    gql<{ tenants: { nodes: { slug: string }[] } }>(`query { tenants(first: 100) { nodes { slug } } }`).then((data) => {
      for (const t of data.tenants.nodes) track(t.slug);
    });
  void load();
  // A tenant created elsewhere (another admin, the API) appears when its pipeline starts.
  const created = live<{ sequence: number; type: string; workflow: { kind: string } }>(
    `subscription($since: SafeInt) { workflowChanged(since: $since) { sequence type workflow { kind } } }`,
    "workflowChanged",
    {},
    (e) => {
      if (e.type === "workflow.created" && e.workflow.kind === "tenant_provisioning") void load();
    },
  );
  return () => {
    created.stop();
    for (const c of cards.values()) c.stop();
  };
}

function mark(status: string): string {
  if (status === "COMPLETED") return "✓";
  if (status === "FAILED" || status === "COMPENSATION_FAILED") return "✗";
  if (status === "RUNNING" || status.startsWith("WAITING")) return "…";
  if (status === "SKIPPED" || status === "COMPENSATED") return "–";
  return "○";
}
