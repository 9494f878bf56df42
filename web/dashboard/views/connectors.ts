/**
 * Connectors (tenant): status, next and last run, and for the selected one its run history with a
 * rows-per-run chart, live through connectorRunChanged; trigger, pause and resume.
 */
import { GraphQLFailure, gql, live, onConnection, toast } from "../api.js";
import { rowsChart } from "../chart.js";
import { badge, h, short, when } from "../dom.js";

const RUN = "id status trigger rowsSynced rowsLoaded transformErrors lakehouseTable queuedAt startedAt completedAt durationS errorMsg";
// Lean selections: graphql-armor's cost limit (5000) counts every field at its depth.
const LAST_RUN = "lastRun { id status queuedAt completedAt }";
const LIST = `id sourceSystem tapName destinationTable syncSchedule status consecutiveFailures nextRunAt ${LAST_RUN}`;
const CONNECTOR = `${LIST} lastSyncedAt runCount totalRowsLoaded`;

interface Run {
  id: string;
  status: string;
  trigger: string;
  rowsSynced: number | null;
  rowsLoaded: number | null;
  transformErrors: number;
  queuedAt: string;
  startedAt: string | null;
  completedAt: string | null;
  durationS: number | null;
  errorMsg: string | null;
}
interface Connector {
  id: string;
  sourceSystem: string;
  tapName: string;
  destinationTable: string;
  syncSchedule: string;
  status: string;
  consecutiveFailures: number;
  nextRunAt: string | null;
  lastSyncedAt: string | null;
  runCount: number;
  totalRowsLoaded: number;
  lastRun: Pick<Run, "id" | "status" | "queuedAt" | "completedAt"> | null;
}

export function connectorsView(root: HTMLElement, selected: string | undefined): () => void {
  const tbody = h("tbody");
  const detail = h("section", { id: "connector", "aria-live": "polite" });
  root.append(
    h("h1", {}, "Connectors"),
    h(
      "table",
      { class: "grid", id: "connectors" },
      h("thead", {}, h("tr", {}, ...["Connector", "Tap", "Status", "Schedule", "Next run", "Last run"].map((c) => h("th", { scope: "col" }, c)))),
      tbody,
    ),
    detail,
  );
  let stop = () => {};

  const row = (c: Connector) =>
    h(
      "tr",
      { "data-id": c.id, "data-status": c.status },
      h("td", {}, h("a", { href: `#/connectors/${c.id}`, "aria-current": c.id === selected ? "true" : null }, `${c.sourceSystem} → ${c.destinationTable}`)),
      h("td", {}, c.tapName),
      h("td", {}, badge(c.status), c.consecutiveFailures ? ` (${c.consecutiveFailures} failed)` : ""),
      h("td", {}, h("code", {}, c.syncSchedule)),
      h("td", {}, when(c.nextRunAt)),
      h("td", {}, c.lastRun ? [badge(c.lastRun.status), ` ${when(c.lastRun.completedAt ?? c.lastRun.queuedAt)}`] : "never"),
    );

  async function loadList() {
    const data = await gql<{ connectors: { nodes: Connector[] } }>(`query { connectors(first: 100) { nodes { ${LIST} } } }`);
    tbody.replaceChildren(...data.connectors.nodes.map(row));
    if (!data.connectors.nodes.length) tbody.append(h("tr", {}, h("td", { colspan: 6, class: "muted" }, "No connectors yet.")));
  }

  async function loadDetail(id: string) {
    const data = await gql<{ connector: Connector; connectorRuns: Run[] }>(
      `query($id: ID!) { connector(id: $id) { ${CONNECTOR} } connectorRuns(connectorId: $id, limit: 50) { ${RUN} } }`,
      { id },
    );
    renderDetail(data.connector, data.connectorRuns);
  }

  async function action(id: string, mutation: string) {
    try {
      const selection = mutation === "triggerConnectorSync" ? "{ message connector { id } }" : "{ id }";
      await gql(`mutation($id: ID!) { ${mutation}(id: $id) ${selection} }`, { id });
      await Promise.all([loadList(), loadDetail(id)]);
    } catch (err) {
      const message = err instanceof GraphQLFailure ? `${err.code}: ${err.message}` : String(err);
      detail.querySelector(".problem")!.textContent = message;
      toast(message);
    }
  }

  function renderDetail(c: Connector, runs: Run[]) {
    const points = [...runs].reverse().map((r) => ({ label: `run ${short(r.id)}`, synced: r.rowsSynced ?? 0, loaded: r.rowsLoaded ?? 0 }));
    detail.replaceChildren(
      h("h2", {}, `${c.sourceSystem} → ${c.destinationTable} `, badge(c.status)),
      h(
        "dl",
        { class: "facts" },
        h("dt", {}, "Next run"),
        h("dd", { id: "next-run" }, when(c.nextRunAt)),
        h("dt", {}, "Last run"),
        h("dd", { id: "last-run" }, c.lastRun ? [badge(c.lastRun.status), ` ${when(c.lastRun.completedAt ?? c.lastRun.queuedAt)}`] : "never"),
        h("dt", {}, "Runs"),
        h("dd", {}, String(c.runCount)),
        h("dt", {}, "Rows loaded"),
        h("dd", {}, String(c.totalRowsLoaded)),
      ),
      h(
        "div",
        { class: "row actions" },
        h("button", { type: "button", onclick: () => void action(c.id, "triggerConnectorSync") }, "Trigger sync"),
        h("button", { type: "button", onclick: () => void action(c.id, "pauseConnector") }, "Pause"),
        h("button", { type: "button", onclick: () => void action(c.id, "resumeConnector") }, "Resume"),
      ),
      h("p", { class: "problem", role: "alert" }),
      h("h3", {}, "Rows per run"),
      h("p", { class: "legend" }, h("span", { class: "key synced" }, "■"), " synced ", h("span", { class: "key loaded" }, "■"), " loaded"),
      rowsChart(points),
      h("h3", {}, "Run history"),
      h(
        "table",
        { class: "grid", id: "runs" },
        h("thead", {}, h("tr", {}, ...["Run", "Trigger", "Status", "Synced", "Loaded", "Errors", "Started", "Duration"].map((t) => h("th", { scope: "col" }, t)))),
        h(
          "tbody",
          {},
          ...runs.map((r) =>
            h(
              "tr",
              { "data-run": r.id, "data-status": r.status },
              h("td", {}, h("code", {}, short(r.id))),
              h("td", {}, r.trigger),
              h("td", {}, badge(r.status), r.errorMsg ? h("div", { class: "err" }, r.errorMsg) : null),
              h("td", { class: "num" }, r.rowsSynced ?? "—"),
              h("td", { class: "num" }, r.rowsLoaded ?? "—"),
              h("td", { class: "num" }, r.transformErrors),
              h("td", {}, when(r.startedAt ?? r.queuedAt)),
              h("td", { class: "num" }, r.durationS == null ? "—" : `${r.durationS.toFixed(1)} s`),
            ),
          ),
        ),
      ),
    );
  }

  void loadList().catch((err) => toast(err instanceof GraphQLFailure ? `${err.code}: ${err.message}` : String(err)));
  if (selected) {
    const id = selected;
    // Subscribe first, then load: a run change re-reads the connector and its runs (status, next
    // run and totals move with it), so nothing between the load and the subscription is lost.
    const sub = live<{ sequence: number }>(
      `subscription($id: ID!, $since: SafeInt) { connectorRunChanged(connectorId: $id, since: $since) { sequence type run { id status } } }`,
      "connectorRunChanged",
      { id },
      () => void Promise.all([loadDetail(id), loadList()]),
    );
    // The view is re-read on every change, so after a reconnect a re-read covers what was missed.
    let wasOffline = false;
    const unlisten = onConnection((state) => {
      if (state === "offline") wasOffline = true;
      else if (state === "live" && wasOffline) {
        wasOffline = false;
        void Promise.all([loadDetail(id), loadList()]);
      }
    });
    stop = () => {
      sub.stop();
      unlisten();
    };
    void loadDetail(id).catch((err) => toast(err instanceof GraphQLFailure ? `${err.code}: ${err.message}` : String(err)));
  }
  return () => stop();
}
