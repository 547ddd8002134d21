/**
 * Mirrored flows (issue 16): one connection recorded twice — on two VLANs, through two
 * tunnels, or with two anonymised addresses — is judged once, on the copy with more
 * packets; the copies name the flow they repeat and their findings are left out, counted.
 */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { analyzeFile } from "../src/run/pipeline.js";
import { foldMirroredFlows } from "../src/analyze/mirrored-flows.js";
import type { AnalysisResult, FlowReport } from "../src/analyze/result.js";
import { CORPUS } from "./helpers/paths.js";
import { flowReport } from "./helpers/flow-report.js";

const corpus = (name: string) => analyzeFile(join(CORPUS, "captures", name));

describe("mirrored flows in real captures", () => {
  it("suricata bug-5437-02: the server seen under two anonymised addresses is one connection, judged on the fuller copy", async () => {
    const r = await corpus("suricata--bug-5437-02-syn-timeout-reuse.pcap");
    const copyOf = new Map(r.flows.map((f) => [f.id, f.copyOf]));
    // Same client port and ISNs, server 40.110.35.23 in one copy and 126.203.57.64 in the other.
    expect([...copyOf].filter(([, c]) => c !== null)).toEqual([
      [2, 1],
      [3, 4],
      [6, 7],
    ]);
    // The copies' close-wait findings claimed CLOSE_WAIT until the capture's end, 116 s: the
    // reset (frame 41) and FIN (frame 43) that ended it are only in the other copy.
    expect(r.findings.filter((f) => f.flow === 3 || f.flow === 6)).toEqual([]);
    const closeWaits = r.findings.filter((f) => f.kind === "close-wait");
    expect(closeWaits.map((f) => [f.flow, f.frames.at(-1)])).toEqual([
      [4, 41],
      [7, 43],
    ]);
    expect(
      r.warnings.some((w) =>
        /3 flow\(s\) repeat another flow.*2 \(= 1\), 3 \(= 4\), 6 \(= 7\).*2 finding\(s\) are left out/.test(w),
      ),
    ).toBe(true);
    // Connections that merely share a client port are not copies: other ISNs.
    expect(copyOf.get(5)).toBeNull();
    expect(copyOf.get(8)).toBeNull();
  });

  it("zeek vlan-collisions: one connection on three VLANs gets its TIME_WAIT finding once", async () => {
    const r = await corpus("zeek--vlan-collisions.pcap");
    expect(r.flows.map((f) => f.copyOf)).toEqual([null, 1, 1]);
    expect(r.findings.map((f) => [f.kind, f.flow])).toEqual([["time-wait", 1]]);
  });

  it("a capture without copies is left as it is", async () => {
    const r = await corpus("zeek--pop3-refused-retries.pcap");
    expect(r.flows.every((f) => f.copyOf === null)).toBe(true);
    expect(r.warnings.some((w) => w.includes("repeat another flow"))).toBe(false);
  });
});

/** Flow `id` of one connection (client port 40000, ISNs 1234/5678) seen on VLAN `id`. */
function flow(id: number, over: Partial<FlowReport> = {}): FlowReport {
  return flowReport(id, {
    client: "10.0.0.1:40000",
    vlan: id,
    start: 100,
    durationSec: 5,
    isn: { client: 1234, server: 5678 },
    ...over,
  });
}

function result(flows: FlowReport[]): AnalysisResult {
  const findings = flows.map((f) => ({ kind: "time-wait", flow: f.id }) as never);
  return { flows, findings, mirroredFindings: 0 } as unknown as AnalysisResult;
}

describe("foldMirroredFlows", () => {
  it("the copy with more packets is kept; the other repeats it and loses its findings", () => {
    const r = foldMirroredFlows(result([flow(1), flow(2, { packets: { client: 5, server: 9 } })]));
    expect(r.flows.map((f) => f.copyOf)).toEqual([2, null]);
    expect(r.findings.map((f) => f.flow)).toEqual([2]);
    expect(r.mirroredFindings).toBe(1);
  });

  it("another client ISN, another server ISN, another port, or no SYN: different connections", () => {
    for (const other of [
      flow(2, { isn: { client: 999, server: 5678 } }),
      flow(2, { isn: { client: 1234, server: 999 } }),
      flow(2, { client: "10.0.0.1:40001" }),
      flow(2, { isn: { client: null, server: 5678 } }),
      flow(2, { isn: null, proto: "udp" }),
    ]) {
      const r = foldMirroredFlows(result([flow(1), other]));
      expect(r.flows.map((f) => f.copyOf)).toEqual([null, null]);
      expect(r.mirroredFindings).toBe(0);
    }
  });

  it("a server ISN only one copy holds does not tell them apart (its SYN-ACK missed one capture point)", () => {
    const r = foldMirroredFlows(result([flow(1), flow(2, { isn: { client: 1234, server: null } })]));
    expect(r.flows.map((f) => f.copyOf)).toEqual([null, 1]);
  });

  // A fresh-eyes review: 50 hand-made SYNs from 50 addresses with one source port and ISN
  // were folded as "the same connection recorded twice", dropping 49 connect-timeouts.
  it("other client addresses with no server ISN to match, or more flows than copies come in, are no copies", () => {
    const flood = Array.from({ length: 5 }, (_, i) =>
      flow(i + 1, { client: `10.0.1.${i + 1}:40000`, isn: { client: 1234, server: null } }),
    );
    expect(foldMirroredFlows(result(flood.slice(0, 2))).flows.map((f) => f.copyOf)).toEqual([null, null]);
    const sameAddresses = Array.from({ length: 5 }, (_, i) => flow(i + 1, { isn: { client: 1234, server: null } }));
    expect(foldMirroredFlows(result(sameAddresses)).flows.every((f) => f.copyOf === null)).toBe(true);
  });

  it("the same port and ISN long after the first connection ended is no copy", () => {
    const r = foldMirroredFlows(result([flow(1), flow(2, { start: 200 })]));
    expect(r.flows.map((f) => f.copyOf)).toEqual([null, null]);
  });
});
