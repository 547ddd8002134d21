/**
 * Runs the stateless layer decoders over one record. A fragment is decoded to its IP
 * layer only: reassembly is a stage of its own (reassembly.ts), which the packet loop
 * calls between the IP layer and the transport, as gopacket's ip4defrag sits between
 * DecodingLayerParser runs; a datagram it completes comes back through
 * `decodeReassembled`, decoded whole in the frame that completed it.
 */
import type { PacketRecord } from "../../capture/record.js";
import { decodeIPv4, decodeIPv6, walkIPv6Extensions } from "./ip.js";
import { decodeLink, etherPayload } from "../../capture/link.js";
import { INNER_ETHERNET, INNER_NONE, MAX_TUNNEL_DEPTH, TunnelInner, decodeTunnel } from "./tunnel.js";
import { DecodedPacket } from "./packet.js";
import type { FragmentedDatagram } from "../datagram.js";
import { decodeTransport } from "./transport.js";
import { decodeTcpIPv4Fast } from "./fast-path.js";

export class PacketDecoder {
  readonly packet = new DecodedPacket();
  private readonly tunnel = new TunnelInner();
  /**
   * `packet` holds reset values in the fields the fast path does not write (IPv6 words,
   * tunnel, reassembly, UDP, ICMP): true after a reset or a fast decode, false after the
   * general decoders or a reassembly may have set them.
   */
  private rareFieldsClear = false;

  /** `fastPath` false: every packet through the general decoders (what the fast path is tested against). */
  constructor(private readonly fastPath = true) {}

  /**
   * Decodes `rec` into the reused `packet` and returns it. Never throws on bad bytes. A
   * fragment (`isFragment`) stops after its IP layer, with its data at
   * `bytes[fragDataOffset, fragDataEnd)`.
   */
  decode(rec: PacketRecord): DecodedPacket {
    const p = this.packet;
    // Most packets: one pass (fast-path.ts), clearing only the fields it writes.
    if (this.fastPath) {
      if (!this.rareFieldsClear) {
        p.reset(rec.buf, rec.start);
        this.rareFieldsClear = true;
      }
      if (decodeTcpIPv4Fast(rec, p)) return p;
      this.rareFieldsClear = false;
    }
    // Decoders read the record in place: `b` is the reader's chunk, the record is b[start, end).
    const b = rec.buf,
      start = rec.start,
      end = rec.end;
    p.reset(b, start);
    p.snapCut = rec.capLen < rec.origLen;
    let version = decodeLink(b, start, end, rec.linkType, p);
    if (version === 0) return p;
    let ipEnd =
      version === 4 ? decodeIPv4(b, p.l3Offset, end, p, rec.origLen) : decodeIPv6(b, p.l3Offset, end, p, rec.origLen);
    if (ipEnd < 0) return p;
    // Tunnels: decode what travelled inside, keeping the outer VLAN.
    const t = this.tunnel;
    while (!p.isFragment && p.tunnelDepth < MAX_TUNNEL_DEPTH) {
      decodeTunnel(b, p.l4Offset, ipEnd, p.ipProto, p, t);
      if (t.kind === INNER_NONE) break;
      const depth = p.tunnelDepth + 1,
        vlan = p.vlan,
        innerEnd = ipEnd;
      const origLen = rec.origLen - (end - innerEnd);
      p.reset(b, start);
      p.snapCut = rec.capLen < rec.origLen;
      p.tunnelDepth = depth;
      p.vlan = vlan;
      if (t.kind === INNER_ETHERNET) {
        if (innerEnd - t.offset < 14) {
          p.short("link", t.offset, 14, innerEnd - t.offset);
          return p;
        }
        version = etherPayload(b, t.offset + 12, p, innerEnd);
      } else {
        p.l3Offset = t.offset;
        version = t.offset < innerEnd ? b[t.offset]! >> 4 : 0;
      }
      if (version !== 4 && version !== 6) return p;
      ipEnd =
        version === 4
          ? decodeIPv4(b, p.l3Offset, innerEnd, p, origLen)
          : decodeIPv6(b, p.l3Offset, innerEnd, p, origLen);
      if (ipEnd < 0) return p;
    }
    if (p.isFragment) p.fragDataEnd = ipEnd;
    else decodeTransport(b, p.l4Offset, ipEnd, p.l3Offset + p.ipTotalLen, p);
    return p;
  }

  /**
   * The fragment in `p` completed datagram `d`, whose IP payload is `whole`: decodes the
   * transport of the whole datagram into `p`, which keeps the completing fragment's IP
   * header fields.
   */
  decodeReassembled(p: DecodedPacket, whole: Uint8Array, d: FragmentedDatagram): DecodedPacket {
    if (p === this.packet) this.rareFieldsClear = false;
    p.bytes = whole;
    p.base = 0;
    p.reassembled = true;
    p.datagram = d;
    p.fragmentCount = d.fragmentCount;
    p.ipTotalLen = p.ipHeaderLen + whole.length;
    p.truncated = false;
    let l4 = 0;
    if (p.ipVersion === 6) {
      // Extension headers after the Fragment header are part of the reassembled data.
      p.isFragment = false;
      l4 = walkIPv6Extensions(whole, 0, whole.length, p.ipProto, p);
      if (l4 < 0) return p;
    }
    decodeTransport(whole, l4, whole.length, whole.length, p);
    return p;
  }
}
