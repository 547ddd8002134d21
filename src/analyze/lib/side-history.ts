/**
 * What each side of a TCP flow sent up to the current segment: its last segment and what
 * it sent since the other side's last one. Resets judge by it (abortive-close,
 * reset-by-peer-reboot: was the resetting side silent, was the peer's data answered by
 * the reset). The analyzer host keeps one per TCP flow while any analyzer asks for it
 * (AnalyzerDescriptor.usesSideHistory, FindingSink.sideHistory) and notes every segment
 * except resets after the analyzers ran, so at a reset it still describes what came before.
 */
import { DIR_CLIENT, DIR_SERVER, type Flow } from "../../decode/flow/record.js";
import { seqDiff, type TcpSegment } from "../../decode/flow/tcp-tracker.js";
import { type DecodedPacket, TH_ACK, TH_FIN, TH_SYN } from "../../decode/wire/packet.js";
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
  /**
   * Whether this side's program had read the other side's current run of unanswered data,
   * as far as its ACKs show: 0 no sign yet; -1 it sent a window update in the run (a bare
   * ACK that only opens the window, which a kernel sends when its program reads: Linux's
   * tcp_cleanup_rbuf, RFC 9293 §3.8.6.2.2); a frame number: after one, this segment of its
   * acknowledged all that data with its window back at the run's largest, so its program
   * had read it all. (A window that grows as data arrives, as Linux widens it while its
   * buffer has room, is no such sign without the update: unread bytes keep it from coming back.)
   * One field, not three: a flow's memory counts.
   */
  drainedFrame = 0;
  /** The largest window (bytes, scaled) this side advertised in the other side's current run. */
  maxWindowInRun = 0;
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
    if (seg.newData) {
      // A new run of data the other side has not answered: its reads are judged afresh.
      if (me.dataSinceOtherData === seg.len) other.maxWindowInRun = 0;
      other.drainedFrame = 0;
    } else if ((f & (TH_ACK | TH_SYN | TH_FIN)) === TH_ACK && seg.len === 0 && other.dataSinceOtherData > 0) {
      const win = flow.ep[seg.dir]!.winScaled;
      if (win > me.maxWindowInRun) me.maxWindowInRun = win;
      if (seg.windowUpdate && me.drainedFrame === 0) me.drainedFrame = -1;
      if (me.drainedFrame !== 0 && win >= me.maxWindowInRun && seqDiff(seg.ack, flow.ep[1 - seg.dir]!.nextSeq) >= 0)
        me.drainedFrame = seg.frame;
    }
    me.lastFrame = seg.frame;
    me.lastTime = seg.time;
    me.lastWantsAnswer = seg.len > 0 || seg.keepAliveProbe;
    other.dataSinceOther = 0;
    other.firstDataSinceOther = 0;
    other.resendsSinceOther = 0;
  }
}
