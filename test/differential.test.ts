/**
 * Differential tests: the same files read by an independent implementation.
 *
 * (a) pcap-parser (a small streaming classic-pcap parser from npm) as a second reader:
 *     same records, timestamps, lengths and bytes, for every non-corrupt microsecond
 *     classic pcap in the corpus and every one under fixtures/.
 * (b) tshark as a second decoder: per frame, addresses, ports, TCP flags, relative
 *     seq/ack, TCP payload length and UDP length, for a sample of the corpus (all of it
 *     with SOCKSCOPE_DIFF_ALL=1), every fixture and a few synthetic captures. Deliberate
 *     disagreements are listed in EXCEPTIONS, each with its reason; an exception that no
 *     longer matches anything fails too, so the list cannot rot.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, openSync, readSync, closeSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import type { EventEmitter } from "node:events";
import { afterAll, describe, expect, it } from "vitest";
import { readCapture } from "../src/capture/reader.js";
import { packets } from "../src/index.js";
import type { PacketLine } from "../src/report/packets.js";
import { corpusEntries } from "./helpers/corpus.js";
import { CORPUS, FIXTURES } from "./helpers/paths.js";
import { tsharkAvailable, tsharkFields, tsharkVersion } from "./helpers/tshark.js";
import { ipv4, linkFrame, pcapFile, tcp, udp, ipv4Fragments, type PcapRecord } from "./helpers/build.js";

const sha1 = (b: Uint8Array) => createHash("sha1").update(b).digest("hex");

/** Every capture file under fixtures/ (recursively): .pcap, or also .pcapng with `ng`. */
function fixturePcaps(ng = false): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && (e.name.endsWith(".pcap") || (ng && e.name.endsWith(".pcapng")))) out.push(p);
    }
  };
  if (existsSync(FIXTURES)) walk(FIXTURES);
  return out.sort();
}

function magicOf(path: string): number {
  const fd = openSync(path, "r");
  try {
    const b = Buffer.alloc(4);
    return readSync(fd, b, 0, 4, 0) === 4 ? b.readUInt32BE(0) : 0;
  } finally {
    closeSync(fd);
  }
}

const isClassicMicro = (path: string) => [0xa1b2c3d4, 0xd4c3b2a1].includes(magicOf(path));

// ---------------------------------------------------------------- (a) pcap-parser

interface Rec {
  sec: number;
  usec: number;
  capLen: number;
  origLen: number;
  hash: string;
}

interface PcapParserHeader {
  timestampSeconds: number;
  timestampMicroseconds: number;
  capturedLength: number;
  originalLength: number;
}
const pcapParser = createRequire(import.meta.url)("pcap-parser") as {
  parse(input: string): EventEmitter;
};

function readWithPcapParser(path: string): Promise<Rec[]> {
  return new Promise((resolve, reject) => {
    const out: Rec[] = [];
    const parser = pcapParser.parse(path);
    parser.on("packet", (p: { header: PcapParserHeader; data: Buffer }) => {
      out.push({
        sec: p.header.timestampSeconds,
        usec: p.header.timestampMicroseconds,
        capLen: p.header.capturedLength,
        origLen: p.header.originalLength,
        hash: sha1(p.data),
      });
    });
    parser.on("error", reject);
    parser.on("end", () => resolve(out));
  });
}

async function readWithUs(path: string): Promise<Rec[]> {
  const out: Rec[] = [];
  const info = await readCapture(path, (r) => {
    out.push({ sec: r.tsSec, usec: r.tsNsec / 1000, capLen: r.capLen, origLen: r.origLen, hash: sha1(r.bytes) });
  });
  // Damaged fixtures (fixtures/formats/broken) stop early: with a one-line error, and with
  // the same records before the damage as pcap-parser (which just stops there).
  if (info.error !== null) expect(info.error).toMatch(/^.+: offset \d+: [^\n]+$/);
  if (info.format !== "unknown") expect(info.variant).toMatch(/^pcap-us-/);
  return out;
}

const corpusPcaps = corpusEntries().filter((e) => /^pcap-us-/.test(e.format) && !/corrupt:/.test(e.what));

describe("pcap-parser as a second reader", () => {
  it("has inputs", () => {
    expect(corpusPcaps.length).toBeGreaterThan(50);
  });
  // pcap-parser reads microsecond classic pcap only: the other fixtures are left out here
  // (test/formats.test.ts checks them against capinfos instead).
  const inputs = [
    ...corpusPcaps.map((e) => ({ name: `corpus/${e.file}`, path: e.path })),
    ...fixturePcaps()
      .filter(isClassicMicro)
      .map((p) => ({ name: relative(FIXTURES, p), path: p })),
  ];
  for (const { name, path } of inputs) {
    it(name, async () => {
      const [theirs, ours] = await Promise.all([readWithPcapParser(path), readWithUs(path)]);
      expect(ours.length).toBe(theirs.length);
      for (let i = 0; i < ours.length; i++) expect(ours[i], `record ${i + 1}`).toEqual(theirs[i]);
    });
  }
});

// ---------------------------------------------------------------- (b) tshark

const FIELDS = [
  "frame.number",
  "frame.encap_type",
  "frame.protocols",
  "ip.src",
  "ip.dst",
  "ipv6.src",
  "ipv6.dst",
  "tcp.srcport",
  "tcp.dstport",
  "tcp.flags",
  "tcp.seq",
  "tcp.ack",
  "tcp.len",
  "tcp.seq_raw",
  "tcp.ack_raw",
  "udp.srcport",
  "udp.dstport",
  "udp.length",
] as const;

type Field = "count" | "addr" | "l4" | "ports" | "flags" | "seq" | "ack" | "tcp.len" | "udp.length";

interface Diff {
  frame: number;
  field: Field;
  ours: string;
  tshark: string;
}

interface Exception {
  file: string;
  frames: number[] | "all";
  fields: Field[];
  why: string;
}

/**
 * Deliberate differences from tshark, each checked against tshark 4.0 by hand. Everything
 * else that differs is a bug in sockscope (or in this list).
 */
const EXCEPTIONS: Exception[] = [
  {
    file: "corpus/suricata--bug-5437-02-syn-timeout-reuse.pcap",
    frames: "all",
    fields: ["addr"],
    why: "GRE + ERSPAN (eth:ip:gre:erspan:eth:ip:tcp): tshark's first ip.src/ip.dst are the outer tunnel header's; sockscope reports the inner packet, whose ports, flags and sequence numbers agree",
  },
  {
    file: "corpus/pcpp--Ftp-retransmissions.pcap",
    frames: [1, 2],
    fields: ["addr"],
    why: "6in4 (IPv4 protocol 41): tshark's first address is the outer IPv4 header's; sockscope reports the inner IPv6 packet",
  },
  {
    file: "corpus/pcpp--null_loopback.pcap",
    frames: [3],
    fields: ["addr", "l4"],
    why: "BSD NULL header 0f 00 08 00 is no address family; tshark's null dissector takes a value above 1500 as an Ethertype (0x0800, IPv4), sockscope knows AF_INET/AF_INET6 values only",
  },
  {
    file: "corpus/pcpp--NullLoopback-pcapng-named-pcap.pcap",
    frames: [3],
    fields: ["addr", "l4"],
    why: "same frame as pcpp--null_loopback.pcap frame 3 (NULL header holding an Ethertype)",
  },
  {
    file: "corpus/zeek--ipv4-fragmented-1-udp.pcap",
    frames: [3],
    fields: ["l4"],
    why: "frame 3 is a second offset-0 fragment whose bytes differ from frame 1's: sockscope drops the datagram as an overlap conflict (RFC 5722's rule, applied to IPv4 too); tshark reassembles it anyway and marks it malformed",
  },
  // Files below are marked corrupt in the manifest; they only come up with SOCKSCOPE_DIFF_ALL=1.
  {
    file: "corpus/tcpdump--tcp_header_heapoverflow.pcap",
    frames: [1],
    fields: ["l4"],
    why: "TCP header cut below its 20 bytes: sockscope reports no TCP layer, tshark shows the fields present",
  },
  {
    file: "corpus/zeek--ip-discarder-truncated-tcp-oob.pcapng",
    frames: [1],
    fields: ["l4"],
    why: "TCP header cut below its 20 bytes (as above)",
  },
  {
    file: "corpus/tcpdump--ipv6_invalid_length.pcap",
    frames: [1],
    fields: ["addr"],
    why: "only 39 of the IPv6 header's 40 bytes: sockscope reports no IP layer, tshark shows the source address before its exception",
  },
  {
    file: "fixtures/formats/snaplen-60.pcap",
    frames: range(18, 34),
    fields: ["l4"],
    why: "IPv6 over Ethernet cut at 58 bytes leaves 4 bytes of the TCP/UDP header (the ports): sockscope decodes a transport header only when its fixed part (20/8 bytes) is there, tshark shows the ports",
  },
  {
    file: "fixtures/parallel/r8_overlap.pcap",
    frames: [3],
    fields: ["l4"],
    why: "a second first fragment with other data (an overlap conflict, RFC 5722): sockscope drops the datagram as a receiver must, tshark reassembles it",
  },
  {
    file: "fixtures/parallel/r9_agelist.pcap",
    frames: [4],
    fields: ["l4"],
    why: "the last fragment comes 35 s after the datagram began: past Linux's 30 s reassembly timeout, which sockscope applies and tshark does not",
  },
  ...["midstream-3h", "midstream-2d", "midstream-reversed-3h"].map((name) => ({
    file: `fixtures/scenarios/splice/${name}.pcap`,
    frames: range(20, 38),
    fields: ["seq", "ack"] as Field[],
    why: "a second connection on the 4-tuple, caught mid-stream 3 h (or 2 days) after the first: sockscope starts a new flow and numbers it from its own first segment; tshark keeps one tcp.stream per 4-tuple until a SYN, and numbers it from the first excerpt's base",
  })),
];

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

/** Corpus files compared by default: every format, link type and TCP/IP feature the corpus has. */
const SAMPLE = [
  "pcpp--one_tcp_rst.pcap",
  "pcpp--one_tcp_stream_fin_rst_close.pcap",
  "pcpp--nanosecs_big_endian.pcap",
  "pcpp--nanosecs.pcap",
  "tcpdump--pptp.pcap",
  "tcpdump--isup.pcap",
  "tcpdump--tcp-handshake-nano.pcap",
  "zeek--linux_dlt_sll2.pcap",
  "pcpp--sll2.pcap",
  "pcpp--four_ipv6_http_streams-dlt12.pcap",
  "pcpp--one_ipv6_http_stream.pcap",
  "zeek--tcp-timeout-with-pings.pcap",
  "tcpdump--LINKTYPE_IPV6.pcap",
  "suricata--defrag-ipv6-tcp-linktype229.pcap",
  "suricata--http-ipv6-null-af30.pcap",
  "pcpp--null_loopback.pcap",
  "zeek--pcapng-multi-interface.pcapng",
  "pcpp--pcapng-example.pcapng",
  "pcpp--many_interfaces-1.pcapng",
  "pcapng-testgen--be-test202-multi-section.pcapng",
  "pcapng-testgen--be-test102-all-blocks.pcapng",
  "pcapng-testgen--le-test006-two-linktypes.pcapng",
  "pcpp--ip4_fragments-udp.pcap",
  "pcpp--ip6_fragments-udp.pcap",
  "zeek--ipv6-fragmented-dns.pcap",
  "pcpp--frag_with_padding-vlan.pcap",
  "zeek--ipv4-fragmented-1-udp.pcap",
  "zeek--dns-edns-ecs-frags.pcap",
  "zeek--ipv6-http-atomic-frag.pcap",
  "libpcap--ipv6_ext_headers.pcap",
  "tcpdump--ipv6-routing-header.pcap",
  "zeek--ip6-route0-tcp-good-chksum.pcap",
  "zeek--icmp6-port-unreach.pcap",
  "zeek--conn-size-port-unreach.pcap",
  "suricata--bug-3616-smtp-icmp-fragneeded.pcap",
  "zeek--vlan-collisions.pcap",
  "pcpp--one_http_stream_rst.pcap",
  "tcpdump--802.1ad_QinQ.pcap",
  "suricata--tcp-urgent-oob-1byte.pcap",
  "tcpdump--tcp_all_flags_set.pcap",
  "zeek--tcp-ctu-64702-888.pcap",
  "zeek--tcp-retransmit-timeout.pcapng",
  "suricata--telnet-01.pcap",
  "zeek--tcp-reassembly-half-close.pcap",
  "pcpp--Ftp-retransmissions.pcap",
  "suricata--syn_retransmit_with_ts.pcap",
  "suricata--bug-5437-02-syn-timeout-reuse.pcap",
  "suricata--bug-7657-01-port-reuse.pcap",
  "zeek--tcp-rst-inject-rae.pcap",
  "pcpp--example2-mixed.pcap",
];

const FLAG_BITS: Record<string, number> = { S: 0x02, F: 0x01, R: 0x04, P: 0x08, U: 0x20, E: 0x40, W: 0x80, ".": 0x10 };

function flagBits(s: string | null): number {
  if (s === null || s === "none") return 0;
  let b = 0;
  for (const ch of s) b |= FLAG_BITS[ch]!;
  return b;
}

/** "a.b.c.d:port" or "[v6]:port" → [address, port]; no port for portless packets. */
function splitEndpoint(s: string): [string, string] {
  if (s.startsWith("[")) {
    const i = s.indexOf("]");
    return [s.slice(1, i), s.slice(i + 2)];
  }
  const parts = s.split(":");
  return parts.length === 2 ? [parts[0]!, parts[1]!] : [s, ""];
}

async function compareWithTshark(path: string): Promise<Diff[]> {
  // tshark numbers pcapng Custom Blocks as frames (no encapsulation): sockscope numbers
  // them too but reads no packet from them, so they are left out of the comparison.
  const theirs = (await tsharkFields(path, FIELDS)).filter((r) => r["frame.encap_type"] !== "");
  const ours: PacketLine[] = [];
  for await (const p of packets(path)) ours.push(p);
  const diffs: Diff[] = [];
  const d = (frame: number, field: Field, o: unknown, t: unknown) =>
    diffs.push({ frame, field, ours: String(o), tshark: String(t) });
  if (ours.length !== theirs.length) d(0, "count", ours.length, theirs.length);
  const n = Math.min(ours.length, theirs.length);
  for (let i = 0; i < n; i++) {
    const p = ours[i]!,
      t = theirs[i]!;
    const frame = Number(t["frame.number"]);
    expect(p.frame).toBe(frame);
    const l4 =
      t["frame.protocols"]!.split(":").find((x) => x === "tcp" || x === "udp" || x === "icmp" || x === "icmpv6") ??
      "none";
    const ourL4 =
      ({ TCP: "tcp", UDP: "udp", ICMP: "icmp", ICMPv6: "icmpv6" } as Record<string, string>)[p.proto] ?? "none";
    const [osrc, osport] = p.src === "" ? ["", ""] : splitEndpoint(p.src);
    const [odst, odport] = p.dst === "" ? ["", ""] : splitEndpoint(p.dst);
    const tsrc = t["ip.src"] || t["ipv6.src"],
      tdst = t["ip.dst"] || t["ipv6.dst"];
    if (osrc !== tsrc || odst !== tdst) d(frame, "addr", `${osrc} > ${odst}`, `${tsrc} > ${tdst}`);
    if (ourL4 !== l4) {
      d(frame, "l4", p.proto, t["frame.protocols"]);
      continue;
    }
    if (l4 === "tcp") {
      if (osport !== t["tcp.srcport"] || odport !== t["tcp.dstport"])
        d(frame, "ports", `${osport} > ${odport}`, `${t["tcp.srcport"]} > ${t["tcp.dstport"]}`);
      const tf = parseInt(t["tcp.flags"]!, 16) & 0xff;
      if (flagBits(p.flags) !== tf) d(frame, "flags", p.flags, t["tcp.flags"]);
      if (String(p.seq) !== t["tcp.seq"]) d(frame, "seq", p.seq, `${t["tcp.seq"]} (raw ${t["tcp.seq_raw"]})`);
      // tshark prints an acknowledgement number even without ACK; compare only with ACK set.
      if (tf & 0x10 && String(p.ack) !== t["tcp.ack"])
        d(frame, "ack", p.ack, `${t["tcp.ack"]} (raw ${t["tcp.ack_raw"]})`);
      if (String(p.len) !== t["tcp.len"]) d(frame, "tcp.len", p.len, t["tcp.len"]);
    } else if (l4 === "udp") {
      if (osport !== t["udp.srcport"] || odport !== t["udp.dstport"])
        d(frame, "ports", `${osport} > ${odport}`, `${t["udp.srcport"]} > ${t["udp.dstport"]}`);
      if (String(p.len + 8) !== t["udp.length"]) d(frame, "udp.length", p.len + 8, t["udp.length"]);
    }
  }
  return diffs;
}

/** `name` is "corpus/<file>", "fixtures/<path>" or "synthetic/<file>". */
function checkDiffs(name: string, diffs: Diff[]): void {
  const file = name;
  const mine = EXCEPTIONS.filter((e) => e.file === file);
  const used = new Set<Exception>();
  const unexpected = diffs.filter((df) => {
    const ex = mine.find((e) => e.fields.includes(df.field) && (e.frames === "all" || e.frames.includes(df.frame)));
    if (ex === undefined) return true;
    used.add(ex);
    return false;
  });
  const show = unexpected
    .slice(0, 12)
    .map((x) => `frame ${x.frame} ${x.field}: sockscope ${x.ours}, tshark ${x.tshark}`);
  if (unexpected.length > 12) show.push(`... and ${unexpected.length - 12} more`);
  expect(show, `${file}: disagreements with ${tsharkVersion()}`).toEqual([]);
  const stale = mine.filter((e) => !used.has(e)).map((e) => `${e.file} ${e.fields.join(",")}: ${e.why}`);
  expect(stale, "exceptions that no longer match a disagreement: remove them").toEqual([]);
}

/** Small captures written at test time for cases the corpus only shows buried in noise. */
function syntheticCaptures(): { name: string; path: string }[] {
  const dir = mkdtempSync(join(tmpdir(), "sockscope-diff-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const A = 0x0a000001,
    B = 0x0a000002;
  const seg = (
    src: number,
    dst: number,
    sp: number,
    dp: number,
    seq: number,
    ack: number,
    flags: number,
    len: number,
  ) =>
    linkFrame(
      1,
      ipv4({
        src,
        dst,
        proto: 6,
        payload: tcp({ srcPort: sp, dstPort: dp, seq, ack, flags, win: 1000, payload: new Uint8Array(len) }),
      }),
    );
  const recs = (frames: Uint8Array[]): PcapRecord[] =>
    frames.map((data, i) => ({ tsSec: 1_700_000_000 + i, tsFrac: 0, data }));
  const out: { name: string; path: string }[] = [];
  const write = (name: string, frames: Uint8Array[]) => {
    const path = join(dir, name);
    writeFileSync(path, pcapFile(recs(frames)));
    out.push({ name, path });
  };
  // The capture starts mid-connection: A's first segment acknowledges 5000 before B has sent
  // anything; B's first segment then starts at 5100 (100 bytes sent before the capture), and
  // B finally resends those 100 bytes from 5000.
  write("midstream-ack-first.pcap", [
    seg(A, B, 40000, 80, 1000, 5000, 0x10, 10),
    seg(B, A, 80, 40000, 5100, 1010, 0x18, 20),
    seg(A, B, 40000, 80, 1010, 5120, 0x10, 0),
    seg(B, A, 80, 40000, 5000, 1010, 0x18, 100),
  ]);
  // Handshake seen, then both directions; data both ways; FIN close.
  write("handshake-and-close.pcap", [
    seg(A, B, 40001, 80, 0xfffffff0, 0, 0x02, 0),
    seg(B, A, 80, 40001, 7, 0xfffffff1, 0x12, 0),
    seg(A, B, 40001, 80, 0xfffffff1, 8, 0x10, 0),
    seg(A, B, 40001, 80, 0xfffffff1, 8, 0x18, 40), // crosses the 2^32 wrap
    seg(B, A, 80, 40001, 8, 0x19, 0x18, 5),
    seg(A, B, 40001, 80, 0x19, 13, 0x11, 0),
    seg(B, A, 80, 40001, 13, 0x1a, 0x11, 0),
    seg(A, B, 40001, 80, 0x1a, 14, 0x10, 0),
  ]);
  // A UDP datagram in three IPv4 fragments, the last one first.
  const frags = ipv4Fragments(
    { src: A, dst: B, proto: 17, id: 77 },
    udp(5353, 53, new Uint8Array(100).fill(7)),
    [40, 80],
  );
  write(
    "udp-fragments.pcap",
    [frags[2]!, frags[0]!, frags[1]!].map((f) => linkFrame(1, f)),
  );
  return out;
}

const hasTshark = tsharkAvailable();
if (!hasTshark && process.env.CI) throw new Error("tshark is not on PATH: .ci/run installs Debian's tshark package");
if (!hasTshark)
  console.warn(
    "differential.test.ts: tshark is not on PATH (apt-get install tshark); the tshark comparisons are skipped",
  );

// Concurrent: the time goes into tshark processes, which run in parallel.
describe.concurrent("tshark as a second decoder", () => {
  const all = process.env.SOCKSCOPE_DIFF_ALL === "1";
  // Files tshark itself refuses or reads as damaged (oracle/<file>.error) have no reference.
  const corpus = corpusEntries().filter(
    (e) => (all || SAMPLE.includes(e.file)) && !existsSync(join(CORPUS, "oracle", `${e.file}.error`)),
  );

  it("the sample and the exceptions name real files", () => {
    const names = new Set(corpusEntries().map((e) => e.file));
    expect(SAMPLE.filter((f) => !names.has(f))).toEqual([]);
    for (const e of EXCEPTIONS) {
      const real = e.file.startsWith("corpus/")
        ? names.has(e.file.slice(7))
        : existsSync(join(FIXTURES, e.file.replace(/^fixtures\//, "")));
      expect(real, e.file).toBe(true);
    }
  });

  const inputs = [
    ...corpus.map((e) => ({ name: `corpus/${e.file}`, path: e.path })),
    // fixtures/formats/broken/ holds framing damage on purpose: where each reader stops is
    // the reader's own policy (tested in corpus.test.ts and property.test.ts), not decoding.
    ...fixturePcaps(true)
      .filter((p) => !relative(FIXTURES, p).startsWith(join("formats", "broken")))
      .map((p) => ({ name: `fixtures/${relative(FIXTURES, p)}`, path: p })),
  ];
  for (const { name, path } of inputs) {
    it.skipIf(!hasTshark)(name, async () => {
      checkDiffs(name, await compareWithTshark(path));
    });
  }

  describe("synthetic captures", () => {
    const synth = hasTshark ? syntheticCaptures() : [];
    it.skipIf(!hasTshark)("were written", () => {
      expect(synth.length).toBe(3);
    });
    for (const { name, path } of synth) {
      it(name, async () => {
        checkDiffs(`synthetic/${name}`, await compareWithTshark(path));
      });
    }
  });
});
