/**
 * Bundles the browser assets (dashboard, GraphiQL) into dist/web with esbuild, so Gantry serves
 * them itself: no CDN, works offline. Run by `npm run build` after tsc.
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const here = path.dirname(fileURLToPath(import.meta.url));
const out = path.resolve(here, "../dist/web");

const common = {
  bundle: true,
  minify: true,
  sourcemap: true,
  format: "esm",
  target: ["es2022"],
  legalComments: "linked",
  logLevel: "warning",
  define: { "process.env.NODE_ENV": '"production"' },
};

function copy(from, to) {
  fs.mkdirSync(path.dirname(to), { recursive: true });
  fs.copyFileSync(from, to);
}

fs.rmSync(out, { recursive: true, force: true });
await Promise.all([
  build({
    ...common,
    entryPoints: [path.join(here, "dashboard/main.ts"), path.join(here, "dashboard/style.css")],
    outdir: path.join(out, "dashboard"),
  }),
  build({
    ...common,
    entryPoints: [path.join(here, "graphiql/main.tsx")],
    outdir: path.join(out, "graphiql"),
    jsx: "automatic",
    loader: { ".woff": "file", ".woff2": "file", ".ttf": "file", ".svg": "file" },
  }),
]);
copy(path.join(here, "dashboard/index.html"), path.join(out, "dashboard/index.html"));
copy(path.join(here, "graphiql/index.html"), path.join(out, "graphiql/index.html"));
