/**
 * The TCP tracker: updates both endpoints of a flow with each segment (sequence space,
 * windows and their scaling, FIN and RST and their acknowledgement, when the connection
 * ended) and computes the per-segment facts every TCP analyzer reads.
 *
 * Sequence numbers are kept raw (uint32) and compared with wrap-aware deltas
 * (`seqDiff`, as gopacket's Sequence.Difference); relative numbers are only computed
 * for output. Whether a SYN starts a new incarnation of a 4-tuple is decided here too
 * (`isNewIncarnation`), from the endpoints' ISNs and close.
 *
 * Acceptability: a RST or FIN the receiving stack would ignore (`accepts`), and a SYN
 * that is not the connection's own (`strayIsn`), change no endpoint state and come out
 * with `accepted = false`: they were on the wire, but for the sockets nothing happened.
 */
import { type DecodedPacket, TH_ACK, TH_FIN, TH_RST, TH_SYN } from "../wire/packet.js";
import { isFromClient } from "./key.js";
import { DIR_CLIENT, DIR_SERVER, type Flow, type TcpEndpoint } from "./record.js";

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
  /** This segment carries new data (`carriesNewData`); the sender's endpoint took it as its lastData*. */
  newData = false;
  /** The sender's last new data before this segment (its endpoint's lastDataTime/Frame then): -1 and 0 if none. */
  prevDataTime = -1;
  prevDataFrame = 0;
  /** Advertised window of this segment, scaled when known. */
  winScaled = 0;
  /** Receiver's window as last advertised before this segment (scaled), -1 unknown. */
  peerWin = -1;
  /** Bytes the sender has sent but the receiver has not acknowledged, after this segment. */
  inFlight = 0;
  /** First pure SYN of a new incarnation on a reused 4-tuple. */
  newIncarnation = false;
  /** A pure SYN written by hand rather than by a TCP stack (`isCraftedSyn`). */
  craftedSyn = false;
  /**
   * Whether the receiver's stack would act on this segment. False for a RST or FIN it
   * would ignore (RFC 9293 §3.10.7.3–4, RFC 5961 §3: in SYN-SENT a RST without an ACK of
   * the SYN; later, a RST or FIN outside its window) and for a SYN with a foreign ISN
   * while another attempt on the 4-tuple is under way. Such a segment changes no
   * endpoint state; the analyzer host hands it only to the analyzers that ask for it.
   */
  accepted = true;
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
  /**
   * ACK set, acknowledging another number than the last ACK of the sender's that counted
   * (accepted, no capture copy), or its first such. Not endpoint.lastAck's: a late copy
   * of an older segment moves that back.
   */
  ackChanged = false;
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
    seg.craftedSyn = (flags & (TH_SYN | TH_ACK)) === TH_SYN && isCraftedSyn(p);
    if (seg.craftedSyn) me.craftedSynCount++;
    if (p.tcpHeaderRejected) {
      // A header the decoder rejected (data offset out of range): the receiver dropped it
      // before TCP read a field, so none of them changes anything (no analyzer sees it either).
      seg.accepted = false;
      seg.newData = false;
      return seg;
    }
    seg.accepted = !strayIsn(me, peer, p, seg.craftedSyn) && accepts(flow, me, peer, p);
    if (!seg.accepted) return this.ignored(me, peer, p);
    if (flags & TH_SYN) {
      const firstSyn = !me.synSeen;
      if (!me.synSeen || seqDiff(seq, me.isn) !== 0) {
        if (me.synSeen) me.synCount = 0; // another ISN: another attempt, counted afresh
        me.synCrafted = seg.craftedSyn;
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
      } else if (me.rstFrame !== 0 && flags & TH_ACK && firstSyn && peer.rstFrame === 0) {
        // A SYN-ACK after this side's RST refused the peer's SYN: the peer's stack re-sent
        // that SYN (Windows retries a refused connect()) and a listener now accepts it. The
        // RST ended that attempt, not this connection.
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
      me.ttl = p.ttl;
      me.synOptionLayout = p.synOptionLayout;
      me.synWindow = p.win;
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
      me.ttl = p.ttl;
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
    if ((flags & TH_RST) === 0 && seqDiff(end, me.nextSeq) > 0) me.nextSeq = end;
    seg.prevDataTime = me.lastDataTime;
    seg.prevDataFrame = me.lastDataFrame;
    seg.newData = carriesNewData(flags, len, seg.seqVsNext);
    if (seg.newData) {
      me.lastDataTime = time;
      me.lastDataFrame = frame;
      me.lastDataTtl = p.ttl;
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
    return this.finish(me, peer, p);
  }

  /** A segment the receiver would not act on: noted as such, no state changed. */
  private ignored(me: TcpEndpoint, peer: TcpEndpoint, p: DecodedPacket): TcpSegment {
    const seg = this.segment;
    me.ignoredCount++;
    if (p.tcpFlags & TH_RST && me.ignoredRstFrame === 0) me.ignoredRstFrame = seg.frame;
    if (p.tcpFlags & TH_FIN && me.ignoredFinFrame === 0) me.ignoredFinFrame = seg.frame;
    seg.nextSeqBefore = me.nextSeq;
    seg.seqVsNext = seqDiff(p.seq, me.nextSeq);
    seg.newData = false;
    seg.prevDataTime = me.lastDataTime;
    seg.prevDataFrame = me.lastDataFrame;
    if (p.tcpFlags & TH_SYN) {
      // A stray SYN's sequence number is its own ISN: relative 0, as Wireshark numbers every SYN.
      this.finish(me, peer, p);
      seg.relSeq = 0;
      return seg;
    }
    // Only the base of relative numbers, as for any first segment (Wireshark's too): no state.
    if (!me.baseKnown) {
      me.isn = (p.seq - 1) >>> 0;
      me.baseKnown = true;
    }
    if (p.tcpFlags & TH_ACK && !peer.baseKnown) {
      peer.isn = (p.ack - 1) >>> 0;
      peer.baseKnown = true;
    }
    return this.finish(me, peer, p);
  }

  /** The segment's numbers relative to the endpoints, after (or without) tracking it. */
  private finish(me: TcpEndpoint, peer: TcpEndpoint, p: DecodedPacket): TcpSegment {
    const seg = this.segment;
    seg.relSeq = (p.seq - me.isn) >>> 0;
    seg.relAck = p.tcpFlags & TH_ACK ? (p.ack - peer.isn) >>> 0 : 0;
    seg.winScaled = me.winScaled;
    seg.peerWin = peer.seen ? peer.winScaled : -1;
    seg.inFlight = peer.ackSeen ? Math.max(0, seqDiff(me.nextSeq, peer.lastAck)) : 0;
    return seg;
  }
}

/**
 * New data: payload starting at or beyond the sender's next byte, in a segment that is
 * neither a SYN (its data is the handshake's, Fast Open) nor a RST (whose sequence number
 * says nothing of data, RFC 9293 §3.10.7). Re-sent bytes, partly new or not, are not new
 * data: a write the program made earlier. Nagle's and small-segment rules time writes by it.
 */
function carriesNewData(flags: number, len: number, seqVsNext: number): boolean {
  return len > 0 && (flags & (TH_SYN | TH_RST)) === 0 && seqVsNext >= 0;
}

/**
 * A SYN no TCP stack writes: an acknowledgement number without the ACK flag (RFC 9293
 * §3.1: stacks send 0; packet crafters such as hping3 fill it at random) or SACK blocks,
 * which only acknowledge data and so never ride on a SYN (RFC 2018 §3).
 */
export function isCraftedSyn(p: DecodedPacket): boolean {
  return (p.tcpFlags & TH_ACK) === 0 && (p.ack !== 0 || p.sackCount > 0);
}

/**
 * A pure SYN with a foreign ISN on a flow whose attempt is still unanswered and which the
 * table kept in the flow (isNewIncarnation said no): it belongs to no connection. Only a
 * stack's SYN replaces a hand-made one as the attempt under way.
 */
function strayIsn(me: TcpEndpoint, peer: TcpEndpoint, p: DecodedPacket, crafted: boolean): boolean {
  if ((p.tcpFlags & (TH_SYN | TH_ACK | TH_RST)) !== TH_SYN || !me.synSeen || peer.synSeen) return false;
  if (seqDiff(p.seq, me.isn) === 0) return false;
  return crafted || !me.synCrafted;
}

/**
 * Whether the receiving stack would act on a RST or a first FIN (RFC 9293 §3.10.7.3–4,
 * RFC 5961 §3; Linux tcp_rcv_synsent_state_process and tcp_validate_incoming).
 * - The receiver is in SYN-SENT (it sent a SYN, nothing answered it): a RST counts only
 *   with ACK set and ack = its ISN + 1; a bare RST or one acknowledging anything else is
 *   dropped (RFC 9293 §3.10.7.3: blind resets of connection attempts).
 * - Later: the RST's sequence number, or some part of the FIN segment, must fall in the
 *   receiver's window: from what it last acknowledged, for what it last advertised. The
 *   capture point may see the receiver's numbers a little early or late, so the window is
 *   read generously: the sender's own next byte always counts, and without the handshake
 *   (scale unknown) the window is taken at the largest scale.
 * Once either side has reset, or for a FIN already sent, nothing is left to protect.
 */
function accepts(flow: Flow, me: TcpEndpoint, peer: TcpEndpoint, p: DecodedPacket): boolean {
  const flags = p.tcpFlags;
  if ((flags & (TH_RST | TH_FIN)) === 0 || flags & TH_SYN) return true;
  // A FIN without ACK: a receiver past LISTEN drops any segment whose ACK bit is off (RFC
  // 9293 §3.10.7.4, "fifth, check the ACK field"), and no stack sends one (zeek
  // tcp-fin_retransmission: a client's bare FIN while its SYN was unanswered).
  if ((flags & (TH_FIN | TH_ACK)) === TH_FIN) return false;
  if (me.rstFrame !== 0 || peer.rstFrame !== 0) return true;
  if (flags & TH_RST && inSynSent(peer, me)) return (flags & TH_ACK) !== 0 && seqDiff(p.ack, peer.isn) === 1;
  if (!peer.ackSeen) return true; // the receiver has acknowledged nothing: its window is unknown
  const lo = peer.lastAck;
  const win = Math.max(1, flow.wscaleKnown ? peer.winScaled : peer.win * MAX_WINDOW_MULTIPLIER);
  const start = seqDiff(p.seq, lo);
  if (flags & TH_RST) return (start >= 0 && start < win) || p.seq === me.nextSeq;
  if (me.finFrame !== 0) return true;
  // A FIN on the SYN's own sequence number (its data ending there): the receiver's ACK of
  // the SYN does not cover it, and no stack writes it (zeek tcp-fin_retransmission frame 4).
  if (me.synSeen && seqDiff((p.seq + p.payloadLen) >>> 0, me.isn) === 0) return false;
  // The FIN segment [seq, seq + len + 1) against [lo, lo + win): a FIN the receiver already
  // acknowledged is a re-send of one the capture missed, and counts.
  const end = seqDiff((p.seq + p.payloadLen + 1) >>> 0, lo);
  return end >= 0 && (start < win || p.seq === me.nextSeq);
}

/**
 * Whether `receiver` is in SYN-SENT as the wire shows it: it sent a SYN and no ACK (a
 * SYN-ACK's sender is in SYN-RECEIVED), and `sender` has not answered with a SYN.
 */
export function inSynSent(receiver: TcpEndpoint, sender: TcpEndpoint): boolean {
  return receiver.synSeen && !receiver.ackSeen && !sender.synSeen;
}

/** 2^14: the largest window scale (RFC 7323 §2.3), for windows whose scale the capture did not show. */
const MAX_WINDOW_MULTIPLIER = 16384;

/**
 * A pure SYN on a known 4-tuple starts a new connection when it carries a different ISN
 * and the old connection ended (a FIN or RST seen, even a RST the stack ignored: the
 * client that starts over took it), or got its SYN answered (its close was not captured),
 * or, caught without the sender's SYN, had its sender's numbers elsewhere: a stack's SYN
 * far from where the sender's bytes had reached is no part of that connection.
 * A retransmitted SYN carries the same ISN and stays in its flow. While an attempt is
 * still unanswered, a SYN with another ISN is a new connect() (a program that gave up and
 * bound the same port again) only when both SYNs come from a stack: hand-made SYNs with
 * random ISNs (a scan or a flood on the 4-tuple) stay in the flow, where the tracker
 * ignores them (`strayIsn`), and do not cut the real attempt into pieces.
 */
export function isNewIncarnation(flow: Flow, p: DecodedPacket): boolean {
  const fromClient = isFromClient(flow, p);
  const sender = flow.ep[fromClient ? DIR_CLIENT : DIR_SERVER]!,
    receiver = flow.ep[fromClient ? DIR_SERVER : DIR_CLIENT]!;
  if (sender.synSeen && seqDiff(p.seq, sender.isn) === 0) return false;
  const [c, s] = flow.ep;
  if (c.finFrame !== 0 || s.finFrame !== 0 || c.rstFrame !== 0 || s.rstFrame !== 0) return true;
  if (c.ignoredRstFrame !== 0 || s.ignoredRstFrame !== 0) return true;
  if (!sender.synSeen) return !isCraftedSyn(p) && !nearSendersNext(flow, sender, receiver, p.seq);
  if (receiver.synSeen) return true;
  return !sender.synCrafted && !isCraftedSyn(p);
}

/**
 * Whether a segment after a long quiet (table.ts, SPLIT_AFTER_QUIET_SEC) continues the flow's
 * numbers: its sequence number near where its sender had reached, its acknowledgement near
 * where the peer had. By then every retransmission timer has fired or given up, so a
 * segment of the same connection sits at the sender's next byte (new data, a FIN), one
 * below it (a keep-alive probe) or at most a window off (bytes the capture missed just
 * before the quiet); another connection's numbers fall anywhere in the 2^32 space. A number
 * with nothing to compare it to (a side not heard from, no ACK) counts as continuing: the
 * wire shows nothing against it.
 */
export function continuesAcrossGap(flow: Flow, p: DecodedPacket): boolean {
  const fromClient = isFromClient(flow, p);
  const sender = flow.ep[fromClient ? DIR_CLIENT : DIR_SERVER]!,
    receiver = flow.ep[fromClient ? DIR_SERVER : DIR_CLIENT]!;
  if (!nearSendersNext(flow, sender, receiver, p.seq)) return false;
  if ((p.tcpFlags & TH_ACK) === 0 || !receiver.seen) return true;
  return Math.abs(seqDiff(p.ack, receiver.nextSeq)) <= windowSlack(flow);
}

/**
 * `seq` lies within a window of the sender's next byte: as the sender's own segments
 * left it, else as the receiver last acknowledged it. True when neither is known.
 */
function nearSendersNext(flow: Flow, sender: TcpEndpoint, receiver: TcpEndpoint, seq: number): boolean {
  const next = sender.seen ? sender.nextSeq : receiver.ackSeen ? receiver.lastAck : -1;
  return next < 0 || Math.abs(seqDiff(seq, next)) <= windowSlack(flow);
}

/**
 * How far off a continuing number may be: the largest window either side advertised, at
 * least the largest unscaled one (64 KiB). A random number lands within it by chance
 * about once in 32 768 (64 KiB each way of 2^32).
 */
function windowSlack(flow: Flow): number {
  return Math.max(65535, flow.ep[0].winScaled, flow.ep[1].winScaled);
}
