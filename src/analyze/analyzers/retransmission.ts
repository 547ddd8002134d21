/**
 * retransmission: a segment carries data (or a FIN) the sender had already sent. One
 * finding per sending side, with the re-sends counted by type. Which segment is a re-send,
 * and of which type, is a per-segment fact (TcpSegment.resend, decode/flow/segment-facts.ts,
 * after Wireshark's `tcp_analyze_sequence_number`, so the frames tagged are those tshark
 * flags `tcp.analysis.retransmission`):
 * - fast: re-sent right after the receiver signalled the hole with duplicate ACKs or SACK
 *   blocks (RFC 5681 §3.2, RFC 6675), without waiting for a timer;
 * - rto: re-sent after TIMER_MIN_SILENCE_SEC (segment-facts.ts) or more in which the sender sent nothing new
 *   and no ACK moved forward — a timer ran out (the retransmission timeout, RFC 6298, or
 *   Linux's tail-loss probe); re-sends right behind one keep its type (go-back-N);
 * - spurious: re-sent although the receiver had already acknowledged those bytes (the
 *   timer fired too early, or the ACK was on its way): pure waste, not loss;
 * - other: none of these (after an ICMP "fragmentation needed", or a trigger the capture
 *   does not show).
 * A re-send the receiver then reports in a D-SACK block (RFC 2883: a SACK block below its
 * cumulative ACK, or inside its second block) had arrived twice: the original was there,
 * only its ACK was lost or late (a tail-loss probe or a timer firing early). It is moved
 * from its type to `needless`, and a side whose re-sends were all needless is info.
 * Deliberate differences from tshark:
 * - SYN and SYN-ACK retransmissions are not tagged here (tshark tags them): syn-retransmit
 *   and connect-timeout report them with their own explanation, icmp-unreachable those
 *   re-sent after an ICMP error. The exception is a SYN re-sent (same ISN) after the
 *   server refused it with a RST, which none of those covers: a stack that retries a
 *   refused connect() (Windows: twice, 0.5 s apart) before failing it; reported here.
 * - Capture copies (TcpSegment.captureCopy: the same packet recorded twice) and segments
 *   stamped earlier than one before them (a merged or replayed file) are tagged where
 *   tshark tags them, counted apart, and a finding made only of them is info.
 * - A FIN that a BSD stack repeats on each ACK while its FIN is unacknowledged
 *   (RESEND_FIN_REPEAT) is neither tagged nor counted: it answers the peer, no byte was lost.
 * - The type in the summary is finer than tshark's, which has only fast, spurious and
 *   plain: a plain one sent within 20 ms of a duplicate ACK or an ACK with SACK blocks is
 *   counted as fast (SACK/RACK recovery), the rest as rto or other by the silence before.
 */
import { sideNotCaptured } from "../lib/capture-view.js";
import { refusedSynRetryCause } from "../lib/stack-profile.js";
import { stackOf } from "../lib/side-stack.js";
import { defineAnalyzer, type FindingSink } from "../analyzer.js";
import { keepFrame, NO_FRAMES, ms, roleOf } from "../lib/measure.js";
import {
  COPY_NO_ID_MAX_SEC,
  COPY_SAME_ID_MAX_SEC,
  RESEND_FAST,
  RESEND_FIN_REPEAT,
  RESEND_NONE,
  RESEND_OUT_OF_TIME_ORDER,
  RESEND_SPURIOUS,
  RESEND_TIMEOUT,
} from "../../decode/flow/segment-facts.js";
import type { Flow } from "../../decode/flow/record.js";
import { seqDiff } from "../../decode/flow/tcp-tracker.js";
import { type DecodedPacket, TH_ACK, TH_SYN } from "../../decode/wire/packet.js";

/** What one side re-sent. */
class Side {
  frames: readonly number[] = NO_FRAMES;
  rto = 0;
  fast = 0;
  spurious = 0;
  other = 0;
  /** Capture copies and replayed segments of data or a FIN: tagged where tshark tags them, not re-sends. */
  duplicates = 0;
  /** SYNs re-sent after the peer refused them with a RST, and that RST (kept: a later SYN-ACK clears the tracker's). */
  refusedSynRetries = 0;
  refusingRstFrame = 0;
  bytes = 0;
  firstTime = 0;
  /** Longest silence before a timeout retransmission: the timer that fired. */
  rtoMaxWait = 0;
  /** Re-sends a D-SACK from the peer showed it already had, and the first such ACK. */
  needless = 0;
  dsackFrame = 0;
  /** The latest re-sends, for a D-SACK to name: [seq, end, type] triples, a small ring. */
  recent: number[] | null = null;
  recentNext = 0;
}

/** Re-sends remembered per side for a D-SACK to match: a D-SACK follows its re-send within a round trip. */
const RECENT_RESENDS = 8;

/** Remembers a counted re-send of bytes [seq, end) of `type` (RESEND_TIMEOUT, RESEND_FAST or other). */
function remember(me: Side, seq: number, end: number, type: number): void {
  if (me.recent === null) me.recent = [];
  const at = (me.recentNext++ % RECENT_RESENDS) * 3;
  me.recent[at] = seq;
  me.recent[at + 1] = end;
  me.recent[at + 2] = type;
}

/**
 * The first SACK block of a segment, when it is a D-SACK (RFC 2883 §4): below the
 * cumulative ACK, or inside the second block. Null otherwise.
 */
function dsackBlock(p: DecodedPacket, ack: number): [number, number] | null {
  if (p.sackCount === 0) return null;
  const left = p.sack[0]!,
    right = p.sack[1]!;
  if (seqDiff(right, ack) <= 0) return [left, right];
  if (p.sackCount >= 2 && seqDiff(left, p.sack[2]!) >= 0 && seqDiff(right, p.sack[3]!) <= 0) return [left, right];
  return null;
}

/** A D-SACK for [left, right): the sender's remembered re-send it covers becomes needless. */
function needlessResend(me: Side, left: number, right: number, frame: number): void {
  const r = me.recent;
  if (r === null) return;
  for (let i = 0; i < r.length; i += 3) {
    const type = r[i + 2]!;
    if (type === RESEND_NONE || seqDiff(r[i]!, left) < 0 || seqDiff(r[i + 1]!, right) > 0) continue;
    if (type === RESEND_TIMEOUT) me.rto--;
    else if (type === RESEND_FAST) me.fast--;
    else me.other--;
    me.needless++;
    if (me.dsackFrame === 0) me.dsackFrame = frame;
    r[i + 2] = RESEND_NONE; // one D-SACK, one re-send
    return;
  }
}

class State {
  readonly sides: [Side, Side] = [new Side(), new Side()];
}

function tagged(me: Side, frame: number, time: number, cap: number): void {
  if (me.rto + me.fast + me.spurious + me.other + me.needless + me.duplicates + me.refusedSynRetries === 0)
    me.firstTime = time;
  me.frames = keepFrame(me.frames, frame, cap);
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
  seesCaptureCopies: true,
  onTcpSegment(s, flow, seg, p, out) {
    const flags = seg.flags;
    const me = s.sides[seg.dir]!;
    if (p.sackCount > 0 && flags & TH_ACK && !seg.captureCopy) {
      const block = dsackBlock(p, seg.ack);
      if (block !== null) needlessResend(s.sides[1 - seg.dir]!, block[0], block[1], seg.frame);
    }
    if (seg.captureCopy) {
      // A copy tshark flags as a retransmission (its `resend`): tagged, and said apart.
      if (seg.resend !== RESEND_NONE && seg.resend !== RESEND_FIN_REPEAT) {
        tagged(me, seg.frame, seg.time, out.frameCap);
        me.duplicates++;
      }
      return;
    }
    if ((flags & (TH_SYN | TH_ACK)) === TH_SYN) {
      // The same connect() retried after the peer's RST refused it (the tracker keeps the first SYN's frame).
      const mine = flow.ep[seg.dir]!,
        peer = flow.ep[1 - seg.dir]!;
      if (peer.rstFrame !== 0 && !peer.synSeen && seg.frame !== mine.synFrame && seg.seq === mine.isn) {
        tagged(me, seg.frame, seg.time, out.frameCap);
        me.refusedSynRetries++;
        if (me.refusingRstFrame === 0) me.refusingRstFrame = peer.rstFrame;
      }
      return;
    }
    const resend = seg.resend;
    // A BSD FIN repeated on an ACK is neither counted nor tagged: no byte was lost.
    if (resend === RESEND_NONE || resend === RESEND_FIN_REPEAT) return;
    tagged(me, seg.frame, seg.time, out.frameCap);
    if (resend === RESEND_OUT_OF_TIME_ORDER) {
      me.duplicates++;
      return;
    }
    if (resend === RESEND_TIMEOUT) {
      me.rto++;
      if (seg.resendWait > me.rtoMaxWait) me.rtoMaxWait = seg.resendWait;
    } else if (resend === RESEND_FAST) me.fast++;
    else if (resend === RESEND_SPURIOUS) me.spurious++;
    else me.other++;
    if (resend !== RESEND_SPURIOUS && seg.len > 0) remember(me, seg.seq, (seg.seq + seg.len) >>> 0, resend);
    me.bytes += seg.len;
  },
  onFlowEnd(s, flow, out) {
    for (let dir = 0; dir < 2; dir++) reportSide(flow, dir, s.sides[dir]!, out);
  },
});

function reportSide(flow: Flow, dir: number, d: Side, out: FindingSink): void {
  const resent = d.rto + d.fast + d.spurious + d.other + d.needless;
  const total = resent + d.duplicates + d.refusedSynRetries;
  if (total === 0) return;
  const who = roleOf(dir),
    peer = roleOf(1 - dir);
  const refused =
    d.refusedSynRetries === 0
      ? ""
      : `re-sent its SYN ${d.refusedSynRetries} time(s) after the ${peer}'s RST (frame ${d.refusingRstFrame}) ` +
        `refused it, with the same initial sequence number: ${refusedSynRetryCause(stackOf(flow, dir, out.capture))}, ` +
        // A SYN-ACK to a re-sent SYN: connect() succeeded after all.
        (flow.ep[1 - dir]!.synSeen
          ? `and the ${peer} then accepted it, so connect() succeeded that much later (see connection-refused)`
          : "so the refusal reached the program that much later (see connection-refused)");
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
    `${d.duplicates} segment(s) that the capture holds more than once (the same packet recorded at several points: ` +
    `the same IP identification within ${ms(COPY_SAME_ID_MAX_SEC)} ms, or without one an identical segment within ` +
    `${ms(COPY_NO_ID_MAX_SEC)} ms; or earlier packets replayed with older timestamps, or recorded again after a ` +
    "clock jump, in captures stitched together): " +
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
  // Without the peer's direction its ACKs cannot say why bytes were sent again; only the
  // sender's own silences can: re-sends after one (its timer's, backing off) show that no
  // acknowledgement reached it in time, though not where the data or the ACKs were lost.
  if (sideNotCaptured(flow, 1 - dir)) {
    const why =
      d.rto > 0
        ? `${d.rto} of them after a silence of the ${who}'s own (its retransmission timer; longest wait ` +
          `${ms(d.rtoMaxWait)} ms): no acknowledgement reached it in time; the capture holds no packet from the ${peer} ` +
          `though the ${who}'s segments acknowledge it (that direction was not captured: a one-way mirror or a capture ` +
          "filter), so whether the data or the ACKs were lost cannot be told"
        : `but the capture holds no packet from the ${peer} at all though the ${who}'s segments acknowledge it: that ` +
          "direction was not captured (a one-way mirror or a capture filter), so whether these were re-sent after a " +
          "loss, and why, cannot be told";
    out.report(analyzer, {
      flow,
      dir,
      frames: d.frames,
      count: total,
      time: d.firstTime,
      severity: d.rto > 0 ? undefined : "info",
      summary:
        `the ${who} sent ${resent} segment(s) again (${d.bytes} bytes), ${why}` +
        (d.duplicates > 0 ? `; besides, ${dups}` : ""),
      measure: { ...resendMeasure(d, resent), rtoMaxWaitMs: ms(d.rtoMaxWait) },
    });
    return;
  }
  const parts: string[] = [];
  if (d.rto > 0) parts.push(`${d.rto} after a timeout (longest wait ${ms(d.rtoMaxWait)} ms)`);
  if (d.fast > 0) parts.push(`${d.fast} fast (after duplicate ACKs/SACK)`);
  if (d.spurious > 0) parts.push(`${d.spurious} spurious (already acknowledged)`);
  if (d.needless > 0)
    parts.push(
      `${d.needless} needless: the ${peer}'s D-SACK (frame ${d.dsackFrame}) says it already had those bytes ` +
        "(the original had arrived; only its acknowledgement was lost or late: the receiving program was not kept waiting)",
    );
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
    // Re-sends the receiver already had cost the programs nothing.
    severity: d.needless === resent && refused === "" ? "info" : undefined,
    summary,
    measure: { ...resendMeasure(d, resent), rtoMaxWaitMs: ms(d.rtoMaxWait), segmentsSent: sent },
  });
}
/** The re-sends of one side by type, as every finding with re-sends gives them. */
function resendMeasure(d: Side, resent: number): Record<string, number> {
  return {
    retransmissions: resent,
    rto: d.rto,
    fast: d.fast,
    spurious: d.spurious,
    other: d.other,
    needless: d.needless,
    duplicates: d.duplicates,
    bytes: d.bytes,
  };
}
export default analyzer;
