/**
 * reset-by-peer-reboot: after a long silence from one side, the other side's data (or a
 * keep-alive probe) is answered by a RST that carries no ACK bit and whose sequence
 * number is that segment's acknowledgement number, from a side that never sent FIN.
 * That is the reset a TCP sends for a segment that matches no connection at all (RFC 9293
 * §3.10.7.1, "CLOSED" state): what a host sends after it rebooted — its TCP forgot the
 * connection — as opposed to a socket that is closed while it still exists, which
 * sends RST+ACK (abortive-close) or FIN.
 *
 * `rebootEvidence` is shared with abortive-close, so one predicate decides which of the
 * two kinds a reset belongs to; both read the engine's SideHistory of the flow. Not
 * reported when the other side had already sent its FIN: its program had closed, so the
 * forgotten connection costs nobody anything (a server re-sending its close_notify+FIN
 * to a client that lost the connection).
 */
import { defineAnalyzer } from "../analyzer.js";
import { DIR_CLIENT, seqDiff, type Flow, type TcpSegment } from "../../decode/flow.js";
import { TH_ACK, TH_RST } from "../../decode/packet.js";
import { ms, roleOf, sec } from "../measure.js";
import type { SideHistory } from "../side-history.js";

/**
 * Shortest silence from the resetting side before its stateless reset for this kind.
 * The reset itself proves the resetting TCP had no connection left; the silence rules
 * out the one ordinary way to get there: its program aborted the connection (RST+ACK)
 * an instant earlier and that reset crossed the peer's segment or escaped the capture,
 * which plays out within a round trip or two, not a second. A whole-host reboot takes
 * tens of seconds, but a container or VM restart, a failover, or a middlebox that drops
 * its state forgets connections within seconds, so the bar stays at 1 s and the summary
 * gives the measured silence. Shorter silences are reported as abortive-close.
 */
export const REBOOT_MIN_SILENCE_SEC = 1;

export interface RebootEvidence {
  /** Seconds from the resetting side's last segment to its RST. */
  silenceSec: number;
  /** The segment the RST answers, and the first new data the other side sent into the silence (0: none, a probe). */
  answeredFrame: number;
  firstDataFrame: number;
  /** The resetting side's last segment before the silence. */
  lastBeforeFrame: number;
}

/**
 * Whether the capture missed segments that side `dir` sent: the other side acknowledged
 * sequence space it was never seen to send. What it sent before a reset (data, a FIN)
 * then cannot be told, nor how long it was silent.
 */
export function sentUnseen(flow: Flow, dir: number): boolean {
  const other = flow.ep[1 - dir]!;
  return other.ackSeen && seqDiff(other.lastAck, flow.ep[dir]!.nextSeq) > 0;
}

/**
 * Whether a RST (already counted in the tracker) is a forgotten connection's answer
 * after a silence of at least REBOOT_MIN_SILENCE_SEC: no ACK bit, seq = the ack of the
 * other side's segment, that segment carried data or was a probe, and the resetting side
 * had been seen before and never sent FIN.
 */
export function rebootEvidence(flow: Flow, seg: TcpSegment, h: SideHistory): RebootEvidence | null {
  if ((seg.flags & (TH_RST | TH_ACK)) !== TH_RST || !h.established) return null;
  const p = seg.dir,
    o = 1 - p;
  const me = flow.ep[p]!,
    other = flow.ep[o]!;
  const mine = h.sides[p]!,
    theirs = h.sides[o]!;
  if (me.finFrame !== 0 || mine.lastFrame === 0 || theirs.lastFrame <= mine.lastFrame || !theirs.lastWantsAnswer)
    return null;
  // Its FIN (aerospike: the peer's ACKs cover 83 bytes and a FIN never captured) may have gone unseen.
  if (sentUnseen(flow, p)) return null;
  if (!other.ackSeen || seqDiff(seg.seq, other.lastAck) !== 0) return null;
  const silence = seg.time - mine.lastTime;
  if (silence < REBOOT_MIN_SILENCE_SEC) return null;
  return {
    silenceSec: silence,
    answeredFrame: theirs.lastFrame,
    firstDataFrame: theirs.firstDataSinceOther,
    lastBeforeFrame: mine.lastFrame,
  };
}

const analyzer = defineAnalyzer<null>({
  id: "reset-by-peer-reboot",
  title: "Reset by a peer that forgot the connection (rebooted host)",
  severity: "error",
  family: "tcp-closing",
  wire: "After a long silence from one side, the other side's data is answered by a RST without ACK (seq = that data's ack) from the side that never sent FIN.",
  explanation:
    "The resetting host's TCP no longer had this connection at all: it answered the segment as if no socket had ever " +
    "existed, with a bare RST whose sequence number is simply the acknowledgement number it received. A program that " +
    "closes or aborts its socket does not do that (its kernel sends FIN, or RST+ACK, at that moment), and neither does " +
    "a process that crashes — its kernel closes the socket for it. The usual cause is that the host crashed or was " +
    "rebooted while the connection sat idle (or while the other side was retransmitting into the outage): nothing was " +
    "sent when it went down, so the other side's socket stayed ESTABLISHED, a half-open connection, until its next " +
    "write(). That write() itself succeeds, because it only queues data; the reset then makes the next read() or " +
    "write() fail with ECONNRESET (a write() after that raises SIGPIPE / EPIPE), and whatever the program had sent " +
    "since the peer went down is lost. The same signature follows other silent loss of state on that end: the " +
    "connection timed out there (retries or TCP_USER_TIMEOUT ran out while the path was down), a failover moved the " +
    "address to another machine, or a NAT or load balancer in front of it lost its mapping. The capture cannot tell " +
    "these apart; the peer's boot time (uptime, `journalctl --list-boots`), whether all its other connections were " +
    "reset at the same moment, and a capture on the peer's side decide it. Make the program expect this: handle " +
    "ECONNRESET by reconnecting and re-sending what was not confirmed at the application level (idempotent requests), " +
    "and detect dead peers before writing, with SO_KEEPALIVE (tuned with TCP_KEEPIDLE/TCP_KEEPINTVL/TCP_KEEPCNT) " +
    "or an application heartbeat. Severity error: unlike a benign close, the program's call fails and data is lost.",
  references: ["002 server termination §6", "000 §2.8", "000 §4.7"],
  // Nothing to do before a reset; what came before it is in the engine's SideHistory.
  wakeOn: TH_RST,
  usesSideHistory: true,
  onTcpSegment(_s, flow, seg, _p, out) {
    if ((seg.flags & TH_RST) === 0) return;
    const h = out.sideHistory(flow);
    const p = seg.dir,
      o = 1 - p;
    if (flow.ep[p]!.rstFrame !== seg.frame) return;
    const ev = rebootEvidence(flow, seg, h);
    if (ev === null) return;
    const other = flow.ep[o]!,
      me = flow.ep[p]!;
    const theirs = h.sides[o]!;
    // The other side had closed (its FIN, often re-sent into the silence): the reset only
    // ends an orphaned close, and no program is left to see ECONNRESET or lose data. But a
    // client whose request is unanswered may still await the reply after shutdown(SHUT_WR).
    const awaitingReply = o === DIR_CLIENT && theirs.dataSinceOtherData > 0;
    if (other.finFrame !== 0 && other.finFrame < seg.frame && !awaitingReply) return;
    // The other side's bytes the forgotten connection never acknowledged (its FIN is no byte of data).
    const unacked = me.ackSeen ? Math.max(0, seqDiff(other.nextSeq, me.lastAck)) : 0;
    const lost = unacked > 0 && other.finFrame !== 0 && seqDiff(other.finSeq, me.lastAck) >= 0 ? unacked - 1 : unacked;
    const resends = theirs.resendsSinceOther;
    const who = roleOf(p),
      peer = roleOf(o);
    const during =
      resends > 0
        ? `the ${peer} had been retransmitting into the silence (${resends} retransmission(s)` +
          `${ev.firstDataFrame !== 0 ? ` of the data first sent in frame ${ev.firstDataFrame}` : ""})`
        : `the connection had been idle for ${sec(theirs.idleBefore)} s before the ${peer}'s segment`;
    out.report(analyzer, {
      flow,
      dir: p,
      frames: [ev.lastBeforeFrame, ev.firstDataFrame, ev.answeredFrame, seg.frame].filter((f) => f > 0),
      time: seg.time,
      summary:
        `the ${who}'s TCP had forgotten the connection: ${sec(ev.silenceSec)} s after the ${who}'s last segment ` +
        `(frame ${ev.lastBeforeFrame}) its answer to the ${peer}'s segment (frame ${ev.answeredFrame}) was a RST without ACK ` +
        `(frame ${seg.frame}) carrying that segment's ack number, and it had never sent FIN — a rebooted host, or its state ` +
        `lost otherwise; ${during}; ` +
        `${lost} byte(s) from the ${peer} were never acknowledged; ` +
        (awaitingReply && other.finFrame !== 0 && other.finFrame < seg.frame
          ? `the ${peer} had sent its FIN (frame ${other.finFrame}) after its request and still waited for the reply: its next read() fails with ECONNRESET`
          : `the ${peer}'s next read()/write() fails with ECONNRESET`),
      measure: {
        silenceMs: ms(ev.silenceSec),
        idleBeforeMs: ms(theirs.idleBefore),
        unackedBytes: lost,
        retransmissionsDuringSilence: resends,
      },
    });
  },
});
export default analyzer;
