/**
 * Transport headers: TCP (RFC 9293) with its options, UDP (RFC 768), and ICMP / ICMPv6
 * errors (RFC 792, RFC 4443) decoded down to the quoted IP and transport header so they
 * can be tied to the flow they concern. Stateless; `end` is where the IP payload ends
 * in `b` (the captured part of it).
 */
import { L4_ICMP, L4_ICMPV6, L4_TCP, L4_UDP, TH_SYN, type DecodedPacket, type QuotedPacket } from "./packet.js";

/** TCP options walked per segment at most (40 bytes of options can't need more). */
const MAX_TCP_OPTIONS = 40;

export function decodeTransport(b: Uint8Array, at: number, end: number, wireEnd: number, p: DecodedPacket): void {
  switch (p.ipProto) {
    case L4_TCP:
      decodeTcp(b, at, end, wireEnd, p);
      break;
    case L4_UDP:
      decodeUdp(b, at, end, wireEnd, p);
      break;
    case L4_ICMP:
      decodeIcmp(b, at, end, wireEnd, p, false);
      break;
    case L4_ICMPV6:
      decodeIcmp(b, at, end, wireEnd, p, true);
      break;
    default:
      break;
  }
}

/** The 20 bytes every TCP header has (`at + 20` is within the captured bytes); `hl` its header length. */
export function tcpFixedHeader(b: Uint8Array, at: number, hl: number, p: DecodedPacket): void {
  p.l4 = L4_TCP;
  p.l4Offset = at;
  p.srcPort = (b[at]! << 8) | b[at + 1]!;
  p.dstPort = (b[at + 2]! << 8) | b[at + 3]!;
  p.seq = ((b[at + 4]! << 24) | (b[at + 5]! << 16) | (b[at + 6]! << 8) | b[at + 7]!) >>> 0;
  p.ack = ((b[at + 8]! << 24) | (b[at + 9]! << 16) | (b[at + 10]! << 8) | b[at + 11]!) >>> 0;
  p.tcpFlags = b[at + 13]!;
  p.win = (b[at + 14]! << 8) | b[at + 15]!;
  p.urgPtr = (b[at + 18]! << 8) | b[at + 19]!;
  p.tcpHeaderLen = hl;
}

function decodeTcp(b: Uint8Array, at: number, end: number, wireEnd: number, p: DecodedPacket): void {
  const avail = end - at;
  if (avail < 20) {
    p.issue("tcp", p.snapCut ? "truncated" : "segment shorter than 20 bytes", at, 20, avail);
    return;
  }
  const hl = (b[at + 12]! >> 4) * 4;
  tcpFixedHeader(b, at, hl, p);
  const wireAvail = wireEnd - at;
  if (hl < 20 || hl > wireAvail) {
    // Keep the fixed header (flows still need ports and flags), but no payload.
    p.issue("tcp", hl < 20 ? "data offset below 20 bytes" : "data offset runs past the segment", at, hl, wireAvail);
    p.tcpHeaderLen = 20;
    p.tcpHeaderRejected = true;
    return;
  }
  if (avail < hl) {
    p.short("tcp", at, hl, avail);
  } else {
    tcpOptions(b, at + 20, at + hl, p);
    if (p.tcpFlags & TH_SYN) p.synOptionLayout = optionLayout(b, at + 20, at + hl);
  }
  p.payloadOffset = at + hl;
  p.payloadLen = wireAvail - hl;
  p.payloadCaptured = Math.max(0, Math.min(end - at - hl, p.payloadLen));
}

export function tcpOptions(b: Uint8Array, at: number, end: number, p: DecodedPacket): void {
  // What Linux puts on every segment after the handshake: NOP, NOP, timestamps.
  if (end - at === 12 && b[at] === 1 && b[at + 1] === 1 && b[at + 2] === 8 && b[at + 3] === 10) {
    p.optTsVal = ((b[at + 4]! << 24) | (b[at + 5]! << 16) | (b[at + 6]! << 8) | b[at + 7]!) >>> 0;
    p.optTsEcr = ((b[at + 8]! << 24) | (b[at + 9]! << 16) | (b[at + 10]! << 8) | b[at + 11]!) >>> 0;
    return;
  }
  for (let n = 0; at < end && n < MAX_TCP_OPTIONS; n++) {
    const kind = b[at]!;
    if (kind === 0) return; // end of option list
    if (kind === 1) {
      at++;
      continue;
    } // NOP
    if (at + 1 >= end) {
      p.issue("tcp", "option runs past the header", at, 2, end - at);
      return;
    }
    const len = b[at + 1]!;
    if (len < 2 || at + len > end) {
      p.issue("tcp", "bad option length", at, len, end - at);
      return;
    }
    switch (kind) {
      case 2:
        if (len === 4) p.optMss = (b[at + 2]! << 8) | b[at + 3]!;
        break;
      case 3:
        if (len === 3) p.optWscale = b[at + 2]!;
        break;
      case 4:
        p.optSackPermitted = true;
        break;
      case 5: {
        const blocks = Math.min(4, (len - 2) >> 3);
        for (let i = 0; i < blocks; i++) {
          const o = at + 2 + i * 8;
          p.sack[i * 2] = ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
          p.sack[i * 2 + 1] = ((b[o + 4]! << 24) | (b[o + 5]! << 16) | (b[o + 6]! << 8) | b[o + 7]!) >>> 0;
        }
        p.sackCount = blocks;
        break;
      }
      case 8:
        if (len === 10) {
          p.optTsVal = ((b[at + 2]! << 24) | (b[at + 3]! << 16) | (b[at + 4]! << 8) | b[at + 5]!) >>> 0;
          p.optTsEcr = ((b[at + 6]! << 24) | (b[at + 7]! << 16) | (b[at + 8]! << 8) | b[at + 9]!) >>> 0;
        }
        break;
      default:
        break;
    }
    at += len;
  }
}

const OPTION_NAMES: Record<number, string> = {
  0: "EOL",
  1: "NOP",
  2: "MSS",
  3: "WS",
  4: "SACK_PERM",
  5: "SACK",
  8: "TS",
};

/**
 * The option kinds in the order they were sent, up to the end-of-list option (named:
 * stacks pad with it) or the first malformed one ("?"). Only SYNs are walked twice: the
 * order there is the sender's stack's own (RFC 9293 leaves it free), not the peer's.
 */
export function optionLayout(b: Uint8Array, at: number, end: number): string {
  const kinds: string[] = [];
  while (at < end && kinds.length < MAX_TCP_OPTIONS) {
    const kind = b[at]!;
    kinds.push(OPTION_NAMES[kind] ?? `K${kind}`);
    if (kind === 0) break;
    if (kind === 1) {
      at++;
      continue;
    }
    const len = at + 1 < end ? b[at + 1]! : 0;
    if (len < 2 || at + len > end) {
      kinds.push("?");
      break;
    }
    at += len;
  }
  return kinds.join(",");
}

function decodeUdp(b: Uint8Array, at: number, end: number, wireEnd: number, p: DecodedPacket): void {
  const avail = end - at;
  if (avail < 8) {
    p.issue("udp", p.snapCut ? "truncated" : "datagram shorter than 8 bytes", at, 8, avail);
    return;
  }
  p.l4 = L4_UDP;
  p.l4Offset = at;
  p.srcPort = (b[at]! << 8) | b[at + 1]!;
  p.dstPort = (b[at + 2]! << 8) | b[at + 3]!;
  let len = (b[at + 4]! << 8) | b[at + 5]!;
  p.udpChecksum = (b[at + 6]! << 8) | b[at + 7]!;
  const wireAvail = wireEnd - at;
  if (len === 0 && p.ipVersion === 6) len = wireAvail; // IPv6 jumbogram (RFC 2675)
  if (len < 8 || len > wireAvail) {
    p.issue("udp", "length field disagrees with the IP length", at, len, wireAvail);
    len = wireAvail;
  }
  p.udpLen = len;
  p.payloadOffset = at + 8;
  p.payloadLen = len - 8;
  p.payloadCaptured = Math.max(0, Math.min(end - at - 8, p.payloadLen));
}

/** ICMP error types that quote the offending packet. */
export function isIcmpError(type: number, v6: boolean): boolean {
  if (v6) return type >= 1 && type <= 4;
  return type === 3 || type === 4 || type === 5 || type === 11 || type === 12;
}

function decodeIcmp(b: Uint8Array, at: number, end: number, wireEnd: number, p: DecodedPacket, v6: boolean): void {
  const avail = end - at;
  const layer = v6 ? "icmpv6" : "icmp";
  if (avail < 4) {
    p.short(layer, at, 4, avail);
    return;
  }
  p.l4 = v6 ? L4_ICMPV6 : L4_ICMP;
  p.l4Offset = at;
  p.icmpType = b[at]!;
  p.icmpCode = b[at + 1]!;
  p.payloadOffset = at + 8;
  p.payloadLen = Math.max(0, wireEnd - at - 8);
  p.payloadCaptured = Math.max(0, avail - 8);
  if (!isIcmpError(p.icmpType, v6) || avail < 8) return;
  if (!v6 && p.icmpType === 3 && p.icmpCode === 4) p.icmpMtu = (b[at + 6]! << 8) | b[at + 7]!;
  if (v6 && p.icmpType === 2)
    p.icmpMtu = ((b[at + 4]! << 24) | (b[at + 5]! << 16) | (b[at + 6]! << 8) | b[at + 7]!) >>> 0;
  decodeQuoted(b, at + 8, end, p.quoted);
}

/**
 * The quoted packet: an IP header plus at least the first 8 bytes of its payload (RFC 792),
 * enough for the ports. Silently leaves fields unset when the quote is too short.
 */
function decodeQuoted(b: Uint8Array, at: number, end: number, q: QuotedPacket): void {
  if (end - at < 20) return;
  const v = b[at]! >> 4;
  let l4: number;
  if (v === 4) {
    const ihl = (b[at]! & 0x0f) * 4;
    if (ihl < 20 || end - at < ihl) return;
    q.ipVersion = 4;
    q.proto = b[at + 9]!;
    q.src0 = ((b[at + 12]! << 24) | (b[at + 13]! << 16) | (b[at + 14]! << 8) | b[at + 15]!) >>> 0;
    q.dst0 = ((b[at + 16]! << 24) | (b[at + 17]! << 16) | (b[at + 18]! << 8) | b[at + 19]!) >>> 0;
    // A quoted non-first fragment carries no ports.
    if (((b[at + 6]! & 0x1f) | b[at + 7]!) !== 0) return;
    l4 = at + ihl;
  } else if (v === 6) {
    if (end - at < 40) return;
    q.ipVersion = 6;
    const w = (o: number) => ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
    q.src0 = w(at + 8);
    q.src1 = w(at + 12);
    q.src2 = w(at + 16);
    q.src3 = w(at + 20);
    q.dst0 = w(at + 24);
    q.dst1 = w(at + 28);
    q.dst2 = w(at + 32);
    q.dst3 = w(at + 36);
    let next = b[at + 6]!;
    l4 = at + 40;
    // Skip the common extension headers inside the quote, bounded.
    for (let i = 0; i < 4 && (next === 0 || next === 43 || next === 60 || next === 44); i++) {
      if (end - l4 < 8) {
        q.proto = next;
        return;
      }
      if (next === 44 && ((b[l4 + 2]! << 8) | (b[l4 + 3]! & 0xf8)) !== 0) {
        q.proto = b[l4]!;
        return;
      }
      const len = next === 44 ? 8 : (b[l4 + 1]! + 1) * 8;
      next = b[l4]!;
      l4 += len;
    }
    q.proto = next;
  } else {
    return;
  }
  if ((q.proto === L4_TCP || q.proto === L4_UDP) && end - l4 >= 4) {
    q.srcPort = (b[l4]! << 8) | b[l4 + 1]!;
    q.dstPort = (b[l4 + 2]! << 8) | b[l4 + 3]!;
  }
}
