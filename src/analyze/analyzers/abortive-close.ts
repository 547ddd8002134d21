/**
 * abortive-close: an established connection ends with a RST from a side that never sent
 * FIN, or whose FIN was followed by its RST+ACK with no data from the peer in between
 * (shutdown, then an abort with the peer's data unread). Its socket was aborted rather than closed (RFC 9293 §3.10.4 ABORT; RFC 1122
 * §4.2.2.13: close() with unread received data must reset; RFC 2525 "data loss on
 * close"). Measured: the bytes in flight either way at the reset (the resetting side's
 * unacknowledged data, and the peer's data the reset side never acknowledged — both
 * discarded), and whether the wire shows data the resetting side may have left unread.
 *
 * Severity follows what the peer's program saw: an error when data was lost or a client's
 * request got only the reset; a warning when the exchange had finished (nothing in flight,
 * no request unanswered, or the peer's last data was its goodbye), when the peer had
 * already closed, or when the reset's TTL says a device on the path sent it.
 *
 * Left to other kinds:
 * - connection-refused and time-wait-reuse: resets before the handshake completed (a
 *   refused SYN, the client's RST to a TIME-WAIT's bare ACK);
 * - rst-after-fin: the resetting side had sent FIN and the peer's data after it drew the RST;
 * - reset-by-peer-reboot: a stateless RST after a long silence (`rebootEvidence`, lib/);
 * - keepalive and peer-unresponsive: a RST that ends unanswered keep-alive probes or
 *   retransmissions while the peer has been silent (the prober gives up).
 */
import { defineAnalyzer } from "../analyzer.js";
import { ms, roleOf, sec } from "../lib/measure.js";
import { REBOOT_MIN_SILENCE_SEC, rebootEvidence, sentUnseen } from "../lib/reboot-evidence.js";
import type { SideMark } from "../lib/side-history.js";
import { DIR_CLIENT, type TcpEndpoint } from "../../decode/flow/record.js";
import { seqDiff } from "../../decode/flow/tcp-tracker.js";
import { TH_ACK, TH_RST } from "../../decode/wire/packet.js";

/**
 * How long the peer must have been silent while the resetting side re-sent data or probes
 * for the RST to count as "giving up on a dead peer" (keepalive / peer-unresponsive)
 * rather than an abortive close. A live peer answers a retransmission or a keep-alive
 * probe within one round trip; Linux's shortest keep-alive interval is 1 s and its RTO
 * backoff passes 1 s after a few retries, while an abortive close right after a lone
 * fast retransmission comes well within it.
 */
const DEAD_PEER_SILENCE_SEC = 1;

/**
 * Hops a side's TTL may move between its own segments (a route change); a reset whose TTL
 * is further from that of the side's own data came from another device on the path: one
 * a different number of hops away, or with another initial TTL (a firewall, NAT or load
 * balancer resetting the connection in the endpoint's name, as RFC 3360 describes).
 */
const SAME_SENDER_TTL_HOPS = 2;

const analyzer = defineAnalyzer<null>({
  id: "abortive-close",
  title: "Connection aborted with a reset instead of a FIN",
  severity: "error",
  family: "tcp-closing",
  wire: "An established connection ends with RST from a side that sent no FIN before it, or whose FIN was followed by its RST+ACK with no data from the peer in between.",
  explanation:
    "One side ended the connection with a reset instead of the orderly FIN exchange. A program causes this in two " +
    "ways: it set SO_LINGER with l_onoff = 1 and l_linger = 0 and then called close() (a deliberate abort, often used " +
    "to avoid TIME_WAIT), or it called close() while received data was still unread in the socket's receive buffer: " +
    "the kernel must then reset rather than pretend the data was consumed. A process that exits or is killed closes " +
    "its sockets the same way, so it resets only in those two cases. On the resetting side close() returns 0 at once, " +
    "anything still in its send buffer is thrown away, and no TIME_WAIT is left. The peer's next read() fails with " +
    "ECONNRESET (data that had already arrived before the reset can usually still be read first), and its next write() " +
    "fails with ECONNRESET or EPIPE plus SIGPIPE; whatever it had sent that was not yet acknowledged is lost. The reset " +
    "looks the same on the wire in both cases. Data that the peer sent after the resetting side last sent data, and that " +
    "got no answer but the reset, points to unread data even when the resetting side's kernel acknowledged it (an ACK " +
    "says the bytes arrived, not that the program read them); but only the program (setsockopt(SO_LINGER) in its source or in strace, or the Recv-Q that " +
    "`ss -tn` shows just before the close) settles it. If the abort is unintended, read until EOF (or shutdown(SHUT_WR) " +
    "and then drain) before close(), and do not set SO_LINGER{1,0} except to deliberately kill a misbehaving connection. " +
    "If TIME_WAIT was the reason for the abort, see time-wait.",
  references: ["000 §4.6", "000 §2.7", "002 SO_LINGER"],
  // Nothing to do before a reset; what came before it is in the host's SideHistory (analyze/host.ts).
  wakeOn: TH_RST,
  usesSideHistory: true,
  onTcpSegment(_s, flow, seg, p, out) {
    if ((seg.flags & TH_RST) === 0) return;
    const h = out.sideHistory(flow);
    const x = seg.dir,
      y = 1 - x;
    const me = flow.ep[x]!,
      peer = flow.ep[y]!;
    const mine = h.sides[x]!,
      theirs = h.sides[y]!;
    // Only the first reset of the connection, after the handshake.
    if (me.rstFrame !== seg.frame || !h.established) return;
    if (peer.rstFrame !== 0 && peer.rstFrame < seg.frame) return;
    const hasAck = (seg.flags & TH_ACK) !== 0;
    // After its own FIN, only a live socket's abort (RST+ACK) with no data from the peer
    // since that FIN: data arriving after it is rst-after-fin's, and a bare RST after a
    // FIN is the answer of a TCP that had already finished its side of the close.
    const finFirst = me.finFrame !== 0;
    if (finFirst && (!hasAck || theirs.lastPayloadFrame > me.finFrame)) return;
    if (rebootEvidence(flow, seg, h) !== null || sentUnseen(flow, x)) return;
    // A RST without ACK whose sequence number is the acknowledgement the peer's segment
    // carried, from a side silent for a while, is its TCP answering a segment for a
    // connection it had already dropped (RFC 9293 §3.10.7.1): a program's abort carries ACK
    // (Linux, BSD and Windows alike). After the sender gave up re-sending it is
    // peer-unresponsive's (pmtu-black-hole: the client's TCP answered the server's FIN so).
    if (
      !hasAck &&
      peer.ackSeen &&
      seqDiff(seg.seq, peer.lastAck) === 0 &&
      seg.time - mine.lastTime >= REBOOT_MIN_SILENCE_SEC
    )
      return;
    // Giving up on a silent peer after probes or retransmissions: keepalive / peer-unresponsive.
    if (mine.resendsSinceOther > 0 && seg.time - theirs.lastTime >= DEAD_PEER_SILENCE_SEC) return;

    const fromMe = peer.ackSeen ? dataBytes(me.nextSeq, peer.lastAck, me) : 0;
    const ackedByMe = hasAck ? seg.ack : me.lastAck;
    const toMe = me.ackSeen || hasAck ? dataBytes(peer.nextSeq, ackedByMe, peer) : 0;
    const unanswered = theirs.dataSinceOtherData;
    const who = roleOf(x),
      other = roleOf(y);
    const frames = unanswered > 0 ? [theirs.firstDataSinceOtherData, seg.frame] : [seg.frame];
    const lostText =
      fromMe === 0 && toMe === 0
        ? "nothing was in flight"
        : `in flight and lost: ${fromMe} byte(s) from the ${who} not yet acknowledged, ${toMe} byte(s) from the ${other} the ${who} never acknowledged`;
    const unreadText =
      unanswered > 0
        ? unansweredText(unanswered, theirs.firstDataSinceOtherData, toMe, me.lastDataFrame, mine, who, other)
        : answeredText(peer.payloadBytes > 0, flow.ep[0].synSeen, hasAck, me.lastDataFrame, who, other);
    const stateless = hasAck
      ? undefined
      : "This reset has no ACK bit and takes its sequence number from the segment it answers: the resetting side's TCP " +
        "had no connection left for it, so the socket was already gone (an earlier abort whose RST is not in the " +
        "capture, or state lost some other way) and this RST only answers the peer's late segment.";
    // What the peer saw: only a program still using the connection gets ECONNRESET; one
    // that had sent its FIN had closed, or at most still reads after shutdown(SHUT_WR).
    // A client whose request got no answer but the reset was still waiting for one (a
    // request, then shutdown(SHUT_WR)): its request failed, an error. Otherwise (an idle
    // connection, or a server that had said its last and closed) nobody lost anything.
    const peerClosed = peer.finFrame !== 0 && peer.finFrame < seg.frame;
    const requestUnanswered = peerClosed && y === DIR_CLIENT && unanswered > 0;
    const seen = !peerClosed
      ? finFirst
        ? `the ${other}'s read() returns what had arrived and then end-of-file (the FIN came first), and its next ` +
          "write() fails (with EPIPE on Linux)"
        : `the ${other}'s next read()/write() fails with ECONNRESET`
      : requestUnanswered
        ? `the ${other} had sent its FIN (frame ${peer.finFrame}) after its request: if it was waiting for the reply ` +
          `(shutdown(SHUT_WR)), its read() fails with ECONNRESET; if it had called close(), it sees nothing`
        : `the ${other} had already sent its FIN (frame ${peer.finFrame}): a program that called close() sees nothing ` +
          `of this reset, one that only shut down writing gets ECONNRESET instead of EOF on its next read()`;
    const how = finFirst
      ? `sent FIN (frame ${me.finFrame}) and then reset the connection (RST frame ${seg.frame})`
      : `reset the connection (RST frame ${seg.frame}) without a FIN`;
    const name = flow.endpointName(x === 0 ? "client" : "server");
    const fromPath = me.lastDataTtl > 0 && Math.abs(p.ttl - me.lastDataTtl) > SAME_SENDER_TTL_HOPS;
    const silence = seg.time - Math.max(mine.lastTime, theirs.lastTime);
    // After a finished exchange (both sides sent data, nothing in flight either way, no
    // client request left without an answer) no program is known to have seen a failure:
    // one that does not use the connection again never sees the reset (an HTTP keep-alive
    // idle timeout, a client dropping a connection it is done with); only a later use gets
    // ECONNRESET, which a connection pool answers by reconnecting. Worth a look (a close()
    // with unread data looks the same), not an error. With a FIN first the peer reads the
    // whole reply and then EOF; only a write after that fails (EPIPE): no more an error
    // (audit4: shutdown-unread, rated above its no-FIN twin).
    // The peer's last data was its goodbye (a QUIT, a TLS close alert): it was done.
    const peerSaidGoodbye = theirs.lastDataGoodbye !== "";
    const exchangeDone =
      !fromPath &&
      !peerClosed &&
      fromMe === 0 &&
      toMe === 0 &&
      me.payloadBytes > 0 &&
      peer.payloadBytes > 0 &&
      !(y === DIR_CLIENT && unanswered > 0 && !peerSaidGoodbye);
    const done = !exchangeDone
      ? ""
      : peerSaidGoodbye
        ? `; the ${other}'s last data carried its goodbye (${theirs.lastDataGoodbye}): it was done with the ` +
          "connection, and nothing was in flight"
        : `; the exchange had finished (nothing in flight, no request of the ${other}'s unanswered): a program that ` +
          (finFirst
            ? "does not write again sees only end-of-file"
            : "does not use the connection again sees nothing of this reset");
    const summary = fromPath
      ? `a RST in the ${who}'s name (${name}, frame ${seg.frame}${silence >= 1 ? `, after ${sec(silence)} s of silence` : ""}) ` +
        `came with IP TTL ${p.ttl}, while the ${who}'s own data came with TTL ${me.lastDataTtl} (frame ${me.lastDataFrame}): ` +
        `another device on the path sent it (a firewall, NAT or load balancer dropping the connection, often at an idle ` +
        `timeout), not the ${who}'s socket; ${lostText}; ${seen}`
      : `the ${who} (${name}) ${how}; ${lostText}; ${unreadText}; ${seen}${done}`;
    out.report(analyzer, {
      flow,
      dir: x,
      frames: finFirst ? [me.finFrame, ...frames] : frames,
      time: seg.time,
      // A reset from the path is the network's doing, not a failure of either program's close.
      // The peer had closed and its data was read: nothing of anyone's was lost or seen.
      severity:
        peerClosed && !requestUnanswered && unanswered > 0 && mine.drainedFrame > theirs.firstDataSinceOtherData
          ? "info"
          : exchangeDone || fromPath || (peerClosed && !requestUnanswered)
            ? "warning"
            : undefined,
      summary,
      measure: {
        unackedFromResetterBytes: fromMe,
        unackedToResetterBytes: toMe,
        peerDataUnansweredBytes: unanswered,
        unreadDataEvidence: unanswered > 0 && !(mine.drainedFrame > theirs.firstDataSinceOtherData) ? 1 : 0,
        sinceLastSegmentMs: mine.lastFrame !== 0 ? ms(seg.time - mine.lastTime) : -1,
      },
      detail: fromPath ? FROM_PATH : finFirst ? FIN_THEN_RST : stateless,
    });
  },
});

/** Payload bytes from `acked` up to `next` in a sender's sequence space: its FIN, if among them, is no byte of data. */
function dataBytes(next: number, acked: number, sender: TcpEndpoint): number {
  const span = Math.max(0, seqDiff(next, acked));
  return span > 0 && sender.finFrame !== 0 && seqDiff(sender.finSeq, acked) >= 0 ? span - 1 : span;
}

/** Why a reset with a TTL unlike the side's own is not its program's abort. */
const FROM_PATH =
  "The reset's IP TTL is not that of the side it names: a host sends all its packets with one initial TTL, and they " +
  "cross the same routers, so a reset that arrives with a TTL several hops off was sent by another device between " +
  "the hosts. Firewalls, NATs and load balancers do that when they drop a connection from their tables (an idle " +
  "timeout, a failover), resetting it toward one or both ends. Neither program aborted it: the application's " +
  "remedy is TCP keep-alives (or its own pings) more often than the device's idle timeout, or a retry on " +
  "ECONNRESET for pooled connections.";

/** Why a FIN followed by RST+ACK from the same side is an abort too. */
const FIN_THEN_RST =
  "Here a FIN came first: the program shut down its sending side (shutdown(SHUT_WR), or a close() whose FIN " +
  "left before the abort) and the socket was then aborted with the peer's data still arriving or unread, or with " +
  "SO_LINGER{1,0}. The reset answers no data sent after the FIN, so it is the program's doing, not a reply to a " +
  "late writer (that would be rst-after-fin).";

/**
 * The peer's data arrived after the resetting side last sent data and got no answer but
 * the reset: the classic sign of close() with that data unread. Acknowledged or not makes
 * no difference: an ACK is the kernel's receipt, the wire never shows a read().
 */
function unansweredText(
  bytes: number,
  firstFrame: number,
  unacked: number,
  /** The resetting side's last new data (its endpoint's lastDataFrame): the reset changed it not. */
  lastDataFrame: number,
  mine: SideMark,
  who: string,
  other: string,
): string {
  const since =
    lastDataFrame !== 0 ? `after the ${who}'s last data (frame ${lastDataFrame})` : `while the ${who} had sent no data`;
  if (mine.drainedFrame > firstFrame)
    return (
      `the ${other} sent ${bytes} byte(s) (from frame ${firstFrame}) ${since}; the ${who}'s kernel sent window ` +
      `updates meanwhile (as it does when its program reads) and acknowledged them all with its window back at its ` +
      `largest (frame ${mine.drainedFrame}): its program had read them, so this reset is ` +
      "an abort after reading (close() with SO_LINGER{1,0}, as some clients and connection pools close idle " +
      "connections), not data left unread"
    );
  const acked =
    unacked >= bytes
      ? `its kernel never acknowledged them`
      : unacked > 0
        ? `its kernel acknowledged ${bytes - unacked} of them`
        : `its kernel acknowledged them${mine.lastFrame > firstFrame ? ` (frame ${mine.lastFrame})` : ""}, but an ACK is the kernel's receipt, not a read by the program`;
  return (
    `the ${other} sent ${bytes} byte(s) (from frame ${firstFrame}) ${since}, and the ${who} answered them only with ` +
    `this reset; ${acked}: close() with those bytes still unread is the classic cause, though reading them and then ` +
    `close() with SO_LINGER{1,0} looks the same on the wire`
  );
}

/** Nothing from the peer is left unanswered: the wire cannot show reads, so say what it does rule out. */
function answeredText(
  peerSentData: boolean,
  handshakeSeen: boolean,
  hasAck: boolean,
  lastDataFrame: number,
  who: string,
  other: string,
): string {
  if (!peerSentData && handshakeSeen) {
    // A reset without ACK is the answer of a TCP that had no connection left (the detail says so): no abort of a live socket.
    if (!hasAck) return `the ${other} sent no data on this connection, so none can have been left unread`;
    return (
      `the ${other} sent no data on this connection, so none can have been left unread: most likely a deliberate ` +
      "abort (SO_LINGER{1,0} then close()); a firewall or load balancer resetting the connection in the endpoint's name looks the same"
    );
  }
  const seen = !peerSentData
    ? `the ${other} sent no data in the capture (which began after the handshake)`
    : lastDataFrame !== 0
      ? `all the ${other}'s data came before the ${who}'s last data (frame ${lastDataFrame}), so nothing was left unanswered`
      : `the ${other}'s only data were re-sent bytes`;
  return (
    `${seen}; the wire shows what the ${who}'s kernel received, never what its program read, so SO_LINGER{1,0} and ` +
    "close() with earlier data left unread cannot be told apart"
  );
}
export default analyzer;
