/**
 * Tiny writers for test inputs: classic pcap (LE/BE, µs/ns), pcapng (sections of either
 * byte order, IDB options, EPB/SPB/obsolete PB, skipped block types), and packet builders
 * (Ethernet/VLAN, NULL, SLL/SLL2, IPv4/IPv6 with fragments, TCP with options, UDP).
 * Independent of src/: everything here is written from the format specs, so a test that
 * builds with it and reads with src/ checks src/ against the specs, not against itself.
 */
import type { ByteSource } from "../../src/capture/source.js";

// ---------------------------------------------------------------- byte helpers

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A little writer with a fixed byte order. */
class W {
  private readonly parts: number[] = [];
  constructor(readonly le: boolean) {}
  u8(v: number): this {
    this.parts.push(v & 255);
    return this;
  }
  u16(v: number): this {
    if (this.le) this.parts.push(v & 255, (v >>> 8) & 255);
    else this.parts.push((v >>> 8) & 255, v & 255);
    return this;
  }
  u32(v: number): this {
    v = v >>> 0;
    const b = [(v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255];
    if (this.le) b.reverse();
    this.parts.push(...b);
    return this;
  }
  bytes(b: ArrayLike<number>): this {
    for (let i = 0; i < b.length; i++) this.parts.push(b[i]!);
    return this;
  }
  pad4(): this {
    while (this.parts.length % 4 !== 0) this.parts.push(0);
    return this;
  }
  get length(): number {
    return this.parts.length;
  }
  done(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

// ---------------------------------------------------------------- classic pcap

export interface PcapRecord {
  tsSec: number;
  /** Sub-second units: µs or ns depending on the file. */
  tsFrac: number;
  data: Uint8Array;
  /** Defaults to data.length. */
  origLen?: number;
}

export interface PcapOptions {
  le?: boolean;
  nanos?: boolean;
  linkType?: number;
  snapLen?: number;
  major?: number;
  minor?: number;
}

export const PCAP_HEADER_LEN = 24;
export const PCAP_RECORD_HEADER_LEN = 16;

export function pcapHeader(o: PcapOptions = {}): Uint8Array {
  const w = new W(o.le ?? true);
  w.u32(o.nanos ? 0xa1b23c4d : 0xa1b2c3d4)
    .u16(o.major ?? 2)
    .u16(o.minor ?? 4)
    .u32(0)
    .u32(0)
    .u32(o.snapLen ?? 262144)
    .u32(o.linkType ?? 1);
  return w.done();
}

export function pcapRecord(r: PcapRecord, le = true): Uint8Array {
  const w = new W(le);
  w.u32(r.tsSec)
    .u32(r.tsFrac)
    .u32(r.data.length)
    .u32(r.origLen ?? r.data.length)
    .bytes(r.data);
  return w.done();
}

export function pcapFile(records: readonly PcapRecord[], o: PcapOptions = {}): Uint8Array {
  return concat([pcapHeader(o), ...records.map((r) => pcapRecord(r, o.le ?? true))]);
}

/** File offsets where each record ends (the first is after the file header). */
export function pcapRecordEnds(records: readonly PcapRecord[]): number[] {
  const ends: number[] = [];
  let at = PCAP_HEADER_LEN;
  for (const r of records) {
    at += PCAP_RECORD_HEADER_LEN + r.data.length;
    ends.push(at);
  }
  return ends;
}

// ---------------------------------------------------------------- pcapng

export interface NgInterface {
  linkType: number;
  snapLen?: number;
  /** if_tsresol byte (6 = µs, 9 = ns, 0x80|n = 2^-n). Omitted: µs. */
  tsresol?: number;
  /** if_tsoffset in seconds. */
  tsoffset?: number;
  name?: string;
  description?: string;
  /** if_os. */
  os?: string;
  /** if_IPv4addr values, 8 bytes each (address and netmask), and if_IPv6addr, 17 (address and prefix length). */
  ipv4?: Uint8Array[];
  ipv6?: Uint8Array[];
  /** The option bytes as they are (after the fixed fields), instead of the options above. */
  rawOptions?: Uint8Array;
}

export type NgBlock =
  | {
      kind: "epb";
      iface: number;
      ts: bigint;
      data: Uint8Array;
      origLen?: number;
      comment?: string;
      /** epb_flags (code 2) and epb_processid_threadid (code 8), in the section's byte order. */
      flags?: number;
      pidTid?: [number, number];
    }
  | { kind: "pb"; iface: number; ts: bigint; data: Uint8Array; origLen?: number }
  | { kind: "spb"; data: Uint8Array; origLen?: number }
  /** Any block the reader must skip: NRB (4), ISB (5), custom (0xbad), unknown. */
  | { kind: "other"; type: number; body: Uint8Array };

export interface NgSection {
  le: boolean;
  interfaces: NgInterface[];
  blocks: NgBlock[];
  /** An shb_userappl option, to make the SHB carry options. */
  userAppl?: string;
  /** shb_hardware, shb_os. */
  hardware?: string;
  os?: string;
  /** The SHB's option bytes as they are, instead of the options above. */
  rawOptions?: Uint8Array;
}

/** What a reader should deliver for a packet block, in file order. */
export interface NgExpected {
  data: Uint8Array;
  origLen: number;
  linkType: number;
  /** End offset of the block in the file. */
  end: number;
}

function block(le: boolean, type: number, body: Uint8Array): Uint8Array {
  const len = 12 + body.length + ((4 - (body.length % 4)) % 4);
  const w = new W(le);
  w.u32(type).u32(len).bytes(body).pad4().u32(len);
  return w.done();
}

function options(le: boolean, opts: { code: number; value: Uint8Array }[]): Uint8Array {
  if (opts.length === 0) return new Uint8Array(0);
  const w = new W(le);
  for (const o of opts) w.u16(o.code).u16(o.value.length).bytes(o.value).pad4();
  w.u16(0).u16(0);
  return w.done();
}

const utf8 = (s: string) => new TextEncoder().encode(s);

function shb(s: NgSection): Uint8Array {
  const w = new W(s.le);
  w.u32(0x1a2b3c4d).u16(1).u16(0).u32(0xffffffff).u32(0xffffffff);
  const opts: { code: number; value: Uint8Array }[] = [];
  if (s.hardware !== undefined) opts.push({ code: 2, value: utf8(s.hardware) });
  if (s.os !== undefined) opts.push({ code: 3, value: utf8(s.os) });
  if (s.userAppl !== undefined) opts.push({ code: 4, value: utf8(s.userAppl) });
  w.bytes(s.rawOptions ?? options(s.le, opts));
  return block(s.le, 0x0a0d0d0a, w.done());
}

function idb(le: boolean, i: NgInterface): Uint8Array {
  const w = new W(le);
  w.u16(i.linkType)
    .u16(0)
    .u32(i.snapLen ?? 0);
  const opts: { code: number; value: Uint8Array }[] = [];
  if (i.name !== undefined) opts.push({ code: 2, value: utf8(i.name) });
  if (i.description !== undefined) opts.push({ code: 3, value: utf8(i.description) });
  for (const a of i.ipv4 ?? []) opts.push({ code: 4, value: a });
  for (const a of i.ipv6 ?? []) opts.push({ code: 5, value: a });
  if (i.os !== undefined) opts.push({ code: 12, value: utf8(i.os) });
  if (i.tsresol !== undefined) opts.push({ code: 9, value: new Uint8Array([i.tsresol]) });
  if (i.tsoffset !== undefined) {
    const v = new W(le);
    // 64-bit signed seconds, in the section's byte order.
    const hi = Math.floor(i.tsoffset / 2 ** 32),
      lo = i.tsoffset >>> 0;
    if (le) v.u32(lo).u32(hi);
    else v.u32(hi).u32(lo);
    opts.push({ code: 14, value: v.done() });
  }
  w.bytes(i.rawOptions ?? options(le, opts));
  return block(le, 1, w.done());
}

function packetBlock(le: boolean, b: NgBlock): Uint8Array {
  switch (b.kind) {
    case "epb": {
      const w = new W(le);
      w.u32(b.iface)
        .u32(Number(b.ts >> 32n))
        .u32(Number(b.ts & 0xffffffffn))
        .u32(b.data.length)
        .u32(b.origLen ?? b.data.length)
        .bytes(b.data)
        .pad4();
      const opts: { code: number; value: Uint8Array }[] = [];
      if (b.comment !== undefined) opts.push({ code: 1, value: utf8(b.comment) });
      if (b.flags !== undefined) opts.push({ code: 2, value: new W(le).u32(b.flags).done() });
      if (b.pidTid !== undefined) opts.push({ code: 8, value: new W(le).u32(b.pidTid[0]).u32(b.pidTid[1]).done() });
      w.bytes(options(le, opts));
      return block(le, 6, w.done());
    }
    case "pb": {
      const w = new W(le);
      w.u16(b.iface)
        .u16(0)
        .u32(Number(b.ts >> 32n))
        .u32(Number(b.ts & 0xffffffffn))
        .u32(b.data.length)
        .u32(b.origLen ?? b.data.length)
        .bytes(b.data)
        .pad4();
      return block(le, 2, w.done());
    }
    case "spb": {
      const w = new W(le);
      w.u32(b.origLen ?? b.data.length)
        .bytes(b.data)
        .pad4();
      return block(le, 3, w.done());
    }
    case "other":
      return block(le, b.type, b.body);
  }
}

/** Builds a pcapng file and the records a reader must deliver from it. */
export function pcapngFile(sections: readonly NgSection[]): { bytes: Uint8Array; expected: NgExpected[] } {
  const parts: Uint8Array[] = [];
  const expected: NgExpected[] = [];
  let at = 0;
  const push = (b: Uint8Array) => {
    parts.push(b);
    at += b.length;
  };
  for (const s of sections) {
    push(shb(s));
    for (const i of s.interfaces) push(idb(s.le, i));
    for (const b of s.blocks) {
      push(packetBlock(s.le, b));
      if (b.kind === "other") continue;
      const iface = s.interfaces[b.kind === "spb" ? 0 : b.iface]!;
      let data = b.data;
      const origLen = b.origLen ?? b.data.length;
      if (b.kind === "spb") {
        // An SPB's captured length is min(original length, snap length) (pcapng §4.4).
        let cap = Math.min(origLen, data.length);
        if ((iface.snapLen ?? 0) > 0) cap = Math.min(cap, iface.snapLen!);
        data = data.subarray(0, cap);
      }
      expected.push({ data, origLen, linkType: iface.linkType, end: at });
    }
  }
  return { bytes: concat(parts), expected };
}

// ---------------------------------------------------------------- byte sources

/** A ByteSource over memory; `readSize` (if given) caps each read, e.g. random short reads. */
export class MemorySource implements ByteSource {
  readonly size: number | null;
  private pos = 0;
  reads = 0;
  constructor(
    private readonly data: Uint8Array,
    private readonly readSize?: (asked: number) => number,
    readonly name = "mem.pcap",
  ) {
    this.size = data.length;
  }
  async read(buf: Uint8Array, offset: number, length: number): Promise<number> {
    this.reads++;
    let n = Math.min(length, this.data.length - this.pos);
    if (this.readSize !== undefined && n > 0) n = Math.max(1, Math.min(n, this.readSize(n)));
    buf.set(this.data.subarray(this.pos, this.pos + n), offset);
    this.pos += n;
    return n;
  }
  async close(): Promise<void> {}
}

// ---------------------------------------------------------------- packets

export type V4 = number;
export type V6 = readonly [number, number, number, number];

export interface TcpOptions {
  mss?: number;
  wscale?: number;
  sackPermitted?: boolean;
  sack?: readonly (readonly [number, number])[];
  ts?: readonly [number, number];
  /** Option bytes written as they are, instead of the fields above (a given stack's SYN layout). */
  raw?: readonly number[];
}

export interface TcpSpec {
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  flags: number;
  win: number;
  urg?: number;
  options?: TcpOptions;
  payload?: Uint8Array;
}

/** TCP header + payload. Options are laid out NOP-padded to a multiple of 4 bytes. */
export function tcp(t: TcpSpec): Uint8Array {
  const o: number[] = [];
  const op = t.options ?? {};
  if (op.raw !== undefined) o.push(...op.raw);
  if (op.mss !== undefined) o.push(2, 4, (op.mss >>> 8) & 255, op.mss & 255);
  if (op.wscale !== undefined) o.push(1, 3, 3, op.wscale & 255);
  if (op.sackPermitted) o.push(1, 1, 4, 2);
  if (op.ts !== undefined) {
    const w = new W(false).u32(op.ts[0]).u32(op.ts[1]).done();
    o.push(1, 1, 8, 10, ...w);
  }
  if (op.sack !== undefined && op.sack.length > 0) {
    const w = new W(false);
    for (const [l, r] of op.sack) w.u32(l).u32(r);
    o.push(1, 1, 5, 2 + op.sack.length * 8, ...w.done());
  }
  while (o.length % 4 !== 0) o.push(0);
  if (o.length > 40) throw new Error(`TCP options of ${o.length} bytes do not fit`);
  const hl = 20 + o.length;
  const w = new W(false);
  w.u16(t.srcPort)
    .u16(t.dstPort)
    .u32(t.seq)
    .u32(t.ack)
    .u8((hl / 4) << 4)
    .u8(t.flags)
    .u16(t.win)
    .u16(0)
    .u16(t.urg ?? 0);
  w.bytes(o).bytes(t.payload ?? new Uint8Array(0));
  return w.done();
}

export function udp(srcPort: number, dstPort: number, payload: Uint8Array, lengthField?: number): Uint8Array {
  const w = new W(false);
  w.u16(srcPort)
    .u16(dstPort)
    .u16(lengthField ?? 8 + payload.length)
    .u16(0)
    .bytes(payload);
  return w.done();
}

export interface Ipv4Spec {
  src: V4;
  dst: V4;
  proto: number;
  payload: Uint8Array;
  id?: number;
  ttl?: number;
  /** Fragment offset in bytes (multiple of 8). */
  fragOffset?: number;
  moreFragments?: boolean;
  dontFragment?: boolean;
  /** Overrides the total length field. */
  totalLen?: number;
}

function checksum(b: Uint8Array): number {
  let s = 0;
  for (let i = 0; i < b.length; i += 2) s += (b[i]! << 8) | (b[i + 1] ?? 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

export function ipv4(p: Ipv4Spec): Uint8Array {
  const w = new W(false);
  const frag = ((p.fragOffset ?? 0) / 8) | (p.moreFragments ? 0x2000 : 0) | (p.dontFragment ? 0x4000 : 0);
  w.u8(0x45)
    .u8(0)
    .u16(p.totalLen ?? 20 + p.payload.length)
    .u16(p.id ?? 0)
    .u16(frag)
    .u8(p.ttl ?? 64)
    .u8(p.proto)
    .u16(0)
    .u32(p.src)
    .u32(p.dst);
  const h = w.done();
  const c = checksum(h);
  h[10] = c >>> 8;
  h[11] = c & 255;
  return concat([h, p.payload]);
}

export interface Ipv6Spec {
  src: V6;
  dst: V6;
  /** Protocol of `payload` (after any extension headers given). */
  nextHeader: number;
  payload: Uint8Array;
  hopLimit?: number;
  /** Extension headers before the payload: hop-by-hop (0), destination options (60), routing (43). */
  ext?: readonly number[];
  /** A Fragment header (after `ext`). */
  frag?: { offset: number; more: boolean; id: number };
}

export function ipv6(p: Ipv6Spec): Uint8Array {
  const chain: number[] = [...(p.ext ?? [])];
  if (p.frag) chain.push(44);
  const headers: Uint8Array[] = [];
  for (let i = 0; i < chain.length; i++) {
    const type = chain[i]!;
    const next = i + 1 < chain.length ? chain[i + 1]! : p.nextHeader;
    if (type === 44) {
      const f = p.frag!;
      headers.push(
        new W(false)
          .u8(next)
          .u8(0)
          .u16(f.offset | (f.more ? 1 : 0))
          .u32(f.id)
          .done(),
      );
    } else if (type === 43) {
      // Routing header type 0 with zero segments left, one address (24 bytes: hdr ext len 2).
      const w = new W(false).u8(next).u8(2).u8(0).u8(0).u32(0);
      for (let k = 0; k < 4; k++) w.u32(0x20010db8 + k);
      headers.push(w.done());
    } else {
      // Hop-by-hop / destination options: 8 bytes with a PadN option.
      headers.push(new W(false).u8(next).u8(0).u8(1).u8(4).u32(0).done());
    }
  }
  const body = concat([...headers, p.payload]);
  const w = new W(false);
  w.u32(0x60000000)
    .u16(body.length)
    .u8(chain.length > 0 ? chain[0]! : p.nextHeader)
    .u8(p.hopLimit ?? 64);
  for (const x of p.src) w.u32(x);
  for (const x of p.dst) w.u32(x);
  w.bytes(body);
  return w.done();
}

/** Ethernet II, optionally with VLAN tags (outer first; 0x8100 each) before the type. */
export function ethernet(etherType: number, payload: Uint8Array, vlans: readonly number[] = []): Uint8Array {
  const w = new W(false);
  w.bytes([0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2]);
  for (const v of vlans) w.u16(0x8100).u16(v & 0xfff);
  w.u16(etherType).bytes(payload);
  return w.done();
}

export const ETH_IPV4 = 0x0800;
export const ETH_IPV6 = 0x86dd;

/** Wraps an IP packet for a link type: what the link header of that type looks like. */
export function linkFrame(linkType: number, ip: Uint8Array): Uint8Array {
  const v6 = ip[0]! >> 4 === 6;
  switch (linkType) {
    case 1:
      return ethernet(v6 ? ETH_IPV6 : ETH_IPV4, ip);
    case 0:
      return concat([new W(true).u32(v6 ? 30 : 2).done(), ip]); // NULL: host order (LE here)
    case 108:
      return concat([new W(false).u32(v6 ? 24 : 2).done(), ip]); // LOOP: network order
    case 12:
    case 101:
    case 228:
    case 229:
      return ip;
    case 113: {
      const w = new W(false)
        .u16(0)
        .u16(1)
        .u16(6)
        .bytes([2, 0, 0, 0, 0, 1, 0, 0])
        .u16(v6 ? ETH_IPV6 : ETH_IPV4);
      return concat([w.done(), ip]);
    }
    case 276: {
      const w = new W(false)
        .u16(v6 ? ETH_IPV6 : ETH_IPV4)
        .u16(0)
        .u32(1)
        .u16(1)
        .u8(0)
        .u8(6)
        .bytes([2, 0, 0, 0, 0, 1, 0, 0]);
      return concat([w.done(), ip]);
    }
    default:
      throw new Error(`no frame builder for link type ${linkType}`);
  }
}

/** Linux cooked capture (SLL 113 or SLL2 276) carrying 802.1Q tags before the IP packet. */
export function cookedVlanFrame(linkType: 113 | 276, ip: Uint8Array, vlans: readonly number[]): Uint8Array {
  const v6 = ip[0]! >> 4 === 6;
  const tags = new W(false);
  for (let i = 0; i < vlans.length; i++) {
    tags.u16(vlans[i]! & 0xfff).u16(i + 1 < vlans.length ? 0x8100 : v6 ? ETH_IPV6 : ETH_IPV4);
  }
  const proto = vlans.length > 0 ? 0x8100 : v6 ? ETH_IPV6 : ETH_IPV4;
  const head =
    linkType === 113
      ? new W(false).u16(0).u16(1).u16(6).bytes([2, 0, 0, 0, 0, 1, 0, 0]).u16(proto).done()
      : new W(false).u16(proto).u16(0).u32(1).u16(1).u8(0).u8(6).bytes([2, 0, 0, 0, 0, 1, 0, 0]).done();
  return concat([head, tags.done(), ip]);
}

/** Splits an IPv4 payload at the byte offsets `cuts` (multiples of 8) into fragments. */
export function ipv4Fragments(
  base: Omit<Ipv4Spec, "payload" | "fragOffset" | "moreFragments">,
  payload: Uint8Array,
  cuts: readonly number[],
): Uint8Array[] {
  const out: Uint8Array[] = [];
  const bounds = [0, ...cuts, payload.length];
  for (let i = 0; i + 1 < bounds.length; i++) {
    out.push(
      ipv4({
        ...base,
        payload: payload.subarray(bounds[i]!, bounds[i + 1]!),
        fragOffset: bounds[i]!,
        moreFragments: i + 2 < bounds.length,
      }),
    );
  }
  return out;
}

export function ipv6Fragments(
  base: Omit<Ipv6Spec, "payload" | "frag">,
  id: number,
  payload: Uint8Array,
  cuts: readonly number[],
): Uint8Array[] {
  const out: Uint8Array[] = [];
  const bounds = [0, ...cuts, payload.length];
  for (let i = 0; i + 1 < bounds.length; i++) {
    out.push(
      ipv6({
        ...base,
        payload: payload.subarray(bounds[i]!, bounds[i + 1]!),
        frag: { offset: bounds[i]!, more: i + 2 < bounds.length, id },
      }),
    );
  }
  return out;
}
