/**
 * Decides which worker analyses each packet, so that a worker holds whole flows: both
 * directions of a connection, every incarnation on its 4-tuple, the ICMP errors quoting
 * it and the IP fragments of its datagrams.
 *
 * - TCP/UDP: a symmetric hash of the two endpoints (address and port), VLAN left out so a
 *   connection whose directions carry different tags stays together (FlowTable joins them).
 * - ICMP errors: the same hash over the quoted packet's endpoints.
 * - IP fragments: only the first carries the ports. Its datagram's route is remembered
 *   under the reassembly key; fragments that come before their first one are held back
 *   (bounded, like the reassembler) and follow it to its worker. Fragments whose first
 *   never comes go, in the end, to a worker chosen by the addresses alone.
 * - Anything else (non-IP, ICMP echo, …) only counts in the statistics: worker 0.
 */
import type { PacketRecord } from "../capture/record.js";
import { PacketDecoder } from "../decode/decoder.js";
import { L4_ICMP, L4_ICMPV6, L4_TCP, L4_UDP, type DecodedPacket } from "../decode/packet.js";
import { fragmentKey } from "../decode/reassembly.js";
import { LINKTYPE_ETHERNET, LINKTYPE_IPV4, LINKTYPE_IPV6, LINKTYPE_LINUX_SLL, LINKTYPE_LINUX_SLL2, LINKTYPE_RAW } from "../decode/link.js";
import { isIcmpError } from "../decode/transport.js";

/** The fields of a record the router hands on: the PacketRecord itself, or a held copy. */
export interface RecordFields {
  frame: number;
  tsSec: number;
  tsNsec: number;
  capLen: number;
  origLen: number;
  linkType: number;
  iface: number;
  fileOffset: number;
  bytes: Uint8Array;
}

export interface RouterLimits {
  /** Seconds a held fragment waits for its first fragment (the reassembly timeout). */
  timeoutSec: number;
  /** Datagrams and bytes held at most; beyond, the oldest are let go. */
  maxHeldDatagrams: number;
  maxHeldBytes: number;
}

interface Held {
  firstTime: number;
  /** Where they go if their first fragment never comes. */
  addressWorker: number;
  records: RecordFields[];
}

interface Route {
  worker: number;
  time: number;
}

export class ShardRouter {
  private readonly decoder = new PacketDecoder(null);
  /** Reassembly key → the worker its first fragment went to. */
  private readonly routes = new Map<string, Route>();
  /** Reassembly key → fragments waiting for their first fragment, oldest first. */
  private readonly held = new Map<string, Held>();
  private heldBytes = 0;

  constructor(
    private readonly workers: number,
    private readonly limits: RouterLimits,
    /** Receives every record, in the order each worker must see them. */
    private readonly send: (worker: number, r: RecordFields) => void,
  ) {}

  route(rec: PacketRecord): void {
    const fast = this.fastShard(rec.bytes, rec.linkType);
    if (fast >= 0 && this.held.size === 0) return this.send(fast, rec);
    const p = this.decoder.decode(rec);
    const time = rec.tsSec + rec.tsNsec / 1e9;
    if (this.held.size > 0) this.expireHeld(time);
    if (p.ipVersion === 0) return this.send(0, rec);
    if (p.isFragment) return this.fragment(rec, p, time);
    if ((p.l4 === L4_TCP || p.l4 === L4_UDP) && p.srcPort >= 0) {
      return this.send(this.shardOf(p.src0, p.src1, p.src2, p.src3, p.srcPort, p.dst0, p.dst1, p.dst2, p.dst3, p.dstPort), rec);
    }
    if ((p.l4 === L4_ICMP || p.l4 === L4_ICMPV6) && isIcmpError(p.icmpType, p.l4 === L4_ICMPV6)) {
      const q = p.quoted;
      if (q.srcPort >= 0 && (q.proto === L4_TCP || q.proto === L4_UDP)) {
        return this.send(this.shardOf(q.src0, q.src1, q.src2, q.src3, q.srcPort, q.dst0, q.dst1, q.dst2, q.dst3, q.dstPort), rec);
      }
    }
    this.send(0, rec);
  }

  /** Capture over: held fragments whose first fragment never came go to their address worker. */
  finish(): void {
    for (const key of [...this.held.keys()]) this.release(key);
  }

  private fragment(rec: PacketRecord, p: DecodedPacket, time: number): void {
    const key = fragmentKey(p);
    if (p.fragOffsetBytes === 0) {
      const b = p.bytes, at = p.fragDataOffset;
      const worker = (p.ipProto === L4_TCP || p.ipProto === L4_UDP) && b.length - at >= 4
        ? this.shardOf(p.src0, p.src1, p.src2, p.src3, (b[at]! << 8) | b[at + 1]!, p.dst0, p.dst1, p.dst2, p.dst3, (b[at + 2]! << 8) | b[at + 3]!)
        : this.addressShard(p);
      this.routes.delete(key); // re-inserted last: the map stays in time order for expiry
      this.routes.set(key, { worker, time });
      this.flushHeld(key, worker);
      return this.send(worker, rec);
    }
    const route = this.routes.get(key);
    if (route !== undefined && time - route.time <= this.limits.timeoutSec) return this.send(route.worker, rec);
    // Its first fragment has not come (yet): hold a copy, since the record's bytes are a view.
    let h = this.held.get(key);
    if (h === undefined) this.held.set(key, h = { firstTime: time, addressWorker: this.addressShard(p), records: [] });
    h.records.push({
      frame: rec.frame, tsSec: rec.tsSec, tsNsec: rec.tsNsec, capLen: rec.capLen, origLen: rec.origLen,
      linkType: rec.linkType, iface: rec.iface, fileOffset: rec.fileOffset, bytes: rec.bytes.slice(),
    });
    this.heldBytes += rec.bytes.length;
    while (this.held.size > this.limits.maxHeldDatagrams || this.heldBytes > this.limits.maxHeldBytes) {
      this.release(this.held.keys().next().value!);
    }
  }

  private flushHeld(key: string, worker: number): void {
    const h = this.held.get(key);
    if (h === undefined) return;
    this.held.delete(key);
    for (const r of h.records) {
      this.heldBytes -= r.bytes.length;
      this.send(worker, r);
    }
  }

  /** Lets held fragments go to the worker their addresses choose (where the reassembler will fail them). */
  private release(key: string): void {
    this.flushHeld(key, this.held.get(key)!.addressWorker);
  }

  private expireHeld(now: number): void {
    for (const [key, h] of this.held) {
      if (now - h.firstTime <= this.limits.timeoutSec) break;
      this.release(key);
    }
    // Routes older than the timeout can't help any datagram still being reassembled.
    for (const [key, r] of this.routes) {
      if (now - r.time <= this.limits.timeoutSec) break;
      this.routes.delete(key);
    }
  }

  /**
   * The common case without the decoder (which costs as much as the analysis a worker
   * saves): an unfragmented TCP or UDP packet right after an Ethernet, Linux cooked or
   * raw header, no VLAN tag, tunnel or IPv6 extension header. It reads the same
   * addresses and ports the decoder would, so it picks the same worker. -1: decode it.
   */
  private fastShard(b: Uint8Array, linkType: number): number {
    let at: number;
    switch (linkType) {
      case LINKTYPE_ETHERNET: at = 14; if (b.length < 14 || !isIpEthertype(b[12]!, b[13]!)) return -1; break;
      case LINKTYPE_LINUX_SLL: at = 16; if (b.length < 16 || !isIpEthertype(b[14]!, b[15]!)) return -1; break;
      case LINKTYPE_LINUX_SLL2: at = 20; if (b.length < 20 || !isIpEthertype(b[0]!, b[1]!)) return -1; break;
      case LINKTYPE_RAW: case LINKTYPE_IPV4: case LINKTYPE_IPV6: at = 0; break;
      default: return -1;
    }
    const n = b.length;
    if (n - at < 20) return -1;
    const version = b[at]! >> 4;
    if (version === 4) {
      const ihl = (b[at]! & 0x0f) * 4, proto = b[at + 9]!;
      if (ihl < 20 || (proto !== L4_TCP && proto !== L4_UDP) || (((b[at + 6]! << 8) | b[at + 7]!) & 0x3fff) !== 0) return -1;
      const l4 = at + ihl;
      if (n - l4 < 4) return -1;
      return this.shardOf(u32(b, at + 12), 0, 0, 0, (b[l4]! << 8) | b[l4 + 1]!, u32(b, at + 16), 0, 0, 0, (b[l4 + 2]! << 8) | b[l4 + 3]!);
    }
    if (version === 6) {
      const next = b[at + 6]!, l4 = at + 40;
      if ((next !== L4_TCP && next !== L4_UDP) || n - l4 < 4) return -1;
      return this.shardOf(u32(b, at + 8), u32(b, at + 12), u32(b, at + 16), u32(b, at + 20), (b[l4]! << 8) | b[l4 + 1]!,
        u32(b, at + 24), u32(b, at + 28), u32(b, at + 32), u32(b, at + 36), (b[l4 + 2]! << 8) | b[l4 + 3]!);
    }
    return -1;
  }

  private addressShard(p: DecodedPacket): number {
    return this.shardOf(p.src0, p.src1, p.src2, p.src3, 0, p.dst0, p.dst1, p.dst2, p.dst3, 0);
  }

  /** Symmetric in the two endpoints: both directions of a flow get the same worker. */
  private shardOf(a0: number, a1: number, a2: number, a3: number, aPort: number,
    b0: number, b1: number, b2: number, b3: number, bPort: number): number {
    const h = (endpointHash(a0, a1, a2, a3, aPort) + endpointHash(b0, b1, b2, b3, bPort)) >>> 0;
    return mix(h) % this.workers;
  }
}

function isIpEthertype(hi: number, lo: number): boolean {
  return (hi === 0x08 && lo === 0x00) || (hi === 0x86 && lo === 0xdd);
}

function u32(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
}

function endpointHash(w0: number, w1: number, w2: number, w3: number, port: number): number {
  let h = Math.imul(w0 ^ 0x9e3779b9, 0x85ebca6b);
  h = Math.imul(h ^ w1 ^ (h >>> 15), 0xc2b2ae35);
  h = Math.imul(h ^ w2 ^ (h >>> 13), 0x85ebca6b);
  h = Math.imul(h ^ w3 ^ (h >>> 16), 0xc2b2ae35);
  return Math.imul(h ^ port ^ (h >>> 15), 0x27d4eb2f);
}

function mix(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}
