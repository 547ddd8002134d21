/**
 * The decoder's fast path (src/decode/wire/fast-path.ts) gives exactly what the general
 * decoders give: every field of the DecodedPacket, its issues and its quoted packet, on
 * random and mangled packets of every link type, on sequences mixing the packets it takes
 * with those it leaves (the fields it does not clear must still read as cleared), with IP
 * reassembly between them as the packet loop runs it, and on every packet of the fixtures
 * and of the corpus.
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { record } from "./helpers/record.js";
import { describe, expect, it } from "vitest";
import { readCapture } from "../src/capture/reader.js";
import type { PacketRecord } from "../src/capture/record.js";
import { PacketDecoder } from "../src/decode/wire/decoder.js";
import { decodeTcpIPv4Fast } from "../src/decode/wire/fast-path.js";
import { DecodedPacket } from "../src/decode/wire/packet.js";
import { Reassembler, type ReassemblyListener } from "../src/decode/reassembly.js";
import { ETH_IPV4, ethernet, ipv4, ipv4Fragments, udp } from "./helpers/build.js";
import { LINK_TYPES, arbPacketSpec, framePacket } from "./helpers/packets.js";
import { CORPUS, FIXTURES } from "./helpers/paths.js";

/** Everything a decoded packet says, as plain data (the bytes by identity: both read the record in place). */
function snapshot(p: DecodedPacket, rec: PacketRecord): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(p)) {
    if (k === "bytes") out.bytesAreRecord = v === rec.buf;
    else if (k === "issues")
      out.issues = (v as DecodedPacket["issues"]).map((i) => [i.layer, i.code, i.offset, i.required, i.available]);
    else if (k === "sack") out.sack = Array.from(v as Float64Array);
    else if (k === "quoted") out.quoted = { ...(v as object) };
    else if (k === "datagram") out.datagram = v === null ? null : "set";
    else out[k] = v;
  }
  return out;
}

const silent: ReassemblyListener = { datagramFailed() {} };

/** Decoder and reassembly as the packet loop runs them, with or without the fast path. */
function pipeline(fastPath: boolean) {
  const decoder = new PacketDecoder(fastPath);
  const r = new Reassembler(silent, { timeoutSec: 30, maxPending: 64, maxBytes: 1 << 22, maxFragments: 64 });
  return (rec: PacketRecord) => {
    const p = decoder.decode(rec);
    const whole = p.isFragment ? r.add(p, rec.frame, rec.tsSec) : null;
    return snapshot(whole === null ? p : decoder.decodeReassembled(p, whole, r.completed!), rec);
  };
}

/** A frame of a random spec, maybe with bytes changed, cut by a snap length, or claiming another wire length. */
const arbFrame = fc
  .tuple(
    arbPacketSpec,
    fc.array(fc.tuple(fc.nat(80), fc.integer({ min: 0, max: 255 })), { maxLength: 3 }),
    fc.option(fc.nat(200), { nil: undefined }),
    fc.integer({ min: -30, max: 200 }),
    fc.boolean(),
  )
  .map(([s, flips, cut, extra, mangle]) => {
    const frame = framePacket(s);
    if (mangle) for (const [at, v] of flips) if (at < frame.length) frame[at] = v;
    const bytes = cut !== undefined && cut < frame.length ? frame.subarray(0, cut) : frame;
    const origLen =
      cut !== undefined && cut < frame.length ? frame.length : Math.max(0, frame.length + (mangle ? extra : 0));
    return { bytes, linkType: s.linkType, origLen };
  });

const arbNoise = fc.record({
  bytes: fc.uint8Array({ maxLength: 120 }),
  linkType: fc.constantFrom(...LINK_TYPES, 228, 229, 147),
  origLen: fc.nat(200),
});

function sameOnSequence(frames: { bytes: Uint8Array; linkType: number; origLen: number }[]): void {
  const fast = pipeline(true);
  const general = pipeline(false);
  frames.forEach((f, i) => {
    const rec = record(f.bytes, f.linkType, f.origLen, i + 1, i + 1);
    expect(fast(rec)).toEqual(general(rec));
  });
}

describe("decode fast path", () => {
  it("takes plain TCP over IPv4 on every link type it knows, and leaves the rest", () => {
    const p = new DecodedPacket();
    const tcpSpec = (linkType: number, vlans: number[] = []) =>
      fc
        .sample(arbPacketSpec, { numRuns: 1, seed: 7 })
        .map((s) => ({ ...s, linkType, vlans, v6: false, proto: "tcp" as const }))[0]!;
    for (const lt of [0, 1, 12, 101, 108, 113]) {
      const frame = framePacket(tcpSpec(lt));
      expect(decodeTcpIPv4Fast(record(frame, lt, frame.length, 1, 1), p), `link type ${lt}`).toBe(true);
    }
    const tagged = framePacket(tcpSpec(1, [5]));
    expect(decodeTcpIPv4Fast(record(tagged, 1, tagged.length, 1, 1), p)).toBe(false);
    const dgram = ethernet(ETH_IPV4, ipv4({ src: 1, dst: 2, proto: 17, payload: udp(1, 2, new Uint8Array(4)) }));
    expect(decodeTcpIPv4Fast(record(dgram, 1, dgram.length, 1, 1), p)).toBe(false);
  });

  it("gives what the general decoders give, packet by packet, on random and mangled frames", () => {
    fc.assert(
      fc.property(fc.oneof(arbFrame, arbFrame, arbNoise), (f) => sameOnSequence([f])),
      { numRuns: 3000 },
    );
  });

  it("gives what the general decoders give on sequences mixing the packets it takes and those it leaves", () => {
    fc.assert(fc.property(fc.array(fc.oneof(arbFrame, arbNoise), { minLength: 2, maxLength: 30 }), sameOnSequence), {
      numRuns: 400,
    });
  });

  it("keeps a reassembled datagram's fields from leaking into the next packet", () => {
    const payload = udp(53, 5353, new Uint8Array(600).fill(7));
    const fragments = ipv4Fragments({ src: 0x0a000001, dst: 0x0a000002, proto: 17, id: 99 }, payload, [304]).map((ip) =>
      ethernet(ETH_IPV4, ip),
    );
    const tcpFrames = fc
      .sample(arbPacketSpec, { numRuns: 3, seed: 11 })
      .map((s) => framePacket({ ...s, linkType: 1, vlans: [], v6: false, proto: "tcp" }));
    sameOnSequence([...fragments, ...tcpFrames].map((bytes) => ({ bytes, linkType: 1, origLen: bytes.length })));
  });

  it("gives what the general decoders give on every packet of the fixtures and the corpus", async () => {
    const captures: string[] = [];
    const walk = (dir: string) => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const p = join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else if (/\.(pcap|pcapng|cap)$/.test(e.name)) captures.push(p);
      }
    };
    walk(FIXTURES);
    walk(join(CORPUS, "captures"));
    expect(captures.length).toBeGreaterThan(400);
    let packets = 0;
    let differing = "";
    for (const file of captures) {
      const fast = pipeline(true);
      const general = pipeline(false);
      try {
        await readCapture(file, (rec) => {
          packets++;
          if (differing === "" && JSON.stringify(fast(rec)) !== JSON.stringify(general(rec)))
            differing = `${file} frame ${rec.frame}`;
        });
      } catch {
        // Not a capture at all (the bad-input fixtures): nothing decoded either way.
      }
    }
    expect(differing).toBe("");
    expect(packets).toBeGreaterThan(20_000);
  }, 120_000);
});
