/**
 * time-wait-reuse: a new SYN (new ISN) on a 4-tuple whose previous connection ended while
 * its TIME-WAIT may still have stood (`--msl`, else the holder's stack's own length:
 * analyze/lib/side-stack.ts). Measured: the time since the previous connection
 * closed, whether the side that closed first still held it in TIME-WAIT (its stack known:
 * within that stack's length; unknown: surely within the shortest TIME_WAIT of the stacks
 * it may be, "may still have" up to their longest: 30 and 240 s without any evidence),
 * and the outcome:
 * - accepted: a SYN-ACK for the new SYN (Linux accepts a SYN on a TIME-WAIT 4-tuple
 *   when its timestamp, or without timestamps its ISN, is newer than the old
 *   connection's: RFC 6191 / RFC 1122 §4.2.2.13);
 * - bare ACK then RST: TIME-WAIT answered with an ACK of the old connection; the client,
 *   in SYN-SENT, rejects it with a RST (seq = that ACK's ack), which kills TIME-WAIT
 *   (tcp_rfc1337 = 0), and re-sends its SYN a few ms later;
 * - answered by RST, or no answer.
 *
 * Reuses where the previous connection left no TIME-WAIT behind (it was reset, or never
 * got past its SYN, or its holder's stack had let it expire) are reported as info: the same bind()-a-fixed-port habit, but nothing
 * stood in the way. This also keeps the kind in step with Wireshark's
 * tcp.analysis.reused_ports, which flags every such SYN (without a time limit).
 *
 * Frames: the new SYN (the frame Wireshark flags) and, for the bare-ACK outcome, the ACK,
 * the RST and the re-sent SYN (the RST is this kind's, not abortive-close's).
 */
import { defineAnalyzer, type FindingSink, WAKE_NEW_INCARNATION } from "../analyzer.js";
import type { Finding, FindingWords } from "../finding.js";
import { ms, roleOf, sec } from "../lib/measure.js";
import { stackOf, timeWaitOfSide, type TimeWaitLength } from "../lib/side-stack.js";
import { timeWaitOf, type TimeWait } from "../lib/time-wait-holder.js";
import { DIR_CLIENT, DIR_SERVER, type Flow } from "../../decode/flow/record.js";
import { seqDiff } from "../../decode/flow/tcp-tracker.js";
import { TH_ACK, TH_RST, TH_SYN } from "../../decode/wire/packet.js";

type Previous = "time-wait" | "reset" | "never-established" | "unfinished";
/** Whether the previous connection's TIME_WAIT stood in the way, by the holder's stack's length. */
/**
 * "taken-over": the holder was the client and the new SYN is its own, so its stack let
 * connect() have the 4-tuple (Linux takes over its own TIME_WAIT for an explicitly bound
 * port when the old connection used timestamps); whatever its nominal length, it stood in
 * no one's way.
 */
type Held = "still" | "maybe" | "expired" | "taken-over";

/**
 * Reuses after a connection that left no TIME_WAIT in the way (or one already expired)
 * are reported within this many seconds of its end, as info: Linux's TIME_WAIT, the
 * window the analyzer has always used without `--msl`.
 */
const REUSE_WINDOW_SEC = 60;

class State {
  /** Set on the new SYN when the 4-tuple was reused within 2·MSL. */
  active = false;
  synFrame = 0;
  synTime = 0;
  sinceSec = 0;
  previousId = 0;
  previous: Previous = "unfinished";
  tw: TimeWait | null = null;
  held: Held = "expired";
  /** The single holder's stack as its packets name it (lib/stack-profile.ts id), null when they do not. */
  holderStack: string | null = null;
  /** The holder's TIME_WAIT, as assumed (the first holder's when both held it). */
  twLength: TimeWaitLength | null = null;
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
  describe,
  flowMeasures: ["previousFlow"],
  onTcpSegment(s, flow, seg, _p, out) {
    if (seg.newIncarnation) {
      // A hand-made SYN (crafted-syn's) is no program binding the port again.
      if (flow.previous !== null && !seg.craftedSyn) start(s, flow.previous, seg.frame, seg.time, out);
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

function start(s: State, prev: Flow, frame: number, time: number, out: FindingSink): void {
  const mslSec = out.options.mslSec;
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
  let window = mslSec !== null ? 2 * mslSec : REUSE_WINDOW_SEC;
  if (tw !== null) {
    // Each holder keeps TIME_WAIT as long as its own stack does.
    const lengths = (tw.simultaneous ? [tw.holder, 1 - tw.holder] : [tw.holder]).map((d) =>
      timeWaitOfSide(prev, d, mslSec, out.capture),
    );
    s.twLength = lengths[0]!;
    s.holderStack = tw.simultaneous ? null : (stackOf(prev, tw.holder, out.capture)?.id ?? null);
    s.held = lengths.some((l) => since < l.sec) ? "still" : lengths.some((l) => since < l.maxSec) ? "maybe" : "expired";
    window = Math.max(window, ...lengths.map((l) => l.maxSec));
  }
  if (since >= window) return;
  s.active = true;
  s.synFrame = frame;
  s.synTime = time;
  s.sinceSec = since;
  s.previousId = prev.id;
  s.previous = previous;
  s.tw = tw;
}

/** What the words are written from (describe): frames are null when not seen. */
interface Facts {
  [key: string]: string | number | boolean | null;
  previous: Previous;
  /** For a TIME_WAIT previous: who held it ("both": simultaneous close), and their FINs. */
  holder: "client" | "server" | "both" | null;
  firstFinFrame: number | null;
  secondFinFrame: number | null;
  /** Whether that TIME_WAIT still stood, by the holder's stack's length. */
  held: Held | null;
  /** The TIME_WAIT length assumed, and on what basis (the stack, --msl, or a range). */
  timeWaitBasis: string | null;
  /** The single holder's stack (lib/stack-profile.ts id), null when unknown: Linux's takeover rule is named only for Linux. */
  holderStack: string | null;
  synFrame: number;
  bareAckFrame: number | null;
  clientRstFrame: number | null;
  resentSynFrame: number | null;
  synAckFrame: number | null;
  serverRstFrame: number | null;
  /** First SYN to the SYN-ACK that accepted it (after a bare ACK), ms. */
  acceptedAfterMs: number | null;
}

function report(s: State, flow: Flow, out: FindingSink): void {
  const frames = [s.synFrame];
  const bareAck = s.bareAckFrame !== 0;
  if (bareAck) {
    frames.push(s.bareAckFrame);
    if (s.clientRstFrame !== 0) frames.push(s.clientRstFrame);
    if (s.resentSynFrame !== 0) frames.push(s.resentSynFrame);
  } else if (s.synAckFrame === 0 && s.serverRstFrame !== 0) frames.push(s.serverRstFrame);
  const accepted = s.synAckFrame !== 0;
  const refused = !accepted && s.serverRstFrame !== 0;
  const tw = s.previous === "time-wait" ? s.tw : null;
  // A bare ACK of the old connection from the server is its TIME_WAIT answering, whatever the profile says.
  const serverHolds = tw !== null && (tw.simultaneous || tw.holder === DIR_SERVER);
  // The client's own SYN on the 4-tuple it holds: its stack let connect() have it.
  const ownTakeover =
    tw !== null &&
    !tw.simultaneous &&
    tw.holder === DIR_CLIENT &&
    !bareAck &&
    (s.held === "still" || s.held === "maybe");
  const held = tw === null ? null : bareAck && serverHolds ? "still" : ownTakeover ? "taken-over" : s.held;
  const quiet =
    !bareAck &&
    !refused &&
    (s.previous === "reset" || s.previous === "never-established" || held === "expired" || held === "taken-over");
  const facts: Facts = {
    previous: s.previous,
    holder: tw === null ? null : tw.simultaneous ? "both" : roleOf(tw.holder),
    firstFinFrame: tw?.firstFinFrame ?? null,
    secondFinFrame: tw?.simultaneous ? tw.secondFinFrame : null,
    held,
    timeWaitBasis: tw === null ? null : s.twLength!.text,
    holderStack: s.holderStack,
    synFrame: s.synFrame,
    bareAckFrame: frameOrNull(s.bareAckFrame),
    clientRstFrame: frameOrNull(s.clientRstFrame),
    resentSynFrame: frameOrNull(s.resentSynFrame),
    synAckFrame: frameOrNull(s.synAckFrame),
    serverRstFrame: frameOrNull(s.serverRstFrame),
    acceptedAfterMs: accepted ? ms(flow.ep[DIR_SERVER].synTime - s.synTime) : null,
  };
  const measure: Record<string, number> = {
    sinceCloseMs: ms(s.sinceSec),
    accepted: accepted ? 1 : 0,
    bareAckThenRst: bareAck ? 1 : 0,
    refused: refused ? 1 : 0,
    previousFlow: s.previousId,
  };
  // A length only when one is known: the user's --msl, or the holder's stack's default.
  if (s.twLength?.known === true) measure.timeWaitMs = ms(s.twLength.sec);
  out.report(analyzer, {
    flow,
    dir: DIR_CLIENT,
    frames,
    time: s.synTime,
    severity: quiet ? "info" : undefined,
    facts,
    measure,
  });
}

function describe(f: Finding): FindingWords {
  const x = f.facts as Facts;
  const m = f.measure;
  let outcome: string;
  if (x.bareAckFrame !== null) {
    const answered = x.holder === "server" || x.holder === "both" ? "server's TIME_WAIT" : "server";
    outcome = `the ${answered} answered the SYN with a bare ACK of the old connection (frame ${x.bareAckFrame})`;
    if (x.clientRstFrame !== null)
      outcome += `, the client's kernel rejected it with a RST (frame ${x.clientRstFrame})`;
    if (x.resentSynFrame !== null) outcome += ` and re-sent its SYN (frame ${x.resentSynFrame})`;
    outcome +=
      x.synAckFrame !== null
        ? `, which was accepted (SYN-ACK frame ${x.synAckFrame}, ${x.acceptedAfterMs} ms after the first SYN)`
        : x.serverRstFrame !== null
          ? `, which was refused (RST frame ${x.serverRstFrame})`
          : "; no SYN-ACK followed in the capture";
  } else if (x.synAckFrame !== null) {
    outcome = `the server accepted it at once (SYN-ACK frame ${x.synAckFrame})`;
  } else if (x.serverRstFrame !== null) {
    outcome = `the server answered it with a RST (frame ${x.serverRstFrame}): connect() failed with ECONNREFUSED`;
  } else {
    outcome = "nothing answered it in the capture";
  }
  let before: string;
  switch (x.previous) {
    case "time-wait":
      before = timeWaitText(x);
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
  const detail =
    m.refused === 1 && x.bareAckFrame === null && x.previous === "time-wait"
      ? "connection-refused reports the same SYN and reset; with the 4-tuple still in TIME_WAIT, the reset more likely " +
        "comes from that TIME_WAIT than from a missing listener."
      : undefined;
  return {
    summary:
      `new SYN (frame ${x.synFrame}) from ${f.endpoint} reused the 4-tuple of flow ${m.previousFlow} ` +
      `${sec(m.sinceCloseMs! / 1000)} s after it ended; ${before}; ${outcome}`,
    detail,
  };
}

/** Who held the old connection's TIME_WAIT when the new SYN came, by the holder's stack's length. */
function timeWaitText(x: Facts): string {
  const both = x.holder === "both";
  const who = both ? "both sides" : `the ${x.holder}`;
  const why = both
    ? `they closed simultaneously (FIN frames ${x.firstFinFrame} and ${x.secondFinFrame}), and ${x.timeWaitBasis}`
    : `it closed first (FIN frame ${x.firstFinFrame}), and ${x.timeWaitBasis}`;
  if (x.held === "taken-over")
    return (
      `the client had closed first (FIN frame ${x.firstFinFrame}), and ${x.timeWaitBasis}; but this SYN is its own: ` +
      (x.holderStack === "linux"
        ? "Linux lets connect() take over its own TIME_WAIT for a port bound explicitly when the old connection used " +
          "TCP timestamps, so it stood in no one's way"
        : x.holderStack !== null
          ? // Another stack's packets: no Linux rule for it (audit 9: an iOS client, whose xnu refuses its own TIME_WAIT).
            "its stack let connect() have the 4-tuple, so its TIME_WAIT stood in no one's way: it ended sooner than " +
            "that default (a shorter MSL set on the host) or the stack gave it up to its own connect(); the capture " +
            "does not tell which"
          : "its stack let connect() have the 4-tuple, so its TIME_WAIT stood in no one's way (taken over, as Linux " +
            "does for an explicitly bound port with timestamps, or ended sooner than the default)")
    );
  if (x.held === "still") return `${who} still held it in TIME_WAIT: ${why}`;
  if (x.held === "maybe") return `${who} may still have held it in TIME_WAIT: ${why}`;
  return `${both ? "both sides'" : `the ${x.holder}'s`} TIME_WAIT had already ended: ${why}; nothing stood in the way`;
}

const frameOrNull = (frame: number): number | null => (frame === 0 ? null : frame);
export default analyzer;
