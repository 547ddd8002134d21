/**
 * IP fragments as an engineer reads them (issue 16). Fragments the capture holds twice
 * (two capture points, `-i any`) are copies, not loss: a copy of a fragment of a datagram
 * that already completed must not open a new datagram that then "never completes"
 * (pcpp--ip4_fragments-udp frames 30 and 42 did). Fragments below the minimum MTU, or a
 * TCP header split across them, are crafted, never a path MTU.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { analyzeFile } from "../src/run/pipeline.js";
import { ETH_IPV4, ethernet, ipv4Fragments, pcapFile, udp, type PcapRecord } from "./helpers/build.js";
import { CORPUS } from "./helpers/paths.js";

const A = 0x0a000001,
  B = 0x0a000002;

/** One UDP datagram of 200 bytes, id `id`, filled with `fill`, cut into three fragments. */
function fragments(id: number, fill: number): Uint8Array[] {
  return ipv4Fragments({ src: A, dst: B, proto: 17, id }, udp(40000, 5353, new Uint8Array(200).fill(fill)), [64, 128]);
}

/** Writes the IP packets as a pcap, one every millisecond. */
function capture(packets: readonly Uint8Array[]): string {
  const records: PcapRecord[] = packets.map((ip, i) => ({
    tsSec: 1_700_000_000,
    tsFrac: i * 1000,
    data: ethernet(ETH_IPV4, ip),
  }));
  const path = join(mkdtempSync(join(tmpdir(), "sockscope-frag-copies-")), "copies.pcap");
  writeFileSync(path, pcapFile(records));
  return path;
}

const COPY_NOTE =
  "IP fragment(s) recorded more than once (same datagram, offset and bytes: two capture points or -i any): counted once, not as loss";

describe("IP fragment copies", () => {
  it("a copy of the last fragment after the datagram completed is counted as a copy, not a lost datagram", async () => {
    const [f0, f1, f2] = fragments(7, 0x41);
    const r = await analyzeFile(capture([f0!, f1!, f2!, f2!]));
    expect(r.findings.filter((f) => f.kind === "fragment-loss")).toEqual([]);
    expect(r.warnings).toContain(`1 ${COPY_NOTE}`);
    expect(r.capture.reassembledDatagrams).toBe(1);
  });

  it("a copy within a datagram still under reassembly is a copy too, and not one of its fragments", async () => {
    const [f0, f1, f2] = fragments(7, 0x41);
    const r = await analyzeFile(capture([f0!, f0!, f1!, f2!]));
    expect(r.warnings).toContain(`1 ${COPY_NOTE}`);
    const frag = r.findings.find((f) => f.kind === "ip-fragmentation")!;
    expect(frag.measure.maxFragmentsPerDatagram).toBe(3);
  });

  it("the same IP id reused for a new datagram with other bytes is a new datagram, and its loss is still loss", async () => {
    const [f0, f1, f2] = fragments(7, 0x41);
    const [, , g2] = fragments(7, 0x42);
    const r = await analyzeFile(capture([f0!, f1!, f2!, g2!]));
    expect(r.warnings.some((w) => w.includes("recorded more than once"))).toBe(false);
    expect(r.findings.filter((f) => f.kind === "fragment-loss")).toHaveLength(1);
  });

  it("pcpp--ip4_fragments-udp: six NFS replies of six fragments each, fourteen copies, nothing lost", async () => {
    const r = await analyzeFile(join(CORPUS, "captures", "pcpp--ip4_fragments-udp.pcap"));
    expect(r.findings.filter((f) => f.kind === "fragment-loss")).toEqual([]);
    expect(r.warnings).toContain(`14 ${COPY_NOTE}`);
    const frag = r.findings.find((f) => f.kind === "ip-fragmentation")!;
    expect([frag.count, frag.measure.maxFragmentsPerDatagram]).toEqual([6, 6]);
  });
});

describe("fragments that reveal no path MTU", () => {
  it("a TCP SYN cut into 28-byte fragments, its header split: crafted, not a path MTU of 28", async () => {
    const [f] = (
      await analyzeFile(join(CORPUS, "captures", "suricata--defrag-vlan-ipv4-tcp-syn.pcap"))
    ).findings.filter((x) => x.kind === "ip-fragmentation");
    expect(f!.summary).toContain("smaller than any link needs (the minimum MTU is 68)");
    expect(f!.summary).toContain("the first holding only 8 bytes of the TCP header");
    expect(f!.summary).not.toContain("(the path MTU)");
  });

  it("IPv6 fragments of 168 bytes are below the 1280 every IPv6 link carries", async () => {
    const fs = (await analyzeFile(join(CORPUS, "captures", "pcpp--ip6_fragments-udp.pcap"))).findings.filter(
      (x) => x.kind === "ip-fragmentation",
    );
    for (const f of fs) expect(f.summary).toContain("(the minimum MTU is 1280): no path MTU explains it");
  });

  it("arkime socks5-http-302-frag: both directions cut tiny are counted apart and put down to a tool on the path (audit 6)", async () => {
    const r = await analyzeFile(join(CORPUS, "captures", "arkime--socks5-http-302-frag.pcap"));
    const [f, ...more] = r.findings.filter((x) => x.kind === "ip-fragmentation");
    expect(more).toEqual([]);
    expect(f!.summary).toContain("2 from the client (21-395 bytes of payload each");
    expect(f!.summary).toContain("2 from the server (10-930 bytes of payload each, in up to 40 fragments");
    expect(f!.summary).toContain("by a tool on the path rather than one program");
  });

  it("1500-byte fragments of a DNS answer are the path MTU, as before", async () => {
    const fs = (await analyzeFile(join(CORPUS, "captures", "zeek--dns-edns-ecs-frags.pcap"))).findings.filter(
      (x) => x.kind === "ip-fragmentation",
    );
    expect(fs.length).toBeGreaterThan(0);
    for (const f of fs) expect(f.summary).toContain("fragments of at most 1500 bytes (the path MTU)");
  });
});

describe("after a conflicting overlap", () => {
  it("the rest of the discarded datagram is said to be its rest, never a datagram whose first fragment was not captured", async () => {
    const [f0, f1, f2] = fragments(9, 0x41);
    const [g0] = fragments(9, 0x42);
    // Two first fragments with different bytes: the receiver drops the datagram; then its other fragments come.
    const r = await analyzeFile(capture([f0!, g0!, f1!, f2!]));
    const loss = r.findings.filter((f) => f.kind === "fragment-loss").map((f) => f.summary);
    expect(loss).toHaveLength(2);
    expect(loss[0]).toContain("overlapping fragments carried different data");
    expect(loss[1]).toContain("the rest of a datagram the receiver had already discarded for overlapping fragments");
    expect(loss.join(" ")).not.toContain("first fragment not captured");
  });
});
