/**
 * The JSON report is written line by line (report/json.ts) so a huge report never becomes
 * one string: the lines must join to exactly JSON.stringify(report, null, 2).
 */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { analyzeFile } from "../src/run/pipeline.js";
import { reportJsonLines } from "../src/report/json.js";
import type { Report } from "../src/report/model.js";
import { FIXTURES } from "./helpers/paths.js";

describe("reportJsonLines", () => {
  it("joins to JSON.stringify(report, null, 2) on real reports", async () => {
    for (const f of [
      "retransmission/rto.pcap",
      "syn-retransmit/backlog-full.pcap",
      "fragment-loss/ipv6.pcap",
      "healthy/many-short-connections.pcap",
    ]) {
      const r = await analyzeFile(join(FIXTURES, f));
      expect(r.flows.length + r.findings.length).toBeGreaterThan(0);
      expect([...reportJsonLines(r)].join("\n")).toBe(JSON.stringify(r, null, 2));
    }
  });

  it("with empty lists, nested objects and strings that need escaping", () => {
    const r = {
      schema: "sockscope.report/1",
      capture: { file: 'a "quoted"\nname\\x.pcap', flows: { tcp: 0, udp: 0 }, start: null },
      flows: [],
      findings: [{ kind: "k", frames: [], measure: {}, summary: "→ ünïcode\t" }],
      warnings: ["one", "two"],
    } as unknown as Report;
    expect([...reportJsonLines(r)].join("\n")).toBe(JSON.stringify(r, null, 2));
  });
});
