/**
 * retransmission: a segment carries data (or a FIN) the sender had already sent. One
 * finding per sending side, with the re-sends counted by type:
 * - fast: re-sent right after the receiver signalled the hole with duplicate ACKs or SACK
 *   blocks (RFC 5681 §3.2, RFC 6675), without waiting for a timer;
 * - rto: re-sent after TIMER_MIN_SILENCE_SEC or more in which the sender sent nothing new
 *   and no ACK moved forward — a timer ran out (the retransmission timeout, RFC 6298, or
 *   Linux's tail-loss probe); re-sends right behind one keep its type (go-back-N);
 * - spurious: re-sent although the receiver had already acknowledged those bytes (the
 *   timer fired too early, or the ACK was on its way): pure waste, not loss;
 * - other: none of these (after an ICMP "fragmentation needed", or a trigger the capture
 *   does not show).
 *
 * Per-segment classification follows Wireshark's `tcp_analyze_sequence_number`
 * (packet-tcp.c), so the frames tagged are the frames tshark flags with
 * `tcp.analysis.retransmission` (which it sets for fast and spurious ones too):
 * - old data: the segment starts below the sender's next new byte (seqVsNext < 0); a
 *   segment of more than one byte starting exactly one below is new data after a
 *   one-byte zero-window probe (our tracker counts the probe byte as sent);
 * - keep-alive shaped segments (0–1 byte, one below the next byte) are probes, never
 *   retransmissions;
 * - spurious: any data segment ending at or below the receiver's last ACK;
 * - fast (tshark): ≥ 2 duplicate ACKs from the receiver, the segment starts at the
 *   acknowledged point, within 20 ms of the receiver's last segment;
 * - out-of-order, not a retransmission: old data sent within the handshake's round-trip
 *   time (3 ms without a handshake) of the sender's last new data, and not ending at its
 *   next byte — a capture artefact or reordering, not a re-send.
 * Deliberate differences:
 * - SYN and SYN-ACK retransmissions are not tagged here (tshark tags them): syn-retransmit
 *   and connect-timeout report them with their own explanation, icmp-unreachable those
 *   re-sent after an ICMP error. The exception is a SYN re-sent (same ISN) after the
 *   server refused it with a RST, which none of those covers: a stack that retries a
 *   refused connect() (Windows: twice, 0.5 s apart) before failing it; reported here.
 * - Capture duplicates: a segment identical to the same side's previous one (sequence,
 *   length, ACK, flags, window, timestamp value, SACK blocks), within
 *   CAPTURE_DUPLICATE_MAX_SEC and with nothing from the peer in between, is the same
 *   packet recorded twice (captured on several interfaces, a bridge and its ports, a
 *   mirror port), not a re-send: no TCP timer is that fast, and a fast retransmit needs
 *   the peer's duplicate ACKs first. tshark flags
 *   these as retransmissions; they are tagged here too, counted apart, and a finding made
 *   only of them is info. The same goes for a segment stamped earlier than one seen before
 *   it in the flow: the file merges or replays traffic (several pcapng sections, captures
 *   from several hosts), and timing says nothing about a re-send.
 * - The next new byte is tracked here without RST segments: an RST may carry any
 *   sequence number (an RST answering a stray ACK takes that ACK's number). The tracker's
 *   nextSeq (flow.ts) skips RSTs too now, so this copy could give way to
 *   `seg.nextSeqBefore`.
 * - The type in the summary is finer than tshark's, which has only fast, spurious and
 *   plain: a plain one sent within 20 ms of a duplicate ACK or an ACK with SACK blocks is
 *   counted as fast (SACK/RACK recovery), the rest as rto or other by the silence before.
 */
import { defineAnalyzer, type FindingSink } from "../analyzer.js";
import { keepFrame, NO_FRAMES, ms, roleOf } from "../lib/measure.js";
import { seqDiff } from "../../decode/flow/tcp-tracker.js";
import type { Flow } from "../../decode/flow/record.js";
import { TH_ACK, TH_FIN, TH_RST, TH_SYN } from "../../decode/wire/packet.js";

/** tshark's window for a fast retransmission after the receiver's last (duplicate) ACK. */
const FAST_RETRANSMIT_WINDOW_SEC = 0.02;
/** tshark's duplicate-ACK count for a fast retransmission (RFC 5681 uses 3; tshark 2). */
const FAST_RETRANSMIT_DUP_ACKS = 2;
/** tshark's out-of-order window when the handshake (and so the first RTT) is unknown. */
const OUT_OF_ORDER_DEFAULT_SEC = 0.003;
/**
 * A re-send after at least this much silence from both sides' useful traffic (no new data
 * sent, no ACK moving forward) was a timer's: Linux's shortest, the tail-loss probe, waits
 * at least 10 ms (its RTO at least 200 ms); half of that allows for where the capture sits.
 * Re-sends in quick succession after one continue the same recovery and keep its type.
 */
export const TIMER_MIN_SILENCE_SEC = 0.005;
/**
 * Copies of one packet recorded on several interfaces arrive µs to a few hundred µs apart;
 * no retransmission timer fires that soon (Linux: RTO ≥ 200 ms by default, tail-loss probe
 * ≥ 10 ms), so an identical segment within 2 ms with nothing from the peer in between is a
 * capture duplicate.
 */
export const CAPTURE_DUPLICATE_MAX_SEC = 0.002;

class Side {
  /** This side's ACK number and raw window in its previous segment (duplicate-ACK test). */
  prevAck = 0;
  prevWin = -1;
  /** Consecutive duplicate ACKs this side sent. */
  dupAcks = 0;
  /** This side's previous segment was keep-alive shaped (its answer is no duplicate ACK). */
  lastWasKeepAlive = false;
  /** This side's previous segment was a duplicate ACK or carried SACK blocks. */
  lastSignalledLoss = false;
  /** Type of this side's previous segment if it was a re-send (a recovery burst continues it), else 0. */
  lastResend = 0;
  /** Time this side's ACK number last moved forward (the peer's retransmission timer restarts then). */
  ackAdvanceTime = -1;
  /** Time this side last advanced its next sequence number (tshark's nextseqtime). */
  nextSeqTime = 0;
  /** Time of this side's previous segment, and its header fields (capture-duplicate test). */
  prevTime = -1;
  prevSeq = 0;
  prevLen = -1;
  prevFlags = 0;
  prevTsVal = -1;
  prevSackCount = 0;
  prevSackRight = 0;
  /** The peer sent something since this side's previous segment. */
  peerSince = false;
  /** Next new byte (raw), advanced by data, SYN and FIN but not by RST; `nextKnown` once set. */
  next = 0;
  nextKnown = false;
  // As a sender: what it re-sent.
  frames: readonly number[] = NO_FRAMES;
  rto = 0;
  fast = 0;
  spurious = 0;
  other = 0;
  duplicates = 0;
  /** SYNs re-sent after the peer refused them with a RST. */
  refusedSynRetries = 0;
  bytes = 0;
  firstTime = 0;
  /** Longest silence before a timeout retransmission: the timer that fired. */
  rtoMaxWait = 0;
}

class State {
  readonly sides: [Side, Side] = [new Side(), new Side()];
  /** Most recent pure SYN and the first RTT (SYN to the first pure ACK), as tshark. */
  synTime = -1;
  firstRtt = -1;
  /** Latest capture time seen in the flow: a segment stamped earlier was merged or replayed. */
  maxTime = -Infinity;
}

const analyzer = defineAnalyzer<State>({
  id: "retransmission",
  title: "Data sent again: lost, or thought to be lost",
  severity: "warning",
  family: "tcp-transfer",
  wire: "A segment re-sends bytes already sent: after duplicate ACKs (fast), after silence (timeout), or after they were already acknowledged (spurious).",
  explanation:
    "The sending kernel sent these bytes again because it believed they were lost: the receiver's duplicate ACKs or " +
    "SACK blocks reported a hole (fast retransmit), or no acknowledgement came before the retransmission timer ran out " +
    "(at least 200 ms on Linux, doubling on each retry). The program did nothing to cause it and sees no error: " +
    "write() and read() just take longer, by about one round trip for a fast retransmission and by the whole timeout " +
    "for a timer-driven one, which is how a request that normally takes a millisecond can take 200 ms or more. " +
    "Common causes: a congested or lossy path (Wi-Fi, an overloaded link, a policer), a middlebox dropping packets, " +
    "or a receiver too busy to acknowledge; spurious retransmissions mean the sender's timer was too eager or ACKs were " +
    "delayed or lost. A few in a long transfer are normal. Many timeouts for small request/response traffic are " +
    "worth chasing on the network side; a program cannot tune them away, though it can avoid making the problem " +
    "worse (one write per message, no unbounded retries on top of TCP's own).",
  references: ["000 §2.8"],
  createState: () => new State(),
  onTcpSegment(s, flow, seg, p, out) {
    const flags = seg.flags;
    const me = s.sides[seg.dir]!,
      peerSide = s.sides[1 - seg.dir]!;
    const peer = flow.ep[1 - seg.dir]!;
    const len = seg.len;
    if (flags & TH_SYN) {
      if ((flags & TH_ACK) === 0) {
        s.synTime = seg.time;
        // The same connect() retried after the peer's RST refused it (the tracker keeps the first SYN's frame).
        const mine = flow.ep[seg.dir]!;
        if (peer.rstFrame !== 0 && !peer.synSeen && seg.frame !== mine.synFrame && seg.seq === mine.isn) {
          if (me.rto + me.fast + me.spurious + me.other + me.duplicates + me.refusedSynRetries === 0)
            me.firstTime = seg.time;
          me.refusedSynRetries++;
          me.frames = keepFrame(me.frames, seg.frame, out.frameCap);
        }
      }
    } else if (s.firstRtt < 0 && s.synTime >= 0 && (flags & TH_ACK) !== 0) {
      s.firstRtt = seg.time - s.synTime;
    }
    // Position against this side's next new byte, RSTs left out (see the module comment).
    if (!me.nextKnown || ((flags & TH_SYN) !== 0 && seg.nextSeqBefore === seg.seq)) {
      // First segment of this side, or a SYN with a new ISN (the tracker restarted the numbering).
      me.next = seg.nextSeqBefore;
      me.nextKnown = true;
    }
    const seqVsNext = seqDiff(seg.seq, me.next);
    const nextBefore = me.next;
    // Keep-alive shaped (tshark's rule): 0 or 1 byte starting one below the next byte.
    const keepAliveShaped = len <= 1 && seqVsNext === -1 && (flags & (TH_SYN | TH_FIN | TH_RST)) === 0;
    const duplicate =
      me.prevLen === len &&
      me.prevSeq === seg.seq &&
      me.prevFlags === flags &&
      me.prevAck === p.ack &&
      me.prevWin === p.win &&
      me.prevTsVal === p.optTsVal &&
      me.prevSackCount === p.sackCount &&
      (p.sackCount === 0 || me.prevSackRight === p.sack[1]) &&
      !me.peerSince &&
      seg.time - me.prevTime <= CAPTURE_DUPLICATE_MAX_SEC;
    // Duplicate ACK (tshark's rule): nothing new, same ACK and window as before, window open;
    // a capture duplicate of an ACK is not a second ACK.
    let dupAck = false;
    if (
      !duplicate &&
      len === 0 &&
      (flags & (TH_SYN | TH_FIN | TH_RST)) === 0 &&
      seqVsNext === 0 &&
      me.prevWin >= 0 &&
      p.win !== 0 &&
      p.win === me.prevWin &&
      p.ack === me.prevAck &&
      !peerSide.lastWasKeepAlive
    ) {
      me.dupAcks++;
      dupAck = true;
    }
    if (p.ack !== me.prevAck) me.dupAcks = 0;

    let resend = 0; // this segment's retransmission type (1 rto, 2 fast, 3 spurious, 5 other), 0 if none
    if ((len > 0 || (flags & TH_FIN) !== 0) && (flags & (TH_SYN | TH_RST)) === 0 && !keepAliveShaped) {
      const seqEnd = (seg.seq + len) >>> 0;
      const oldData = seqVsNext < 0 && !(len > 1 && seqVsNext === -1);
      let kind = 0; // 0 none, 1 rto, 2 fast, 3 spurious, 4 capture duplicate, 5 other
      if (len > 0 && peer.ackSeen && seqDiff(seqEnd, peer.lastAck) <= 0) {
        kind = 3;
      } else if (oldData) {
        const sinceReceiver = seg.time - peer.lastTime;
        if (
          peerSide.dupAcks >= FAST_RETRANSMIT_DUP_ACKS &&
          peer.lastAck === seg.seq &&
          sinceReceiver < FAST_RETRANSMIT_WINDOW_SEC
        ) {
          kind = 2;
        } else {
          const oooWindow = s.firstRtt > 0 ? s.firstRtt : OUT_OF_ORDER_DEFAULT_SEC;
          const endsAtNext = seqDiff((seqEnd + ((flags & TH_FIN) !== 0 ? 1 : 0)) >>> 0, nextBefore) === 0;
          const sinceNew = seg.time - me.nextSeqTime;
          if (sinceNew >= 0 && sinceNew < oooWindow && !endsAtNext) {
            kind = 0; // out of order: not a re-send
          } else {
            const quietSince = Math.max(me.prevTime, peerSide.ackAdvanceTime);
            const silence = quietSince >= 0 ? seg.time - quietSince : 0;
            if (peerSide.lastSignalledLoss && sinceReceiver < FAST_RETRANSMIT_WINDOW_SEC) kind = 2;
            else if (me.lastResend !== 0 && seg.time - me.prevTime < TIMER_MIN_SILENCE_SEC) kind = me.lastResend;
            else if (silence >= TIMER_MIN_SILENCE_SEC) kind = 1;
            else kind = 5;
          }
        }
      }
      // A capture duplicate, or a segment stamped earlier than one before it in the flow (the
      // capture replays or merges traffic), is tagged where tshark tags it but never counted
      // as a re-send.
      if (kind !== 0 && (duplicate || seg.time < s.maxTime)) kind = 4;
      if (kind !== 4) resend = kind;
      if (kind !== 0) {
        if (me.rto + me.fast + me.spurious + me.other + me.duplicates === 0) me.firstTime = seg.time;
        if (kind === 4) me.duplicates++;
        else if (kind === 1) {
          me.rto++;
          const quietSince = Math.max(me.prevTime, peerSide.ackAdvanceTime);
          const waited = quietSince >= 0 ? seg.time - quietSince : 0;
          if (waited > me.rtoMaxWait) me.rtoMaxWait = waited;
        } else if (kind === 2) me.fast++;
        else if (kind === 3) me.spurious++;
        else me.other++;
        if (kind !== 4) me.bytes += len;
        me.frames = keepFrame(me.frames, seg.frame, out.frameCap);
      }
    }
    if ((flags & TH_RST) === 0) {
      const end = (seg.seq + len + ((flags & TH_SYN) !== 0 ? 1 : 0) + ((flags & TH_FIN) !== 0 ? 1 : 0)) >>> 0;
      if (seqDiff(end, me.next) > 0) me.next = end;
      if (seqDiff(end, nextBefore) > 0 || me.prevTime < 0) me.nextSeqTime = seg.time;
    }
    me.lastResend = resend;
    if ((flags & TH_ACK) !== 0 && (me.prevWin < 0 || seqDiff(p.ack, me.prevAck) > 0)) me.ackAdvanceTime = seg.time;
    me.prevSeq = seg.seq;
    me.prevLen = len;
    me.prevFlags = flags;
    me.prevTsVal = p.optTsVal;
    me.prevSackCount = p.sackCount;
    me.prevSackRight = p.sackCount > 0 ? p.sack[1]! : 0;
    me.peerSince = false;
    peerSide.peerSince = true;
    me.prevAck = p.ack;
    me.prevWin = p.win;
    me.lastWasKeepAlive = keepAliveShaped;
    me.lastSignalledLoss = dupAck || p.sackCount > 0;
    me.prevTime = seg.time;
    if (seg.time > s.maxTime) s.maxTime = seg.time;
  },
  onFlowEnd(s, flow, out) {
    for (let dir = 0; dir < 2; dir++) reportSide(flow, dir, s.sides[dir]!, out);
  },
});

function reportSide(flow: Flow, dir: number, d: Side, out: FindingSink): void {
  const resent = d.rto + d.fast + d.spurious + d.other;
  const total = resent + d.duplicates + d.refusedSynRetries;
  if (total === 0) return;
  const who = roleOf(dir),
    peer = roleOf(1 - dir);
  const refused =
    d.refusedSynRetries === 0
      ? ""
      : `re-sent its SYN ${d.refusedSynRetries} time(s) after the ${peer}'s RST (frame ${flow.ep[1 - dir]!.rstFrame}) ` +
        "refused it, with the same initial sequence number: its stack retries a refused connect() before failing it " +
        "with ECONNREFUSED (Windows does, twice, 0.5 s apart), so the refusal reached the program that much later " +
        "(see connection-refused)";
  if (refused !== "" && total === d.refusedSynRetries) {
    out.report(analyzer, {
      flow,
      dir,
      frames: d.frames,
      count: total,
      time: d.firstTime,
      summary: `the ${who} ${refused}`,
      measure: { retransmissions: 0, refusedSynRetries: d.refusedSynRetries },
    });
    return;
  }
  const dups =
    `${d.duplicates} segment(s) that the capture holds more than once (the same packet recorded on ` +
    `several interfaces within ${ms(CAPTURE_DUPLICATE_MAX_SEC)} ms, or earlier packets replayed with older timestamps): ` +
    "TCP did not re-send them";
  if (resent === 0) {
    out.report(analyzer, {
      flow,
      dir,
      frames: d.frames,
      count: total,
      time: d.firstTime,
      severity: refused !== "" ? undefined : "info",
      summary: `no retransmission by the ${who}, but ${dups}` + (refused !== "" ? `; it ${refused}` : ""),
      measure: { retransmissions: 0, rto: 0, fast: 0, spurious: 0, other: 0, duplicates: d.duplicates, bytes: 0 },
    });
    return;
  }
  const parts: string[] = [];
  if (d.rto > 0) parts.push(`${d.rto} after a timeout (longest wait ${ms(d.rtoMaxWait)} ms)`);
  if (d.fast > 0) parts.push(`${d.fast} fast (after duplicate ACKs/SACK)`);
  if (d.spurious > 0) parts.push(`${d.spurious} spurious (already acknowledged)`);
  if (d.other > 0) {
    parts.push(
      `${d.other} with neither a timeout nor duplicate ACKs before ` +
        (flow.icmpErrors > 0
          ? "(an ICMP error came: likely re-sent in smaller pieces after the path MTU shrank)"
          : "(the trigger is not in the capture)"),
    );
  }
  const sent = flow.ep[dir]!.packets;
  const summary =
    `the ${who} re-sent ${resent} segment(s) to the ${peer} (${d.bytes} bytes): ${parts.join(", ")}` +
    (sent > 0
      ? `; ${resent / sent < 0.001 ? "under 0.1" : Math.round((resent / sent) * 1000) / 10}% of its ${sent} segments`
      : "") +
    (d.duplicates > 0 ? `; besides, ${dups}` : "") +
    (refused !== "" ? `; it also ${refused}` : "");
  out.report(analyzer, {
    flow,
    dir,
    frames: d.frames,
    count: total,
    time: d.firstTime,
    summary,
    measure: {
      retransmissions: resent,
      rto: d.rto,
      fast: d.fast,
      spurious: d.spurious,
      other: d.other,
      duplicates: d.duplicates,
      bytes: d.bytes,
      rtoMaxWaitMs: ms(d.rtoMaxWait),
      segmentsSent: sent,
    },
  });
}
export default analyzer;
