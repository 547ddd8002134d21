/**
 * What an ICMP / ICMPv6 error means for the socket whose packet it quotes: the words for
 * it, the errno Linux gives, and whether Linux takes it as a hard error (its
 * icmp_err_convert and icmpv6_err_convert tables: the `fatal` column). The errno reaches
 * the program only in some cases, and they differ by transport (net/ipv4/udp.c
 * __udp4_lib_err, net/ipv4/tcp_ipv4.c tcp_v4_err, RFC 1122 §4.2.3.9 and RFC 5461):
 * - UDP: a hard error is queued on a connected socket and returned by its next call; a
 *   soft one (net/host unreachable, time exceeded) only with IP_RECVERR; an unconnected
 *   socket hears of neither without IP_RECVERR.
 * - TCP in SYN-SENT: any destination unreachable or time exceeded aborts connect() with
 *   that errno (Linux is stricter than RFC 1122 here), unless the kernel was busy on the
 *   socket then (it keeps it as a soft error and re-sends the SYN).
 * - TCP established: a soft error only: the connection keeps retransmitting and the
 *   errno replaces ETIMEDOUT if it finally times out (at once with IP_RECVERR);
 *   fragmentation needed / packet too big lower the path MTU and reach no program.
 * A BSD-derived stack (macOS/iOS, FreeBSD) maps some codes to other errnos: `bsdErrno`
 * where it is sure, and `errnoOn` picks by the sender's stack.
 * icmp-unreachable reports the errors; udp-fixed-retry names them in its retry runs.
 */
import { L4_ICMPV6, type DecodedPacket } from "../../decode/wire/packet.js";
import type { StackId } from "./stack-profile.js";

export interface IcmpMeaning {
  what: string;
  errno: string;
  /** Linux's `fatal`: a connected UDP socket is told without IP_RECVERR. */
  hard: boolean;
  /**
   * The errno a BSD-derived stack (macOS/iOS, FreeBSD) gives instead, where it is sure:
   * their icmp_input/icmp6_input turn the net/host unreachable codes (ICMPv6 no route too)
   * into PRC_UNREACH_NET, which inetctlerrmap makes EHOSTUNREACH; port and protocol
   * unreachable make ECONNREFUSED. Undefined where the BSDs differ among themselves (the
   * administratively prohibited codes, other ICMPv6 codes): then only Linux's is named.
   */
  bsdErrno?: string;
}

/** ICMPv4 type 3 codes (RFC 792, RFC 1812 §5.2.7.1) → meaning, Linux errno and fatal flag. */
const V4_UNREACH: Record<number, IcmpMeaning> = {
  0: { what: "network unreachable", errno: "ENETUNREACH", hard: false, bsdErrno: "EHOSTUNREACH" },
  1: { what: "host unreachable", errno: "EHOSTUNREACH", hard: false, bsdErrno: "EHOSTUNREACH" },
  2: { what: "protocol unreachable", errno: "ENOPROTOOPT", hard: true, bsdErrno: "ECONNREFUSED" },
  3: { what: "port unreachable", errno: "ECONNREFUSED", hard: true, bsdErrno: "ECONNREFUSED" },
  // Not fatal in the table, but UDP makes it one when path-MTU discovery is on (the default).
  4: { what: "fragmentation needed (DF set)", errno: "EMSGSIZE", hard: true, bsdErrno: "EMSGSIZE" },
  5: { what: "source route failed", errno: "EOPNOTSUPP", hard: false, bsdErrno: "EHOSTUNREACH" },
  6: { what: "destination network unknown", errno: "ENETUNREACH", hard: true, bsdErrno: "EHOSTUNREACH" },
  7: { what: "destination host unknown", errno: "EHOSTDOWN", hard: true, bsdErrno: "EHOSTUNREACH" },
  8: { what: "source host isolated", errno: "ENONET", hard: true, bsdErrno: "EHOSTUNREACH" },
  9: { what: "network administratively prohibited", errno: "ENETUNREACH", hard: true },
  10: { what: "host administratively prohibited", errno: "EHOSTUNREACH", hard: true },
  11: { what: "network unreachable for TOS", errno: "ENETUNREACH", hard: false, bsdErrno: "EHOSTUNREACH" },
  12: { what: "host unreachable for TOS", errno: "EHOSTUNREACH", hard: false, bsdErrno: "EHOSTUNREACH" },
  13: { what: "communication administratively prohibited", errno: "EHOSTUNREACH", hard: true },
  14: { what: "host precedence violation", errno: "EHOSTUNREACH", hard: true, bsdErrno: "EHOSTUNREACH" },
  15: { what: "precedence cutoff in effect", errno: "EHOSTUNREACH", hard: true, bsdErrno: "EHOSTUNREACH" },
};
/** ICMPv6 type 1 codes (RFC 4443 §3.1). */
const V6_UNREACH: Record<number, IcmpMeaning> = {
  0: { what: "no route to destination", errno: "ENETUNREACH", hard: false, bsdErrno: "EHOSTUNREACH" },
  1: { what: "communication administratively prohibited", errno: "EACCES", hard: true },
  2: { what: "beyond scope of source address", errno: "EHOSTUNREACH", hard: false },
  3: { what: "address unreachable", errno: "EHOSTUNREACH", hard: false },
  4: { what: "port unreachable", errno: "ECONNREFUSED", hard: true, bsdErrno: "ECONNREFUSED" },
  5: { what: "source address failed policy", errno: "EACCES", hard: true },
  6: { what: "reject route to destination", errno: "EACCES", hard: true },
};

/**
 * The errno a program on `stack` gets for it: Linux's, or a BSD-derived stack's where it is
 * sure (IcmpMeaning.bsdErrno); for an unknown stack, Linux's, which the words say is Linux's.
 */
export function errnoOn(m: IcmpMeaning, stack: StackId | null): string {
  if (stack === "macos" || stack === "freebsd")
    return m.bsdErrno ?? `the errno its stack maps this to (${m.errno} on Linux)`;
  return m.errno;
}

/** What an ICMP error says and the errno a socket that hears of it gets. */
export function icmpMeaning(p: DecodedPacket): IcmpMeaning {
  const v6 = p.l4 === L4_ICMPV6,
    t = p.icmpType,
    c = p.icmpCode;
  if (!v6 && t === 3)
    return V4_UNREACH[c] ?? { what: `destination unreachable (code ${c})`, errno: "EHOSTUNREACH", hard: false };
  if (v6 && t === 1)
    return V6_UNREACH[c] ?? { what: `destination unreachable (code ${c})`, errno: "EHOSTUNREACH", hard: false };
  if (v6 && t === 2) return { what: `packet too big (MTU ${p.icmpMtu})`, errno: "EMSGSIZE", hard: true };
  if ((!v6 && t === 11) || (v6 && t === 3)) {
    return {
      what: c === 0 ? "time exceeded in transit (TTL/hop limit)" : "fragment reassembly time exceeded",
      errno: "EHOSTUNREACH",
      hard: false,
    };
  }
  if (!v6 && t === 12) return { what: "parameter problem", errno: "EPROTO", hard: true };
  if (v6 && t === 4) return { what: "parameter problem", errno: "EPROTO", hard: true };
  return { what: `ICMP type ${t} code ${c}`, errno: "EHOSTUNREACH", hard: false };
}

/** Fragmentation needed (IPv4) or packet too big (IPv6): a path-MTU message. */
export function isPathMtuMessage(p: DecodedPacket): boolean {
  return p.l4 === L4_ICMPV6 ? p.icmpType === 2 : p.icmpType === 3 && p.icmpCode === 4;
}

/** The smallest MTU a link may have: RFC 791 (68 bytes) and RFC 8200 §5 (1280). */
export function minimumMtu(ipVersion: number): number {
  return ipVersion === 6 ? 1280 : 68;
}

/** The errno as a UDP socket can hear of it: a soft error only with IP_RECVERR. */
export function udpErrno(m: IcmpMeaning): string {
  return m.hard ? m.errno : `${m.errno} only with IP_RECVERR`;
}

/**
 * Fragment reassembly time exceeded: the receiver gave up on a fragmented datagram (it is
 * sent only when the first fragment had arrived, RFC 792): fragment-loss's evidence.
 */
export function isReassemblyTimeExceeded(p: DecodedPacket): boolean {
  return p.icmpCode === 1 && (p.l4 === L4_ICMPV6 ? p.icmpType === 3 : p.icmpType === 11);
}
