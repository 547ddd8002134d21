/**
 * Community ID flow hashing, version 1 (github.com/corelight/community-id-spec): one
 * string per connection that Zeek, Suricata, Arkime, Wireshark and Elastic compute the
 * same way, so sockscope's records join theirs for the same traffic. The hash covers the
 * seed, both addresses, the protocol and both ports, ordered so that both directions of a
 * connection give the same ID: the lower (address, port) endpoint first.
 *
 *   "1:" + base64(SHA-1(seed:u16 · addr_a · addr_b · proto:u8 · 0:u8 · port_a:u16 · port_b:u16))
 *
 * TCP and UDP only (sockscope's flows); the spec's ICMP type/code mapping is not needed.
 */
import { createHash } from "node:crypto";
import { addressBytes, hostOf, portOf } from "../decode/wire/address.js";

const IPPROTO = { tcp: 6, udp: 17 } as const;

export function communityId(
  proto: number,
  src: Uint8Array,
  srcPort: number,
  dst: Uint8Array,
  dstPort: number,
  seed = 0,
): string {
  const order = compareBytes(src, dst) || srcPort - dstPort;
  const [a, pa, b, pb] = order <= 0 ? [src, srcPort, dst, dstPort] : [dst, dstPort, src, srcPort];
  const head = Buffer.alloc(2);
  head.writeUInt16BE(seed & 0xffff);
  const tail = Buffer.alloc(6);
  tail[0] = proto;
  tail.writeUInt16BE(pa, 2);
  tail.writeUInt16BE(pb, 4);
  return `1:${createHash("sha1").update(head).update(a).update(b).update(tail).digest("base64")}`;
}

/** The Community ID of a report's flow ("addr:port" endpoints); null if an endpoint does not parse. */
export function flowCommunityId(proto: "tcp" | "udp", client: string, server: string, seed = 0): string | null {
  const src = addressBytes(hostOf(client)),
    dst = addressBytes(hostOf(server));
  if (src === null || dst === null || src.length !== dst.length) return null;
  return communityId(IPPROTO[proto], src, portOf(client), dst, portOf(server), seed);
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}
