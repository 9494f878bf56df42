/**
 * The operations dashboard: hash routes (#/workflows, #/workflows/<id>, #/tenants,
 * #/connectors[/<id>]) over the public GraphQL API. Sign-in checks the credentials with `viewer`
 * and keeps them in sessionStorage (gone when the tab closes).
 */
import { GraphQLFailure, clearToast, gql, loadCredentials, onConnection, resetConnection, saveCredentials, type Credentials } from "./api.js";
import { h } from "./dom.js";
import { connectorsView } from "./views/connectors.js";
import { tenantsView } from "./views/tenants.js";
import { workflowView } from "./views/workflow.js";
import { workflowsView } from "./views/workflows.js";

export interface Session extends Credentials {
  label: string;
}

let session: Session | null = null;
let teardown: () => void = () => {};

const main = () => document.getElementById("main")!;

async function verify(c: Credentials): Promise<Session> {
  const { viewer } = await gql<{ viewer: { kind: string; adminKeyId: string | null; tenant: { slug: string } | null } }>(
    `query { viewer { kind adminKeyId tenant { slug } } }`,
    {},
    c,
  );
  const kind = viewer.kind.toLowerCase();
  if (kind !== c.kind) throw new GraphQLFailure(`These credentials are not a valid ${c.kind === "admin" ? "admin key" : "tenant token"}`, "UNAUTHENTICATED");
  return { ...c, label: c.kind === "admin" ? `admin ${viewer.adminKeyId ?? ""}`.trim() : `tenant ${viewer.tenant?.slug ?? ""}`.trim() };
}

function signInView(root: HTMLElement, error = ""): void {
  const kind = h(
    "select",
    { id: "kind", name: "kind" },
    h("option", { value: "admin" }, "Admin API key"),
    h("option", { value: "tenant" }, "Tenant token (JWT)"),
  );
  const secret = h("input", { id: "secret", name: "secret", type: "password", required: true, autocomplete: "off" });
  const status = h("p", { role: "alert", class: "problem", id: "signin-error" }, error);
  const form = h(
    "form",
    { class: "card signin", "aria-labelledby": "signin-title" },
    h("h1", { id: "signin-title" }, "Sign in"),
    h("label", { for: "kind" }, "Sign in with"),
    kind,
    h("label", { for: "secret" }, "Key or token"),
    secret,
    h("button", { type: "submit" }, "Sign in"),
    status,
    h("p", { class: "muted" }, "Kept in this tab's session storage only."),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    status.textContent = "";
    const c: Credentials = { kind: kind.value as Credentials["kind"], secret: secret.value.trim() };
    verify(c)
      .then((s) => {
        saveCredentials(c);
        session = s;
        location.hash = "#/workflows";
        route();
      })
      .catch((err) => {
        status.textContent = err instanceof GraphQLFailure ? `${err.code}: ${err.message}` : String(err);
      });
  });
  root.append(form);
  secret.focus();
}

function route(): void {
  teardown();
  teardown = () => {};
  const root = main();
  root.replaceChildren();
  const nav = document.getElementById("nav")!;
  const who = document.getElementById("who")!;
  const signout = document.getElementById("signout")!;
  nav.hidden = !session;
  signout.hidden = !session;
  who.textContent = session ? `Signed in as ${session.label}` : "";
  if (!session) return signInView(root);
  for (const a of nav.querySelectorAll<HTMLElement>("[data-admin]")) a.hidden = session.kind !== "admin";
  for (const a of nav.querySelectorAll<HTMLElement>("[data-tenant]")) a.hidden = session.kind !== "tenant";
  const [, view = "workflows", id] = location.hash.replace(/^#\/?/, "/").split("/");
  for (const a of nav.querySelectorAll("a")) {
    if (a.getAttribute("href") === `#/${view}`) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  if (view === "workflows" && id) teardown = workflowView(root, session, decodeURIComponent(id));
  else if (view === "tenants" && session.kind === "admin") teardown = tenantsView(root);
  else if (view === "connectors" && session.kind === "tenant") teardown = connectorsView(root, id ? decodeURIComponent(id) : undefined);
  else teardown = workflowsView(root, session);
}

async function boot(): Promise<void> {
  const live = document.getElementById("live")!;
  onConnection((state) => {
    live.textContent = state === "live" ? "● Live" : state === "connecting" ? "○ Connecting…" : "○ Offline, reconnecting";
    live.className = `live ${state}`;
  });
  document.getElementById("signout")!.addEventListener("click", () => {
    saveCredentials(null);
    session = null;
    resetConnection();
    clearToast();
    location.hash = "";
    route();
  });
  window.addEventListener("hashchange", route);
  const stored = loadCredentials();
  if (stored) {
    try {
      session = await verify(stored);
    } catch {
      saveCredentials(null);
    }
  }
  route();
}

void boot();
