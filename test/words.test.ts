/**
 * Findings are facts; words come when the report is written (AnalyzerDescriptor.describe).
 * A `--jobs` shard leaves the words to the merge, which renumbers the flows a finding
 * names (flowMeasures) and only then describes it: no finding's text is ever edited.
 */
import { describe, expect, it } from "vitest";
import { defineAnalyzer } from "../src/analyze/analyzer.js";
import type { Finding } from "../src/analyze/finding.js";
import { DecodeStats, type AnalysisResult } from "../src/analyze/result.js";
import { Sink } from "../src/analyze/sink.js";
import { mergeShards } from "../src/run/parallel/merge.js";

const echo = defineAnalyzer({
  id: "echo-previous",
  title: "test kind",
  severity: "info",
  family: "tcp-opening",
  wire: "-",
  explanation: "Catalogue text.",
  references: ["000 §1"],
  describe: (f) => ({
    summary: `reused flow ${f.measure.previousFlow} (${String(f.facts?.how)})`,
    detail: f.facts?.how === "reset" ? "It had been reset." : undefined,
  }),
  flowMeasures: ["previousFlow"],
});

const services = { sideHistory: () => undefined as never, watch: () => {} };

function reportOne(sharded: boolean, previousFlow: number): Finding {
  const sink = new Sink({ mslSec: 30 }, [], services, { sharded });
  return sink.report(echo, {
    flow: null,
    dir: null,
    frames: [7],
    time: 1,
    measure: { previousFlow },
    facts: { how: "reset" },
  });
}

function shardWith(findings: Finding[], flowIds: number[]): { result: AnalysisResult; captureStates: {} } {
  const flows = flowIds.map((id) => ({ id, firstFrame: 10 * id, previous: null }));
  return {
    result: {
      stats: new DecodeStats(),
      flows: flows as unknown as AnalysisResult["flows"],
      findings,
      flowsEvicted: 0,
      untrackedPackets: 0,
      vlanJoined: 0,
      fragmentEvictions: 0,
      fragmentCopies: 0,
      clockJumps: [],
      mirroredFindings: 0,
    },
    captureStates: {},
  };
}

describe("finding words written from facts", () => {
  it("a single engine writes them when the finding is reported", () => {
    const f = reportOne(false, 3);
    expect(f.summary).toBe("reused flow 3 (reset)");
    expect(f.explanation).toBe("It had been reset. Catalogue text.");
    expect(f.facts).toEqual({ how: "reset" });
  });

  it("a shard leaves them to the merge, which renumbers the named flow first", () => {
    const f = reportOne(true, 1);
    expect(f.summary).toBe("");
    // Shard 0 holds flows 1 and 2 (first frames 10, 20); shard 1's flow 1 came first (frame 5).
    const other = shardWith([], [1]);
    (other.result.flows[0] as { firstFrame: number }).firstFrame = 5;
    const merged = mergeShards([shardWith([f], [1, 2]), other], [echo]);
    const out = merged.findings[0]!;
    expect(out.measure.previousFlow).toBe(2);
    expect(out.summary).toBe("reused flow 2 (reset)");
  });

  it("a revised finding is described again, not edited", () => {
    const sink = new Sink({ mslSec: 30 }, [], services, {});
    const f = reportOne(false, 3);
    f.measure.previousFlow = 4;
    f.facts!.how = "time-wait";
    sink.revise(echo, f);
    expect(f.summary).toBe("reused flow 4 (time-wait)");
    expect(f.explanation).toBe("Catalogue text.");
  });

  it("a kind without describe must give its words", () => {
    const plain = defineAnalyzer({ ...echo, id: "plain", describe: undefined });
    const sink = new Sink({ mslSec: 30 }, [], services, {});
    expect(() => sink.report(plain, { flow: null, dir: null, frames: [], time: 0 })).toThrow(/without words/);
  });
});
