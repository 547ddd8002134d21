/**
 * half-close: one side sends FIN and then keeps receiving — the other side sends new data
 * that acknowledges the FIN (it was sent after the EOF was known, not crossing it) and
 * the FIN side acknowledges that data instead of resetting. A socket that was close()d
 * cannot receive (its kernel resets such data: rst-after-fin), so the FIN side called
 * shutdown(SHUT_WR) and kept its receive direction open (RFC 9293 §3.6, "half-closed").
 * Informational: a correct use of TCP, reported so the FIN is not mistaken for a close.
 */
import { defineAnalyzer } from "../analyzer.js";
import { ms, roleOf } from "../lib/measure.js";
import { seqDiff } from "../../decode/flow/tcp-tracker.js";
import { TH_ACK, TH_FIN, TH_RST } from "../../decode/wire/packet.js";

class State {
  /** Direction of the first FIN (the half-closing side), -1 before any FIN. */
  finDir = -1;
  /** Data the other side sent after that FIN, knowing of it. */
  firstDataFrame = 0;
  lastDataFrame = 0;
  lastDataTime = 0;
  bytes = 0;
  segments = 0;
  /** Raw end of the first data segment after the FIN; the FIN side acknowledged it. */
  firstDataEnd = 0;
  acked = false;
}

const analyzer = defineAnalyzer<State>({
  id: "half-close",
  title: "Half-close: one side finished sending, the other kept sending",
  severity: "info",
  family: "tcp-closing",
  wire: "A FIN in one direction while new data keeps flowing, and being acknowledged, in the other.",
  explanation:
    'One program called shutdown(fd, SHUT_WR) — "I have nothing more to send" — and went on reading. Its kernel sent ' +
    "a FIN, so the peer's next read() returned 0 (end of file), but the connection stayed open in the other direction: " +
    "the peer could still write, and its data was received and acknowledged. This is the right way to tell a peer that " +
    "a request is complete when the protocol has no other end marker, and the right first step of a careful close: send " +
    "the FIN with shutdown(), then read until the peer's EOF, then close(). Unlike close(), shutdown() acts on the " +
    "connection even if other processes still hold the descriptor. Two things to check in the programs. The peer must " +
    'treat read() returning 0 as "no more requests" rather than as the connection being gone (it may still write). ' +
    "And the half-closing side must keep reading until EOF: had it called close() instead, the peer's data would have " +
    "been answered with a reset (see rst-after-fin). Some middleboxes and old servers mishandle half-closed connections " +
    "and drop them early.",
  references: ["000 §2.6", "002 shutdown", "000 §2.5"],
  createState: () => new State(),
  // Nothing to do before the first FIN.
  wakeOn: TH_FIN,
  onTcpSegment(s, flow, seg) {
    const f = seg.flags;
    if (s.finDir < 0) {
      // The first FIN of the connection (data in the same segment precedes it).
      if (
        f & TH_FIN &&
        (f & TH_RST) === 0 &&
        flow.ep[seg.dir]!.finFrame === seg.frame &&
        flow.ep[1 - seg.dir]!.finFrame === 0
      )
        s.finDir = seg.dir;
      return;
    }
    const fin = flow.ep[s.finDir]!;
    if (seg.dir !== s.finDir) {
      // New data that acknowledges the FIN: sent with the EOF already known.
      if (seg.len > 0 && seg.seqVsNext >= 0 && (f & (TH_ACK | TH_RST)) === TH_ACK && seqDiff(seg.ack, fin.finSeq) > 0) {
        if (s.firstDataFrame === 0) {
          s.firstDataFrame = seg.frame;
          s.firstDataEnd = (seg.seq + seg.len) >>> 0;
        }
        s.lastDataFrame = seg.frame;
        s.lastDataTime = seg.time;
        s.bytes += seg.len;
        s.segments++;
      }
    } else if (
      !s.acked &&
      s.firstDataFrame !== 0 &&
      (f & (TH_ACK | TH_RST)) === TH_ACK &&
      seqDiff(seg.ack, s.firstDataEnd) >= 0
    ) {
      s.acked = true;
    }
  },
  onFlowEnd(s, flow, out) {
    if (s.finDir < 0 || !s.acked) return;
    const x = s.finDir,
      y = 1 - x;
    const fin = flow.ep[x]!,
      other = flow.ep[y]!;
    const who = roleOf(x),
      peer = roleOf(y);
    const peerFin = other.finFrame !== 0 && other.finFrame > fin.finFrame;
    const end = peerFin
      ? `; the ${peer} then closed too (FIN frame ${other.finFrame})`
      : `; the ${peer} had not sent its FIN when the capture ended`;
    out.report(analyzer, {
      flow,
      dir: x,
      frames: [fin.finFrame, s.firstDataFrame, s.lastDataFrame, peerFin ? other.finFrame : 0].filter((f) => f > 0),
      count: s.segments,
      time: fin.finTime,
      summary:
        `the ${who} shut down its sending side (FIN frame ${fin.finFrame}) and kept receiving: the ${peer} sent ` +
        `${s.bytes} more byte(s) in ${s.segments} segment(s) (frames ${s.firstDataFrame}–${s.lastDataFrame}) over ` +
        `${ms(s.lastDataTime - fin.finTime)} ms, all acknowledged${end}`,
      measure: {
        bytesAfterFin: s.bytes,
        segmentsAfterFin: s.segments,
        dataAfterFinMs: ms(s.lastDataTime - fin.finTime),
        peerFinAfterMs: peerFin ? ms(other.finTime - fin.finTime) : -1,
      },
    });
  },
});
export default analyzer;
