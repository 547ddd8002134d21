/**
 * Direction-independent flow keys: VLAN, protocol, then the two endpoints in a fixed
 * order, so both directions of a conversation (and an ICMP error quoting either) find
 * the same flow. One string per lookup; a numeric hash can replace it if a profile asks.
 */

export function flowKey4(vlan: number, proto: number, a: number, pa: number, b: number, pb: number): string {
  return a < b || (a === b && pa <= pb) ? `${vlan}|${proto}|${a}|${pa}|${b}|${pb}` : `${vlan}|${proto}|${b}|${pb}|${a}|${pa}`;
}

export function flowKey6(vlan: number, proto: number,
  a0: number, a1: number, a2: number, a3: number, pa: number,
  b0: number, b1: number, b2: number, b3: number, pb: number): string {
  const c = (a0 - b0) || (a1 - b1) || (a2 - b2) || (a3 - b3) || (pa - pb);
  return c <= 0
    ? `${vlan}|${proto}|${a0}.${a1}.${a2}.${a3}|${pa}|${b0}.${b1}.${b2}.${b3}|${pb}`
    : `${vlan}|${proto}|${b0}.${b1}.${b2}.${b3}|${pb}|${a0}.${a1}.${a2}.${a3}|${pa}`;
}

/** Key from address arrays (ICMP quotes, fragment headers: rare, allocation is fine). */
export function flowKeyOf(vlan: number, proto: number, version: number,
  src: readonly number[], sport: number, dst: readonly number[], dport: number): string {
  return version === 4
    ? flowKey4(vlan, proto, src[0]!, sport, dst[0]!, dport)
    : flowKey6(vlan, proto, src[0]!, src[1]!, src[2]!, src[3]!, sport, dst[0]!, dst[1]!, dst[2]!, dst[3]!, dport);
}
