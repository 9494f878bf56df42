/**
 * The browser assets Gantry serves itself (built by `npm run build` into dist/web, no CDN):
 * the operations dashboard at `/dashboard`, and GraphiQL at `/graphiql` when `config.graphiql`
 * is on (development, or GANTRY_GRAPHIQL=true). Both talk only to the public GraphQL API.
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import express, { Router, type Response } from "express";
import type { AppServices } from "../app-services.js";

/** dist/web next to dist/src in a build; under vitest (src/http) the last build's dist/web (not the sources in web/). */
export function webAssetsDir(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = [path.resolve(here, "../../web"), path.resolve(here, "../../dist/web")];
  return candidates.find((dir) => fs.existsSync(path.join(dir, "dashboard", "main.js"))) ?? candidates[0]!;
}

// The pages load only their own files and talk only to this origin (HTTP and websocket).
const DASHBOARD_CSP = "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; style-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";
// GraphiQL's editor sets inline styles and loads its fonts/images as data: URLs.
const GRAPHIQL_CSP = "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; font-src 'self' data:; style-src 'self' 'unsafe-inline'; worker-src 'self' blob:; frame-ancestors 'none'; base-uri 'none'";

function mount(router: Router, app: AppServices, prefix: string, dir: string, csp: string): void {
  const index = path.join(dir, "index.html");
  const headers = (res: Response) => {
    res.setHeader("content-security-policy", csp);
    res.setHeader("x-content-type-options", "nosniff");
    res.setHeader("referrer-policy", "no-referrer");
  };
  // Relative asset URLs need the trailing slash (routing is not strict: `/x` also matches `/x/`).
  router.get(prefix, (req, res, next) => {
    if (req.path.endsWith("/")) next();
    else res.redirect(301, `${prefix}/`);
  });
  router.use(`${prefix}/`, (_req, res, next) => {
    headers(res);
    next();
  });
  router.use(`${prefix}/`, express.static(dir, { index: "index.html", fallthrough: true, maxAge: 0, redirect: false }));
  router.get(`${prefix}/`, (_req, res) => {
    if (!fs.existsSync(index)) {
      app.log.warn({ dir }, "web assets missing: run `npm run build`");
      res.status(503).type("text/plain").send("Assets not built: run `npm run build`.\n");
      return;
    }
    res.sendFile(index);
  });
}

export function webRouter(app: AppServices): Router {
  const router = Router();
  const dir = webAssetsDir();
  mount(router, app, "/dashboard", path.join(dir, "dashboard"), DASHBOARD_CSP);
  if (app.config.graphiql) {
    mount(router, app, "/graphiql", path.join(dir, "graphiql"), GRAPHIQL_CSP);
    // A browser opening the endpoint itself (no query) gets the IDE, as Apollo's landing page did.
    router.get("/graphql", (req, res, next) => {
      if (Object.keys(req.query).length === 0 && req.accepts(["application/json", "text/html"]) === "text/html") res.redirect(302, "/graphiql/");
      else next();
    });
  }
  return router;
}
