/**
 * Tunnels: IP in IP (IPv4 protocol 4, IPv6-in-IPv4 "6in4" protocol 41), GRE (RFC 2784,
 * RFC 2890 key and sequence) carrying IP, Ethernet (transparent bridging) or ERSPAN
 * (types I-III, as switches mirror traffic to a collector), and GTP-U (3GPP TS 29.281,
 * UDP port 2152: a phone's IP packets between the radio network and the mobile core).
 * The inner packet is what the programs sent, so it is what flows are made of. Stateless.
 */
import type { DecodedPacket } from "./packet.js";

export const IPPROTO_IPIP = 4;
export const IPPROTO_IPV6 = 41;
export const IPPROTO_GRE = 47;
const IPPROTO_UDP = 17;

/** Nested tunnels followed before giving up (a bound on hostile input). */
export const MAX_TUNNEL_DEPTH = 4;

const GRE_IPV4 = 0x0800;
const GRE_IPV6 = 0x86dd;
const GRE_ETHERNET = 0x6558;
const GRE_ERSPAN_2 = 0x88be;
const GRE_ERSPAN_3 = 0x22eb;

/** GTP-U's registered port, and the message type of a G-PDU (a user packet; the rest is signalling). */
const GTPU_PORT = 2152;
const GTP_GPDU = 0xff;
const UDP_HEADER = 8;

/** What lies inside a tunnel: an IP version at an offset, or Ethernet at an offset. */
export const INNER_NONE = 0;
export const INNER_IP = 1;
export const INNER_ETHERNET = 2;

export class TunnelInner {
  kind = INNER_NONE;
  offset = 0;
}

/** Finds the inner packet of a tunnel whose IP payload starts at `at` (ends at `end`). */
export function decodeTunnel(
  b: Uint8Array,
  at: number,
  end: number,
  proto: number,
  p: DecodedPacket,
  out: TunnelInner,
): void {
  out.kind = INNER_NONE;
  if (proto === IPPROTO_IPIP || proto === IPPROTO_IPV6) {
    if (ipHeaderAt(b, at, end)) {
      out.kind = INNER_IP;
      out.offset = at;
    }
    return;
  }
  if (proto === IPPROTO_UDP) {
    decodeGtpU(b, at, end, out);
    return;
  }
  if (proto !== IPPROTO_GRE) return;
  if (end - at < 4) {
    p.short("ip", at, 4, end - at);
    return;
  }
  const flags = b[at]!,
    version = b[at + 1]! & 7;
  if (version !== 0) return; // version 1 is PPTP's enhanced GRE: PPP inside, not decoded
  const type = (b[at + 2]! << 8) | b[at + 3]!;
  let off = at + 4;
  if (flags & 0x80) off += 4; // checksum + reserved
  if (flags & 0x20) off += 4; // key
  if (flags & 0x10) off += 4; // sequence number
  switch (type) {
    case GRE_IPV4:
    case GRE_IPV6:
      out.kind = INNER_IP;
      break;
    case GRE_ETHERNET:
      out.kind = INNER_ETHERNET;
      break;
    case GRE_ERSPAN_2:
      // Type I has no sequence number and no ERSPAN header; type II has an 8-byte one.
      if (flags & 0x10) off += 8;
      out.kind = INNER_ETHERNET;
      break;
    case GRE_ERSPAN_3: {
      if (end - off < 12) {
        p.short("ip", off, 12, end - off);
        return;
      }
      // 12-byte header, plus an 8-byte platform subheader when its O bit is set.
      const o = b[off + 11]! & 1;
      off += 12 + (o ? 8 : 0);
      out.kind = INNER_ETHERNET;
      break;
    }
    default:
      return;
  }
  out.offset = off;
  if (off > end) {
    out.kind = INNER_NONE;
    p.short("ip", at, off - at, end - at);
  } else if (out.kind === INNER_IP && !ipHeaderAt(b, off, end)) out.kind = INNER_NONE;
}

/**
 * An IPv4 or IPv6 header starts at `at`: what a tunnel says it carries must also look
 * like it, else (a corrupt or mislabelled tunnel) the outer packet stands as decoded.
 */
function ipHeaderAt(b: Uint8Array, at: number, end: number): boolean {
  if (at >= end) return false;
  const version = b[at]! >> 4;
  return version === 4 || version === 6;
}

/**
 * A GTPv1-U G-PDU in the UDP datagram at `at`: 8-byte header (version 1, protocol type
 * GTP), 4 more bytes when any of the E, S, PN flags is set, then the extension-header
 * chain (each one's first byte its length in 4-byte units, last byte the next type). Port
 * 2152 that is not a G-PDU carrying IP (echo, error indication, other traffic on the
 * port) stays a plain UDP datagram, with no issue: it is valid UDP.
 */
function decodeGtpU(b: Uint8Array, at: number, end: number, out: TunnelInner): void {
  if (end - at < UDP_HEADER + 8) return;
  const srcPort = (b[at]! << 8) | b[at + 1]!,
    dstPort = (b[at + 2]! << 8) | b[at + 3]!;
  if (srcPort !== GTPU_PORT && dstPort !== GTPU_PORT) return;
  const g = at + UDP_HEADER,
    flags = b[g]!;
  if (flags >> 5 !== 1 || (flags & 0x10) === 0 || b[g + 1] !== GTP_GPDU) return;
  let off = g + 8;
  if (flags & 0x07) {
    if (end - off < 4) return;
    let next = flags & 0x04 ? b[off + 3]! : 0;
    off += 4;
    while (next !== 0) {
      if (off >= end) return;
      const len = b[off]! * 4;
      if (len === 0 || end - off < len) return;
      next = b[off + len - 1]!;
      off += len;
    }
  }
  if (!ipHeaderAt(b, off, end)) return;
  out.kind = INNER_IP;
  out.offset = off;
}
