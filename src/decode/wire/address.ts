/** Printing of numeric addresses: only ever done for output, never per packet. */

export function ipv4ToString(a: number): string {
  return `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`;
}

/** RFC 5952 text form: lower case, longest run of zero groups (2+) shortened to "::". */
export function ipv6ToString(w0: number, w1: number, w2: number, w3: number): string {
  const g = [w0 >>> 16, w0 & 0xffff, w1 >>> 16, w1 & 0xffff, w2 >>> 16, w2 & 0xffff, w3 >>> 16, w3 & 0xffff];
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) {
    return `::ffff:${ipv4ToString(w3)}`;
  }
  let bestStart = -1,
    bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = g.map((x) => x!.toString(16));
  if (bestStart < 0) return hex.join(":");
  return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLen).join(":")}`;
}

export function addressToString(version: number, w0: number, w1: number, w2: number, w3: number): string {
  return version === 6 ? ipv6ToString(w0, w1, w2, w3) : ipv4ToString(w0);
}

/** "ip:port", IPv6 in brackets (as in URLs and as tcpdump users expect). */
export function endpointToString(
  version: number,
  w0: number,
  w1: number,
  w2: number,
  w3: number,
  port: number,
): string {
  const a = addressToString(version, w0, w1, w2, w3);
  if (port < 0) return a;
  return version === 6 ? `[${a}]:${port}` : `${a}:${port}`;
}

/**
 * A multicast or limited-broadcast destination (IPv4 224.0.0.0/4 and 255.255.255.255,
 * IPv6 ff00::/8): one datagram to many receivers, or none. A directed broadcast
 * (x.x.x.255 of some subnet) cannot be told from a unicast address without the netmask.
 */
export function isGroupAddress(version: number, w0: number): boolean {
  if (version === 6) return w0 >>> 24 === 0xff;
  return w0 >>> 28 === 0xe || w0 >>> 0 === 0xffffffff;
}

/** The port of an endpoint as endpointToString writes it (`ip:port`, IPv6 in brackets). */
export function portOf(endpoint: string): number {
  return Number(endpoint.slice(endpoint.lastIndexOf(":") + 1));
}

/** The address of such an endpoint, without its port, and without brackets for IPv6. */
export function hostOf(endpoint: string): string {
  const a = endpoint.slice(0, endpoint.lastIndexOf(":"));
  return a.startsWith("[") ? a.slice(1, -1) : a;
}

/**
 * The bytes of an address in text form (as the printers above write it: dotted IPv4, or
 * IPv6 with "::" and an optional dotted tail), network order; null if it is not one.
 * For output formats that need raw addresses back (the Community ID hash), never per packet.
 */
export function addressBytes(text: string): Uint8Array | null {
  if (!text.includes(":")) return ipv4Bytes(text);
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const groups = (part: string): number[] | null => {
    if (part === "") return [];
    const out: number[] = [];
    const items = part.split(":");
    for (let i = 0; i < items.length; i++) {
      const item = items[i]!;
      if (i === items.length - 1 && item.includes(".")) {
        const v4 = ipv4Bytes(item);
        if (v4 === null) return null;
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else if (/^[0-9a-fA-F]{1,4}$/.test(item)) out.push(Number.parseInt(item, 16));
      else return null;
    }
    return out;
  };
  const head = groups(halves[0]!),
    tail = halves.length === 2 ? groups(halves[1]!) : [];
  if (head === null || tail === null) return null;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return null;
  const all = [...head, ...new Array<number>(halves.length === 2 ? missing : 0).fill(0), ...tail];
  const bytes = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    bytes[2 * i] = all[i]! >>> 8;
    bytes[2 * i + 1] = all[i]! & 255;
  }
  return bytes;
}

function ipv4Bytes(text: string): Uint8Array | null {
  const parts = text.split(".");
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) return null;
  return Uint8Array.from(parts.map(Number));
}
