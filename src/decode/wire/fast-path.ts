/**
 * The common packet in one pass: IPv4 carrying TCP, whole (not a fragment), behind
 * Ethernet without VLAN tags, a Linux cooked header, a BSD/Linux loopback header or no link
 * header at all. Nearly every packet of a TCP capture is one; this reads it with the same
 * rules as the general decoders (capture/link.ts, ip.ts, transport.ts) without their
 * per-layer calls and checks, and without clearing fields that only other packets use.
 *
 * Anything else, and anything the general decoders would report as an issue (a cut or
 * malformed header, a length that disagrees, TSO's zero length), is left to them: the fast
 * path returns false and the general decoder starts the packet again from a reset. What
 * it gives must be exactly what they give (test/decode-fast-path.test.ts checks that on
 * random and real packets).
 */
import type { PacketRecord } from "../../capture/record.js";
import {
  DLT_RAW_12,
  DLT_RAW_14,
  LINKTYPE_ETHERNET,
  LINKTYPE_IPV4,
  LINKTYPE_LINUX_SLL,
  LINKTYPE_LOOP,
  LINKTYPE_NULL,
  LINKTYPE_RAW,
} from "../../capture/link.js";
import { L4_TCP, TH_SYN, type DecodedPacket } from "./packet.js";
import { optionLayout, tcpFixedHeader, tcpOptions } from "./transport.js";

/** Where the IPv4 header starts, or -1 when the link header does not lead straight to IPv4. */
function ipv4Start(b: Uint8Array, start: number, end: number, linkType: number): number {
  switch (linkType) {
    case LINKTYPE_ETHERNET:
      return end - start >= 14 && b[start + 12] === 0x08 && b[start + 13] === 0x00 ? start + 14 : -1;
    case LINKTYPE_LINUX_SLL:
      return end - start >= 16 && b[start + 14] === 0x08 && b[start + 15] === 0x00 ? start + 16 : -1;
    case LINKTYPE_NULL:
    case LINKTYPE_LOOP: {
      if (end - start < 4) return -1;
      // AF_INET (2) in either byte order, as decodeLink reads the family.
      const b0 = b[start]!,
        b1 = b[start + 1]!,
        b2 = b[start + 2]!,
        b3 = b[start + 3]!;
      return (b0 === 0 && b1 === 0 && b2 === 0 && b3 === 2) || (b0 === 2 && b1 === 0 && b2 === 0 && b3 === 0)
        ? start + 4
        : -1;
    }
    case LINKTYPE_RAW:
    case DLT_RAW_12:
    case DLT_RAW_14:
    case LINKTYPE_IPV4:
      return start;
    default:
      return -1;
  }
}

/**
 * Decodes `rec` into `p` when it is the common packet and returns true; returns false
 * (with `p` partly written) otherwise. `p` must hold reset values in every field this
 * does not write: the IPv6 address words, tunnel, fragment-data end, reassembly, UDP and
 * ICMP fields (PacketDecoder sees to it).
 */
export function decodeTcpIPv4Fast(rec: PacketRecord, p: DecodedPacket): boolean {
  const b = rec.buf,
    start = rec.start,
    end = rec.end;
  const l3 = ipv4Start(b, start, end, rec.linkType);
  if (l3 < 0) return false;
  // IPv4, as decodeIPv4 reads it.
  const avail = end - l3;
  if (avail < 20) return false;
  const vihl = b[l3]!;
  const ihl = (vihl & 0x0f) * 4;
  if (vihl >> 4 !== 4 || ihl < 20 || avail < ihl) return false;
  const total = (b[l3 + 2]! << 8) | b[l3 + 3]!;
  const snapCut = rec.capLen < rec.origLen;
  if (total < ihl || (total > avail && !snapCut)) return false; // TSO's 0 too
  const frag = (b[l3 + 6]! << 8) | b[l3 + 7]!;
  if ((frag & 0x3fff) !== 0 || b[l3 + 9] !== L4_TCP) return false;
  const ipEnd = l3 + Math.min(total, avail);
  // TCP, as decodeTcp reads it: the whole header captured, its length within the segment.
  const at = l3 + ihl;
  const tcpAvail = ipEnd - at;
  if (tcpAvail < 20) return false;
  const hl = (b[at + 12]! >> 4) * 4;
  const wireAvail = l3 + total - at;
  if (hl < 20 || hl > wireAvail || tcpAvail < hl) return false;

  p.bytes = b;
  p.base = start;
  if (p.issues.length > 0) p.issues = [];
  p.snapCut = snapCut;
  p.truncated = avail < total;
  p.vlan = 0;
  p.l3Offset = l3;
  p.ipVersion = 4;
  p.ipHeaderLen = ihl;
  p.ipTotalLen = total;
  p.ttl = b[l3 + 8]!;
  p.ipProto = L4_TCP;
  p.src0 = ((b[l3 + 12]! << 24) | (b[l3 + 13]! << 16) | (b[l3 + 14]! << 8) | b[l3 + 15]!) >>> 0;
  p.dst0 = ((b[l3 + 16]! << 24) | (b[l3 + 17]! << 16) | (b[l3 + 18]! << 8) | b[l3 + 19]!) >>> 0;
  p.isFragment = false;
  p.moreFragments = false;
  p.fragOffsetBytes = 0;
  p.ipId = (b[l3 + 4]! << 8) | b[l3 + 5]!;
  p.fragId = p.ipId;
  p.fragDataOffset = at;
  tcpFixedHeader(b, at, hl, p);
  const flags = p.tcpFlags;
  p.tcpHeaderRejected = false;
  p.optMss = -1;
  p.optWscale = -1;
  p.optSackPermitted = false;
  p.optTsVal = -1;
  p.optTsEcr = -1;
  p.sackCount = 0;
  p.synOptionLayout = "";
  if (hl > 20) {
    tcpOptions(b, at + 20, at + hl, p);
    if (flags & TH_SYN) p.synOptionLayout = optionLayout(b, at + 20, at + hl);
  }
  p.payloadOffset = at + hl;
  const payloadLen = wireAvail - hl;
  p.payloadLen = payloadLen;
  p.payloadCaptured = Math.max(0, Math.min(tcpAvail - hl, payloadLen));
  return true;
}
