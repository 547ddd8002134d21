/**
 * peer-unresponsive: one side keeps re-sending the same unacknowledged data (or FIN) with
 * growing gaps — the retransmission timer backing off (RFC 6298 §5.5) — and no ACK for it
 * ever comes, until the capture ends or the sender gives up with a reset. The peer host
 * has crashed, lost its link, or a firewall now drops the traffic. Measured: how long the
 * data stayed unacknowledged, how many retries, the gaps between them, and how long the
 * peer has been silent.
 *
 * Rule: a run of re-sends that all start at or below the peer's acknowledgement point
 * (the oldest unacknowledged byte), at least PEER_UNRESPONSIVE_MIN_RETRIES of them over at
 * least PEER_UNRESPONSIVE_MIN_SEC, with no acknowledgement past that point before the
 * flow ends. A run the peer eventually acknowledges is only a retransmission. SYN
 * retries are connect-timeout's; unanswered keepalive probes are keepalive's.
 * No Wireshark equivalent: tshark flags each re-send as a retransmission; the frames
 * tagged here are the original transmission, every re-send and the sender's RST.
 */
import { sideNotCaptured } from "../lib/capture-view.js";
import { packetsNameOtherThanLinux } from "../lib/stack-profile.js";
import { defineAnalyzer, type FindingSink } from "../analyzer.js";
import { keepFrame, NO_FRAMES, ms, retriesStopped, roleOf, sec } from "../lib/measure.js";
import { icmpMeaning, isPathMtuMessage } from "../lib/icmp-meaning.js";
import { RESEND_FIN_REPEAT } from "../../decode/flow/segment-facts.js";
import { seqDiff } from "../../decode/flow/tcp-tracker.js";
import type { Flow } from "../../decode/flow/record.js";
import { TH_ACK, TH_FIN, TH_RST, TH_SYN } from "../../decode/wire/packet.js";

/**
 * Re-sends of the same data without an answer before we call the peer unresponsive:
 * three. One or two are ordinary loss (Linux's tail-loss probe plus one timeout); by the
 * third, the timer has backed off to 8× its base and the peer has been silent for at
 * least 1.4 s on Linux (0.2 + 0.4 + 0.8 s).
 */
export const PEER_UNRESPONSIVE_MIN_RETRIES = 3;
/** The data must stay unacknowledged at least this long: a second is many round trips on any path. */
export const PEER_UNRESPONSIVE_MIN_SEC = 1.0;
/**
 * Data re-sent and unacknowledged this long is reported as ongoing by a live capture: a
 * few seconds, several backed-off retransmissions on any path, where ordinary loss is
 * repaired within one or two.
 */
export const PEER_UNRESPONSIVE_ONGOING_SEC = 3;

class Sender {
  /** Since when the oldest unacknowledged byte has been waiting (approximate), -1: nothing outstanding. */
  outstandingSince = -1;
  outstandingFrame = 0;
  /** The current run of re-sends of the byte at `stuckAck`. */
  retries = 0;
  /** Of the retries, those carrying a FIN (the rest re-send old data without it). */
  finRetries = 0;
  stuckAck = 0;
  runSince = 0;
  runFrame = 0;
  firstRetryTime = 0;
  lastRetryTime = 0;
  firstGap = 0;
  lastGap = 0;
  maxGap = 0;
  /** Segments the peer sent during the run without acknowledging the data. */
  peerSegments = 0;
  frames: readonly number[] = NO_FRAMES;
  rstFrame = 0;
  rstTime = 0;
  /**
   * The errno of the last ICMP error for this side's packets that a TCP keeps as a soft
   * error (tcp_v4_err: sk_err_soft), reported instead of ETIMEDOUT when the connection
   * times out; "" for none. Path-MTU messages only lower the MTU: no errno.
   */
  icmpErrno = "";
  /** Path-MTU messages (fragmentation needed, packet too big) for this side's packets. */
  pathMtuMessages = 0;
  /** Its RST carried no ACK: the stack's answer after the connection was gone, not an abort. */
  rstStateless = false;
}

class State {
  readonly senders: [Sender, Sender] = [new Sender(), new Sender()];
}

const analyzer = defineAnalyzer<State>({
  id: "peer-unresponsive",
  title: "The peer stopped acknowledging: data re-sent with growing gaps",
  severity: "error",
  family: "tcp-transfer",
  wire: "Data retransmitted with growing gaps and never acknowledged, until the capture ends or an RST from the sender ends it.",
  explanation:
    "The sending program's write() calls kept succeeding — they only copy into the socket's send buffer — while its " +
    "kernel re-sent the oldest unacknowledged data with exponentially growing gaps and heard nothing back. The peer " +
    "host crashed or lost power, its cable or Wi-Fi went away, or a firewall or NAT along the path started dropping " +
    "the connection's packets. TCP cannot tell these apart from a very slow network, so by default Linux keeps trying " +
    "for about 15 minutes (tcp_retries2) before the connection fails; then the next read() or write() returns ETIMEDOUT " +
    "(EHOSTUNREACH if a router reported the host unreachable), and later writes raise SIGPIPE/EPIPE. Programs that must " +
    "notice sooner set TCP_USER_TIMEOUT (Linux) or use their own timeouts with poll()/select() and an application-level " +
    "acknowledgement; keepalive only helps on idle connections. Check whether the peer is up and whether a firewall " +
    "or a NAT timeout sits on the path.",
  references: ["000 §2.8", "002 server termination §5"],
  createState: () => new State(),
  onIcmpError(s, _flow, quotedDir, _frame, _time, p) {
    if (s === null) return;
    const sender = s.senders[quotedDir]!;
    if (isPathMtuMessage(p)) sender.pathMtuMessages++;
    else sender.icmpErrno = icmpMeaning(p).errno;
  },
  onTcpSegment(s, flow, seg, p, out) {
    const dir = seg.dir,
      flags = seg.flags;
    const me = s.senders[dir]!;
    const other = s.senders[1 - dir]!;
    // This segment as the peer's answer to the other side's data.
    if (seg.ackChanged) {
      const otherNext = flow.ep[1 - dir]!.nextSeq;
      other.outstandingSince = seqDiff(p.ack, otherNext) >= 0 ? -1 : seg.time;
      other.outstandingFrame = 0;
      if (other.retries > 0 && seqDiff(p.ack, other.stuckAck) > 0) other.retries = 0;
    }
    if (other.retries > 0) {
      // An RST from the peer is an answer: it is alive but has lost the connection
      // (reset-by-peer-reboot), not unresponsive.
      if ((flags & TH_RST) !== 0) other.retries = 0;
      else other.peerSegments++;
    }

    if (flags & TH_SYN) return;
    if ((flags & TH_RST) !== 0) {
      if (me.retries > 0 && me.rstFrame === 0) {
        me.rstFrame = seg.frame;
        me.rstTime = seg.time;
        me.rstStateless = (flags & TH_ACK) === 0;
        me.frames = keepFrame(me.frames, seg.frame, out.frameCap);
      }
      return;
    }
    if (seg.len === 0 && (flags & TH_FIN) === 0) return;
    const peer = flow.ep[1 - dir]!;
    if (seg.seqVsNext >= 0 || (seg.len > 1 && seg.seqVsNext === -1)) {
      // New data: if nothing was outstanding, the oldest unacknowledged byte leaves now.
      if (me.outstandingSince < 0 || (peer.ackSeen && seqDiff(seg.nextSeqBefore, peer.lastAck) <= 0)) {
        me.outstandingSince = seg.time;
        me.outstandingFrame = seg.frame;
      }
      return;
    }
    if (seg.keepAliveProbe || seg.zeroWindowProbe) return;
    // A BSD FIN repeated on an ACK answers the peer's data: the peer is alive.
    if (seg.resend === RESEND_FIN_REPEAT) return;
    // A re-send: does it carry the oldest unacknowledged byte?
    if (peer.ackSeen && seqDiff(seg.seq, peer.lastAck) > 0) return;
    const stuck = peer.ackSeen ? peer.lastAck : seg.seq;
    if (me.retries > 0 && me.stuckAck === stuck && me.rstFrame === 0) {
      const gap = seg.time - me.lastRetryTime;
      if (me.firstGap === 0) me.firstGap = gap;
      me.lastGap = gap;
      if (gap > me.maxGap) me.maxGap = gap;
      me.retries++;
      if (flags & TH_FIN) me.finRetries++;
      me.lastRetryTime = seg.time;
      me.frames = keepFrame(me.frames, seg.frame, out.frameCap);
      return;
    }
    me.retries = 1;
    me.finRetries = flags & TH_FIN ? 1 : 0;
    me.stuckAck = stuck;
    out.watch(flow);
    me.runSince = me.outstandingSince >= 0 && me.outstandingSince <= seg.time ? me.outstandingSince : seg.time;
    me.runFrame = me.outstandingFrame;
    me.firstRetryTime = me.lastRetryTime = seg.time;
    // The first gap is from the original transmission, when it was seen.
    me.firstGap = me.lastGap = me.maxGap = me.runFrame !== 0 ? seg.time - me.runSince : 0;
    me.peerSegments = 0;
    me.rstFrame = 0;
    me.frames = keepFrame(me.runFrame !== 0 ? [me.runFrame] : NO_FRAMES, seg.frame, out.frameCap);
  },
  onFlowEnd(s, flow, out) {
    for (let dir = 0; dir < 2; dir++) reportSender(flow, dir, s.senders[dir]!, out);
  },
  // Ongoing while the re-sends keep coming: once they stop, the sender's kernel gave up
  // (TCP_USER_TIMEOUT, tcp_retries2) or its program closed the socket.
  ongoing(s, flow, dir, now) {
    const d = s.senders[dir]!;
    if (sideNotCaptured(flow, 1 - dir)) return null;
    if (d.retries === 0 || d.rstFrame !== 0 || now - d.runSince < PEER_UNRESPONSIVE_ONGOING_SEC) return null;
    if (retriesStopped(d.lastRetryTime, Math.max(d.maxGap, PEER_UNRESPONSIVE_MIN_SEC), now)) return null;
    const who = roleOf(dir),
      peer = roleOf(1 - dir);
    const peerSide =
      d.peerSegments === 0
        ? `the ${peer} has sent nothing for ${sec(now - (flow.ep[1 - dir]!.packets === 0 ? flow.firstTime : flow.ep[1 - dir]!.lastTime))} s`
        : `the ${peer} sent ${d.peerSegments} segment(s) meanwhile but no acknowledgement of it`;
    const frame = d.runFrame !== 0 ? d.runFrame : (d.frames[0] ?? 0);
    return {
      since: d.runSince,
      frame,
      summary:
        `the ${peer} ${flow.endpointName(peer)} is not acknowledging the ${who}'s data sent in frame ${frame}: ` +
        `re-sent ${d.retries} time(s) so far; ${peerSide}. ` +
        (closePhase(flow, dir, d) !== null
          ? `The ${who} had already closed (FIN frame ${flow.ep[dir]!.finFrame}): its kernel re-sends the FIN until it gives up`
          : `The ${who}'s write()s still succeed until its kernel gives up (ETIMEDOUT)`),
    };
  },
});

/**
 * The close phase: the sender had sent its FIN by the last re-send, so its program had
 * called close() (or shutdown(SHUT_WR)) and no write() of its is left to fail. Its kernel
 * re-sends the FIN (with any data still unacknowledged) from FIN_WAIT_1, or LAST_ACK when
 * the peer's FIN came first, until it gives up: for a close()d socket, after
 * tcp_orphan_retries, then it drops the connection. Null while the sender had not closed.
 */
function closePhase(
  flow: Flow,
  dir: number,
  d: Sender,
): { what: string; consequence: string; unackedBytes: number; lostWanted: boolean } | null {
  const me = flow.ep[dir]!,
    peerEp = flow.ep[1 - dir]!;
  if (me.finFrame === 0 || me.finTime > d.lastRetryTime) return null;
  const who = roleOf(dir),
    peer = roleOf(1 - dir);
  // Data bytes from the stuck point up to the FIN: handed to the kernel, never acknowledged.
  const unacked = Math.max(0, seqDiff(me.finSeq, d.stuckAck));
  const state = peerEp.finFrame !== 0 && peerEp.finFrame < me.finFrame ? "LAST_ACK" : "FIN_WAIT_1";
  const what =
    unacked > 0 ? `its last ${unacked} byte(s) and its FIN (frame ${me.finFrame})` : `its FIN (frame ${me.finFrame})`;
  const peerClosed = state === "LAST_ACK";
  const lost =
    unacked === 0
      ? ""
      : peerClosed
        ? ` Its ${unacked} byte(s) were never acknowledged, but the ${peer} had closed first (FIN frame ${peerEp.finFrame}): its program would not have read them.`
        : ` Its ${unacked} byte(s) were never acknowledged: the ${peer}'s program never got them.`;
  return {
    what,
    unackedBytes: unacked,
    // Data lost that a program still wanted: the peer had not closed.
    lostWanted: unacked > 0 && !peerClosed,
    consequence:
      `The ${who}'s program had already called close() or shutdown(SHUT_WR): no write() of its was left to fail and ` +
      `close() returns at once, so it saw nothing of this; its kernel kept the connection in ${state}, re-sending ` +
      // Linux's setting only where the sender may be Linux (its packets do not name another stack).
      `until it gives up${packetsNameOtherThanLinux(flow.ep[dir]!, flow.ipVersion) ? "" : " (Linux: tcp_orphan_retries for a closed socket)"} ` +
      `and drops it.${lost}`,
  };
}

/** What stopped: the peer, or, when routers said the packets were too big for the path, the path. */
function stopped(d: Sender, who: string, peer: string): string {
  if (d.pathMtuMessages === 0) return `the ${peer} stopped responding`;
  return (
    `the ${who}'s data never reached the ${peer}: routers answered its packets with ${d.pathMtuMessages} ` +
    `path-MTU message(s) (see path-mtu), and it kept sending packets too big for the path`
  );
}

function reportSender(flow: Flow, dir: number, d: Sender, out: FindingSink): void {
  if (d.retries < PEER_UNRESPONSIVE_MIN_RETRIES) return;
  // The peer's direction was not captured: its silence here is no silence on the wire.
  if (sideNotCaptured(flow, 1 - dir)) return;
  const end = d.rstFrame !== 0 ? Math.max(d.rstTime, d.lastRetryTime) : d.lastRetryTime;
  const unacked = end - d.runSince;
  if (unacked < PEER_UNRESPONSIVE_MIN_SEC) return;
  const who = roleOf(dir),
    peer = roleOf(1 - dir);
  const peerEp = flow.ep[1 - dir]!;
  // A peer with no packet in the capture has no last packet: its silence is the whole capture's view of the flow.
  const peerNeverSeen = peerEp.packets === 0;
  const silent = end - (peerNeverSeen ? flow.firstTime : peerEp.lastTime);
  const growing = d.retries >= 3 && d.maxGap >= 1.5 * d.firstGap;
  const gaps =
    d.firstGap > 0
      ? `, gaps growing from ${ms(d.firstGap)} to ${ms(d.maxGap)} ms` +
        (growing ? " (the retransmission timer backing off)" : "")
      : "";
  const ending =
    d.rstFrame === 0
      ? "still unacknowledged when the capture ended"
      : d.rstStateless
        ? `then the ${who}'s TCP gave up and dropped the connection: its RST (frame ${d.rstFrame}, without ACK) only ` +
          `answers a later segment of the ${peer}'s`
        : `then the ${who} gave up and reset the connection (frame ${d.rstFrame})`;
  const peerSide =
    d.peerSegments === 0
      ? peerNeverSeen
        ? `the ${peer} sent nothing at all in the capture (silent for at least ${sec(silent)} s, the whole flow as captured)`
        : `the ${peer} sent nothing at all meanwhile (silent for ${sec(silent)} s)`
      : `the ${peer} sent ${d.peerSegments} segment(s) meanwhile but never acknowledged the data: packets towards it are being dropped`;
  const api = d.icmpErrno !== "" ? `${d.icmpErrno} (from the ICMP error a router sent for its packets)` : "ETIMEDOUT";
  const closing = closePhase(flow, dir, d);
  const summary =
    closing !== null
      ? `the ${peer} stopped acknowledging after the ${who} had closed: the ${who} re-sent ${closing.what} ` +
        // Re-sends of old data without the FIN (a stack's probes) are counted apart, not as FINs.
        (d.finRetries > 0 && d.finRetries < d.retries
          ? `${d.finRetries} times, and old data without the FIN ${d.retries - d.finRetries} more time(s),`
          : `${d.retries} times`) +
        ` over ${sec(unacked)} s${gaps}; ${ending}; ${peerSide}. ${closing.consequence}`
      : `${stopped(d, who, peer)}: the ${who} re-sent the same data ${d.retries} times over ${sec(unacked)} s` +
        `${gaps}; ${ending}; ${peerSide}. The ${who}'s writes still succeed until its kernel gives up; then its next call fails with ${api}`;
  out.report(analyzer, {
    flow,
    dir,
    frames: d.frames,
    count: d.retries,
    time: d.runFrame !== 0 ? d.runSince : d.firstRetryTime,
    // A closed program sees nothing; only data it had handed over and the peer never got makes it an error.
    severity: closing !== null && !closing.lostWanted ? "warning" : undefined,
    summary,
    detail:
      closing !== null
        ? "Here what went unacknowledged was the close itself (the FIN): the sending program had already closed, so " +
          "what follows about write() calls and ETIMEDOUT applies only to a program still using its connection."
        : undefined,
    measure: {
      senderClosed: closing !== null ? 1 : 0,
      unackedDataBytes: closing?.unackedBytes ?? -1,
      unresponsiveMs: ms(unacked),
      retries: d.retries,
      firstGapMs: ms(d.firstGap),
      lastGapMs: ms(d.lastGap),
      maxGapMs: ms(d.maxGap),
      peerSilentMs: ms(silent),
      peerSegmentsDuring: d.peerSegments,
      endedByRst: d.rstFrame !== 0 ? 1 : 0,
    },
  });
}
export default analyzer;
