/**
 * What each side of a TCP flow sent up to the current segment: its last segment and what
 * it sent since the other side's last one. Resets judge by it (abortive-close,
 * reset-by-peer-reboot: was the resetting side silent, was the peer's data answered by
 * the reset). The analyzer host keeps one per TCP flow while any analyzer asks for it
 * (AnalyzerDescriptor.usesSideHistory, FindingSink.sideHistory) and notes every segment
 * except resets after the analyzers ran, so at a reset it still describes what came before.
 */
import { DIR_CLIENT, DIR_SERVER, type Flow } from "../../decode/flow/record.js";
import type { TcpSegment } from "../../decode/flow/tcp-tracker.js";
import { type DecodedPacket, TH_ACK, TH_SYN } from "../../decode/wire/packet.js";
import { goodbyeIn } from "./goodbye.js";

/** One direction's part of a SideHistory. */
export class SideMark {
  lastFrame = 0;
  lastTime = 0;
  /** The last segment carried data or was a keep-alive probe (something that wants an answer). */
  lastWantsAnswer = false;
  /** New payload bytes sent since the other side's last segment, and the first such frame. */
  dataSinceOther = 0;
  firstDataSinceOther = 0;
  /**
   * New payload bytes sent since the other side last sent new payload, and the first such
   * frame: data the other side has not answered. Its pure ACKs do not end this count, for
   * an ACK says only that its kernel received the bytes, not that its program read them.
   */
  dataSinceOtherData = 0;
  firstDataSinceOtherData = 0;
  /** The goodbye its last new data began with (lib/goodbye.ts), else "": a program done with the connection. */
  lastDataGoodbye = "";
  /** This side's last segment carrying any payload, re-sent bytes included (0: none yet). */
  lastPayloadFrame = 0;
  /** Segments re-sending old sequence space (retransmissions, keep-alive probes) since the other side's last segment. */
  resendsSinceOther = 0;
  /** Seconds the connection had been quiet (no segment either way) before this side's last segment. */
  idleBefore = 0;
}

export class SideHistory {
  /** Indexed by direction; one object per side rather than seven pairs (a flow's memory counts). */
  readonly sides: readonly [SideMark, SideMark] = [new SideMark(), new SideMark()];
  /** The handshake completed (or the capture began after it). */
  established = false;

  note(flow: Flow, seg: TcpSegment, p: DecodedPacket): void {
    const f = seg.flags;
    const me = this.sides[seg.dir]!,
      other = this.sides[1 - seg.dir]!;
    // Established: the client acknowledged the server's SYN, or (no client SYN captured)
    // the capture began mid-connection. A server's bare ACK to a SYN (TIME-WAIT) is neither.
    if (
      !this.established &&
      (f & TH_SYN) === 0 &&
      (!flow.ep[DIR_CLIENT].synSeen || (seg.dir === DIR_CLIENT && (f & TH_ACK) !== 0 && flow.ep[DIR_SERVER].synSeen))
    )
      this.established = true;
    const prev = Math.max(me.lastTime, other.lastTime);
    me.idleBefore = prev > 0 ? seg.time - prev : 0;
    if (seg.newData) {
      if (me.dataSinceOther === 0) me.firstDataSinceOther = seg.frame;
      me.dataSinceOther += seg.len;
      if (me.dataSinceOtherData === 0) me.firstDataSinceOtherData = seg.frame;
      me.dataSinceOtherData += seg.len;
      other.dataSinceOtherData = 0;
      other.firstDataSinceOtherData = 0;
      me.lastDataGoodbye = goodbyeIn(p);
    } else if (seg.seqVsNext < 0 && (f & TH_SYN) === 0) {
      me.resendsSinceOther++;
    }
    if (seg.len > 0) me.lastPayloadFrame = seg.frame;
    me.lastFrame = seg.frame;
    me.lastTime = seg.time;
    me.lastWantsAnswer = seg.len > 0 || seg.keepAliveProbe;
    other.dataSinceOther = 0;
    other.firstDataSinceOther = 0;
    other.resendsSinceOther = 0;
  }
}
