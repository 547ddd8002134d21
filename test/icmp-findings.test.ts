/**
 * ICMP findings an engineer would agree with (issue 15, 16, 21): a traceroute is one
 * info finding, not a warning per probe; a Time Exceeded from one router is a hop limit
 * too low; path-MTU messages a TCP sender adapted to are info, a black hole a warning;
 * what the socket hears follows the transport and the connection's state; a client
 * host's refusal of a late reply is harmless. Fixtures recorded by
 * fixtures/traceroute/record.sh through router namespaces; trace tests for the rest.
 */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { Finding } from "../src/analyze/finding.js";
import icmpUnreachable from "../src/analyze/analyzers/icmp-unreachable.js";
import pathMtu from "../src/analyze/analyzers/path-mtu.js";
import peerUnresponsive from "../src/analyze/analyzers/peer-unresponsive.js";
import { analyzeFile } from "../src/run/pipeline.js";
import { ETH_IPV4, ethernet, ipv4 } from "./helpers/build.js";
import { findingsOf, TcpScript } from "./helpers/tcp-script.js";
import { CORPUS, FIXTURES } from "./helpers/paths.js";

const corpus = (file: string) => join(CORPUS, "captures", file);

async function findings(path: string, kind: string): Promise<Finding[]> {
  return (await analyzeFile(path)).findings.filter((f) => f.kind === kind);
}

describe("traceroute", () => {
  it("UDP probes with a rising TTL through two routers: one info finding, no ICMP warnings", async () => {
    const path = join(FIXTURES, "traceroute", "udp-ipv4.pcap");
    const [trace, ...more] = await findings(path, "traceroute");
    expect(more).toEqual([]);
    expect(trace!.severity).toBe("info");
    expect(trace!.measure).toEqual({ routers: 2, timeExceeded: 6, targetAnswers: 3 });
    expect(trace!.summary).toContain("(10.77.1.1, 10.77.2.2), then 3 port unreachable from the target itself");
    expect(await findings(path, "icmp-unreachable")).toEqual([]);
    expect(await findings(path, "hop-limit-exceeded")).toEqual([]);
  });

  it("traceroute6 in arkime--v6 and zeek--icmp6-port-unreach: one finding each, three routers, the target reached", async () => {
    for (const file of ["arkime--v6.pcap", "zeek--icmp6-port-unreach.pcap"]) {
      const traces = await findings(corpus(file), "traceroute");
      expect(traces.map((f) => f.measure)).toEqual([{ routers: 3, timeExceeded: 9, targetAnswers: 3 }]);
      const unreachable = await findings(corpus(file), "icmp-unreachable");
      expect(unreachable.some((f) => f.summary.includes("time exceeded"))).toBe(false);
      expect(await findings(corpus(file), "hop-limit-exceeded")).toEqual([]);
    }
  });

  // Issue 16: a Time Exceeded is no "unreachable": the packet ran out of hops on the way.
  it("a program whose TTL is too low: Time Exceeded from one router each time is hop-limit-exceeded, naming the router", async () => {
    const path = join(FIXTURES, "hop-limit-exceeded", "ttl-too-low.pcap");
    expect(await findings(path, "traceroute")).toEqual([]);
    expect(await findings(path, "icmp-unreachable")).toEqual([]);
    const [f, ...more] = await findings(path, "hop-limit-exceeded");
    expect(more).toEqual([]);
    expect(f!.severity).toBe("warning");
    expect(f!.measure).toEqual({ timeExceeded: 3, routers: 1 });
    expect(f!.summary).toContain(
      "from router 10.77.2.2: the hop limit ran out before the packets reached 10.77.3.2:5400",
    );
    expect(f!.summary).toContain("a soft error for UDP: Linux tells the socket only with IP_RECVERR");
  });
});

describe("the errno by the client's stack", () => {
  it("a macOS client's no-route error is EHOSTUNREACH (BSD's PRC_UNREACH_NET), and a capture that went on rules out 'the capture ended first' (audit 7)", async () => {
    const r = await analyzeFile(join(CORPUS, "captures", "suricata--ipv6-kill-router6.pcap"));
    const found = r.findings.filter((f) => f.kind === "icmp-unreachable");
    expect(found.length).toBeGreaterThanOrEqual(2);
    for (const f of found) {
      expect(f.summary).toContain("no route to destination (EHOSTUNREACH)");
      expect(f.summary).not.toContain("ENETUNREACH");
    }
    const single = found.find((f) => f.frames[0] === 2)!;
    expect(single.summary).toContain("the client is a macOS/iOS host");
    expect(single.summary).toMatch(
      /not re-sent though the capture went on \d+ s, so the program gave up on the attempt/,
    );
  });
  it("a Linux client's keeps Linux's ENETUNREACH", async () => {
    const r = await analyzeFile(join(CORPUS, "captures", "arkime--ospf.pcap"));
    const f = r.findings.find((x) => x.kind === "icmp-unreachable" && x.frames[0] === 25)!;
    expect(f.summary).toContain("(ENETUNREACH)");
  });
});

describe("path MTU", () => {
  it("TCP: the sender re-sent in packets that fit: info, path-MTU discovery worked", async () => {
    const path = join(FIXTURES, "path-mtu", "pmtu-adapted.pcap");
    expect(await findings(path, "icmp-unreachable")).toEqual([]);
    const [f] = await findings(path, "path-mtu");
    expect(f!.severity).toBe("info");
    expect(f!.measure.pathMtu).toBe(1280);
    expect(f!.summary).toContain("path-MTU discovery worked");
  });

  it("suricata bug 3616: frag-needed at 1492, the client re-sends 1452-byte segments from frame 27: info", async () => {
    const [f] = await findings(corpus("suricata--bug-3616-smtp-icmp-fragneeded.pcap"), "path-mtu");
    expect(f!.severity).toBe("info");
    expect(f!.summary).toContain(
      "lowered the path MTU to 1492 and re-sent its data in packets that fit (from frame 27)",
    );
  });

  it("the message never reached the sender, which kept re-sending 1500-byte packets: a warning, a black hole", async () => {
    const [f] = await findings(join(FIXTURES, "path-mtu", "pmtu-black-hole.pcap"), "path-mtu");
    expect(f!.severity).toBe("warning");
    expect(f!.summary).toContain(
      "went on re-sending packets of up to 1500 bytes after being told the path MTU is 1280",
    );
    expect(f!.summary).toContain("path-MTU black hole");
  });

  it("UDP: a connected socket gets EMSGSIZE, later larger sends fail or fragment: a warning", async () => {
    const [f] = await findings(join(FIXTURES, "path-mtu", "frag-needed-ipv4.pcap"), "path-mtu");
    expect(f!.severity).toBe("warning");
    expect(f!.measure.pathMtu).toBe(1280);
    expect(f!.summary).toContain("a connected UDP socket gets EMSGSIZE on its next call");
  });

  it("a next-hop MTU below 68 is never stated as the path MTU; 0 is a router older than RFC 1191", async () => {
    const s = new TcpScript().handshake(0).data(0.01, "client", 1000);
    s.records.push(icmpQuoting(s, 4, 3, 4, 40, 0.02));
    const [f] = await findingsOf(pathMtu, s);
    expect(f!.measure.pathMtu).toBeUndefined();
    expect(f!.summary).toContain("a next-hop MTU of 40 bytes, below the 68 any link must carry");
    const old = new TcpScript().handshake(0).data(0.01, "client", 1000);
    old.records.push(icmpQuoting(old, 4, 3, 4, 0, 0.02));
    const [g] = await findingsOf(pathMtu, old);
    expect(g!.summary).toContain("named no next-hop MTU (0: a router older than RFC 1191)");
  });
});

describe("what the socket hears, by transport and state", () => {
  it("TCP established: host unreachable is a soft error, the errno only if the connection times out", async () => {
    const s = new TcpScript().handshake(0).data(0.01, "client", 100);
    s.records.push(icmpQuoting(s, 4, 3, 1, 0, 0.02));
    const [f] = await findingsOf(icmpUnreachable, s);
    expect(f!.summary).toContain("on an established connection this is a soft error");
    expect(f!.summary).not.toContain("connect() fails");
  });

  it("TCP SYN-SENT: the SYN's error fails connect() with its errno", async () => {
    const s = new TcpScript().segment(0, "client", { seq: 1000, ack: 0, flags: 0x02 });
    s.records.push(icmpQuoting(s, 1, 3, 1, 0, 0.01));
    const [f] = await findingsOf(icmpUnreachable, s);
    expect(f!.summary).toContain("connect() fails with EHOSTUNREACH");
  });

  it("UDP no-route (ICMPv6 code 0) is a soft error: no ENETUNREACH without IPV6_RECVERR", async () => {
    const [f] = await findings(corpus("zeek--icmp6-destunreach-ip6ext-udp.pcap"), "icmp-unreachable");
    expect(f!.summary).toContain("no route to destination is a soft error for UDP");
    expect(f!.summary).not.toContain("a connected UDP socket gets ENETUNREACH");
  });
});

describe("late replies refused by the client's host", () => {
  it("a DNS answer arriving after the resolver closed its socket is info, with why", async () => {
    const [late] = await findings(corpus("zeek--icmp6-port-unreach.pcap"), "icmp-unreachable");
    expect(late!.severity).toBe("info");
    expect(late!.summary).toContain("these replies came too late and were dropped");
  });

  it("a phone streaming RTP to a port whose socket is gone is not a late reply: the warning stays", async () => {
    const all = await findings(corpus("arkime--gtp-iphone.pcap"), "icmp-unreachable");
    const rtp = all.find((f) => f.summary.includes("[fd01::183]:19956"))!;
    expect(rtp.severity).toBe("warning");
    const dns = all.find((f) => f.summary.includes("192.168.3.129:58364"))!;
    expect(dns.severity).toBe("info");
  });
});

describe("errors that name no TCP/UDP flow", () => {
  it("host unreachable for a DHCP server's conflict ping: info, the pinging program reads it itself", async () => {
    const fs = await findings(corpus("tcpdump--dhcp-rfc4388-host-unreach.pcap"), "icmp-unreachable");
    expect(fs.map((f) => [f.frames[0], f.severity])).toEqual([
      [6, "info"],
      [16, "info"],
      [36, "info"],
    ]);
    expect(fs[0]!.summary).toContain("no TCP or UDP socket is involved");
  });

  it("net unreachable quoting nothing: no stack can match it to a socket, no errno is promised", async () => {
    const [f] = await findings(corpus("zeek--icmp-destunreach-no-context.pcap"), "icmp-unreachable");
    expect(f!.summary).toContain("quotes no packet, so no stack can match it to a socket");
    expect(f!.summary).not.toContain("ENETUNREACH");
  });
});

describe("fragment reassembly time exceeded", () => {
  it("is fragment-loss's evidence (the receiver gave up), not an icmp-unreachable warning", async () => {
    const path = join(FIXTURES, "fragment-loss", "ipv4.pcap");
    expect(await findings(path, "icmp-unreachable")).toEqual([]);
    const [loss] = await findings(path, "fragment-loss");
    expect(loss!.measure.reassemblyTimeExceeded).toBe(2);
    expect(loss!.frames).toEqual(expect.arrayContaining([6, 7]));
  });
});

describe("peer-unresponsive: the errno at the timeout is the soft ICMP error's, and a path-MTU message is none", () => {
  /** Client data (frame 4) re-sent with doubling gaps, unanswered; an ICMP error (type, code) quoting the first re-send. */
  async function timedOut(type: number, code: number): Promise<string> {
    const s = new TcpScript().handshake(0).data(0.1, "client", 1200);
    const seq = (s.next.client - 1200) >>> 0;
    s.resend(0.4, "client", seq, 1200).resend(1.0, "client", seq, 1200).resend(2.2, "client", seq, 1200);
    s.records.push(icmpQuoting(s, 5, type, code, 1000, 0.41));
    const [f] = await findingsOf(peerUnresponsive, s);
    return f!.summary;
  }

  it("host unreachable: EHOSTUNREACH; network unreachable: ENETUNREACH", async () => {
    expect(await timedOut(3, 1)).toContain("fails with EHOSTUNREACH (from the ICMP error a router sent");
    expect(await timedOut(3, 0)).toContain("fails with ENETUNREACH");
  });

  it("fragmentation needed: ETIMEDOUT, and the data never reached the peer", async () => {
    const summary = await timedOut(3, 4);
    expect(summary).toContain("fails with ETIMEDOUT");
    expect(summary).toMatch(
      /^the client's data never reached the server: routers answered its packets with 1 path-MTU/,
    );
  });
});

/**
 * An ICMPv4 error from router 10.0.0.254 to the client quoting the script's frame
 * `frame` (1-based; its IP header and first 8 bytes, as RFC 792 asks), at time `t`.
 */
function icmpQuoting(s: TcpScript, frame: number, type: number, code: number, mtu: number, t: number) {
  const quoted = s.records[frame - 1]!.data.subarray(14, 14 + 28);
  const icmp = new Uint8Array(8 + quoted.length);
  icmp[0] = type;
  icmp[1] = code;
  icmp[6] = mtu >>> 8;
  icmp[7] = mtu & 255;
  icmp.set(quoted, 8);
  let sum = 0;
  for (let i = 0; i < icmp.length; i += 2) sum += (icmp[i]! << 8) | (icmp[i + 1] ?? 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  icmp[2] = (~sum >>> 8) & 255;
  icmp[3] = ~sum & 255;
  const us = Math.round(t * 1e6);
  return {
    tsSec: Math.floor(us / 1e6),
    tsFrac: us % 1e6,
    data: ethernet(ETH_IPV4, ipv4({ src: 0x0a0000fe, dst: 0x0a000001, proto: 1, payload: icmp })),
  };
}

describe("what connect() does with an ICMP error, by the client's stack", () => {
  // Audit4: a macOS client (SYN options MSS,NOP,WS,NOP,NOP,TS,SACK_PERM,EOL) was told its
  // connect() failed "as Linux does"; its other connection kept re-sending through the same error.
  it("suricata ipv6-kill-router6: a macOS client's SYN not re-sent after no-route was abandoned, not failed by its TCP", async () => {
    const [f] = await findings(corpus("suricata--ipv6-kill-router6.pcap"), "icmp-unreachable");
    expect(f!.summary).toContain("the client is a macOS/iOS host, whose BSD-derived TCP keeps a connection attempt");
    expect(f!.summary).not.toContain("(Linux aborts");
  });

  it("a client whose stack the capture does not tell: Linux's outcome said as a condition, not a fact", async () => {
    const [f] = await findings(join(FIXTURES, "parallel", "r4_icmpfrag.pcap"), "icmp-unreachable");
    expect(f!.summary).toContain("if the client runs Linux, connect() fails with EHOSTUNREACH at once");
    expect(f!.summary).toContain("the capture does not tell which stack the client runs");
  });
});
