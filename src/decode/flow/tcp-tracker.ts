/**
 * The TCP tracker: updates both endpoints of a flow with each segment (sequence space,
 * windows and their scaling, FIN and RST and their acknowledgement, when the connection
 * ended) and computes the per-segment facts every TCP analyzer reads.
 *
 * Sequence numbers are kept raw (uint32) and compared with wrap-aware deltas
 * (`seqDiff`, as gopacket's Sequence.Difference); relative numbers are only computed
 * for output. Whether a SYN starts a new incarnation of a 4-tuple is decided here too
 * (`isNewIncarnation`), from the endpoints' ISNs and close.
 */
import { type DecodedPacket, TH_ACK, TH_FIN, TH_RST, TH_SYN } from "../wire/packet.js";
import { isFromClient } from "./key.js";
import { DIR_CLIENT, DIR_SERVER, type Flow } from "./record.js";

/** Signed distance a - b in 32-bit sequence space. */
export function seqDiff(a: number, b: number): number {
  return (a - b) | 0;
}

/**
 * Per-segment facts computed once by the tracker and read by every TCP analyzer.
 * One object, reused for every segment.
 */
export class TcpSegment {
  frame = 0;
  time = 0;
  dir = 0;
  flags = 0;
  /** Payload bytes on the wire. */
  len = 0;
  seq = 0;
  ack = 0;
  /** Relative to each side's ISN, for output. */
  relSeq = 0;
  relAck = 0;
  /** seq − the sender's next new byte before this segment: < 0 old data, > 0 a gap. */
  seqVsNext = 0;
  /** Sender's next new byte before this segment (raw). */
  nextSeqBefore = 0;
  /** Advertised window of this segment, scaled when known. */
  winScaled = 0;
  /** Receiver's window as last advertised before this segment (scaled), -1 unknown. */
  peerWin = -1;
  /** Bytes the sender has sent but the receiver has not acknowledged, after this segment. */
  inFlight = 0;
  /** First pure SYN of a new incarnation on a reused 4-tuple. */
  newIncarnation = false;
  // Facts of the segment, filled by segment-facts.ts after the endpoints are updated.
  /** The same packet as one the capture already holds (two capture points, a mirror port): not a new segment. */
  captureCopy = false;
  /** The decoder rejected the TCP header (data offset out of range): the receiver dropped it, its fields mean nothing. */
  headerRejected = false;
  /** RESEND_* (segment-facts.ts): whether and why this segment re-sends sequence space already sent. */
  resend = 0;
  /** For RESEND_TIMEOUT: seconds of silence before it (the timer that fired). */
  resendWait = 0;
  /** A keep-alive probe: 0–1 byte one below the next byte while the peer's window is open. */
  keepAliveProbe = false;
  /** A probe of the zero window the peer advertised (Linux: keep-alive shaped; BSD, Windows: one new byte). */
  zeroWindowProbe = false;
  /** A duplicate ACK (tshark's rule): bare, same ACK and window as this side's previous segment. */
  dupAck = false;
  /** A window update (tshark's rule): bare, same ACK, only the window changed. */
  windowUpdate = false;
}

export class TcpTracker {
  /** The facts of the last segment tracked (one object, reused). */
  readonly segment = new TcpSegment();

  /** Updates TCP endpoint state for a segment of `flow` and fills `this.segment`. */
  track(flow: Flow, dir: number, p: DecodedPacket, frame: number, time: number): TcpSegment {
    const seg = this.segment;
    const me = flow.ep[dir]!,
      peer = flow.ep[1 - dir]!;
    const flags = p.tcpFlags;
    const seq = p.seq,
      len = p.payloadLen;
    seg.frame = frame;
    seg.time = time;
    seg.dir = dir;
    seg.flags = flags;
    seg.len = len;
    seg.seq = seq;
    seg.ack = p.ack;
    if (flags & TH_SYN) {
      if (!me.synSeen || seqDiff(seq, me.isn) !== 0) {
        me.synSeen = true;
        me.synFrame = frame;
        me.synTime = time;
        me.isn = seq;
        me.baseKnown = true;
        me.nextSeq = seq;
        me.seen = true;
      }
      if (me.rstFrame !== 0 && (flags & TH_ACK) === 0 && !peer.synSeen) {
        // A SYN after this side's own RST, before any SYN-ACK: the RST refused a stray
        // segment (a TIME_WAIT's bare ACK) and the connection attempt goes on. That RST
        // did not end this connection.
        me.rstFrame = 0;
        me.rstTime = 0;
        flow.endedFrame = 0;
        flow.endedTime = 0;
      }
      me.synCount++;
      me.wscale = p.optWscale;
      me.mss = p.optMss;
      me.sackPermitted = p.optSackPermitted;
      me.timestamps = p.optTsVal >= 0;
      if (flags & TH_ACK) {
        // SYN-ACK: scaling is in force only if both SYNs carried the option.
        flow.wscaleKnown = me.wscale >= 0 && peer.wscale >= 0;
        if (!flow.wscaleKnown) {
          me.wscale = 0;
          peer.wscale = 0;
          flow.wscaleKnown = peer.synSeen;
        }
        // RFC 7323 §2.3: a shift above 14 is treated as 14.
        me.winMultiplier = 2 ** Math.min(me.wscale, 14);
        peer.winMultiplier = 2 ** Math.min(peer.wscale, 14);
      }
    }
    if (!me.seen) {
      // First segment from this side without a SYN: the capture began mid-connection.
      me.seen = true;
      if (!me.baseKnown) {
        me.isn = (seq - 1) >>> 0;
        me.baseKnown = true;
      }
      me.nextSeq = seq;
    }
    if (flags & TH_ACK && !peer.baseKnown) {
      // The peer has not sent yet: its first unacknowledged byte is this ack.
      peer.isn = (p.ack - 1) >>> 0;
      peer.baseKnown = true;
    }
    seg.nextSeqBefore = me.nextSeq;
    seg.seqVsNext = seqDiff(seq, me.nextSeq);
    const seqSpace = len + (flags & TH_SYN ? 1 : 0) + (flags & TH_FIN ? 1 : 0);
    const end = (seq + seqSpace) >>> 0;
    // A reset may carry any sequence number (RFC 9293 §3.10.7): it says nothing of data.
    if ((flags & TH_RST) === 0 && seqDiff(end, me.nextSeq) > 0) {
      me.nextSeq = end;
      if (len > 0) me.lastDataTime = time;
    }
    if (flags & TH_ACK) {
      me.lastAck = p.ack;
      me.ackSeen = true;
      if (peer.finFrame !== 0 && peer.finAckedFrame === 0 && seqDiff(p.ack, peer.finSeq) > 0) {
        peer.finAckedFrame = frame;
        peer.finAckedTime = time;
      }
    }
    if (flags & TH_FIN && me.finFrame === 0) {
      me.finFrame = frame;
      me.finTime = time;
      me.finSeq = (seq + len) >>> 0;
    }
    if (flags & TH_RST && me.rstFrame === 0) {
      me.rstFrame = frame;
      me.rstTime = time;
    }
    if ((flags & TH_RST) === 0) {
      // A reset's window (often 0) is no advertisement. Windows in SYN segments are never
      // scaled (RFC 7323 §2.2).
      me.win = p.win;
      me.winScaled = flags & TH_SYN || !flow.wscaleKnown ? p.win : p.win * me.winMultiplier;
    }
    me.payloadBytes += len;
    me.lastTime = time;
    me.lastFrame = frame;
    if (flow.endedFrame === 0 && (me.rstFrame !== 0 || (me.finAckedFrame !== 0 && peer.finAckedFrame !== 0))) {
      flow.endedFrame = frame;
      flow.endedTime = time;
    }
    seg.relSeq = (seq - me.isn) >>> 0;
    seg.relAck = flags & TH_ACK ? (p.ack - peer.isn) >>> 0 : 0;
    seg.winScaled = me.winScaled;
    seg.peerWin = peer.seen ? peer.winScaled : -1;
    seg.inFlight = peer.ackSeen ? Math.max(0, seqDiff(me.nextSeq, peer.lastAck)) : 0;
    return seg;
  }
}

/**
 * A pure SYN on a known 4-tuple starts a new connection when it carries a different ISN
 * and the old connection was closed (FIN or RST seen) or never got past its handshake
 * with that ISN. A retransmitted SYN carries the same ISN and stays in its flow.
 */
export function isNewIncarnation(flow: Flow, p: DecodedPacket): boolean {
  const fromClient = isFromClient(flow, p);
  const sender = flow.ep[fromClient ? DIR_CLIENT : DIR_SERVER]!;
  if (sender.synSeen && seqDiff(p.seq, sender.isn) === 0) return false;
  const [c, s] = flow.ep;
  const closed = c.finFrame !== 0 || s.finFrame !== 0 || c.rstFrame !== 0 || s.rstFrame !== 0;
  return closed || sender.synSeen;
}
