/**
 * Property tests (fast-check) for the foundation: the capture reader on hostile and cut
 * input, the stateless decoders, IP reassembly and the flow table. Inputs are built by
 * test/helpers/build.ts from the format specs, so expected values never come from src/.
 * fast-check prints the seed and the shrunk counterexample of any failure; rerun one
 * with `fc.assert(..., { seed, path })`.
 */
import { createHash } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CaptureError } from "../src/capture/errors.js";
import { readSource } from "../src/capture/reader.js";
import type { CaptureInfo, PacketRecord } from "../src/capture/record.js";
import { record } from "./helpers/record.js";
import { PacketDecoder } from "../src/decode/wire/decoder.js";
import { L4_NONE, L4_TCP, L4_UDP, type DecodedPacket } from "../src/decode/wire/packet.js";
import { Reassembler, type FragmentFailure, type ReassemblyListener } from "../src/decode/reassembly.js";
import { Engine } from "../src/run/packet-loop.js";
import type { Flow } from "../src/decode/flow/record.js";
import {
  MemorySource,
  cookedVlanFrame,
  ethernet,
  ETH_IPV4,
  ETH_IPV6,
  ipv4,
  ipv4Fragments,
  ipv6Fragments,
  linkFrame,
  tcp,
  udp,
  type V6,
} from "./helpers/build.js";
import {
  LINK_TYPES,
  arbCapture,
  arbPacketSpec,
  expectedVlan,
  framePacket,
  ipPacket,
  ipv6ExtLen,
  l3Offset,
  tcpHeaderLen,
  type BuiltCapture,
} from "./helpers/packets.js";

const RUNS = { numRuns: 300 };
const FEW = { numRuns: 100 };

// ---------------------------------------------------------------- helpers

interface Got {
  frame: number;
  tsSec: number;
  tsNsec: number;
  capLen: number;
  origLen: number;
  linkType: number;
  iface: number;
  fileOffset: number;
  len: number;
  hash: string;
  data: Uint8Array;
}

interface ReadResult {
  info: CaptureInfo | null;
  error: unknown;
  records: Got[];
}

function sha1(b: Uint8Array): string {
  return createHash("sha1").update(b).digest("hex");
}

/** Reads with readSource, copying every record (views die with the callback); fails after 10 s. */
async function read(bytes: Uint8Array, chunkSize?: number, readSize?: (n: number) => number): Promise<ReadResult> {
  const records: Got[] = [];
  const src = new MemorySource(bytes, readSize);
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, rej) => {
    timer = setTimeout(() => rej(new Error("readSource did not terminate within 10 s")), 10_000);
  });
  try {
    const info = await Promise.race([
      readSource(
        src,
        (r) => {
          records.push({
            frame: r.frame,
            tsSec: r.tsSec,
            tsNsec: r.tsNsec,
            capLen: r.capLen,
            origLen: r.origLen,
            linkType: r.linkType,
            iface: r.iface,
            fileOffset: r.fileOffset,
            len: r.bytes.length,
            hash: sha1(r.bytes),
            data: r.bytes.slice(),
          });
        },
        chunkSize === undefined ? {} : { chunkSize },
      ),
      hang,
    ]);
    return { info, error: null, records };
  } catch (e) {
    if (e instanceof Error && e.message.startsWith("readSource did not terminate")) throw e;
    return { info: null, error: e, records };
  } finally {
    clearTimeout(timer);
  }
}

/** The reader's contract on any input: only CaptureError escapes, and what it delivers is self-consistent. */
function checkContract(r: ReadResult, fileLen: number): void {
  if (r.error !== null) {
    expect(r.error, `readSource threw ${String(r.error)}`).toBeInstanceOf(CaptureError);
    return;
  }
  const info = r.info!;
  expect(info.packets).toBe(r.records.length);
  r.records.forEach((g, i) => {
    // One frame number a packet, in file order; a pcapng custom block takes one too (as in Wireshark).
    expect(g.frame).toBeGreaterThanOrEqual(i + 1);
    if (i > 0) expect(g.frame).toBeGreaterThan(r.records[i - 1]!.frame);
    expect(g.len).toBe(g.capLen);
    expect(g.tsNsec).toBeGreaterThanOrEqual(0);
    expect(g.tsNsec).toBeLessThan(1e9);
  });
  // Every record needs at least a 16-byte header (pcap) or a 16-byte SPB: a bound on any file.
  expect(r.records.length).toBeLessThanOrEqual(Math.floor(fileLen / 16));
  for (const m of [...info.warnings, ...(info.error === null ? [] : [info.error])]) {
    expect(m).toMatch(/^mem\.pcap: offset \d+: [^\n]+$/);
  }
}

function expectRecords(got: Got[], want: BuiltCapture["records"]): void {
  expect(got.length).toBe(want.length);
  got.forEach((g, i) => {
    const w = want[i]!;
    expect(g.capLen, `record ${i + 1} capLen`).toBe(w.data.length);
    expect(g.origLen, `record ${i + 1} origLen`).toBe(w.origLen);
    expect(g.linkType, `record ${i + 1} linkType`).toBe(w.linkType);
    expect(g.hash, `record ${i + 1} bytes`).toBe(sha1(w.data));
    if (w.tsSec !== null) {
      expect(g.tsSec, `record ${i + 1} seconds`).toBe(w.tsSec);
      expect(g.tsNsec, `record ${i + 1} nanoseconds`).toBe(w.tsNsec);
    }
  });
}

function comparable(r: ReadResult): unknown {
  return {
    error: r.error === null ? null : String(r.error),
    info: r.info === null ? null : { ...r.info, bytesRead: undefined },
    records: r.records.map(({ data: _d, ...g }) => g),
  };
}

const MAGICS = [
  [0xa1, 0xb2, 0xc3, 0xd4],
  [0xd4, 0xc3, 0xb2, 0xa1],
  [0xa1, 0xb2, 0x3c, 0x4d],
  [0x4d, 0x3c, 0xb2, 0xa1],
  [0x0a, 0x0d, 0x0d, 0x0a],
];

// ---------------------------------------------------------------- (a) the reader

describe("readSource on arbitrary and damaged input", () => {
  it("arbitrary bytes: only CaptureError, always terminates", async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), async (bytes) => {
        checkContract(await read(bytes), bytes.length);
      }),
      RUNS,
    );
  });

  it("a valid magic followed by garbage: only CaptureError, always terminates", async () => {
    const arb = fc
      .tuple(fc.constantFrom(...MAGICS), fc.boolean(), fc.uint8Array({ maxLength: 400 }))
      .map(([m, bom, rest]) => {
        const head = [...m];
        // For pcapng, make the byte-order magic valid half of the time so the framer gets further.
        if (m[0] === 0x0a && bom) head.push(rest[0] ?? 28, 0, 0, 0, 0x4d, 0x3c, 0x2b, 0x1a);
        return Uint8Array.from([...head, ...rest]);
      });
    await fc.assert(
      fc.asyncProperty(arb, async (bytes) => {
        checkContract(await read(bytes), bytes.length);
      }),
      RUNS,
    );
  });

  // "At most the records written" cannot hold for flips anywhere: a flipped length field
  // can split one record into several. The bound here is the file length; the next two
  // properties pin the count exactly where it is defined (data-only flips, clean cuts).
  it("valid captures with random byte mutations and truncation: only CaptureError, bounded output", async () => {
    const arb = arbCapture.chain((c) =>
      fc.record({
        c: fc.constant(c),
        flips: fc.array(fc.tuple(fc.nat(Math.max(0, c.bytes.length - 1)), fc.integer({ min: 0, max: 255 })), {
          maxLength: 6,
        }),
        cut: fc.integer({ min: 0, max: c.bytes.length }),
      }),
    );
    await fc.assert(
      fc.asyncProperty(arb, async ({ c, flips, cut }) => {
        const bytes = c.bytes.slice(0, cut);
        for (const [at, v] of flips) if (at < bytes.length) bytes[at] = v;
        checkContract(await read(bytes), bytes.length);
      }),
      RUNS,
    );
  });

  it("mutating packet bytes only (not the framing) never changes how many records come out", async () => {
    const arb = arbCapture
      .filter((c) => c.records.some((r) => r.data.length > 0))
      .chain((c) =>
        fc.record({
          c: fc.constant(c),
          flips: fc.array(fc.tuple(fc.nat(), fc.nat(), fc.integer({ min: 0, max: 255 })), {
            minLength: 1,
            maxLength: 8,
          }),
          cut: fc.integer({ min: 0, max: c.bytes.length }),
        }),
      );
    await fc.assert(
      fc.asyncProperty(arb, async ({ c, flips, cut }) => {
        const bytes = c.bytes.slice();
        const withData = c.records.filter((r) => r.data.length > 0);
        for (const [ri, bi, v] of flips) {
          const r = withData[ri % withData.length]!;
          // Packet data sits right before the block trailer (pcapng: padding + options + 4) or at the record end (pcap).
          const dataStart = c.kind === "pcap" ? r.end - r.data.length : locate(c.bytes, r);
          bytes[dataStart + (bi % r.data.length)] = v;
        }
        const got = await read(bytes.subarray(0, cut));
        checkContract(got, cut);
        // Cutting keeps the records wholly before the cut; mutating data bytes changes none of that.
        expect(got.records.length).toBe(c.records.filter((r) => r.end <= cut).length);
        expect(got.records.length).toBeLessThanOrEqual(c.records.length);
      }),
      RUNS,
    );
  });

  it("truncating a valid file anywhere yields exactly the records wholly before the cut", async () => {
    const arb = arbCapture.chain((c) =>
      fc.record({ c: fc.constant(c), cut: fc.integer({ min: 0, max: c.bytes.length }) }),
    );
    await fc.assert(
      fc.asyncProperty(arb, async ({ c, cut }) => {
        const got = await read(c.bytes.subarray(0, cut));
        if (cut < 4) {
          // Nothing to recognise: the one case that may throw.
          expect(got.error).toBeInstanceOf(CaptureError);
          return;
        }
        expect(got.error).toBeNull();
        const info = got.info!;
        const whole = c.records.filter((r) => r.end <= cut);
        expect(got.records.length).toBeLessThanOrEqual(c.records.length);
        expectRecords(got.records, whole);
        if (cut < c.headerEnd) {
          // Cut inside the file header / first section header: recognised, but nothing readable.
          expect(info.error).toMatch(/^mem\.pcap: offset 0: /);
          return;
        }
        expect(info.error).toBeNull();
        const boundaries = new Set([c.headerEnd, ...boundariesOf(c)]);
        if (boundaries.has(cut)) {
          expect(info.warnings).toEqual([]);
        } else {
          // The cut fell inside a record or block: one warning naming where.
          expect(info.warnings.length).toBe(1);
          expect(info.warnings[0]).toMatch(/^mem\.pcap: offset \d+: truncated final (record|block)/);
        }
      }),
      RUNS,
    );
  });

  it("a whole valid file reads back exactly as written (timestamps, lengths, link types, bytes)", async () => {
    await fc.assert(
      fc.asyncProperty(arbCapture, async (c) => {
        const got = await read(c.bytes);
        expect(got.error).toBeNull();
        expect(got.info!.error).toBeNull();
        expect(got.info!.warnings).toEqual([]);
        expectRecords(got.records, c.records);
        expect(got.info!.variant).toMatch(c.kind === "pcap" ? /^pcap-(us|ns)-(le|be)$/ : /^pcapng-(le|be|mixed)$/);
      }),
      RUNS,
    );
  });

  // The carry-over of a record split across chunks: any chunk size and any pattern of short
  // reads from the source must give what one big read gives.
  const arbChunked = arbCapture.chain((c) =>
    fc.record({
      c: fc.constant(c),
      cut: fc.integer({ min: Math.min(4, c.bytes.length), max: c.bytes.length }),
      chunk: fc.integer({ min: 1, max: 64 }),
      reads: fc.array(fc.integer({ min: 1, max: 17 }), { minLength: 1, maxLength: 12 }),
    }),
  );

  function readSizes(reads: number[]): (n: number) => number {
    let i = 0;
    return () => reads[i++ % reads.length]!;
  }

  it("chunk size 1..64 and random short reads give the same records as one big read", async () => {
    // Fails today for chunk sizes 1-3: see the report (reader.ts asks the source for 0 bytes).
    await fc.assert(
      fc.asyncProperty(arbChunked, async ({ c, cut, chunk, reads }) => {
        const bytes = c.bytes.subarray(0, cut);
        const big = await read(bytes);
        const small = await read(bytes, chunk, readSizes(reads));
        expect(comparable(small)).toEqual(comparable(big));
      }),
      RUNS,
    );
  });

  it("chunk sizes of at least 4 bytes (the magic) carry split records over correctly", async () => {
    await fc.assert(
      fc.asyncProperty(
        arbChunked.filter((x) => x.chunk >= 4),
        async ({ c, cut, chunk, reads }) => {
          const bytes = c.bytes.subarray(0, cut);
          const big = await read(bytes);
          const small = await read(bytes, chunk, readSizes(reads));
          expect(comparable(small)).toEqual(comparable(big));
        },
      ),
      RUNS,
    );
  });

  it("a chunk size below 4 bytes still reads a valid file (regression: reader.ts asked for 0 bytes and took it as EOF)", async () => {
    const c = fc.sample(
      arbCapture.filter((x) => x.kind === "pcap" && x.records.length > 0),
      { numRuns: 1, seed: 42 },
    )[0]!;
    for (const chunk of [1, 2, 3]) {
      const got = await read(c.bytes, chunk);
      expect(got.error, `chunkSize ${chunk}`).toBeNull();
      expectRecords(got.records, c.records);
    }
  });
});

/** Offset of a pcapng record's packet data (its block starts `end - blockLen`). */
function locate(bytes: Uint8Array, r: BuiltCapture["records"][number]): number {
  // Walk blocks from the start to the one ending at r.end, honouring each SHB's byte order.
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0,
    le = true;
  for (;;) {
    if (dv.getUint32(at, false) === 0x0a0d0d0a) le = dv.getUint32(at + 8, false) === 0x4d3c2b1a;
    const len = dv.getUint32(at + 4, le);
    if (at + len === r.end) {
      const type = dv.getUint32(at, le);
      return at + (type === 3 ? 12 : 28);
    }
    at += len;
  }
}

function boundariesOf(c: BuiltCapture): number[] {
  if (c.kind === "pcap") return c.records.map((r) => r.end);
  // Every block boundary of the pcapng file (IDBs and skipped blocks included).
  const dv = new DataView(c.bytes.buffer, c.bytes.byteOffset, c.bytes.byteLength);
  const out: number[] = [];
  let at = 0,
    le = true;
  while (at < c.bytes.length) {
    if (dv.getUint32(at, false) === 0x0a0d0d0a) le = dv.getUint32(at + 8, false) === 0x4d3c2b1a;
    at += dv.getUint32(at + 4, le);
    out.push(at);
  }
  return out;
}

// ---------------------------------------------------------------- (b) decoders never throw

class CountingListener implements ReassemblyListener {
  failed: FragmentFailure[] = [];
  datagramFailed(_d: unknown, why: FragmentFailure): void {
    this.failed.push(why);
  }
}

function newReassembler(maxPending = 64, l = new CountingListener()): Reassembler {
  return new Reassembler(l, { timeoutSec: 30, maxPending, maxBytes: 1 << 22, maxFragments: 64 });
}

/** The decoder with the reassembly stage after its IP layer, as the packet loop runs them. */
function withReassembly(r: Reassembler): { decode(rec: PacketRecord): DecodedPacket } {
  const decoder = new PacketDecoder();
  return {
    decode(rec) {
      const p = decoder.decode(rec);
      const whole = p.isFragment ? r.add(p, rec.frame, rec.time) : null;
      return whole === null ? p : decoder.decodeReassembled(p, whole, r.completed!);
    },
  };
}

/** What any packet decoded from `r` must satisfy, whatever the input. */
function checkDecoded(p: DecodedPacket, r: PacketRecord): void {
  expect(p.payloadCaptured).toBeGreaterThanOrEqual(0);
  expect(p.payloadLen).toBeGreaterThanOrEqual(0);
  expect(p.payloadCaptured).toBeLessThanOrEqual(p.payloadLen);
  // Everything found lies inside the record (or the reassembled datagram).
  const start = p.reassembled ? 0 : r.start,
    end = p.reassembled ? p.bytes.length : r.end;
  // (With nothing captured the offset may point past the cut: harmless, nothing is read there.)
  if (p.payloadCaptured > 0) {
    expect(p.payloadOffset).toBeGreaterThanOrEqual(start);
    expect(p.payloadOffset + p.payloadCaptured).toBeLessThanOrEqual(end);
  }
  if (p.l4 === L4_TCP) {
    expect(p.l4Offset).toBeGreaterThanOrEqual(start);
    expect(p.l4Offset + 20).toBeLessThanOrEqual(end);
    expect(p.srcPort).toBeGreaterThanOrEqual(0);
  }
  if (p.l4 === L4_UDP) expect(p.l4Offset + 8).toBeLessThanOrEqual(end);
  if (p.l4 !== L4_NONE) expect(p.ipVersion === 4 || p.ipVersion === 6).toBe(true);
}

/** A valid frame with random byte flips and a random cut. */
const arbMangled = arbPacketSpec.chain((s) => {
  const frame = framePacket(s);
  return fc.record({
    s: fc.constant(s),
    frame: fc.constant(frame),
    flips: fc.array(fc.tuple(fc.nat(frame.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
    cut: fc.integer({ min: 0, max: frame.length }),
    origExtra: fc.integer({ min: -20, max: 200 }),
  });
});

describe("PacketDecoder on arbitrary input", () => {
  it("never throws on arbitrary bytes, for every supported link type", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...LINK_TYPES),
        fc.uint8Array({ maxLength: 200 }),
        fc.integer({ min: -10, max: 100 }),
        (lt, bytes, extra) => {
          const d = withReassembly(newReassembler());
          const r = record(bytes, lt, Math.max(0, bytes.length + extra));
          checkDecoded(d.decode(r), r);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it("never throws on mutated and cut real packets, and keeps its length invariants", () => {
    fc.assert(
      fc.property(arbMangled, ({ s, frame, flips, cut, origExtra }) => {
        const b = frame.slice(0, cut);
        for (const [at, v] of flips) if (at < b.length) b[at] = v;
        const d = withReassembly(newReassembler());
        const r = record(b, s.linkType, Math.max(0, frame.length + origExtra));
        checkDecoded(d.decode(r), r);
      }),
      { numRuns: 1000 },
    );
  });

  it("a record read in place inside a larger buffer decodes exactly as the same bytes on their own", () => {
    // Framers hand the decoder spans of their read chunk (PacketRecord.setSpan): no
    // decoder may read outside the span, and nothing found may depend on where it sits.
    // Every field is compared, offsets counted from the packet's start.
    const OFFSETS = new Set(["l3Offset", "l4Offset", "payloadOffset", "fragDataOffset", "fragDataEnd"]);
    const view = (p: DecodedPacket) => {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(p)) {
        if (k === "bytes" || k === "base" || k === "datagram") continue;
        // A reassembled packet's transport offsets count in the datagram (base 0).
        const inRecord = !p.reassembled || k === "l3Offset" || k === "fragDataOffset" || k === "fragDataEnd";
        out[k] = OFFSETS.has(k) && (v as number) >= 0 && inRecord ? (v as number) - p.base : v;
      }
      out.issues = p.issues.map((i) => `${i.layer} ${i.code} @${i.offset} ${i.required}/${i.available}`);
      out.quoted = { ...p.quoted };
      out.sack = [...p.sack];
      out.payload =
        p.payloadCaptured > 0 ? sha1(p.bytes.subarray(p.payloadOffset, p.payloadOffset + p.payloadCaptured)) : "";
      return out;
    };
    fc.assert(
      fc.property(
        arbMangled,
        fc.uint8Array({ maxLength: 64 }),
        fc.uint8Array({ minLength: 1, maxLength: 64 }),
        ({ s, frame, flips, cut, origExtra }, before, after) => {
          const b = frame.slice(0, cut);
          for (const [at, v] of flips) if (at < b.length) b[at] = v;
          const origLen = Math.max(0, frame.length + origExtra);
          const alone = view(withReassembly(newReassembler()).decode(record(b, s.linkType, origLen, 1, 1000, true)));
          // The same bytes with unrelated bytes before and after them in one buffer.
          const chunk = new Uint8Array(before.length + b.length + after.length);
          chunk.set(before, 0);
          chunk.set(b, before.length);
          chunk.set(after, before.length + b.length);
          const r = record(b, s.linkType, origLen, 1, 1000, true);
          r.setSpan(chunk, before.length, before.length + b.length);
          expect(r.bytes).toEqual(b);
          expect(view(withReassembly(newReassembler()).decode(r))).toEqual(alone);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it("a prefix of a packet never decodes to more layers than the whole packet", () => {
    fc.assert(
      fc.property(arbMangled, ({ s, frame, flips, cut }) => {
        const whole = frame.slice();
        for (const [at, v] of flips) whole[at] = v;
        // Same record length on the wire: the prefix is the whole packet cut by a snap length.
        const w = new PacketDecoder().decode(record(whole, s.linkType, whole.length));
        const snap = { l4: w.l4, ip: w.ipVersion, sp: w.srcPort, dp: w.dstPort, proto: w.ipProto };
        const p = new PacketDecoder().decode(record(whole.subarray(0, cut), s.linkType, whole.length));
        if (p.ipVersion !== 0) expect(snap.ip).toBe(p.ipVersion);
        if (p.l4 !== L4_NONE) {
          expect(snap.l4).toBe(p.l4);
          expect([snap.sp, snap.dp]).toEqual([p.srcPort, p.dstPort]);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it("a tunnel with no IP header inside (IPv6, hop-by-hop, next header 4, zeros) keeps the outer packet (fast-check seed 141009555)", () => {
    const frame = Uint8Array.from([
      96,
      0,
      0,
      0,
      0,
      84,
      0,
      119,
      ...new Array<number>(32).fill(1),
      4,
      0,
      1,
      4,
      0,
      0,
      0,
      0,
      6,
      2,
      0,
      0,
      0,
      0,
      0,
      0,
      ...new Array<number>(76).fill(0),
    ]);
    const whole = new PacketDecoder().decode(record(frame, 101));
    expect([whole.ipVersion, whole.ipProto]).toEqual([6, 4]);
    // Before: the decoder dropped the outer header for the bad inner one, and a prefix decoded more than the whole.
    expect(new PacketDecoder().decode(record(frame.subarray(0, 40), 101, frame.length)).ipVersion).toBe(6);
  });
});

// ---------------------------------------------------------------- (c) build → decode round trip

describe("build → decode round trip", () => {
  it("IPv4/IPv6 TCP and UDP headers come back as built, on every link type", () => {
    fc.assert(
      fc.property(arbPacketSpec, (s) => {
        const frame = framePacket(s);
        const p = new PacketDecoder().decode(record(frame, s.linkType));
        expect(p.issues.map((i) => i.text)).toEqual([]);
        expect(p.l3Offset - p.base).toBe(l3Offset(s));
        expect(p.vlan).toBe(expectedVlan(s));
        expect(p.ipVersion).toBe(s.v6 ? 6 : 4);
        expect(p.ttl).toBe(s.ttl);
        expect(p.isFragment).toBe(false);
        expect(p.truncated).toBe(false);
        if (s.v6) {
          expect([p.src0, p.src1, p.src2, p.src3]).toEqual(s.src);
          expect([p.dst0, p.dst1, p.dst2, p.dst3]).toEqual(s.dst);
          expect(p.ipHeaderLen).toBe(40 + ipv6ExtLen(s.ext));
        } else {
          expect(p.src0).toBe(s.src[0]);
          expect(p.dst0).toBe(s.dst[0]);
          expect(p.ipHeaderLen).toBe(20);
        }
        const l4Len = s.proto === "tcp" ? tcpHeaderLen(s.options) : 8;
        expect(p.ipTotalLen).toBe(p.ipHeaderLen + l4Len + s.payload.length);
        expect(p.ipProto).toBe(s.proto === "tcp" ? 6 : 17);
        expect(p.l4).toBe(s.proto === "tcp" ? L4_TCP : L4_UDP);
        expect([p.srcPort, p.dstPort]).toEqual([s.srcPort, s.dstPort]);
        expect(p.payloadLen).toBe(s.payload.length);
        expect(p.payloadCaptured).toBe(s.payload.length);
        expect(sha1(p.bytes.subarray(p.payloadOffset, p.payloadOffset + p.payloadCaptured))).toBe(sha1(s.payload));
        if (s.proto === "udp") {
          expect(p.udpLen).toBe(8 + s.payload.length);
          return;
        }
        expect(p.tcpHeaderLen).toBe(l4Len);
        expect(p.seq).toBe(s.seq);
        expect(p.ack).toBe(s.ack);
        expect(p.tcpFlags).toBe(s.flags);
        expect(p.win).toBe(s.win);
        expect(p.urgPtr).toBe(s.urg);
        const o = s.options;
        expect(p.optMss).toBe(o.mss ?? -1);
        expect(p.optWscale).toBe(o.wscale ?? -1);
        expect(p.optSackPermitted).toBe(o.sackPermitted === true);
        expect([p.optTsVal, p.optTsEcr]).toEqual(o.ts ? [...o.ts] : [-1, -1]);
        const sack = o.sack ?? [];
        expect(p.sackCount).toBe(sack.length);
        for (let i = 0; i < sack.length; i++) expect([p.sack[2 * i], p.sack[2 * i + 1]]).toEqual([...sack[i]!]);
      }),
      { numRuns: 1000 },
    );
  });
});

describe("VLAN tags after a Linux cooked header", () => {
  it("are walked as after Ethernet (tcpdump -i any on a trunk without VLAN offload)", () => {
    // Fails today: link.ts hands the SLL/SLL2 protocol field straight to byEthertype,
    // which knows no 0x8100 (fixtures/formats/linktype-sll-veth-vlan.pcap shows it too).
    fc.assert(
      fc.property(
        arbPacketSpec,
        fc.constantFrom(113 as const, 276 as const),
        fc.array(fc.integer({ min: 1, max: 4095 }), { minLength: 1, maxLength: 2 }),
        (s, lt, vlans) => {
          const frame = cookedVlanFrame(lt, ipPacket(s), vlans);
          const p = new PacketDecoder().decode(record(frame, lt));
          expect(p.ipVersion).toBe(s.v6 ? 6 : 4);
          expect(p.l3Offset - p.base).toBe((lt === 113 ? 16 : 20) + 4 * vlans.length);
          expect(p.vlan).toBe((vlans[0] ?? 0) | ((vlans[1] ?? 0) << 12));
          expect([p.srcPort, p.dstPort]).toEqual([s.srcPort, s.dstPort]);
        },
      ),
      FEW,
    );
  });
});

describe("lengths on the wire", () => {
  it("a transport payload never exceeds what the frame carried on the wire", () => {
    // Fails today: an IP length field larger than the frame (capLen = origLen) is taken as
    // the wire length, and the packet is called cut by the snap length; tshark uses the frame
    // length ("IPv4 total length exceeds packet length"). Corpus: suricata--telnet-01.pcap
    // frame 18, zeek--tcp-reassembly-half-close.pcap frames 7, 26, 35, 39, 85.
    fc.assert(
      fc.property(arbPacketSpec, fc.integer({ min: 1, max: 2000 }), (s, extra) => {
        const frame = framePacket(s);
        const at = l3Offset(s);
        // Raise the IPv4 total length / IPv6 payload length field by `extra`.
        const field = s.v6 ? at + 4 : at + 2;
        const v = ((frame[field]! << 8) | frame[field + 1]!) + extra;
        fc.pre(v <= 0xffff);
        frame[field] = v >>> 8;
        frame[field + 1] = v & 255;
        const r = record(frame, s.linkType, frame.length);
        const p = new PacketDecoder().decode(r);
        checkDecoded(p, r);
        if (p.payloadOffset >= 0) expect(p.payloadOffset - p.base + p.payloadLen).toBeLessThanOrEqual(frame.length);
      }),
      FEW,
    );
  });
});

// ---------------------------------------------------------------- (d) fragments

interface FragCase {
  v6: boolean;
  linkType: number;
  srcPort: number;
  dstPort: number;
  payload: Uint8Array;
  cuts: number[];
  /** Sort keys for the shuffle, one per fragment and duplicate. */
  order: number[];
  /** Fragment indexes sent twice: never all of them (see below). */
  dups: number[];
  ext: number[];
}

const arbFrag: fc.Arbitrary<FragCase> = fc
  .record({
    v6: fc.boolean(),
    linkType: fc.constantFrom(1, 101, 113, 276, 0),
    srcPort: fc.integer({ min: 0, max: 65535 }),
    dstPort: fc.integer({ min: 0, max: 65535 }),
    payload: fc.uint8Array({ minLength: 9, maxLength: 3000 }),
    ext: fc.subarray([0, 60]),
  })
  .chain((b) => {
    const dgram = 8 + b.payload.length; // UDP header + data
    const maxUnit = Math.floor((dgram - 1) / 8);
    return fc
      .uniqueArray(fc.integer({ min: 1, max: maxUnit }), { minLength: 1, maxLength: Math.min(15, maxUnit) })
      .chain((units) => {
        const cuts = units.map((u) => u * 8).sort((x, y) => x - y);
        const n = cuts.length + 1;
        // Duplicate a strict subset: with every fragment duplicated, a second full copy could
        // legitimately complete a second datagram after the first one was delivered.
        return fc
          .record({
            dups: fc.uniqueArray(fc.nat(n - 1), { maxLength: n - 1 }),
            order: fc.array(fc.double({ noNaN: true }), { minLength: 2 * n, maxLength: 2 * n }),
          })
          .map(({ dups, order }) => ({ ...b, cuts, dups, order }));
      });
  });

describe("IP fragment reassembly", () => {
  it("shuffled, partly duplicated fragments of a UDP datagram complete exactly once with the original payload", () => {
    fc.assert(
      fc.property(arbFrag, (f) => {
        const dgram = udp(f.srcPort, f.dstPort, f.payload);
        const SRC6: V6 = [0x20010db8, 0, 0, 1],
          DST6: V6 = [0x20010db8, 0, 0, 2];
        const frags = f.v6
          ? ipv6Fragments({ src: SRC6, dst: DST6, nextHeader: 17, ext: f.ext }, 0xabcd1234, dgram, f.cuts)
          : ipv4Fragments({ src: 0x0a000001, dst: 0x0a000002, proto: 17, id: 0x1234 }, dgram, f.cuts);
        const sent = [
          ...frags.map((x, i) => ({ x, k: f.order[i]! })),
          ...f.dups.map((d, j) => ({ x: frags[d]!, k: f.order[frags.length + j]! })),
        ]
          .sort((a, b) => a.k - b.k)
          .map((e) => e.x);
        const l = new CountingListener();
        const d = withReassembly(newReassembler(64, l));
        let completions = 0;
        sent.forEach((ip, i) => {
          const r = record(linkFrame(f.linkType, ip), f.linkType, undefined, i + 1, 1000 + i * 0.001);
          const p = d.decode(r);
          checkDecoded(p, r);
          if (!p.reassembled) {
            expect(p.isFragment).toBe(true);
            expect(p.l4).toBe(L4_NONE);
            return;
          }
          completions++;
          expect(p.datagram).not.toBeNull();
          expect(p.l4).toBe(L4_UDP);
          expect([p.srcPort, p.dstPort]).toEqual([f.srcPort, f.dstPort]);
          expect(p.udpLen).toBe(dgram.length);
          expect(p.payloadLen).toBe(f.payload.length);
          expect(sha1(p.bytes.subarray(p.payloadOffset, p.payloadOffset + p.payloadLen))).toBe(sha1(f.payload));
          expect(p.fragmentCount).toBeGreaterThanOrEqual(frags.length);
        });
        expect(completions).toBe(1);
        expect(l.failed).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });

  /** The first fragment (offset 0, MF) of datagram `i`, each with its own identification. */
  function firstFragment(i: number, v6: boolean): Uint8Array {
    const body = udp(1000, 2000, new Uint8Array(64).fill(i & 255));
    if (v6)
      return ipv6Fragments(
        { src: [0x20010db8, 0, 0, i], dst: [0x20010db8, 0, 0, 0xffff], nextHeader: 17 },
        i,
        concat2(body, new Uint8Array(64)),
        [72],
      )[0]!;
    return ipv4Fragments(
      { src: 0x0a000000 + (i >>> 16), dst: 0x0a0000ff, proto: 17, id: i & 0xffff },
      concat2(body, new Uint8Array(64)),
      [72],
    )[0]!;
  }

  it("the decoder alone stops a fragment at its IP layer: reassembly is the packet loop's next stage", () => {
    for (const v6 of [false, true]) {
      const frame = ethernet(v6 ? ETH_IPV6 : ETH_IPV4, firstFragment(7, v6));
      const p = new PacketDecoder().decode(record(frame, 1));
      expect([p.isFragment, p.reassembled, p.l4, p.srcPort]).toEqual([true, false, L4_NONE, -1]);
      // The fragment's data, which the reassembler copies: 72 bytes of the datagram.
      expect(p.fragDataEnd - p.fragDataOffset).toBe(72);
      expect(p.fragDataEnd).toBe(p.l3Offset + p.ipTotalLen);
    }
  });

  it("a flood of unrelated incomplete fragments never leaves more than maxPending datagrams pending", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 32 }),
        fc.integer({ min: 1, max: 300 }),
        fc.boolean(),
        (maxPending, n, v6) => {
          const l = new CountingListener();
          const r = newReassembler(maxPending, l);
          const d = withReassembly(r);
          for (let i = 0; i < n; i++) {
            d.decode(record(ethernet(v6 ? ETH_IPV6 : ETH_IPV4, firstFragment(i, v6)), 1, undefined, i + 1, 1000));
            expect(r.pendingCount).toBeLessThanOrEqual(maxPending);
          }
          expect(r.evictions).toBe(Math.max(0, n - maxPending));
          expect(l.failed.filter((x) => x === "evicted").length).toBe(Math.max(0, n - maxPending));
        },
      ),
      FEW,
    );
  });

  it("the maxPending bound also holds for fragments cut by the snap length", () => {
    // Fails today: reassembly.ts returns before its eviction loop for a cut fragment.
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 32 }),
        fc.integer({ min: 1, max: 300 }),
        fc.boolean(),
        fc.integer({ min: 0, max: 40 }),
        (maxPending, n, v6, lose) => {
          const r = newReassembler(maxPending);
          const d = withReassembly(r);
          for (let i = 0; i < n; i++) {
            const frame = ethernet(v6 ? ETH_IPV6 : ETH_IPV4, firstFragment(i, v6));
            d.decode(record(frame.subarray(0, frame.length - 1 - lose), 1, frame.length, i + 1, 1000));
            expect(r.pendingCount).toBeLessThanOrEqual(maxPending);
          }
        },
      ),
      FEW,
    );
  });
});

function concat2(a: Uint8Array, b: Uint8Array): Uint8Array {
  const o = new Uint8Array(a.length + b.length);
  o.set(a);
  o.set(b, a.length);
  return o;
}

// ---------------------------------------------------------------- (e) flow table against a model

const F = { FIN: 1, SYN: 2, RST: 4, PSH: 8, ACK: 16 } as const;

interface Conv {
  /** No handshake captured (allowed for a tuple's first connection only). */
  midstream: boolean;
  /** The endpoint on port 80 opens this connection (roles swapped). */
  swap: boolean;
  synRetx: number;
  steps: { fromClient: boolean; kind: "data" | "ack" | "synack" }[];
  close: "fin" | "rst" | "none";
  lens: number[];
}

const arbConv: fc.Arbitrary<Conv> = fc.record({
  midstream: fc.boolean(),
  swap: fc.boolean(),
  synRetx: fc.integer({ min: 0, max: 2 }),
  steps: fc.array(
    fc.record({ fromClient: fc.boolean(), kind: fc.constantFrom("data" as const, "ack" as const, "synack" as const) }),
    { maxLength: 10 },
  ),
  close: fc.constantFrom("fin" as const, "rst" as const, "none" as const),
  lens: fc.array(fc.integer({ min: 1, max: 120 }), { minLength: 1, maxLength: 5 }),
});

interface Seg {
  tuple: number;
  conv: number;
  fromA: boolean;
  bytes: Uint8Array;
}

describe("flow table against a small model", () => {
  it("one flow per 4-tuple and connection, per-direction packet counts add up", () => {
    const arb = fc.record({
      tuples: fc.array(fc.array(arbConv, { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 3 }),
      isns: fc.uniqueArray(fc.integer({ min: 0, max: 0xffffffff }), { minLength: 20, maxLength: 20 }),
      pick: fc.array(fc.nat(), { minLength: 64, maxLength: 64 }),
    });
    fc.assert(
      fc.property(arb, ({ tuples, isns, pick }) => {
        let isnAt = 0;
        const A = 0x0a000001,
          B = 0x0a000002;
        const perTuple: Seg[][] = tuples.map((convs, t) => {
          const aPort = 40000 + t,
            bPort = 80;
          const out: Seg[] = [];
          convs.forEach((c0, ci) => {
            // Only a tuple's first connection may start mid-stream; only its last may stay open.
            const c = {
              ...c0,
              midstream: c0.midstream && ci === 0,
              close: ci < convs.length - 1 && c0.close === "none" ? "fin" : c0.close,
            };
            const clientIsA = c.midstream ? true : !c.swap;
            const isn = [isns[isnAt++ % isns.length]!, isns[isnAt++ % isns.length]!]; // [client, server]
            const next = [isn[0]!, isn[1]!];
            let li = 0;
            const seg = (fromClient: boolean, flags: number, len = 0) => {
              const me = fromClient ? 0 : 1;
              const fromA = fromClient === clientIsA;
              const bytes = linkFrame(
                1,
                ipv4({
                  src: fromA ? A : B,
                  dst: fromA ? B : A,
                  proto: 6,
                  payload: tcp({
                    srcPort: fromA ? aPort : bPort,
                    dstPort: fromA ? bPort : aPort,
                    seq: next[me]!,
                    ack: flags & F.ACK ? next[1 - me]! : 0,
                    flags,
                    win: 1000,
                    payload: new Uint8Array(len),
                  }),
                }),
              );
              out.push({ tuple: t, conv: ci, fromA, bytes });
              next[me] = (next[me]! + len + (flags & (F.SYN | F.FIN) ? 1 : 0)) >>> 0;
            };
            if (c.midstream)
              seg(true, F.ACK); // the capture starts inside the connection
            else {
              for (let k = 0; k <= c.synRetx; k++) {
                next[0] = isn[0]!;
                seg(true, F.SYN);
              }
              seg(false, F.SYN | F.ACK);
              seg(true, F.ACK);
            }
            for (const st of c.steps) {
              if (st.kind === "synack") {
                if (c.midstream) continue;
                const saved = next[1]!;
                next[1] = isn[1]!;
                seg(false, F.SYN | F.ACK);
                next[1] = saved;
              } else
                seg(
                  st.fromClient,
                  st.kind === "data" ? F.PSH | F.ACK : F.ACK,
                  st.kind === "data" ? c.lens[li++ % c.lens.length]! : 0,
                );
            }
            if (c.close === "fin") {
              seg(true, F.FIN | F.ACK);
              seg(false, F.ACK);
              seg(false, F.FIN | F.ACK);
              seg(true, F.ACK);
            } else if (c.close === "rst") seg(c.steps.length % 2 === 0, F.RST | F.ACK);
          });
          return out;
        });
        // Interleave the tuples (order within a tuple kept).
        const queue = perTuple.map((l) => [...l]);
        const all: Seg[] = [];
        for (let j = 0; queue.some((q) => q.length > 0); j++) {
          const live = queue.filter((q) => q.length > 0);
          all.push(live[pick[j % pick.length]! % live.length]!.shift()!);
        }
        const engine = new Engine({ analyzers: [] });
        all.forEach((s, i) => {
          engine.onPacket(record(s.bytes, 1, undefined, i + 1, 1000 + i * 0.01));
        });
        engine.finish();
        const flows = engine.flows.all;
        expect(flows.length).toBe(tuples.reduce((n, convs) => n + convs.length, 0));
        // Packets per direction sum to the total.
        expect(flows.reduce((n, f) => n + f.packets[0] + f.packets[1], 0)).toBe(all.length);
        tuples.forEach((convs, t) => {
          const mine: Flow[] = flows.filter((f) => f.clientPort === 40000 + t || f.serverPort === 40000 + t);
          expect(mine.length, `flows of tuple ${t}`).toBe(convs.length);
          mine.forEach((f, ci) => {
            const segs = all.filter((s) => s.tuple === t && s.conv === ci);
            const c = convs[ci]!;
            const clientIsA = c.midstream && ci === 0 ? true : !c.swap;
            const fromClient = segs.filter((s) => s.fromA === clientIsA).length;
            expect([f.packets[0], f.packets[1]], `tuple ${t} connection ${ci}: packets c→s, s→c`).toEqual([
              fromClient,
              segs.length - fromClient,
            ]);
            expect(f.ep[0].packets + f.ep[1].packets).toBe(segs.length);
            expect(f.clientPort).toBe(clientIsA ? 40000 + t : 80);
            expect(f.previous).toBe(ci === 0 ? null : mine[ci - 1]);
          });
        });
      }),
      { numRuns: 300 },
    );
  });
});
