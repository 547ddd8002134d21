/**
 * A flow's key: VLAN, protocol and both endpoints, matched in either direction, and a
 * direction-independent hash of it for the table's buckets. Addresses are compared as
 * numbers (DecodedPacket's words): no key string is built per packet.
 */
import type { DecodedPacket } from "../wire/packet.js";
import type { Flow } from "./record.js";

/**
 * Direction-independent 32-bit hash of VLAN, protocol and both endpoints: each endpoint
 * is mixed on its own, then combined with symmetric operations (sum and xor), so both
 * directions of a conversation hash alike without sorting the endpoints.
 */
export function flowHash(p: DecodedPacket): number {
  const a = mixEndpoint(p.src0, p.src1, p.src2, p.src3, p.srcPort);
  const b = mixEndpoint(p.dst0, p.dst1, p.dst2, p.dst3, p.dstPort);
  let h = Math.imul((a + b) | 0, 0x9e3779b1) ^ (a ^ b) ^ Math.imul(p.vlan + 1, 0x85ebca6b) ^ (p.l4 << 24);
  h ^= h >>> 15;
  return Math.imul(h, 0x2c1b3c6d) | 0;
}

function mixEndpoint(w0: number, w1: number, w2: number, w3: number, port: number): number {
  let h = Math.imul(w0 ^ 0x165667b1, 0xcc9e2d51);
  h = Math.imul(h ^ w1, 0x1b873593) ^ (h >>> 13);
  h = Math.imul(h ^ w2, 0xcc9e2d51) ^ (h >>> 16);
  h = Math.imul(h ^ w3, 0x1b873593) ^ (h >>> 13);
  h = Math.imul(h ^ port, 0xcc9e2d51);
  return h ^ (h >>> 16);
}

/** The packet belongs to the flow: same VLAN, protocol and endpoints in either direction. */
export function sameEndpoints(f: Flow, p: DecodedPacket, vlan: number = f.vlan): boolean {
  if (f.proto !== p.l4 || vlan !== p.vlan || f.ipVersion !== p.ipVersion) return false;
  const c = f.client,
    s = f.server;
  if (
    p.srcPort === f.clientPort &&
    p.dstPort === f.serverPort &&
    p.src0 === c[0] &&
    p.dst0 === s[0] &&
    p.src1 === c[1] &&
    p.dst1 === s[1] &&
    p.src2 === c[2] &&
    p.dst2 === s[2] &&
    p.src3 === c[3] &&
    p.dst3 === s[3]
  )
    return true;
  return (
    p.srcPort === f.serverPort &&
    p.dstPort === f.clientPort &&
    p.src0 === s[0] &&
    p.dst0 === c[0] &&
    p.src1 === s[1] &&
    p.dst1 === c[1] &&
    p.src2 === s[2] &&
    p.dst2 === c[2] &&
    p.src3 === s[3] &&
    p.dst3 === c[3]
  );
}

/** Whether the packet comes from the flow's client (its direction is DIR_CLIENT). */
export function isFromClient(flow: Flow, p: DecodedPacket): boolean {
  // A self-connected socket (same address and port both ways) counts as client → server.
  const c = flow.client;
  return p.srcPort === flow.clientPort && p.src0 === c[0] && p.src1 === c[1] && p.src2 === c[2] && p.src3 === c[3];
}
