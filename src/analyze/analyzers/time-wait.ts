/**
 * time-wait: which side did the active close and so holds the 4-tuple in TIME-WAIT for
 * 2·MSL (RFC 9293 §3.6: the side whose FIN went first waits, so it can re-acknowledge a
 * lost final FIN and so old duplicates die out before the 4-tuple is used again).
 * Informational: one finding per connection closed by the FIN exchange.
 *
 * Simultaneous close: when the second FIN was sent before its sender had received the
 * first one (it does not acknowledge the first FIN), both FINs crossed and both sides go
 * through CLOSING into TIME-WAIT (RFC 9293 §3.6, case 2).
 *
 * Reported when the close completes: on the segment that acknowledges the second FIN
 * (the flow's `endedFrame`), or at the flow's end when that acknowledgement was not
 * captured. `timeWaitOf` is shared with time-wait-reuse, which needs the same answer
 * for the connection a new SYN replaces.
 */
import { TH_FIN } from "../../decode/packet.js";
import { defineAnalyzer, type FindingSink } from "../analyzer.js";
import { DIR_CLIENT, type Flow } from "../../decode/flow.js";
import { ms, roleOf } from "../measure.js";

/** Who holds TIME-WAIT after a completed FIN exchange, and since when. */
export interface TimeWait {
  /** Direction of the side that sent the first FIN (the active closer). */
  holder: number;
  /** Both FINs crossed: both sides hold TIME-WAIT. */
  simultaneous: boolean;
  /** Capture time TIME-WAIT began: the final ACK, or the second FIN when that ACK is missing. */
  start: number;
  firstFinFrame: number;
  secondFinFrame: number;
  /** Frame acknowledging the second FIN (the active closer's last ACK), 0 if not captured. */
  lastAckFrame: number;
}

/**
 * TIME-WAIT of a flow whose FIN exchange completed and that no reset ended, else null.
 * A reset ends the connection without TIME-WAIT; one FIN alone leaves FIN-WAIT-2 /
 * CLOSE-WAIT, and a FIN never acknowledged leaves FIN-WAIT-1 / CLOSING / LAST-ACK.
 */
export function timeWaitOf(flow: Flow): TimeWait | null {
  const [c, s] = flow.ep;
  if (c.finFrame === 0 || s.finFrame === 0) return null;
  const holder = c.finFrame < s.finFrame ? 0 : 1;
  const x = flow.ep[holder]!,
    y = flow.ep[1 - holder]!;
  // The first FIN must have been acknowledged: a side whose FIN is never acknowledged
  // stays in CLOSING (or FIN-WAIT-1) retransmitting it.
  if (x.finAckedFrame === 0) return null;
  const lastAck = y.finAckedFrame;
  const closedAt = lastAck !== 0 ? Math.max(lastAck, x.finAckedFrame) : y.finFrame;
  // The holder must have received the second FIN: it acknowledges it at once. Unacknowledged,
  // it counts only when nothing followed it in the capture (the final ACK was not captured);
  // a FIN re-sent, or answered by anything but its ACK, never reached a TIME-WAIT.
  if (lastAck === 0 && Math.max(c.lastFrame, s.lastFrame) > y.finFrame) return null;
  // A reset ends the connection without TIME-WAIT, before the FINs or after them: a side in
  // TIME-WAIT answers segments with an ACK, never a RST (RFC 9293 §3.10.7.4), and one that
  // receives a RST drops its TIME-WAIT (RFC 1337). One sent before the server's SYN-ACK
  // belongs to the opening (the client rejecting a TIME-WAIT's bare ACK, see time-wait-reuse).
  const opened = s.synFrame;
  const resetAfterOpening = (r: number): boolean => r !== 0 && r > opened;
  if (resetAfterOpening(c.rstFrame) || resetAfterOpening(s.rstFrame)) return null;
  const ended = flow.endedFrame !== 0 && flow.endedFrame === closedAt;
  return {
    holder,
    simultaneous: x.finAckedFrame > y.finFrame,
    start: ended ? flow.endedTime : y.finTime,
    firstFinFrame: x.finFrame,
    secondFinFrame: y.finFrame,
    lastAckFrame: lastAck,
  };
}

class State {
  reported = false;
}

const analyzer = defineAnalyzer<State>({
  id: "time-wait",
  title: "Graceful close: the side that closed first holds TIME_WAIT",
  severity: "info",
  family: "tcp-closing",
  wire: "Both sides exchange FIN and ACK; the side whose FIN went first is the one that stays in TIME_WAIT for 2·MSL.",
  explanation:
    "Nothing went wrong: both programs closed the connection with the normal FIN exchange. The side that called " +
    "close() (or shutdown(SHUT_WR)) first made the active close, and its kernel keeps the connection's address and " +
    "port pair in TIME_WAIT for twice the maximum segment lifetime (60 s on Linux, up to 4 minutes elsewhere): long " +
    "enough to answer a retransmitted FIN if the last ACK was lost, and to let stray old segments expire before the " +
    "same 4-tuple can carry a new connection. It costs a little kernel memory and, on the active closer, one local " +
    "port per connection. It matters in two situations. A server that closes first collects TIME_WAIT entries on its " +
    "listening port; if it is restarted and bind()s without SO_REUSEADDR set before bind(), bind() fails with " +
    'EADDRINUSE ("address already in use") until they expire. A client that opens many short connections and closes ' +
    "first uses up ephemeral ports that sit in TIME_WAIT. Set SO_REUSEADDR on listening sockets; let the client close " +
    "first where the protocol allows it (the server then keeps no TIME_WAIT); reuse connections instead of opening one " +
    "per request. Do not try to avoid TIME_WAIT with SO_LINGER{1,0}: that turns every close into a reset.",
  references: ["000 §2.7", "000 §2.5", "000 §4.1", "000 §4.2"],
  createState: () => new State(),
  // TIME-WAIT needs both FINs.
  wakeOn: TH_FIN,
  onTcpSegment(s, flow, seg, _p, out) {
    // The close completes on the segment that acknowledges the second FIN.
    if (s.reported || flow.endedFrame !== seg.frame) return;
    const tw = timeWaitOf(flow);
    if (tw === null) return;
    s.reported = true;
    report(flow, tw, out);
  },
  onFlowEnd(s, flow, out) {
    if (s.reported) return;
    const tw = timeWaitOf(flow);
    if (tw !== null) report(flow, tw, out);
  },
});

function report(flow: Flow, tw: TimeWait, out: FindingSink): void {
  const twSec = 2 * out.options.mslSec;
  const who = roleOf(tw.holder),
    other = roleOf(1 - tw.holder);
  const x = flow.ep[tw.holder]!;
  const holds = tw.simultaneous
    ? `both FINs crossed (frames ${tw.firstFinFrame} and ${tw.secondFinFrame}): a simultaneous close, so both the client ` +
      `and the server hold TIME_WAIT`
    : `the ${who} closed first (FIN frame ${tw.firstFinFrame}), the ${other} followed (FIN frame ${tw.secondFinFrame}); ` +
      `the ${who} (${flow.endpointName(tw.holder === DIR_CLIENT ? "client" : "server")}) holds TIME_WAIT`;
  const ack =
    tw.lastAckFrame !== 0
      ? `from the final ACK (frame ${tw.lastAckFrame})`
      : "from the second FIN (the final ACK is not in the capture)";
  out.report(analyzer, {
    flow,
    dir: tw.holder,
    frames: [tw.firstFinFrame, tw.secondFinFrame, tw.lastAckFrame].filter((f) => f > 0),
    time: x.finTime,
    summary: `${holds} for 2·MSL = ${twSec} s ${ack}`,
    measure: {
      timeWaitMs: ms(twSec),
      bothHold: tw.simultaneous ? 1 : 0,
      closeMs: ms(tw.start - x.finTime),
    },
  });
}
export default analyzer;
