/**
 * IPv4 (RFC 791) and IPv6 (RFC 8200) headers, stateless. Both fill the addresses, the
 * transport protocol, the fragment facts and where the transport header starts. Lengths
 * are checked once per layer; captured bytes beyond the IP length (Ethernet padding) are
 * ignored, and a packet cut by the snap length is marked truncated, not malformed.
 */
import type { DecodedPacket } from "./packet.js";

/**
 * Extension headers walked before the packet is called malformed. Each header takes at
 * least 8 bytes, so the packet length bounds the walk already; this cap keeps a hostile
 * jumbogram from costing thousands of steps while reading chains like libpcap's
 * ipv6_ext_headers test (68 headers) the way tshark does.
 */
const MAX_IPV6_EXTENSION_HEADERS = 128;

const NH_HOP_BY_HOP = 0;
const NH_ROUTING = 43;
const NH_FRAGMENT = 44;
const NH_AH = 51;
const NH_DEST_OPTS = 60;
const NH_MOBILITY = 135;
const NH_HIP = 139;
const NH_SHIM6 = 140;

function u32(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
}

/**
 * The captured bytes end at `end`. Returns the end offset of the IP payload within `b`
 * (never past the captured bytes),
 * or -1 when the header is unusable.
 */
export function decodeIPv4(b: Uint8Array, at: number, end: number, p: DecodedPacket, origLen: number): number {
  const avail = end - at;
  if (avail < 20) {
    p.short("ipv4", at, 20, avail);
    return -1;
  }
  const vihl = b[at]!;
  const ihl = (vihl & 0x0f) * 4;
  if (vihl >> 4 !== 4) {
    p.issue("ipv4", "version is not 4", at, 4, vihl >> 4);
    return -1;
  }
  if (ihl < 20) {
    p.issue("ipv4", "header length below 20", at, 20, ihl);
    return -1;
  }
  if (avail < ihl) {
    p.short("ipv4", at, ihl, avail);
    return -1;
  }
  let total = (b[at + 2]! << 8) | b[at + 3]!;
  if (total === 0) {
    // TCP segmentation offload: the stack hands the NIC a super-segment with length 0
    // and the capture shows it before the NIC fills the length in. Use what arrived.
    total = origLen - (at - p.base);
  }
  if (total < ihl) {
    p.issue("ipv4", "total length below header length", at, ihl, total);
    return -1;
  }
  if (total > avail && !p.snapCut) {
    // The whole frame was captured, yet the header claims more: believe the frame, as
    // tshark does ("total length exceeds packet length").
    p.issue("ipv4", "total length exceeds the packet", at, total, avail);
    total = avail;
  }
  p.ipVersion = 4;
  p.ipHeaderLen = ihl;
  p.ipTotalLen = total;
  p.ttl = b[at + 8]!;
  p.ipProto = b[at + 9]!;
  p.src0 = u32(b, at + 12);
  p.dst0 = u32(b, at + 16);
  const frag = (b[at + 6]! << 8) | b[at + 7]!;
  p.moreFragments = (frag & 0x2000) !== 0;
  p.fragOffsetBytes = (frag & 0x1fff) * 8;
  p.isFragment = p.moreFragments || p.fragOffsetBytes !== 0;
  p.ipId = (b[at + 4]! << 8) | b[at + 5]!;
  p.fragId = p.ipId;
  p.fragDataOffset = at + ihl;
  p.l4Offset = at + ihl;
  if (avail < total) p.truncated = true;
  return at + Math.min(total, avail);
}

export function decodeIPv6(b: Uint8Array, at: number, bufEnd: number, p: DecodedPacket, origLen: number): number {
  const avail = bufEnd - at;
  if (avail < 40) {
    p.short("ipv6", at, 40, avail);
    return -1;
  }
  if (b[at]! >> 4 !== 6) {
    p.issue("ipv6", "version is not 6", at, 6, b[at]! >> 4);
    return -1;
  }
  let payloadLen = (b[at + 4]! << 8) | b[at + 5]!;
  // Payload length 0 with a hop-by-hop header means a jumbogram (RFC 2675), and TSO
  // captures show 0 as well: use what arrived.
  if (payloadLen === 0) payloadLen = origLen - (at - p.base) - 40;
  if (40 + payloadLen > avail && !p.snapCut) {
    p.issue("ipv6", "payload length exceeds the packet", at, 40 + payloadLen, avail);
    payloadLen = avail - 40;
  }
  p.ipVersion = 6;
  p.ipTotalLen = 40 + payloadLen;
  p.ttl = b[at + 7]!;
  p.src0 = u32(b, at + 8);
  p.src1 = u32(b, at + 12);
  p.src2 = u32(b, at + 16);
  p.src3 = u32(b, at + 20);
  p.dst0 = u32(b, at + 24);
  p.dst1 = u32(b, at + 28);
  p.dst2 = u32(b, at + 32);
  p.dst3 = u32(b, at + 36);
  const end = at + Math.min(40 + payloadLen, avail);
  if (avail < 40 + payloadLen) p.truncated = true;
  const off = walkIPv6Extensions(b, at + 40, end, b[at + 6]!, p);
  if (off < 0) return -1;
  p.ipHeaderLen = off - at;
  if (!p.isFragment) p.fragDataOffset = off;
  return end;
}

/**
 * Walks IPv6 extension headers from `off` (first header type `next`) and sets `ipProto`
 * and `l4Offset`. Stops at a Fragment header of a real fragment: what follows it is the
 * fragmentable part, decoded only after reassembly (which calls this again on it).
 * Returns the transport offset or -1.
 */
export function walkIPv6Extensions(b: Uint8Array, off: number, end: number, next: number, p: DecodedPacket): number {
  for (let i = 0; ; i++) {
    if (
      next !== NH_HOP_BY_HOP &&
      next !== NH_ROUTING &&
      next !== NH_FRAGMENT &&
      next !== NH_AH &&
      next !== NH_DEST_OPTS &&
      next !== NH_MOBILITY &&
      next !== NH_HIP &&
      next !== NH_SHIM6
    )
      break;
    if (i >= MAX_IPV6_EXTENSION_HEADERS) {
      p.issue("ipv6", "too many extension headers", off, 0, i);
      return -1;
    }
    if (end - off < 8) {
      p.issue("ipv6", p.snapCut ? "truncated" : "extension header runs past the payload", off, 8, end - off);
      return -1;
    }
    if (next === NH_FRAGMENT) {
      const fo = (b[off + 2]! << 8) | b[off + 3]!;
      p.fragOffsetBytes = fo & 0xfff8;
      p.moreFragments = (fo & 1) !== 0;
      p.fragId = u32(b, off + 4);
      next = b[off]!;
      off += 8;
      p.fragDataOffset = off;
      // An atomic fragment (offset 0, no MF; RFC 6946) is a whole datagram: decode on.
      if (p.fragOffsetBytes !== 0 || p.moreFragments) {
        p.isFragment = true;
        break;
      }
      continue;
    }
    const len = next === NH_AH ? (b[off + 1]! + 2) * 4 : (b[off + 1]! + 1) * 8;
    if (end - off < len) {
      p.issue("ipv6", p.snapCut ? "truncated" : "extension header runs past the payload", off, len, end - off);
      return -1;
    }
    next = b[off]!;
    off += len;
  }
  p.ipProto = next;
  p.l4Offset = off;
  return off;
}
