/**
 * time-wait-reuse: a new SYN (new ISN) on a 4-tuple whose previous connection ended less
 * than 2·MSL ago (`--msl`; Linux holds TIME-WAIT 60 s). Measured: the time since the
 * previous connection closed, which side still held it in TIME-WAIT, and the outcome:
 * - accepted: a SYN-ACK for the new SYN (Linux accepts a SYN on a TIME-WAIT 4-tuple
 *   when its timestamp, or without timestamps its ISN, is newer than the old
 *   connection's: RFC 6191 / RFC 1122 §4.2.2.13);
 * - bare ACK then RST: TIME-WAIT answered with an ACK of the old connection; the client,
 *   in SYN-SENT, rejects it with a RST (seq = that ACK's ack), which kills TIME-WAIT
 *   (tcp_rfc1337 = 0), and re-sends its SYN a few ms later;
 * - answered by RST, or no answer.
 *
 * Reuses where the previous connection left no TIME-WAIT behind (it was reset, or never
 * got past its SYN) are reported as info: the same bind()-a-fixed-port habit, but nothing
 * stood in the way. This also keeps the kind in step with Wireshark's
 * tcp.analysis.reused_ports, which flags every such SYN (without a time limit).
 *
 * Frames: the new SYN (the frame Wireshark flags) and, for the bare-ACK outcome, the ACK,
 * the RST and the re-sent SYN (the RST is this kind's, not abortive-close's).
 */
import { defineAnalyzer, type FindingSink, WAKE_NEW_INCARNATION } from "../analyzer.js";
import { ms, roleOf, sec } from "../lib/measure.js";
import { timeWaitOf, type TimeWait } from "../lib/time-wait-holder.js";
import { DIR_CLIENT, DIR_SERVER, type Flow } from "../../decode/flow/record.js";
import { seqDiff } from "../../decode/flow/tcp-tracker.js";
import { TH_ACK, TH_RST, TH_SYN } from "../../decode/wire/packet.js";

type Previous = "time-wait" | "reset" | "never-established" | "unfinished";

class State {
  /** Set on the new SYN when the 4-tuple was reused within 2·MSL. */
  active = false;
  synFrame = 0;
  synTime = 0;
  sinceSec = 0;
  previousId = 0;
  previous: Previous = "unfinished";
  tw: TimeWait | null = null;
  /** Outcome frames, 0 when not seen. */
  synAckFrame = 0;
  bareAckFrame = 0;
  clientRstFrame = 0;
  serverRstFrame = 0;
  resentSynFrame = 0;
}

const analyzer = defineAnalyzer<State>({
  id: "time-wait-reuse",
  title: "New connection on a 4-tuple still in TIME_WAIT",
  severity: "warning",
  family: "tcp-opening",
  wire: "A new SYN on a 4-tuple whose previous connection closed less than 2·MSL ago; accepted, or answered by a bare ACK (then RST) or by RST.",
  explanation:
    "The client connected from the same local port to the same server address and port as a connection that had just " +
    "closed. That only happens when the client chooses its port itself: it calls bind() with a fixed port (usually with " +
    "SO_REUSEADDR so that bind() does not fail) before connect(); the kernel's own choice of ephemeral port avoids " +
    "recently used 4-tuples. The side that closed the previous connection first still holds that 4-tuple in TIME_WAIT " +
    "for 2·MSL, precisely so that a new connection cannot receive the old one's delayed segments. What happens then " +
    "depends on the kernels. Linux lets the new SYN take over a TIME_WAIT it can prove is older — by TCP timestamps, or " +
    "without them by a higher initial sequence number — and the connection is accepted at once. Otherwise the TIME_WAIT " +
    "side answers the SYN with an acknowledgement of the old connection; the client's kernel rejects it with a reset, " +
    "which on Linux ends the TIME_WAIT, and retries the SYN, so connect() succeeds a few milliseconds late. Other stacks " +
    "refuse (connect() fails with ECONNREFUSED), or drop the SYN until TIME_WAIT expires (connect() stalls and may time " +
    "out). When the client itself holds the TIME_WAIT, bind() or connect() can fail locally with EADDRINUSE or " +
    "EADDRNOTAVAIL, with nothing on the wire. Let the kernel pick the client's port (do not bind() before connect()), " +
    "keep TCP timestamps enabled, and where one side must close first, prefer the client, so that the server does not " +
    "accumulate TIME_WAIT.",
  references: ["000 §2.7", "000 §3.6", "000 §4.1", "000 §4.5", "002 SO_REUSEADDR"],
  createState: () => new State(),
  // Only a SYN reusing an ended connection's 4-tuple starts anything.
  wakeOn: WAKE_NEW_INCARNATION,
  renumberFlows(f, reportId) {
    const old = f.measure.previousFlow;
    if (old === undefined) return;
    const now = reportId(old);
    f.measure.previousFlow = now;
    f.summary = f.summary.replace(reusedText(old), reusedText(now));
  },
  onTcpSegment(s, flow, seg, _p, out) {
    if (seg.newIncarnation) {
      // A hand-made SYN (crafted-syn's) is no program binding the port again.
      if (flow.previous !== null && !seg.craftedSyn) start(s, flow.previous, seg.frame, seg.time, out.options.mslSec);
      return;
    }
    if (!s.active || s.synAckFrame !== 0 || s.serverRstFrame !== 0) return;
    const f = seg.flags;
    if (seg.dir === DIR_SERVER) {
      if (f & TH_RST) s.serverRstFrame = seg.frame;
      else if ((f & (TH_SYN | TH_ACK)) === (TH_SYN | TH_ACK)) {
        if (seqDiff(seg.ack, flow.ep[DIR_CLIENT].isn) === 1) s.synAckFrame = seg.frame;
      } else if (f & TH_ACK && s.bareAckFrame === 0) s.bareAckFrame = seg.frame;
    } else if (f & TH_RST) {
      if (s.clientRstFrame === 0) s.clientRstFrame = seg.frame;
    } else if ((f & (TH_SYN | TH_ACK)) === TH_SYN && s.bareAckFrame !== 0 && s.resentSynFrame === 0) {
      // The client's answer to TIME-WAIT's bare ACK: RST, then the SYN again.
      s.resentSynFrame = seg.frame;
    }
  },
  onFlowEnd(s, flow, out) {
    if (s.active) report(s, flow, out);
  },
});

function start(s: State, prev: Flow, frame: number, time: number, mslSec: number): void {
  const tw = timeWaitOf(prev);
  const [pc, ps] = prev.ep;
  let previous: Previous, closedAt: number;
  if (!ps.synSeen && !prev.midstream) {
    previous = "never-established";
    closedAt = prev.lastTime;
  } else if (tw !== null) {
    previous = "time-wait";
    closedAt = tw.start;
  } else if (pc.rstFrame !== 0 || ps.rstFrame !== 0) {
    previous = "reset";
    closedAt = pc.rstFrame !== 0 && (ps.rstFrame === 0 || pc.rstTime < ps.rstTime) ? pc.rstTime : ps.rstTime;
  } else {
    previous = "unfinished";
    closedAt = prev.lastTime;
  }
  const since = time - closedAt;
  if (since >= 2 * mslSec) return;
  s.active = true;
  s.synFrame = frame;
  s.synTime = time;
  s.sinceSec = since;
  s.previousId = prev.id;
  s.previous = previous;
  s.tw = tw;
}

function report(s: State, flow: Flow, out: FindingSink): void {
  const twSec = 2 * out.options.mslSec;
  const frames = [s.synFrame];
  let outcome: string,
    accepted = false,
    bareAck = false,
    refused = false;
  if (s.bareAckFrame !== 0) {
    bareAck = true;
    frames.push(s.bareAckFrame);
    outcome = `the ${serverSide(s)} answered the SYN with a bare ACK of the old connection (frame ${s.bareAckFrame})`;
    if (s.clientRstFrame !== 0) {
      frames.push(s.clientRstFrame);
      outcome += `, the client's kernel rejected it with a RST (frame ${s.clientRstFrame})`;
    }
    if (s.resentSynFrame !== 0) {
      frames.push(s.resentSynFrame);
      outcome += ` and re-sent its SYN (frame ${s.resentSynFrame})`;
    }
    outcome +=
      s.synAckFrame !== 0
        ? `, which was accepted (SYN-ACK frame ${s.synAckFrame}, ${ms(flow.ep[DIR_SERVER].synTime - s.synTime)} ms after the first SYN)`
        : s.serverRstFrame !== 0
          ? `, which was refused (RST frame ${s.serverRstFrame})`
          : "; no SYN-ACK followed in the capture";
    accepted = s.synAckFrame !== 0;
    refused = s.serverRstFrame !== 0;
  } else if (s.synAckFrame !== 0) {
    accepted = true;
    outcome = `the server accepted it at once (SYN-ACK frame ${s.synAckFrame})`;
  } else if (s.serverRstFrame !== 0) {
    refused = true;
    frames.push(s.serverRstFrame);
    outcome = `the server answered it with a RST (frame ${s.serverRstFrame}): connect() failed with ECONNREFUSED`;
  } else {
    outcome = "nothing answered it in the capture";
  }
  const tw = s.tw;
  let before: string;
  switch (s.previous) {
    case "time-wait":
      before = tw!.simultaneous
        ? `both sides still held it in TIME_WAIT (simultaneous close)`
        : `the ${roleOf(tw!.holder)} still held it in TIME_WAIT (it closed first, frame ${tw!.firstFinFrame}; 2·MSL = ${twSec} s)`;
      break;
    case "reset":
      before = "it had ended with a reset, so no TIME_WAIT stood in the way";
      break;
    case "never-established":
      before = "that earlier attempt never got a SYN-ACK, so no TIME_WAIT stood in the way";
      break;
    default:
      before = "its close was not complete in the capture (not both FINs seen)";
  }
  const quiet = !bareAck && !refused && (s.previous === "reset" || s.previous === "never-established");
  const detail =
    refused && s.bareAckFrame === 0 && s.previous === "time-wait"
      ? "connection-refused reports the same SYN and reset; with the 4-tuple still in TIME_WAIT, the reset more likely " +
        "comes from that TIME_WAIT than from a missing listener."
      : undefined;
  out.report(analyzer, {
    flow,
    dir: DIR_CLIENT,
    frames,
    time: s.synTime,
    detail,
    severity: quiet ? "info" : undefined,
    summary:
      `new SYN (frame ${s.synFrame}) from ${flow.endpointName("client")} ${reusedText(s.previousId)} ` +
      `${sec(s.sinceSec)} s after it ended; ${before}; ${outcome}`,
    measure: {
      sinceCloseMs: ms(s.sinceSec),
      timeWaitMs: ms(twSec),
      accepted: accepted ? 1 : 0,
      bareAckThenRst: bareAck ? 1 : 0,
      refused: refused ? 1 : 0,
      previousFlow: s.previousId,
    },
  });
}

function reusedText(previousFlow: number): string {
  return `reused the 4-tuple of flow ${previousFlow}`;
}

function serverSide(s: State): string {
  const tw = s.tw;
  if (s.previous === "time-wait" && tw !== null && (tw.holder === DIR_SERVER || tw.simultaneous))
    return "server's TIME_WAIT";
  return "server";
}
export default analyzer;
