/**
 * udp-fixed-retry on the captures recorded from real Linux sockets
 * (fixtures/scenarios/udp-fixed-retry.py): what the summary says the program saw must
 * follow from the packets, ICMP errors included, and so must the evidence that the
 * repeats were requests; it stays silent on healthy UDP, keep-alives and heartbeats
 * included (fixtures/scenarios/udp-healthy.py).
 */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { analyzeFile } from "../src/run/pipeline.js";
import type { Finding } from "../src/analyze/finding.js";
import { CORPUS, FIXTURES, ROOT } from "./helpers/paths.js";

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
  it("answered-first: a server that answered the first request, then hung; no ICMP: the summary says nothing of ICMP", async () => {
    const [f, ...more] = await fixedRetry("udp-fixed-retry/answered-first.pcap");
    expect(more).toEqual([]);
    expect(f!.measure.sends).toBe(7);
    expect(f!.measure.icmpErrors).toBe(0);
    // Frame 2 is the answer to the first request (frame 1), which was not repeated.
    expect(f!.frames).toEqual([3, 4, 5, 6, 7, 8, 9]);
    expect(f!.summary).toMatch(
      /with no reply; the server sent 1 datagram on this flow outside these runs: a peer that answers this program, so these were requests$/,
    );
    expect(f!.summary).not.toMatch(/ICMP/);
  });
  it("dns-ipv6: a DNS query to a dead server is named by its header (the port is 5341, not 53)", async () => {
    const [f, ...more] = await fixedRetry("udp-fixed-retry/dns-ipv6.pcap");
    expect(more).toEqual([]);
    expect(f!.summary).toMatch(
      /^the client sent the same 34-byte DNS query 7 times every 500\.\d+ ms \(±25%\) with no reply$/,
    );
  });
  it("peer-answers-others: the server's port answered another client, so the ignored client's repeats were requests", async () => {
    const [f, ...more] = await fixedRetry("udp-fixed-retry/peer-answers-others.pcap");
    expect(more).toEqual([]);
    expect(f!.endpoint).toBe("127.0.0.1:5347");
    expect(f!.measure.sends).toBe(7);
    expect(f!.summary).toMatch(/; 127\.0\.0\.1:5345 answered other flows in this capture: a server up on that port/);
  });
  // Before, both were warnings (judged correct by the blind audit, now out of the kind):
  // the programs retried requests, but the wire cannot tell them from heartbeats.
  it("no-evidence: a request nobody answers, no header, no ICMP: silent, as a heartbeat would be", async () => {
    for (const name of ["ipv4", "ipv6"]) {
      const r = await analyzeFile(join(FIXTURES, `udp-fixed-retry/no-evidence/${name}.pcap`));
      expect(
        r.flows.map((x) => [x.packets.client, x.packets.server]),
        name,
      ).toEqual([[7, 0]]);
      expect(r.findings, name).toEqual([]);
    }
  });
  // Before, both were warnings: the same datagram on a fixed timer, nobody answering. But
  // a NAT keep-alive (CRLF CRLF, even after a REGISTER the registrar answered) and a
  // heartbeat to a monitor that only records it want no answer: no retries.
  it("keep-alives and heartbeats nobody answers are no retries", async () => {
    for (const rel of ["healthy/udp-nat-keepalive.pcap", "healthy/udp-heartbeat-unanswered.pcap"]) {
      const r = await analyzeFile(join(FIXTURES, rel));
      expect(
        r.flows.filter((x) => x.proto === "udp").map((x) => x.packets.client),
        rel,
      ).toEqual(rel.includes("nat") ? [8, 9] : [8]);
      expect(r.findings, rel).toEqual([]);
    }
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
  // The evidence from other flows spans --jobs workers: the run on one shard, the answer on another.
  it("peer-answers-others: --jobs 3 puts the two flows on different workers and reports the same", async () => {
    const path = join(FIXTURES, "udp-fixed-retry/peer-answers-others.pcap");
    const dist = (m: string) => import(join(ROOT, "dist", m));
    const { ShardRouter } = await dist("run/parallel/router.js");
    const { readCapture } = await dist("capture/reader.js");
    const { analyzeFile: analyzeBuilt } = await dist("run/pipeline.js");
    const router = new ShardRouter(3);
    const owners: number[] = [];
    await readCapture(path, (rec: unknown) => {
      owners.push(router.route(rec));
    });
    // Frames 1-3 and 10-13 are the ignored client's, 4-9 the answered one's.
    expect(new Set([owners[0], owners[3]]).size).toBe(2);
    const one = await analyzeBuilt(path, { jobs: 1 });
    expect(one.findings.map((f: Finding) => f.kind)).toEqual(["udp-fixed-retry"]);
    expect(JSON.stringify(await analyzeBuilt(path, { jobs: 3 }))).toBe(JSON.stringify(one));
    // Without the answering flow, no shard may keep the finding.
    const quiet = join(FIXTURES, "healthy/udp-heartbeat-unanswered.pcap");
    expect((await analyzeBuilt(quiet, { jobs: 3 })).findings).toEqual([]);
  });
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
