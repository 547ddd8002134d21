/**
 * `sockscope … | head -1`: when the reader of standard output goes away, every command
 * stops and exits quietly (status 0, nothing on stderr), never with an EPIPE stack trace.
 * The pipe is closed before the CLI writes anything (it takes far longer to start than
 * the test to close it), so every run meets EPIPE, not one run in three.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CLI, ROOT } from "./helpers/paths.js";

const fixture = (f: string) => join(ROOT, "fixtures", f);

/** Runs the CLI with its stdout a pipe whose read end is closed at once. */
function runIntoClosedPipe(args: string[]): Promise<{ code: number | null; signal: string | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, NO_COLOR: "1" },
    });
    child.stdout.destroy();
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    child.on("close", (code, signal) => resolve({ code, signal, stderr }));
  });
}

describe("a closed stdout ends every command quietly", () => {
  const commands: [string, string[]][] = [
    ["explain (the list)", ["explain"]],
    ["explain <kind>", ["explain", "zero-window"]],
    ["--help", ["--help"]],
    ["--version", ["--version"]],
    ["analyze", ["analyze", fixture("healthy/many-short-connections.pcap")]],
    ["analyze --format json", ["analyze", "-F", "json", fixture("healthy/many-short-connections.pcap")]],
    ["flows", ["flows", fixture("healthy/many-short-connections.pcap")]],
    ["packets", ["packets", fixture("healthy/bulk-transfer.pcap")]],
    ["check", ["check", fixture("healthy/many-short-connections.pcap")]],
    ["interfaces", ["interfaces"]],
  ];
  for (const [name, args] of commands) {
    it(name, async () => {
      const r = await runIntoClosedPipe(args);
      expect(r.stderr).not.toMatch(/EPIPE|\n\s+at /);
      expect(r.stderr).toBe("");
      expect(r.signal).toBeNull();
      expect(r.code).toBe(0);
    });
  }
});
