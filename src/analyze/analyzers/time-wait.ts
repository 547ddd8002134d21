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
 * How long: the holder's stack's TIME_WAIT when the capture tells the stack (initial TTL,
 * SYN option layout, the capture file's OS: analyze/lib/side-stack.ts), else the range
 * over common stacks, with no single number stated; the user's `--msl` overrides both.
 *
 * Reported when the close completes: on the segment that acknowledges the second FIN
 * (the flow's `endedFrame`), or at the flow's end when that acknowledgement was not
 * captured. Who holds TIME-WAIT is `timeWaitOf` (analyze/lib/time-wait-holder.ts),
 * shared with time-wait-reuse, which needs the same answer for the connection a new SYN
 * replaces.
 */
import { TH_FIN } from "../../decode/wire/packet.js";
import { defineAnalyzer, type FindingSink } from "../analyzer.js";
import { DIR_CLIENT, type Flow } from "../../decode/flow/record.js";
import { ms, roleOf } from "../lib/measure.js";
import { timeWaitOfSide } from "../lib/side-stack.js";
import { timeWaitOf, type TimeWait } from "../lib/time-wait-holder.js";

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
    "port pair in TIME_WAIT for twice the maximum segment lifetime (2·MSL, which depends on the stack: 60 s on Linux, " +
    "30 s on macOS and iOS, 120 s on current Windows and 240 s on older ones; the finding says which it assumed): long " +
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
  const who = roleOf(tw.holder),
    other = roleOf(1 - tw.holder);
  const x = flow.ep[tw.holder]!;
  const msl = out.options.mslSec;
  const mine = timeWaitOfSide(flow, tw.holder, msl, out.capture);
  let holds: string;
  if (tw.simultaneous) {
    // Both hold it, each for as long as its own stack does.
    const theirs = timeWaitOfSide(flow, 1 - tw.holder, msl, out.capture);
    const length = mine.text === theirs.text ? mine.text : `the ${who}: ${mine.text}; the ${other}: ${theirs.text}`;
    holds =
      `both FINs crossed (frames ${tw.firstFinFrame} and ${tw.secondFinFrame}): a simultaneous close, so both the client ` +
      `and the server hold TIME_WAIT: ${length}`;
  } else {
    holds =
      `the ${who} closed first (FIN frame ${tw.firstFinFrame}), the ${other} followed (FIN frame ${tw.secondFinFrame}); ` +
      `the ${who} (${flow.endpointName(tw.holder === DIR_CLIENT ? "client" : "server")}) holds TIME_WAIT: ${mine.text}`;
  }
  const ack =
    tw.lastAckFrame !== 0
      ? `from the final ACK (frame ${tw.lastAckFrame})`
      : "from the second FIN (the final ACK is not in the capture)";
  const measure: Record<string, number> = {
    bothHold: tw.simultaneous ? 1 : 0,
    closeMs: ms(tw.start - x.finTime),
  };
  // A length only when one is known: the user's --msl, or the holder's stack's default.
  if (mine.known) measure.timeWaitMs = ms(mine.sec);
  out.report(analyzer, {
    flow,
    dir: tw.holder,
    frames: [tw.firstFinFrame, tw.secondFinFrame, tw.lastAckFrame].filter((f) => f > 0),
    time: x.finTime,
    summary: `${holds}, ${ack}`,
    measure,
  });
}
export default analyzer;
