/**
 * What a TCP sender did after "fragmentation needed" / "packet too big" told it the path
 * MTU: Linux lowers the connection's MSS and re-sends the lost data in segments that fit
 * (tcp_v4_mtu_reduced, tcp_simple_retransmit), and the program never hears of it. A
 * sender that goes on re-sending packets larger than the MTU never got (or never applied)
 * the message: a path-MTU black hole, where the connection stalls until its retransmission
 * timer gives up.
 */
import type { TcpSegment } from "../../decode/flow/tcp-tracker.js";
import type { DecodedPacket } from "../../decode/wire/packet.js";

export type PmtuVerdict = "adapted" | "black-hole" | "unseen";

export class PmtuFollowUp {
  /** The smallest MTU the messages gave, and the direction they quoted. */
  mtu = Infinity;
  dir = -1;
  /** Data re-sent in packets that fit, after the first message: the first one's frame. */
  fitResends = 0;
  firstFitFrame = 0;
  /** Data packets larger than the MTU after the first message, and those of them that re-sent data. */
  oversized = 0;
  oversizedResends = 0;
  lastOversizedFrame = 0;
  largestOversized = 0;

  /** A path-MTU message quoting direction `dir`, with next-hop MTU `mtu`. */
  told(dir: number, mtu: number): void {
    this.dir = dir;
    if (mtu < this.mtu) this.mtu = mtu;
  }

  /**
   * A segment after the first message. `peerMss`: the MSS the receiver announced (-1 if
   * unknown); a segment longer than it is a capture at the sender with segmentation
   * offload (the NIC cut it), not what went on the wire, so it proves nothing.
   */
  segment(seg: TcpSegment, p: DecodedPacket, peerMss: number): void {
    if (seg.dir !== this.dir || seg.len === 0) return;
    const resend = seg.seqVsNext < 0;
    if (p.ipTotalLen <= this.mtu) {
      if (!resend) return;
      if (this.fitResends++ === 0) this.firstFitFrame = seg.frame;
      return;
    }
    if (peerMss > 0 && seg.len > peerMss) return;
    this.oversized++;
    if (resend) this.oversizedResends++;
    this.lastOversizedFrame = seg.frame;
    if (p.ipTotalLen > this.largestOversized) this.largestOversized = p.ipTotalLen;
  }

  /**
   * adapted: it re-sent in packets that fit and sent nothing larger after the first of
   * them (packets already queued when the message came may still leave large before it);
   * black-hole: it re-sent data in packets too large and never in ones that fit;
   * unseen: the capture shows neither.
   */
  get verdict(): PmtuVerdict {
    if (this.fitResends > 0 && this.lastOversizedFrame < this.firstFitFrame) return "adapted";
    if (this.oversizedResends > 0 && this.fitResends === 0) return "black-hole";
    return "unseen";
  }
}
