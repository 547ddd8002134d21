/**
 * Captures that hold one side of a connection only (issue 21): a side with no packet whose
 * peer acknowledged it was not captured, so no finding rests on its silence, and a capture
 * warning names it once (fixtures/one-way: real captures filtered by source).
 */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { analyzeFile } from "../src/run/pipeline.js";
import { CORPUS, FIXTURES } from "./helpers/paths.js";

const oneWay = (name: string) => analyzeFile(join(FIXTURES, "one-way", name));

describe("one-way captures", () => {
  it("a client-only capture of a server that stopped answering: no peer-unresponsive; the client's own timer still shows", async () => {
    const r = await oneWay("user-timeout-client-only.pcap");
    expect(r.flows[0]!.notCaptured).toBe("server");
    // The unfiltered capture says peer-unresponsive (error): the server's silence. Here only
    // the client's own backing-off silences are evidence (audit5: 'a stall, not harmless').
    expect(r.findings.map((f) => [f.kind, f.severity])).toEqual([["retransmission", "warning"]]);
    expect(r.findings[0]!.summary).toContain("5 of them after a silence of the client's own (its retransmission timer");
    expect(r.findings[0]!.summary).toContain("whether the data or the ACKs were lost cannot be told");
    expect(r.findings[0]!.measure.retransmissions).toBe(5);
    expect(r.warnings.filter((w) => w.includes("hold no packet from one side"))).toEqual([
      expect.stringContaining("(127.0.0.1 on flow 1)"),
    ]);
  });

  it("keep-alive probes whose answers were not captured are not called unanswered", async () => {
    const [f, ...more] = (await oneWay("keepalive-client-only.pcap")).findings;
    expect(more).toEqual([]);
    expect(f!.kind).toBe("keepalive");
    expect(f!.severity).toBe("info");
    expect(f!.summary).toContain("whether the probes were answered cannot be told");
    expect(f!.summary).not.toContain("still unanswered");
  });

  // A fresh-eyes review: an ACK bit alone proved a missing direction, so a capture that
  // starts after the peer fell silent hid the dead peer. Only an acknowledgement that moves
  // during the capture proves the peer sent something there.
  it("a capture that starts after the server fell silent is no one-way capture: peer-unresponsive stands", async () => {
    const r = await oneWay("dead-peer-from-frame-10.pcap");
    expect(r.flows[0]!.notCaptured).toBeNull();
    expect(r.findings.map((f) => [f.kind, f.severity])).toContainEqual(["peer-unresponsive", "error"]);
    expect(r.warnings.some((w) => w.includes("hold no packet from one side"))).toBe(false);
  });

  it("pcpp--sll2 (three packets of a server closing, none of its client): nothing shows the client's packets were missed", async () => {
    const r = await analyzeFile(join(CORPUS, "captures", "pcpp--sll2.pcap"));
    expect(r.flows[0]!.notCaptured).toBeNull();
  });

  it("a side that sent only SYNs, unanswered, is no one-way capture: nothing acknowledges its peer", async () => {
    const r = await analyzeFile(join(FIXTURES, "connect-timeout", "classic-backoff.pcap"));
    expect(r.flows.map((f) => f.notCaptured)).toEqual([null]);
    expect(r.findings.some((f) => f.kind === "connect-timeout")).toBe(true);
  });
});
