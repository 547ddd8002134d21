/**
 * What an ICMP / ICMPv6 error means for the socket whose packet it quotes: the words for
 * it and the errno Linux gives (its icmp_err_convert and icmpv6_err_convert tables).
 * icmp-unreachable reports the errors; udp-fixed-retry names them in its retry runs.
 */
import { L4_ICMPV6, type DecodedPacket } from "../../decode/wire/packet.js";

export interface IcmpMeaning {
  what: string;
  errno: string;
}

/** ICMPv4 type 3 codes (RFC 792, RFC 1812 §5.2.7.1) → meaning and Linux errno. */
const V4_UNREACH: Record<number, IcmpMeaning> = {
  0: { what: "network unreachable", errno: "ENETUNREACH" },
  1: { what: "host unreachable", errno: "EHOSTUNREACH" },
  2: { what: "protocol unreachable", errno: "ENOPROTOOPT" },
  3: { what: "port unreachable", errno: "ECONNREFUSED" },
  4: { what: "fragmentation needed (DF set)", errno: "EMSGSIZE" },
  5: { what: "source route failed", errno: "EOPNOTSUPP" },
  6: { what: "destination network unknown", errno: "ENETUNREACH" },
  7: { what: "destination host unknown", errno: "EHOSTDOWN" },
  8: { what: "source host isolated", errno: "ENONET" },
  9: { what: "network administratively prohibited", errno: "ENETUNREACH" },
  10: { what: "host administratively prohibited", errno: "EHOSTUNREACH" },
  11: { what: "network unreachable for TOS", errno: "ENETUNREACH" },
  12: { what: "host unreachable for TOS", errno: "EHOSTUNREACH" },
  13: { what: "communication administratively prohibited", errno: "EHOSTUNREACH" },
};
/** ICMPv6 type 1 codes (RFC 4443 §3.1). */
const V6_UNREACH: Record<number, IcmpMeaning> = {
  0: { what: "no route to destination", errno: "ENETUNREACH" },
  1: { what: "communication administratively prohibited", errno: "EACCES" },
  2: { what: "beyond scope of source address", errno: "EHOSTUNREACH" },
  3: { what: "address unreachable", errno: "EHOSTUNREACH" },
  4: { what: "port unreachable", errno: "ECONNREFUSED" },
  5: { what: "source address failed policy", errno: "EACCES" },
  6: { what: "reject route to destination", errno: "EACCES" },
};

/** What an ICMP error says and the errno a socket that hears of it gets. */
export function icmpMeaning(p: DecodedPacket): IcmpMeaning {
  const v6 = p.l4 === L4_ICMPV6,
    t = p.icmpType,
    c = p.icmpCode;
  if (!v6 && t === 3) return V4_UNREACH[c] ?? { what: `destination unreachable (code ${c})`, errno: "EHOSTUNREACH" };
  if (v6 && t === 1) return V6_UNREACH[c] ?? { what: `destination unreachable (code ${c})`, errno: "EHOSTUNREACH" };
  if (v6 && t === 2) return { what: `packet too big (MTU ${p.icmpMtu})`, errno: "EMSGSIZE" };
  // Time exceeded is a soft error for Linux: a socket hears of it only with IP_RECVERR.
  if ((!v6 && t === 11) || (v6 && t === 3)) {
    return {
      what: c === 0 ? "time exceeded in transit (TTL/hop limit)" : "fragment reassembly time exceeded",
      errno: "EHOSTUNREACH only with IP_RECVERR",
    };
  }
  if (!v6 && t === 12) return { what: "parameter problem", errno: "EPROTO" };
  if (v6 && t === 4) return { what: "parameter problem", errno: "EPROTO" };
  return { what: `ICMP type ${t} code ${c}`, errno: "EHOSTUNREACH" };
}
