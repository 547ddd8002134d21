/**
 * reset-by-peer-reboot claims a restart only from evidence across connections (issue 16):
 * the same host answering several connections, all silent at one moment, with bare resets
 * (fixtures/scenarios/reset-by-peer-reboot-host.py: three clients, one server restart). One
 * connection alone says the capture shows no restart after a short silence, or that one is
 * possible after a long one; the words must come out the same with --jobs.
 */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { analyzeFile } from "../src/run/pipeline.js";
import { CORPUS, FIXTURES, ROOT } from "./helpers/paths.js";

// Worker threads load compiled modules: --jobs runs the built code (dist/), as parallel.test.ts does.
const built: { analyzeFile: typeof analyzeFile } = await import(join(ROOT, "dist", "run", "pipeline.js"));

const reboots = async (path: string, jobs = 1) =>
  (await (jobs > 1 ? built.analyzeFile : analyzeFile)(path, { jobs })).findings.filter(
    (f) => f.kind === "reset-by-peer-reboot",
  );

describe("reset-by-peer-reboot across connections", () => {
  it("a host that lost three idle connections at once: each finding names the others and says it restarted", async () => {
    const found = await reboots(join(FIXTURES, "reset-by-peer-reboot", "host-restart.pcap"));
    expect(found.map((f) => f.flow)).toEqual([1, 2, 3]);
    const others = ["2, 3", "1, 3", "1, 2"];
    found.forEach((f, i) => {
      expect(f.measure.hostConnectionsReset).toBe(3);
      expect(f.summary).toContain(
        `127.0.0.2 answered 3 of its connections this way within 0.6 s (also flow(s) ${others[i]})`,
      );
      expect(f.summary).toContain("had restarted");
      expect(f.summary).not.toContain("shows no restart");
    });
  });

  it("the same words with --jobs 3 (the three connections go to two shards)", async () => {
    const path = join(FIXTURES, "reset-by-peer-reboot", "host-restart.pcap");
    const one = await reboots(path);
    const two = await reboots(path, 3);
    expect(two.map((f) => [f.flow, f.summary, f.measure])).toEqual(one.map((f) => [f.flow, f.summary, f.measure]));
  });

  it("one connection after 8 s: no restart claimed, the look-alikes named", async () => {
    const [f, ...more] = await reboots(join(FIXTURES, "reset-by-peer-reboot", "outage-idle.pcap"));
    expect(more).toEqual([]);
    expect(f!.measure.hostConnectionsReset).toBe(1);
    expect(f!.summary).toContain(
      "the capture shows no restart (no other connection of 127.0.0.1 was answered this way",
    );
    expect(f!.summary).not.toMatch(/rebooted host|had restarted/);
  });

  it("one connection after 908 s of silence: a reboot is possible, not confirmed", async () => {
    const [f] = await reboots(join(CORPUS, "captures", "arkime--long-session.pcap"));
    expect(f!.summary).toContain("after 908.494 s of silence a reboot of 10.0.0.2 is possible");
  });
});
