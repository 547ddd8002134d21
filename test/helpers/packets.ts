/**
 * fast-check arbitraries for packets and captures, built with test/helpers/build.ts, plus
 * the values a correct decoder must report for them (computed here, not by src/).
 */
import fc from "fast-check";
import {
  ETH_IPV4,
  ETH_IPV6,
  concat,
  ethernet,
  ipv4,
  ipv6,
  linkFrame,
  pcapFile,
  pcapRecordEnds,
  pcapngFile,
  tcp,
  udp,
  type NgBlock,
  type NgInterface,
  type NgSection,
  type PcapOptions,
  type PcapRecord,
  type TcpOptions,
  type V6,
} from "./build.js";

export const LINK_TYPES = [0, 1, 12, 101, 108, 113, 276] as const;

/** Bytes before the IP header for each link type as built by `linkFrame` (Ethernet: + 4 per tag). */
export const LINK_HEADER_LEN: Record<number, number> = {
  0: 4,
  1: 14,
  12: 0,
  101: 0,
  108: 4,
  113: 16,
  228: 0,
  229: 0,
  276: 20,
};

export interface PacketSpec {
  linkType: number;
  vlans: number[];
  v6: boolean;
  src: number[];
  dst: number[];
  ttl: number;
  /** IPv6 extension headers before the transport header (hop-by-hop first). */
  ext: number[];
  proto: "tcp" | "udp";
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  flags: number;
  win: number;
  urg: number;
  options: TcpOptions;
  payload: Uint8Array;
}

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const port = fc.integer({ min: 0, max: 65535 });

function optionBytes(o: TcpOptions): number {
  let n = 0;
  if (o.mss !== undefined) n += 4;
  if (o.wscale !== undefined) n += 4;
  if (o.sackPermitted) n += 4;
  if (o.ts !== undefined) n += 12;
  if (o.sack !== undefined && o.sack.length > 0) n += 4 + 8 * o.sack.length;
  return n;
}

export const arbTcpOptions: fc.Arbitrary<TcpOptions> = fc
  .record({
    mss: fc.option(fc.integer({ min: 0, max: 65535 }), { nil: undefined }),
    wscale: fc.option(fc.integer({ min: 0, max: 14 }), { nil: undefined }),
    sackPermitted: fc.boolean(),
    ts: fc.option(fc.tuple(u32, u32), { nil: undefined }),
    sack: fc.array(fc.tuple(u32, u32), { maxLength: 4 }),
  })
  .map((o) => {
    // Drop SACK blocks until the options fit in 40 bytes.
    const sack = [...o.sack];
    const r: TcpOptions = { mss: o.mss, wscale: o.wscale, sackPermitted: o.sackPermitted, ts: o.ts, sack };
    while (optionBytes(r) > 40) sack.pop();
    return r;
  });

export const arbPacketSpec: fc.Arbitrary<PacketSpec> = fc.record({
  linkType: fc.constantFrom(...LINK_TYPES),
  vlans: fc.array(fc.integer({ min: 0, max: 4095 }), { maxLength: 2 }),
  v6: fc.boolean(),
  src: fc.tuple(u32, u32, u32, u32),
  dst: fc.tuple(u32, u32, u32, u32),
  ttl: fc.integer({ min: 0, max: 255 }),
  ext: fc.subarray([0, 60, 43]),
  proto: fc.constantFrom("tcp" as const, "udp" as const),
  srcPort: port,
  dstPort: port,
  seq: u32,
  ack: u32,
  flags: fc.integer({ min: 0, max: 255 }),
  win: fc.integer({ min: 0, max: 65535 }),
  urg: fc.integer({ min: 0, max: 65535 }),
  options: arbTcpOptions,
  payload: fc.uint8Array({ maxLength: 300 }),
});

/** The IP packet (no link header) of a spec. */
export function ipPacket(s: PacketSpec): Uint8Array {
  const l4 =
    s.proto === "tcp"
      ? tcp({
          srcPort: s.srcPort,
          dstPort: s.dstPort,
          seq: s.seq,
          ack: s.ack,
          flags: s.flags,
          win: s.win,
          urg: s.urg,
          options: s.options,
          payload: s.payload,
        })
      : udp(s.srcPort, s.dstPort, s.payload);
  const proto = s.proto === "tcp" ? 6 : 17;
  return s.v6
    ? ipv6({
        src: s.src as unknown as V6,
        dst: s.dst as unknown as V6,
        nextHeader: proto,
        payload: l4,
        hopLimit: s.ttl,
        ext: s.ext,
      })
    : ipv4({ src: s.src[0]!, dst: s.dst[0]!, proto, payload: l4, ttl: s.ttl });
}

/** The whole frame for the spec's link type (VLAN tags only on Ethernet). */
export function framePacket(s: PacketSpec): Uint8Array {
  const ip = ipPacket(s);
  if (s.linkType === 1) return ethernet(s.v6 ? ETH_IPV6 : ETH_IPV4, ip, s.vlans);
  return linkFrame(s.linkType, ip);
}

export function l3Offset(s: PacketSpec): number {
  return LINK_HEADER_LEN[s.linkType]! + (s.linkType === 1 ? 4 * s.vlans.length : 0);
}

export function expectedVlan(s: PacketSpec): number {
  if (s.linkType !== 1) return 0;
  return (s.vlans[0] ?? 0) | ((s.vlans[1] ?? 0) << 12);
}

export function tcpHeaderLen(o: TcpOptions): number {
  const n = optionBytes(o);
  return 20 + Math.ceil(n / 4) * 4;
}

export function ipv6ExtLen(ext: readonly number[]): number {
  return ext.reduce((n, t) => n + (t === 43 ? 24 : 8), 0);
}

// ---------------------------------------------------------------- captures

export interface BuiltCapture {
  kind: "pcap" | "pcapng";
  bytes: Uint8Array;
  /** The records a reader must deliver, in order, with each one's end offset in the file. */
  records: {
    data: Uint8Array;
    origLen: number;
    linkType: number;
    end: number;
    tsSec: number | null;
    tsNsec: number | null;
  }[];
  /** Offset where the first record may start: after the pcap header, or after the first SHB. */
  headerEnd: number;
}

const arbData = fc.uint8Array({ maxLength: 96 });

export const arbPcap: fc.Arbitrary<BuiltCapture> = fc
  .record({
    le: fc.boolean(),
    nanos: fc.boolean(),
    linkType: fc.constantFrom(...LINK_TYPES),
    recs: fc.array(
      fc.record({
        tsSec: u32,
        frac: fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        data: arbData,
        extra: fc.nat(2000),
      }),
      { maxLength: 8 },
    ),
  })
  .map(({ le, nanos, linkType, recs }) => {
    const units = nanos ? 1e9 : 1e6;
    const records: PcapRecord[] = recs.map((r) => ({
      tsSec: r.tsSec,
      tsFrac: Math.floor(r.frac * units),
      data: r.data,
      origLen: r.data.length + r.extra,
    }));
    const opts: PcapOptions = { le, nanos, linkType, snapLen: 65535 };
    const ends = pcapRecordEnds(records);
    return {
      kind: "pcap" as const,
      bytes: pcapFile(records, opts),
      records: records.map((r, i) => ({
        data: r.data,
        origLen: r.origLen!,
        linkType,
        end: ends[i]!,
        tsSec: r.tsSec,
        tsNsec: r.tsFrac * (nanos ? 1 : 1000),
      })),
      headerEnd: 24,
    };
  });

const TSRESOLS = [undefined, 3, 6, 9, 0x80 | 10, 0x80 | 20, 0x80 | 30] as const;

function unitsOf(tsresol: number | undefined): bigint {
  if (tsresol === undefined) return 1000000n;
  return tsresol & 0x80 ? 1n << BigInt(tsresol & 0x7f) : 10n ** BigInt(tsresol);
}

const arbIface: fc.Arbitrary<NgInterface> = fc.record({
  linkType: fc.constantFrom(...LINK_TYPES),
  snapLen: fc.constantFrom(0, 65535, 262144),
  tsresol: fc.constantFrom(...TSRESOLS),
  tsoffset: fc.option(fc.integer({ min: 0, max: 2 ** 31 }), { nil: undefined }),
  name: fc.option(fc.string({ maxLength: 12 }), { nil: undefined }),
});

const arbOther = fc.record({
  kind: fc.constant("other" as const),
  type: fc.constantFrom(4, 5, 0x00000bad, 0x40000bad, 0x00000007, 0x12345678),
  body: fc.uint8Array({ maxLength: 40 }),
});

function arbSection(): fc.Arbitrary<NgSection> {
  return fc
    .record({
      le: fc.boolean(),
      interfaces: fc.array(arbIface, { minLength: 1, maxLength: 3 }),
      userAppl: fc.option(fc.string({ maxLength: 20 }), { nil: undefined }),
    })
    .chain((s) => {
      const n = s.interfaces.length;
      // Below 2^60 ticks: seconds stay exact doubles for every resolution used (>= 1000/s).
      const ts = fc.bigInt({ min: 0n, max: (1n << 60n) - 1n });
      const pkt = fc.oneof(
        fc
          .record({
            kind: fc.constant("epb" as const),
            iface: fc.integer({ min: 0, max: n - 1 }),
            ts,
            data: arbData,
            extra: fc.nat(1000),
            comment: fc.option(fc.string({ maxLength: 10 }), { nil: undefined }),
          })
          .map(({ extra, ...b }) => ({ ...b, origLen: b.data.length + extra }) as NgBlock),
        fc
          .record({ kind: fc.constant("pb" as const), iface: fc.integer({ min: 0, max: n - 1 }), ts, data: arbData })
          .map((b) => b as NgBlock),
        // SPB: original length = captured length (the block holds it all), so the reader can tell.
        fc.record({ kind: fc.constant("spb" as const), data: arbData }).map((b) => b as NgBlock),
        arbOther.map((b) => b as NgBlock),
      );
      return fc.array(pkt, { maxLength: 6 }).map((blocks) => ({ ...s, blocks }));
    });
}

export const arbPcapng: fc.Arbitrary<BuiltCapture> = fc
  .array(arbSection(), { minLength: 1, maxLength: 3 })
  .map((sections) => {
    const { bytes, expected } = pcapngFile(sections);
    // Timestamps, computed exactly with BigInt (independent of the reader's double arithmetic).
    const times: { tsSec: number | null; tsNsec: number | null }[] = [];
    for (const s of sections) {
      for (const b of s.blocks) {
        if (b.kind === "other") continue;
        if (b.kind === "spb") {
          times.push({ tsSec: null, tsNsec: null });
          continue;
        }
        const i = s.interfaces[b.iface]!;
        const units = unitsOf(i.tsresol);
        const sec = b.ts / units + BigInt(i.tsoffset ?? 0);
        const nsec = ((b.ts % units) * 1000000000n) / units;
        times.push({ tsSec: Number(sec), tsNsec: Number(nsec) });
      }
    }
    const first = sections[0]!;
    // The SHB's length: 28 bytes plus its options.
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const shbLen = dv.getUint32(4, first.le);
    return {
      kind: "pcapng" as const,
      bytes,
      records: expected.map((e, k) => ({ ...e, ...times[k]! })),
      headerEnd: shbLen,
    };
  });

export const arbCapture: fc.Arbitrary<BuiltCapture> = fc.oneof(arbPcap, arbPcapng);

export { concat };
