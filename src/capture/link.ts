/**
 * The link layer of a capture: its link types (the LINKTYPE_ numbers of the pcap and
 * pcapng headers) and, for each supported one, where the network-layer header of a frame
 * starts and which VLAN tags it passes. Stateless. The decoder starts from it, and so does
 * the live cap worker, which rebuilds a cut packet's wire length from the IP header
 * (live/wire-length.ts): it is here, in the first layer, because both need it.
 * `decodeLink` returns the IP version found (4, 6) or 0 for non-IP frames (ARP, LLDP,
 * ...), which are counted but not decoded further.
 */

/** What walking a frame's link layer fills in (DecodedPacket is one). */
export interface LinkFrame {
  /** Offset of the network-layer header, when one was found. */
  l3Offset: number;
  /** VLAN ids passed: the outer in the low 12 bits, the inner (QinQ) shifted by 12. */
  vlan: number;
  /** A link header does not fit in the bytes at hand (cut by the snap length, or malformed). */
  short(layer: "link", offset: number, required: number, available: number): void;
  /** A link header that cannot be walked (an unsupported link type, too many VLAN tags). */
  issue(layer: "link", code: string, offset: number, required: number, available: number): void;
}

export const LINKTYPE_NULL = 0;
export const LINKTYPE_ETHERNET = 1;
export const LINKTYPE_RAW = 101;
export const LINKTYPE_LOOP = 108;
export const LINKTYPE_LINUX_SLL = 113;
export const LINKTYPE_LINUX_SLL2 = 276;
/** DLT_RAW as written on some BSDs (12) and OpenBSD (14); libpcap maps both to 101. */
export const DLT_RAW_12 = 12;
export const DLT_RAW_14 = 14;
export const LINKTYPE_IPV4 = 228;
export const LINKTYPE_IPV6 = 229;

const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_IPV6 = 0x86dd;
const ETHERTYPE_VLAN = 0x8100;
const ETHERTYPE_QINQ = 0x88a8;
const ETHERTYPE_QINQ_OLD = 0x9100;
const ETHERTYPE_PPPOE_SESSION = 0x8864;
/** Tags walked before we call the frame malformed (a bound on hostile input). */
const MAX_VLAN_TAGS = 4;

export const SUPPORTED_LINK_TYPES = new Set([
  LINKTYPE_NULL,
  LINKTYPE_ETHERNET,
  LINKTYPE_RAW,
  LINKTYPE_LOOP,
  LINKTYPE_LINUX_SLL,
  LINKTYPE_LINUX_SLL2,
  DLT_RAW_12,
  DLT_RAW_14,
  LINKTYPE_IPV4,
  LINKTYPE_IPV6,
]);

export function linkTypeName(lt: number): string {
  switch (lt) {
    case LINKTYPE_NULL:
      return "NULL";
    case LINKTYPE_ETHERNET:
      return "EN10MB";
    case LINKTYPE_RAW:
    case DLT_RAW_12:
    case DLT_RAW_14:
      return "RAW";
    case LINKTYPE_LOOP:
      return "LOOP";
    case LINKTYPE_LINUX_SLL:
      return "LINUX_SLL";
    case LINKTYPE_LINUX_SLL2:
      return "LINUX_SLL2";
    case LINKTYPE_IPV4:
      return "IPV4";
    case LINKTYPE_IPV6:
      return "IPV6";
    default:
      return `LINKTYPE_${lt}`;
  }
}

/**
 * Fills `l3Offset` and `vlan` for the link-layer frame in `b[start, end)`; returns 4, 6 or
 * 0 (not IP / cannot tell). Offsets are positions in `b`.
 */
export function decodeLink(b: Uint8Array, start: number, end: number, linkType: number, p: LinkFrame): number {
  const n = end - start;
  switch (linkType) {
    case LINKTYPE_ETHERNET: {
      if (n < 14) {
        p.short("link", start, 14, n);
        return 0;
      }
      return etherPayload(b, start + 12, p, end);
    }
    case LINKTYPE_LINUX_SLL: {
      if (n < 16) {
        p.short("link", start, 16, n);
        return 0;
      }
      return walkEthertype((b[start + 14]! << 8) | b[start + 15]!, start + 16, p, b, end);
    }
    case LINKTYPE_LINUX_SLL2: {
      if (n < 20) {
        p.short("link", start, 20, n);
        return 0;
      }
      return walkEthertype((b[start]! << 8) | b[start + 1]!, start + 20, p, b, end);
    }
    case LINKTYPE_RAW:
    case DLT_RAW_12:
    case DLT_RAW_14:
    case LINKTYPE_IPV4:
    case LINKTYPE_IPV6: {
      if (n < 1) {
        p.short("link", start, 1, 0);
        return 0;
      }
      p.l3Offset = start;
      const v = b[start]! >> 4;
      return v === 4 || v === 6 ? v : 0;
    }
    case LINKTYPE_NULL:
    case LINKTYPE_LOOP: {
      if (n < 4) {
        p.short("link", start, 4, n);
        return 0;
      }
      // NULL stores the address family in the writer's byte order; LOOP in network order.
      // A family value fits in 16 bits, so whichever half is non-zero tells the order.
      const b0 = b[start]!,
        b1 = b[start + 1]!,
        b2 = b[start + 2]!,
        b3 = b[start + 3]!;
      let family = ((b0 << 24) | (b1 << 16) | (b2 << 8) | b3) >>> 0;
      if (family > 0xffff) family = ((b3 << 24) | (b2 << 16) | (b1 << 8) | b0) >>> 0;
      p.l3Offset = start + 4;
      if (family === 2) return 4;
      // AF_INET6 is 24 (NetBSD/OpenBSD), 28 (FreeBSD), 30 (macOS), 10 (Linux).
      if (family === 24 || family === 28 || family === 30 || family === 10) return 6;
      return 0;
    }
    default:
      p.issue("link", `unsupported link type ${linkType}`, start, 0, n);
      return 0;
  }
}

/** Walks Ethernet's type field through VLAN tags and PPPoE to the IP header. */
export function etherPayload(b: Uint8Array, typeAt: number, p: LinkFrame, n: number): number {
  return walkEthertype((b[typeAt]! << 8) | b[typeAt + 1]!, typeAt + 2, p, b, n);
}

/**
 * From an Ethertype and the offset after it (Ethernet, or Linux cooked captures, which
 * keep 802.1Q tags in the payload): through VLAN tags to the IP header.
 */
function walkEthertype(type: number, at: number, p: LinkFrame, b: Uint8Array, n: number): number {
  let tags = 0;
  while (type === ETHERTYPE_VLAN || type === ETHERTYPE_QINQ || type === ETHERTYPE_QINQ_OLD) {
    if (++tags > MAX_VLAN_TAGS) {
      p.issue("link", "too many VLAN tags", at, 4, n - at);
      return 0;
    }
    if (n < at + 4) {
      p.short("link", at, 4, n - at);
      return 0;
    }
    const vid = ((b[at]! & 0x0f) << 8) | b[at + 1]!;
    // Keep up to two ids (outer, inner) so QinQ tenants with equal inner ids stay apart.
    if (tags === 1) p.vlan = vid;
    else if (tags === 2) p.vlan |= vid << 12;
    type = (b[at + 2]! << 8) | b[at + 3]!;
    at += 4;
  }
  return byEthertype(type, at, p, b, n);
}

function byEthertype(type: number, at: number, p: LinkFrame, b: Uint8Array, n: number): number {
  if (type === ETHERTYPE_IPV4 || type === ETHERTYPE_IPV6) {
    p.l3Offset = at;
    return type === ETHERTYPE_IPV4 ? 4 : 6;
  }
  if (type === ETHERTYPE_PPPOE_SESSION) {
    // PPPoE header (6 bytes) then the 2-byte PPP protocol: 0x0021 IPv4, 0x0057 IPv6.
    if (n < at + 8) {
      p.short("link", at, 8, n - at);
      return 0;
    }
    const ppp = (b[at + 6]! << 8) | b[at + 7]!;
    p.l3Offset = at + 8;
    return ppp === 0x0021 ? 4 : ppp === 0x0057 ? 6 : 0;
  }
  return 0;
}
