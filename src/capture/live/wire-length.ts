/**
 * The cap backend gets a packet's captured bytes but not its original length. When the
 * bytes may have been cut (by the snap length, or by cap's fixed 65535-byte libpcap
 * snap length on a 64 KiB loopback MTU), the original length is rebuilt from the IP
 * header: link header + IP total length. Anything undecodable keeps the captured length.
 */
import { decodeLink, type LinkFrame } from "../link.js";

/** Where the link layer ends; its problems don't matter here (the captured length stays). */
const frame: LinkFrame = { l3Offset: -1, vlan: 0, short() {}, issue() {} };

export function wireLength(bytes: Uint8Array, linkType: number): number {
  const n = bytes.length;
  frame.l3Offset = -1;
  frame.vlan = 0;
  const version = decodeLink(bytes, 0, n, linkType, frame);
  const at = frame.l3Offset;
  if (version === 4 && at >= 0 && n >= at + 4) {
    const total = (bytes[at + 2]! << 8) | bytes[at + 3]!;
    return Math.max(n, at + total);
  }
  if (version === 6 && at >= 0 && n >= at + 6) {
    const payload = (bytes[at + 4]! << 8) | bytes[at + 5]!;
    return Math.max(n, at + 40 + payload);
  }
  return n;
}
