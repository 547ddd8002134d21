/**
 * udp-fixed-retry on the captures recorded from real Linux sockets
 * (fixtures/scenarios/udp-fixed-retry.py): what the summary says the program saw must
 * follow from the packets, ICMP errors included; and it stays silent on healthy UDP.
 */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { analyzeFile } from "../src/run/pipeline.js";
import type { Finding } from "../src/analyze/finding.js";
import { CORPUS, FIXTURES } from "./helpers/paths.js";

async function fixedRetry(rel: string): Promise<Finding[]> {
  return (await analyzeFile(join(FIXTURES, rel))).findings.filter((f) => f.kind === "udp-fixed-retry");
}

describe("udp-fixed-retry", () => {
  // Before, both were warnings: SLP's service request to 239.255.255.253:427 four times 3 s
  // apart, and SSDP's M-SEARCH to [ff02::c]:1900 fourteen times: discovery, not retries.
  it("multicast discovery in real captures is no fixed-timer retry", async () => {
    for (const name of ["zeek--conn-size-port-unreach.pcap", "pcpp--example2-mixed.pcap"]) {
      const r = await analyzeFile(join(CORPUS, "captures", name));
      expect(r.findings.filter((f) => f.kind === "udp-fixed-retry")).toEqual([]);
    }
  });
  it("ipv4: a silent server, no ICMP: the summary says nothing of ICMP", async () => {
    const [f, ...more] = await fixedRetry("udp-fixed-retry/ipv4.pcap");
    expect(more).toEqual([]);
    expect(f!.measure.sends).toBe(7);
    expect(f!.measure.icmpErrors).toBe(0);
    expect(f!.summary).toMatch(/with no reply$/);
  });
  // Before: "… 7 times every 500 ms with no reply", and the explanation's "recvfrom() just
  // times out", while each send drew a port unreachable and the connected client got
  // ECONNREFUSED at once (the script checks it did). The unconnected client timed out
  // instead; the wire is the same, so the summary must say both.
  for (const [name, errnoSeen] of [
    ["refused", "ECONNREFUSED at once"],
    ["refused-unconnected", "timeouts"],
  ] as const) {
    it(`${name}: each send drew an ICMP port unreachable (the client saw ${errnoSeen})`, async () => {
      const [f, ...more] = await fixedRetry(`udp-fixed-retry/${name}.pcap`);
      expect(more).toEqual([]);
      expect(f!.side).toBe("client");
      expect(f!.measure.sends).toBe(7);
      expect(f!.measure.icmpErrors).toBe(7);
      expect(f!.measure.icmpPortUnreachable).toBe(7);
      // The sends and the ICMP errors answering them.
      expect(f!.frames).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]);
      expect(f!.summary).toMatch(/each send drew an ICMP port unreachable/);
      expect(f!.summary).toMatch(/a connected socket gets ECONNREFUSED from its next send\(\) or recv\(\) at once/);
      expect(f!.summary).toMatch(/an unconnected one .* times out each round/);
      expect(f!.summary).toMatch(/cannot show whether the program called connect\(\)/);
      expect(f!.explanation).not.toMatch(/just times out/);
      expect(f!.explanation).toMatch(/ECONNREFUSED from its next send\(\) or recv\(\) at once/);
    });
  }
  it("healthy UDP (answered requests, periodic traffic with replies, backoff) stays silent", async () => {
    for (const rel of [
      "healthy/udp-request-response.pcap",
      "healthy/udp-periodic-with-replies.pcap",
      "healthy/udp-retry-backoff.pcap",
    ]) {
      expect(await fixedRetry(rel), rel).toEqual([]);
    }
  });
});
