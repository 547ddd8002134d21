/**
 * reset-by-peer-reboot: after a long silence from one side, the other side's data (or a
 * keep-alive probe) is answered by a RST that carries no ACK bit and whose sequence
 * number is that segment's acknowledgement number, from a side that never sent FIN.
 * That is the reset a TCP sends for a segment that matches no connection at all (RFC 9293
 * §3.10.7.1, "CLOSED" state): what a host sends after it rebooted — its TCP forgot the
 * connection — as opposed to a socket that is closed while it still exists, which
 * sends RST+ACK (abortive-close) or FIN.
 *
 * `rebootEvidence` (analyze/lib/reboot-evidence.ts) is shared with abortive-close, so one
 * predicate decides which of the two kinds a reset belongs to; both read the host's
 * SideHistory of the flow. Not reported when the other side had already sent its FIN: its
 * program had closed, so the forgotten connection costs nobody anything (a server
 * re-sending its close_notify+FIN to a client that lost the connection).
 */
import { defineAnalyzer } from "../analyzer.js";
import { DIR_CLIENT } from "../../decode/flow/record.js";
import { seqDiff } from "../../decode/flow/tcp-tracker.js";
import { TH_RST } from "../../decode/wire/packet.js";
import { ms, roleOf, sec } from "../lib/measure.js";
import { rebootEvidence } from "../lib/reboot-evidence.js";

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
  // Nothing to do before a reset; what came before it is in the host's SideHistory (analyze/host.ts).
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
