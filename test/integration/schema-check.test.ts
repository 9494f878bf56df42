/** `npm run schema:check` must fail when the code's schema and the committed SDL differ. */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";

const PRINT = path.resolve("dist/src/cli/print-schema.js");

function checkIn(dir: string) {
  return spawnSync(process.execPath, [PRINT, "--check"], { cwd: dir, encoding: "utf8" });
}

describe("schema:check", () => {
  it("passes on the committed schema and fails on drift", () => {
    const committed = fs.readFileSync("schema/schema.graphql", "utf8");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gantry-schema-"));
    fs.mkdirSync(path.join(dir, "schema"));
    try {
      fs.writeFileSync(path.join(dir, "schema/schema.graphql"), committed);
      expect(checkIn(dir).status).toBe(0);
      fs.writeFileSync(path.join(dir, "schema/schema.graphql"), committed.replace("viewer: Viewer!", "viewer: Viewer"));
      const drifted = checkIn(dir);
      expect(drifted.status).toBe(1);
      expect(drifted.stderr).toContain("npm run schema:print");
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
