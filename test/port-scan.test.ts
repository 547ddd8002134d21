/**
 * Port scans (issue 20): a source probing ten or more ports of one target with a SYN each
 * is one scan, said once at info, and none of its probes is a refused or timed-out
 * connect() (fixtures/port-scan: a raw-socket SYN scan recorded in a namespace).
 */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { analyzeFile } from "../src/run/pipeline.js";
import { foldPortScans, SCAN_MIN_PORTS } from "../src/analyze/port-scans.js";
import type { Finding } from "../src/analyze/finding.js";
import type { FlowReport } from "../src/analyze/result.js";
import { FIXTURES, ROOT } from "./helpers/paths.js";
import { flowReport } from "./helpers/flow-report.js";

const built: { analyzeFile: typeof analyzeFile } = await import(join(ROOT, "dist", "run", "pipeline.js"));

describe("a SYN scan", () => {
  const path = join(FIXTURES, "port-scan", "syn-scan.pcap");

  it("is one info finding counting open, closed and filtered ports; no connection-refused", async () => {
    const r = await analyzeFile(path);
    // Before: 28 connection-refused ERRORs, one per closed port.
    expect(r.findings.map((f) => [f.kind, f.severity, f.flow])).toEqual([["port-scan", "info", null]]);
    const [f] = r.findings;
    expect(f!.measure).toEqual({
      ports: 30,
      open: 2,
      closed: 28,
      filtered: 0,
      spanMs: f!.measure.spanMs,
      foldedFindings: 28,
    });
    expect(f!.summary).toContain("127.0.0.1 probed 30 ports of 127.0.0.2 (7000-7029)");
    expect(f!.summary).toContain("2 open (7003, 7017: SYN-ACK, then the scanner's RST: a half-open scan)");
  });

  it("the same with --jobs 3 (the probes go to several workers)", async () => {
    const one = await analyzeFile(path);
    const three = await built.analyzeFile(path, { jobs: 3 });
    expect(three.findings).toEqual(one.findings);
  });
});

/** Probe i of a scan: a SYN from 10.0.0.1:40000 to port 7000 + i, answered by RST. */
function probe(i: number, over: Partial<FlowReport> = {}): FlowReport {
  return flowReport(i + 1, {
    client: "10.0.0.1:40000",
    server: `10.0.0.2:${7000 + i}`,
    packets: { client: 1, server: 1 },
    bytes: { client: 40, server: 40 },
    close: { first: "server", how: "RST", frame: 2 * i + 2 },
    isn: { client: 1000 + i, server: null },
    ...over,
  });
}

function fold(flows: FlowReport[]): Finding[] {
  const findings = flows.map((f) => ({ kind: "connection-refused", flow: f.id, frames: [f.firstFrame] }) as Finding);
  return foldPortScans({ flows, findings }).findings;
}

describe("foldPortScans", () => {
  it(`${SCAN_MIN_PORTS} ports probed: a scan; one fewer: each refusal stays`, () => {
    const ten = Array.from({ length: SCAN_MIN_PORTS }, (_, i) => probe(i));
    expect(fold(ten).map((f) => f.kind)).toEqual(["port-scan"]);
    expect(fold(ten.slice(1)).map((f) => f.kind)).toEqual(Array(SCAN_MIN_PORTS - 1).fill("connection-refused"));
  });

  it("connections that carried data, or came mid-stream, are no probes", () => {
    const withData = Array.from({ length: 12 }, (_, i) =>
      probe(i, { packets: { client: 3, server: 3 }, bytes: { client: 400, server: 300 } }),
    );
    expect(fold(withData).some((f) => f.kind === "port-scan")).toBe(false);
    const midStream = Array.from({ length: 12 }, (_, i) => probe(i, { rolesGuessed: true }));
    expect(fold(midStream).some((f) => f.kind === "port-scan")).toBe(false);
  });

  it("many connections to one port are no scan", () => {
    const samePort = Array.from({ length: 12 }, (_, i) =>
      probe(i, { server: "10.0.0.2:7000", client: `10.0.0.1:${40000 + i}` }),
    );
    expect(fold(samePort).some((f) => f.kind === "port-scan")).toBe(false);
  });
});
