/**
 * nagle-delay: a small write is held by Nagle's algorithm (RFC 896; RFC 1122 §4.2.3.4)
 * because earlier small data is still unacknowledged, and the receiver — with nothing to
 * send back — acknowledges only when its delayed-ACK timer fires (RFC 1122 §4.2.3.2;
 * ~40 ms on Linux, up to 200 ms elsewhere). The classic write-write-read pattern.
 *
 * The hold itself is invisible on the wire; its release is not. One occurrence is:
 *   D  the sender's new data, less than a full segment, while nothing else is in flight;
 *   P  the receiver's bare ACK (no data, no SYN/FIN/RST) that acknowledges everything the
 *      sender had sent — less than one MSS of it, the amount a receiver delays its ACK
 *      for — arriving NAGLE_MIN_STALL_SEC or more after D, beyond the handshake's round
 *      trip (an ACK one round trip after the data is an immediate one), with no data from the
 *      receiver in between (the sender was not answering anything);
 *   S  the sender's next segment, new data smaller than the MSS, leaving within
 *      NAGLE_RELEASE_MAX_SEC of P, that the receiver's window could already have taken
 *      before P (so the window did not hold it).
 * Cost per occurrence: S − D, the time the second write waited (the write happened just
 * after D in the write-write pattern, so this is its latency upper bound, and about one
 * delayed-ACK period). Findings need NAGLE_MIN_EVENTS occurrences. The side is the
 * sender: its program made the small writes.
 *
 * Benign look-alikes kept out: a request/response protocol with one write per message
 * (the response carries the ACK, so there is no bare ACK followed at once by new data);
 * bulk transfers (the ACK acknowledges whole segments, and what follows is full-sized);
 * a sender limited by the window (S would not have fitted before P). No Wireshark equivalent.
 */
import { defineAnalyzer, type FindingSink } from "../analyzer.js";
import { keepFrame, NO_FRAMES, ms, roleOf } from "../lib/measure.js";
import { seqDiff } from "../../decode/flow/tcp-tracker.js";
import { handshakeRtt } from "../../decode/flow/segment-facts.js";
import type { Flow } from "../../decode/flow/record.js";
import { TH_ACK, TH_FIN, TH_RST, TH_SYN } from "../../decode/wire/packet.js";

/**
 * An ACK that comes this long after the data counts as delayed: half the shortest common
 * delayed-ACK timer (Linux's 40 ms), far above an immediate ACK on a LAN or loopback.
 */
export const NAGLE_MIN_STALL_SEC = 0.02;
/**
 * The held segment leaves as soon as the ACK arrives (the kernel sends it while processing
 * the ACK: microseconds where the sender is captured); 5 ms also allows a capture taken
 * one short round trip away. Later than that, the program wrote anew.
 */
export const NAGLE_RELEASE_MAX_SEC = 0.005;
/** Occurrences needed for a finding: one could be a write that happened to follow an ACK. */
export const NAGLE_MIN_EVENTS = 2;
/** MSS to assume when the handshake (and its MSS option) was not captured: Ethernet's. */
const DEFAULT_MSS = 1460;

class Sender {
  /** The receiver sent data after D: what this side sends next may be an answer. */
  peerDataSince = false;
  /** Candidate release ACK (P), 0 if none. */
  releaseFrame = 0;
  releaseTime = 0;
  /** Right edge of the receiver's window before P: S must fit under it. */
  edgeBeforeRelease = 0;
  /** The receiver's previous ACK and window edge (raw), to see what P acknowledged. */
  peerAck = 0;
  peerEdge = 0;
  peerSeen = false;
  events = 0;
  stallTotal = 0;
  stallMax = 0;
  firstTime = 0;
  frames: readonly number[] = NO_FRAMES;
}

class State {
  readonly senders: [Sender, Sender] = [new Sender(), new Sender()];
}

const analyzer = defineAnalyzer<State>({
  id: "nagle-delay",
  title: "Small writes held by Nagle's algorithm until a delayed ACK",
  severity: "warning",
  family: "tcp-transfer",
  wire: "A small segment is held while earlier small data is unacknowledged and leaves only when the receiver's (delayed) ACK arrives.",
  explanation:
    "The program wrote one message in several small write()/send() calls (say a header, then a body) on a socket " +
    "without TCP_NODELAY. Nagle's algorithm lets the first small piece go at once but holds the next one until the " +
    "first is acknowledged. The receiver cannot answer before it has the whole message, so it has nothing to carry " +
    "its ACK on and waits for its delayed-ACK timer (about 40 ms on Linux, up to 200 ms on other systems). Every " +
    "such request then takes one delayed-ACK period longer; no call fails, the program only sees latency. Build the " +
    "whole message in a buffer and write it once, or use writev()/sendmsg() for the pieces; on Linux, MSG_MORE or " +
    'TCP_CORK say "more is coming" and uncorking sends it. Setting TCP_NODELAY also removes the wait, at the price ' +
    "of one packet per write (see small-segments).",
  references: ["000 §2.11", "000 §2.16", "000 §2.17"],
  createState: () => new State(),
  onTcpSegment(s, flow, seg, p, out) {
    const flags = seg.flags;
    const me = s.senders[seg.dir]!;
    const other = s.senders[1 - seg.dir]!;
    // This segment as the receiver's side of the other direction.
    if ((flags & (TH_SYN | TH_RST)) === 0 && (flags & TH_ACK) !== 0) {
      // The other side's endpoint: its last new data (D) is as it was, this segment being the receiver's.
      const sender = flow.ep[1 - seg.dir]!;
      const edge = (p.ack + seg.winScaled) >>> 0;
      other.releaseFrame = 0;
      if (seg.len > 0 || (flags & TH_FIN) !== 0) {
        other.peerDataSince = true;
      } else if (other.peerSeen && sender.lastDataTime >= 0 && !other.peerDataSince) {
        const acked = seqDiff(p.ack, other.peerAck);
        const mss = flow.ep[seg.dir]!.mss > 0 ? flow.ep[seg.dir]!.mss : DEFAULT_MSS;
        if (
          acked > 0 &&
          acked < mss &&
          seqDiff(p.ack, sender.nextSeq) === 0 &&
          seg.time - sender.lastDataTime >= NAGLE_MIN_STALL_SEC + Math.max(0, handshakeRtt(flow))
        ) {
          other.releaseFrame = seg.frame;
          other.releaseTime = seg.time;
          other.edgeBeforeRelease = other.peerEdge;
        }
      }
      other.peerAck = p.ack;
      other.peerEdge = edge;
      other.peerSeen = true;
    }
    if ((flags & (TH_SYN | TH_RST)) !== 0 || seg.len === 0) {
      if (seg.len === 0 && (flags & (TH_SYN | TH_FIN | TH_RST)) === 0) return; // a bare ACK keeps a pending release
      me.releaseFrame = 0;
      return;
    }
    if (!seg.newData) {
      me.releaseFrame = 0;
      return;
    } // old data: not a held write
    if (me.releaseFrame !== 0) {
      // D is this side's new data before S (the tracker has already taken S as the latest).
      const dTime = seg.prevDataTime;
      const mss = flow.ep[1 - seg.dir]!.mss > 0 ? flow.ep[1 - seg.dir]!.mss : DEFAULT_MSS;
      const end = (seg.seq + seg.len) >>> 0;
      if (
        seg.len < mss &&
        seg.time - me.releaseTime <= NAGLE_RELEASE_MAX_SEC &&
        seqDiff(end, me.edgeBeforeRelease) <= 0
      ) {
        const stall = seg.time - dTime;
        if (me.events === 0) me.firstTime = dTime;
        me.events++;
        me.stallTotal += stall;
        if (stall > me.stallMax) me.stallMax = stall;
        me.frames = keepFrame(me.frames, seg.prevDataFrame, out.frameCap);
        me.frames = keepFrame(me.frames, me.releaseFrame, out.frameCap);
        me.frames = keepFrame(me.frames, seg.frame, out.frameCap);
      }
      me.releaseFrame = 0;
    }
    me.peerDataSince = false;
  },
  onFlowEnd(s, flow, out) {
    for (let dir = 0; dir < 2; dir++) reportSender(flow, dir, s.senders[dir]!, out);
  },
});

function reportSender(flow: Flow, dir: number, d: Sender, out: FindingSink): void {
  if (d.events < NAGLE_MIN_EVENTS) return;
  const who = roleOf(dir),
    peer = roleOf(1 - dir);
  const avg = d.stallTotal / d.events;
  const summary =
    `${d.events} times a small write by the ${who} was held back until the ${peer}'s delayed ACK: ` +
    `each such request was about ${ms(avg)} ms slower (${ms(d.stallTotal)} ms in all, longest ${ms(d.stallMax)} ms); ` +
    `the ${who} writes a message in several small pieces with Nagle's algorithm on (no TCP_NODELAY)`;
  out.report(analyzer, {
    flow,
    dir,
    frames: d.frames,
    count: d.events,
    time: d.firstTime,
    summary,
    measure: { events: d.events, stallTotalMs: ms(d.stallTotal), stallMaxMs: ms(d.stallMax), stallAvgMs: ms(avg) },
  });
}
export default analyzer;
