/**
 * Decides which shard analyses each packet, so that a shard holds whole flows: both
 * directions of a connection, every incarnation on its 4-tuple, and the ICMP errors
 * quoting it. TCP/UDP packets go by a symmetric hash of their two endpoints (address and
 * port); ICMP errors by the same hash over the quoted packet; everything else only counts
 * in the statistics and goes to shard 0 (the main thread's).
 *
 * Some captures cannot be split that way without changing the report, and the router
 * says so (`unsplittable`) at the first sign; the run then goes on one thread:
 * - IP fragments: only the first carries the ports, reassembly timeouts run on the
 *   fragments of every flow, and an IP id can be reused by another flow.
 * - More than one VLAN: connections whose two directions carry different tags are
 *   joined with state that spans the capture (FlowTable.joinAcrossVlans).
 * - ICMP Time Exceeded: a traceroute is told apart from other errors by the answers to
 *   all its probes, one flow each (analyze/lib/trace-paths.ts).
 * Every worker runs the same router over the same records, so they all agree.
 */
import type { PacketRecord } from "../../capture/record.js";
import { PacketDecoder } from "../../decode/wire/decoder.js";
import {
  LINKTYPE_ETHERNET,
  LINKTYPE_IPV4,
  LINKTYPE_IPV6,
  LINKTYPE_LINUX_SLL,
  LINKTYPE_LINUX_SLL2,
  LINKTYPE_RAW,
} from "../../capture/link.js";
import { L4_ICMP, L4_ICMPV6, L4_TCP, L4_UDP } from "../../decode/wire/packet.js";
import { isIcmpError } from "../../decode/wire/transport.js";

/** `route`'s answer once the capture has shown it cannot be split. */
export const UNSPLITTABLE = -1;

export class ShardRouter {
  private readonly decoder = new PacketDecoder();
  /** The one VLAN seen so far (0: untagged), -1 before the first IP packet. */
  private vlan = -1;
  /** Why the capture must be analysed on one thread; "" while it can be split. */
  unsplittable = "";

  constructor(private readonly workers: number) {}

  /** The worker that owns `rec`, or UNSPLITTABLE. */
  route(rec: PacketRecord): number {
    const fast = this.fastShard(rec.buf, rec.start, rec.end, rec.linkType);
    if (fast >= 0) return this.sameVlan(0, rec.frame) ? fast : UNSPLITTABLE;
    const p = this.decoder.decode(rec);
    if (p.ipVersion === 0) return 0;
    if (!this.sameVlan(p.vlan, rec.frame)) return UNSPLITTABLE;
    if (p.isFragment) {
      this.unsplittable = `IP fragments (frame ${rec.frame})`;
      return UNSPLITTABLE;
    }
    if ((p.l4 === L4_TCP || p.l4 === L4_UDP) && p.srcPort >= 0) {
      return this.shardOf(p.src0, p.src1, p.src2, p.src3, p.srcPort, p.dst0, p.dst1, p.dst2, p.dst3, p.dstPort);
    }
    if ((p.l4 === L4_ICMP || p.l4 === L4_ICMPV6) && isIcmpError(p.icmpType, p.l4 === L4_ICMPV6)) {
      if (p.icmpType === (p.l4 === L4_ICMPV6 ? 3 : 11)) {
        // A traceroute's probes are one flow each, and its answers are read together.
        this.unsplittable = `ICMP time exceeded (frame ${rec.frame})`;
        return UNSPLITTABLE;
      }
      const q = p.quoted;
      if (q.srcPort >= 0 && (q.proto === L4_TCP || q.proto === L4_UDP)) {
        return this.shardOf(q.src0, q.src1, q.src2, q.src3, q.srcPort, q.dst0, q.dst1, q.dst2, q.dst3, q.dstPort);
      }
    }
    return 0;
  }

  private sameVlan(vlan: number, frame: number): boolean {
    if (vlan === this.vlan) return true;
    if (this.vlan < 0) {
      this.vlan = vlan;
      return true;
    }
    this.unsplittable = `more than one VLAN (frame ${frame})`;
    return false;
  }

  /**
   * The common case without the decoder (which would cost as much as the analysis a
   * worker saves): an unfragmented TCP or UDP packet right after an Ethernet, Linux
   * cooked or raw header, with no VLAN tag, tunnel or IPv6 extension header. It reads the
   * addresses and ports the decoder would, so it picks the same worker. -1: decode it.
   * The record is b[start, n).
   */
  private fastShard(b: Uint8Array, start: number, n: number, linkType: number): number {
    let at: number;
    switch (linkType) {
      case LINKTYPE_ETHERNET:
        at = start + 14;
        if (n < at || !isIpEthertype(b[start + 12]!, b[start + 13]!)) return -1;
        break;
      case LINKTYPE_LINUX_SLL:
        at = start + 16;
        if (n < at || !isIpEthertype(b[start + 14]!, b[start + 15]!)) return -1;
        break;
      case LINKTYPE_LINUX_SLL2:
        at = start + 20;
        if (n < at || !isIpEthertype(b[start]!, b[start + 1]!)) return -1;
        break;
      case LINKTYPE_RAW:
      case LINKTYPE_IPV4:
      case LINKTYPE_IPV6:
        at = start;
        break;
      default:
        return -1;
    }
    if (n - at < 20) return -1;
    const version = b[at]! >> 4;
    if (version === 4) {
      const ihl = (b[at]! & 0x0f) * 4,
        proto = b[at + 9]!;
      if (ihl < 20 || (proto !== L4_TCP && proto !== L4_UDP) || (((b[at + 6]! << 8) | b[at + 7]!) & 0x3fff) !== 0)
        return -1;
      const l4 = at + ihl;
      if (n - l4 < 4) return -1;
      return this.shardOf(
        u32(b, at + 12),
        0,
        0,
        0,
        (b[l4]! << 8) | b[l4 + 1]!,
        u32(b, at + 16),
        0,
        0,
        0,
        (b[l4 + 2]! << 8) | b[l4 + 3]!,
      );
    }
    if (version === 6) {
      const next = b[at + 6]!,
        l4 = at + 40;
      if ((next !== L4_TCP && next !== L4_UDP) || n - l4 < 4) return -1;
      return this.shardOf(
        u32(b, at + 8),
        u32(b, at + 12),
        u32(b, at + 16),
        u32(b, at + 20),
        (b[l4]! << 8) | b[l4 + 1]!,
        u32(b, at + 24),
        u32(b, at + 28),
        u32(b, at + 32),
        u32(b, at + 36),
        (b[l4 + 2]! << 8) | b[l4 + 3]!,
      );
    }
    return -1;
  }

  /** Symmetric in the two endpoints: both directions of a flow get the same worker. */
  private shardOf(
    a0: number,
    a1: number,
    a2: number,
    a3: number,
    aPort: number,
    b0: number,
    b1: number,
    b2: number,
    b3: number,
    bPort: number,
  ): number {
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
