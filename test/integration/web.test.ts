/** The web assets route: dashboard and GraphiQL served from the build, with their headers. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestGantry, type TestGantry } from "../helpers/server.js";

describe("web assets", () => {
  let on: TestGantry;
  let off: TestGantry;
  beforeAll(async () => {
    on = await startTestGantry({ env: { GANTRY_GRAPHIQL: "true" } });
    off = await startTestGantry({ env: { GANTRY_GRAPHIQL: "false" } });
  });
  afterAll(async () => {
    await on?.stop();
    await off?.stop();
  });

  it("serves the dashboard with a same-origin CSP and its bundle, no CDN", async () => {
    const redirect = await fetch(`${on.url}/dashboard`, { redirect: "manual" });
    expect(redirect.status).toBe(301);
    expect(redirect.headers.get("location")).toBe("/dashboard/");
    const page = await fetch(`${on.url}/dashboard/`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-security-policy")).toContain("default-src 'self'");
    const html = await page.text();
    expect(html).toContain('src="./main.js"');
    expect(html).not.toMatch(/https?:\/\//);
    const js = await fetch(`${on.url}/dashboard/main.js`);
    expect(js.status).toBe(200);
    expect(js.headers.get("content-type")).toMatch(/javascript/);
    expect((await fetch(`${on.url}/dashboard/nope.js`)).status).toBe(404);
    // The dashboard is on whatever GANTRY_GRAPHIQL says.
    expect((await fetch(`${off.url}/dashboard/`)).status).toBe(200);
  });

  it("serves GraphiQL only when enabled; a browser opening /graphql is sent to it", async () => {
    expect((await fetch(`${on.url}/graphiql/`)).status).toBe(200);
    expect((await fetch(`${on.url}/graphiql/main.js`)).status).toBe(200);
    const browse = await fetch(`${on.url}/graphql`, { headers: { accept: "text/html" }, redirect: "manual" });
    expect(browse.status).toBe(302);
    expect(browse.headers.get("location")).toBe("/graphiql/");
    // API clients are untouched.
    const api = await fetch(`${on.url}/graphql?query=${encodeURIComponent("{ viewer { kind } }")}`, { headers: { accept: "application/json", "apollo-require-preflight": "true" } });
    expect(((await api.json()) as { data: { viewer: { kind: string } } }).data.viewer.kind).toBe("ANONYMOUS");

    expect((await fetch(`${off.url}/graphiql/`)).status).toBe(404);
    const offBrowse = await fetch(`${off.url}/graphql`, { headers: { accept: "text/html" }, redirect: "manual" });
    expect(offBrowse.status).not.toBe(302);
  });
});
