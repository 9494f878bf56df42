import { describe, expect, it } from "vitest";
import { bundledTapPath, tapCommandLine, TapRegistry } from "../../src/runner/tap-registry.js";

describe("tap registry", () => {
  const registry = new TapRegistry({
    "tap-github": { command: "uvx", args: ["--from", "tap-github=={tapVersion}", "tap-github", "--config", "{config}"] },
  });
  const files = { config: "/tmp/x/config.json", state: "/tmp/x/state.json" };

  it("runs bundled taps with this Node", () => {
    const tap = registry.resolve({ tapName: "tap-synthetic", connectorType: "MELTANO" });
    expect(tap.source).toBe("bundled");
    expect(tapCommandLine(tap, files)).toEqual({
      command: process.execPath,
      args: [bundledTapPath("tap-synthetic"), "--config", files.config, "--state", files.state],
      env: {},
    });
  });

  it("fills a registry entry's placeholders and appends only the flags it does not mention", () => {
    const tap = registry.resolve({ tapName: "tap-github", tapVersion: "1.2.3" });
    expect(tapCommandLine(tap, files)).toEqual({
      command: "uvx",
      args: ["--from", "tap-github==1.2.3", "tap-github", "--config", files.config, "--state", files.state],
      env: {},
    });
  });

  it("uses meltano invoke for MELTANO connectors, with their environment", () => {
    const tap = registry.resolve({ tapName: "tap-gitlab", connectorType: "MELTANO", meltanoEnvironment: "staging" });
    expect(tap.source).toBe("meltano");
    const line = tapCommandLine(tap, { config: files.config });
    expect(line.command).toBe("meltano");
    expect(line.args).toEqual(["--environment", "staging", "invoke", "tap-gitlab", "--config", files.config]);
    expect(line.env).toEqual({ MELTANO_ENVIRONMENT: "staging" });
  });

  it("runs any other tap-<name> from the PATH, and nothing that is not a tap name", () => {
    expect(registry.resolve({ tapName: "tap-foo", connectorType: "CUSTOM" })).toMatchObject({ source: "path", template: { command: "tap-foo" } });
    for (const tapName of ["rm", "tap-../../bin/sh", "/bin/tap-x", "tap-x;reboot", "tap-"]) {
      expect(() => registry.resolve({ tapName, connectorType: "CUSTOM" })).toThrow(/not a tap-<name> command/);
    }
  });
});
