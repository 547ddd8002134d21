/**
 * connection-refused: the client's SYN is answered by RST (+ACK) before any SYN-ACK from
 * that side: nothing was listening on the port (RFC 9293 §3.10.7.1, a SYN to a CLOSED
 * port draws a reset). Judged when the flow ends, not at the reset, because what the
 * program saw depends on what came after:
 * - the client's stack may re-send the refused SYN (same ISN; Windows twice, 0.5 s
 *   apart, Linux never): connect() failed only at the last reset, which is when
 *   ECONNREFUSED reached the program; and if one of those SYNs got a SYN-ACK (a listener
 *   came up meanwhile), connect() succeeded, late: info, not an error;
 * - the client's next connect() to the port may go to another address of the server
 *   straight after (getaddrinfo()'s loop, Happy Eyeballs): when that one was accepted,
 *   the program's connect loop succeeded (info on loopback, where both addresses are
 *   surely the same host; a warning elsewhere, where one address of the name refuses);
 * - the listener's other connections say whether anything listened there in the capture,
 *   whether it had served before (then closed its listening socket or exited), and
 *   whether it served again later (restarted).
 * The cross-flow facts come from analyze/lib/refusal-evidence.ts.
 */
import { refusedSynRetryCause } from "../lib/stack-profile.js";
import { stackOf } from "../lib/side-stack.js";
import type { CaptureFacts } from "../lib/recording-host.js";
import { defineAnalyzer, type FindingSink } from "../analyzer.js";
import type { Finding, FindingWords, Severity } from "../finding.js";
import { ms, sec } from "../lib/measure.js";
import {
  Attempt,
  clientKey,
  listenerKey,
  MAX_REFUSALS_KEPT,
  onLoopback,
  OUTCOME_ACCEPTED,
  OUTCOME_NONE,
  OUTCOME_REFUSED,
  mergeEvidence,
  Refusal,
  RefusalEvidence,
  resolveEvidence,
  serverAddress,
} from "../lib/refusal-evidence.js";
import { DIR_CLIENT, DIR_SERVER, type Flow } from "../../decode/flow/record.js";
import { TH_ACK, TH_RST, TH_SYN } from "../../decode/wire/packet.js";

class State {
  /** The client's first SYN was seen; this flow's connect() was noted when it could be another's fallback. */
  attemptSeen = false;
  attempt: Attempt | null = null;
  refusal: Refusal | null = null;
  /** The client's SYN transmissions (first and re-sent), while a refusal is being followed. */
  synFrames: number[] = [];
  synTimes: number[] = [];
  /** The SYN-ACK that answered a SYN re-sent after a refusal, 0 if none. */
  synAckFrame = 0;
  synAckTime = 0;
  /** The server has answered with a SYN-ACK: nothing more to follow on this flow. */
  done = false;
}

const analyzer = defineAnalyzer<State, RefusalEvidence>({
  id: "connection-refused",
  title: "connect() refused: the SYN was answered by a reset",
  severity: "error",
  family: "tcp-opening",
  wire: "The client's SYN is answered by RST+ACK from the server's address; no SYN-ACK is ever sent.",
  explanation:
    "The client called connect() to a port where no socket was listening: the server process was not running, " +
    "had not yet called listen(), listened on another address or port (127.0.0.1 versus ::1 or 0.0.0.0), " +
    "or its listening socket had just been closed. The server's kernel answered the SYN with a reset, so " +
    "connect() failed at once with ECONNREFUSED (a non-blocking connect reports it through SO_ERROR after " +
    "select()/poll() says the socket is writable). Check that the server is up and bound to the address " +
    "and port the client uses (ss -ltn); a client that starts before its server should retry with a delay.",
  references: ["000 §3.7", "003 connect()"],
  createState: () => new State(),
  // A flow's first SYN is a connect() to note (another one's fallback); a reset may refuse it.
  wakeOn: TH_SYN | TH_RST,
  describe,
  capture: {
    create: (sharded) => new RefusalEvidence(sharded),
    merge: mergeEvidence,
    resolve: (ev) => resolveEvidence(ev, rewrite),
  },
  onTcpSegment(s, flow, seg, _p, out) {
    if (s.done) return;
    const f = seg.flags;
    const server = flow.ep[DIR_SERVER];
    if (seg.dir === DIR_CLIENT) {
      if ((f & (TH_SYN | TH_ACK)) !== TH_SYN) return;
      if (!s.attemptSeen) {
        s.attemptSeen = true;
        const ev = out.captureState(analyzer);
        if (ev.wantsAttempts()) {
          s.attempt = new Attempt(
            seg.frame,
            seg.time,
            flow.endpointName("server"),
            serverAddress(flow),
            onLoopback(flow),
          );
          ev.attempted(clientKey(flow), s.attempt, (r) => revise(r, out));
        }
      }
      if (s.refusal !== null && s.synFrames.length < MAX_REFUSALS_KEPT) {
        s.synFrames.push(seg.frame);
        s.synTimes.push(seg.time);
      }
      return;
    }
    if ((f & (TH_SYN | TH_ACK)) === (TH_SYN | TH_ACK)) {
      s.done = true;
      out.captureState(analyzer).accepted(listenerKey(flow), seg.frame, seg.time, (r) => revise(r, out));
      if (s.refusal !== null) {
        s.synAckFrame = seg.frame;
        s.synAckTime = seg.time;
      }
      settle(s.attempt, OUTCOME_ACCEPTED, seg.frame, out);
      return;
    }
    const client = flow.ep[DIR_CLIENT];
    if (!(f & TH_RST) || !client.synSeen || server.synSeen) return;
    if (s.refusal === null) {
      s.refusal = new Refusal(listenerKey(flow), clientKey(flow), serverAddress(flow), seg.frame);
      // The SYN this reset refused (the tracker keeps the attempt's first SYN).
      s.synFrames.push(client.synFrame);
      s.synTimes.push(client.synTime);
      s.refusal.addReset(seg.frame, seg.time);
      out.captureState(analyzer).refused(s.refusal);
      settle(s.attempt, OUTCOME_REFUSED, seg.frame, out);
    } else s.refusal.addReset(seg.frame, seg.time);
  },
  onFlowEnd(s, flow, out) {
    const r = s.refusal;
    if (r === null) return;
    r.finding = out.report(analyzer, {
      flow,
      dir: DIR_CLIENT,
      frames: [...s.synFrames, ...r.rstFrames, ...(s.synAckFrame !== 0 ? [s.synAckFrame] : [])],
      time: s.synTimes[0]!,
      severity: severityOf(r, s.synAckFrame !== 0),
      facts: factsOf(s, r, flow, out.capture),
      measure: measureOf(s, r, flow),
    });
  },
});

/** The attempt's outcome, once: findings that named it as their fallback are written again. */
function settle(a: Attempt | null, outcome: number, frame: number, out: FindingSink): void {
  if (a === null || a.outcome !== OUTCOME_NONE) return;
  a.outcome = outcome;
  a.outcomeFrame = frame;
  for (const r of a.dependents ?? []) revise(r, out);
}

/** One engine: a reported finding whose cross-flow facts changed is written again. */
function revise(r: Refusal, out: FindingSink): void {
  if (r.finding === null) return;
  rewrite(r);
  out.revise(analyzer, r.finding);
}

/** Takes the cross-flow facts into the finding (its words are written by the caller). */
function rewrite(r: Refusal): void {
  const f = r.finding!;
  const x = f.facts as Facts;
  f.facts = { ...x, ...crossFacts(r) };
  f.severity = severityOf(r, x.synAckFrame !== null);
  Object.assign(f.measure, crossMeasure(r, x.synAckFrame !== null));
}

/**
 * Accepted in the end (on this flow, or by the connect loop's next address): the program's
 * connect() succeeded. Only a fallback to another address of a remote name keeps a
 * warning: the packets cannot prove it is the same name's, and if it is, one of its
 * addresses refuses every client that tries it first.
 */
function severityOf(r: Refusal, acceptedHere: boolean): Severity {
  if (acceptedHere) return "info";
  if (r.fallback?.outcome === OUTCOME_ACCEPTED) return r.fallback.loopback ? "info" : "warning";
  return "error";
}

/** What the words are written from (describe), besides the measure; null when it did not happen. */
interface Facts {
  [key: string]: string | number | boolean | null;
  server: string;
  /** The client's SYN transmissions and the resets, comma-separated frames. */
  synFrames: string;
  rstFrames: string;
  /** Seconds from each reset to the SYN re-sent after it, comma-separated, when re-sent. */
  retryIntervals: string | null;
  /** The SYN-ACK that accepted a re-sent SYN. */
  synAckFrame: number | null;
  lastRstFrame: number;
  listener: string;
  acceptedBeforeFrame: number | null;
  acceptedAfterFrame: number | null;
  fallbackServer: string | null;
  fallbackSynFrame: number | null;
  fallbackOutcome: "accepted" | "refused" | "unanswered" | null;
  fallbackOutcomeFrame: number | null;
  fallbackLoopback: boolean;
  /** Why the client re-sent a refused SYN, by its stack (lib/stack-profile.ts refusedSynRetryCause); null when it did not. */
  retryCause: string | null;
}

type CrossFacts = Pick<
  Facts,
  | "acceptedBeforeFrame"
  | "acceptedAfterFrame"
  | "fallbackServer"
  | "fallbackSynFrame"
  | "fallbackOutcome"
  | "fallbackOutcomeFrame"
  | "fallbackLoopback"
>;

function factsOf(s: State, r: Refusal, flow: Flow, capture: CaptureFacts): Facts {
  // Each re-sent SYN, measured from the reset before it: Windows waits 0.5 s after each.
  const iv: string[] = [];
  for (let i = 1; i < s.synTimes.length; i++) {
    const rst = r.rstTimes[i - 1] ?? s.synTimes[i - 1]!;
    iv.push((s.synTimes[i]! - rst).toFixed(2));
  }
  return {
    server: flow.endpointName("server"),
    synFrames: s.synFrames.join(", "),
    rstFrames: r.rstFrames.join(", "),
    retryIntervals: iv.length === 0 ? null : iv.join(", "),
    // Only a re-sent SYN has a cause to give (audit 9: a stale cause on a single refusal).
    retryCause: iv.length === 0 ? null : refusedSynRetryCause(stackOf(flow, DIR_CLIENT, capture)),
    synAckFrame: s.synAckFrame === 0 ? null : s.synAckFrame,
    lastRstFrame: r.lastRstFrame,
    listener: flow.endpointName("server") + (flow.vlan > 0 ? ` (VLAN ${flow.vlan})` : ""),
    ...crossFacts(r),
  };
}

function crossFacts(r: Refusal): CrossFacts {
  const fb = r.fallback;
  return {
    acceptedBeforeFrame: r.acceptedBeforeFrame === 0 ? null : r.acceptedBeforeFrame,
    acceptedAfterFrame: r.acceptedAfterFrame === 0 ? null : r.acceptedAfterFrame,
    fallbackServer: fb?.server ?? null,
    fallbackSynFrame: fb?.synFrame ?? null,
    fallbackOutcome:
      fb === null
        ? null
        : fb.outcome === OUTCOME_ACCEPTED
          ? "accepted"
          : fb.outcome === OUTCOME_REFUSED
            ? "refused"
            : "unanswered",
    fallbackOutcomeFrame: fb === null || fb.outcomeFrame === 0 ? null : fb.outcomeFrame,
    fallbackLoopback: fb?.loopback ?? false,
  };
}

function measureOf(s: State, r: Refusal, flow: Flow): Record<string, number> {
  const client = flow.ep[DIR_CLIENT];
  const first = s.synTimes[0]!;
  const accepted = s.synAckFrame !== 0;
  // When connect() returned: at the SYN-ACK that accepted it, else at the last reset.
  const connectMs = ms((accepted ? s.synAckTime : r.lastRstTime) - first);
  return {
    rstAfterMs: ms(r.rstTimes[0]! - first),
    synCount: client.synCount,
    refusals: r.rstFrames.length,
    connectMs,
    accepted: accepted ? 1 : 0,
    ...crossMeasure(r, accepted),
  };
}

/** The cross-flow measures: -1 when the capture has no such connection. */
function crossMeasure(r: Refusal, acceptedHere: boolean): Record<string, number> {
  const first = r.rstTimes[0]!;
  return {
    listenerAcceptedBeforeMs: r.acceptedBeforeFrame === 0 ? -1 : ms(first - r.acceptedBeforeTime),
    listenerAcceptedAfterMs: r.acceptedAfterFrame === 0 ? -1 : ms(r.acceptedAfterTime - first),
    fallbackGapMs: r.fallback === null ? -1 : ms(r.fallbackGapSec),
    programConnected: acceptedHere || r.fallback?.outcome === OUTCOME_ACCEPTED ? 1 : 0,
  };
}

function describe(f: Finding): FindingWords {
  const x = f.facts as Facts;
  const m = f.measure;
  const n = m.refusals!;
  const parts = [refusedText(x, m, n), listenerText(x, m)];
  const fallback = fallbackText(x, m);
  if (fallback !== null) parts.push(fallback);
  return { summary: parts.join("; "), detail: detailText(x, n) };
}

/** This flow: the SYN(s), the reset(s), and when connect() returned. */
function refusedText(x: Facts, m: Record<string, number>, n: number): string {
  const took = `${sec(m.connectMs! / 1000)} s after the first SYN`;
  if (x.synAckFrame !== null) {
    return (
      `connect() to ${x.server} refused, re-sent, then accepted: the SYN (frames ${x.synFrames}) ` +
      `was answered by RST (frame${n > 1 ? "s" : ""} ${x.rstFrames}), re-sent with the same sequence number ` +
      `(${x.retryIntervals} s after the RST: ${x.retryCause}), and answered by a SYN-ACK (frame ${x.synAckFrame}) ` +
      `${took}: a listener came up meanwhile, so connect() succeeded, late`
    );
  }
  if (n === 1 && x.retryIntervals === null) {
    return `connect() to ${x.server} refused: SYN (frame ${x.synFrames}) answered by RST (frame ${x.rstFrames}) after ${m.rstAfterMs} ms`;
  }
  const resent = x.retryIntervals === null ? 0 : x.retryIntervals.split(",").length;
  return (
    `connect() to ${x.server} refused ${n} time(s): SYNs (frames ${x.synFrames}) answered by RST (frames ${x.rstFrames}); ` +
    `the client re-sent the refused SYN ${resent} time(s) with the same sequence number (${x.retryIntervals} s ` +
    `after each RST: ${x.retryCause}) before giving up, so ECONNREFUSED reached the program at the last RST (frame ` +
    `${x.lastRstFrame}), ${took}`
  );
}

/** The listener, from the SYN-ACKs it sent to other connections in the capture. */
function listenerText(x: Facts, m: Record<string, number>): string {
  const before = x.acceptedBeforeFrame,
    after = x.acceptedAfterFrame;
  const ago = `${sec(m.listenerAcceptedBeforeMs! / 1000)} s`;
  const later = `${sec(m.listenerAcceptedAfterMs! / 1000)} s`;
  if (before === null && after === null)
    return `no SYN to ${x.listener} was accepted anywhere in the capture: no sign of a listener there at any point`;
  if (after === null)
    return (
      `${x.listener} had accepted connections before (last SYN-ACK frame ${before}, ${ago} before the refusal) ` +
      "and accepted none after it in the capture: its program closed the listening socket or exited"
    );
  const self = after === x.synAckFrame;
  if (before === null)
    return self
      ? `no SYN to ${x.listener} had been accepted before in the capture: the listener started during the retries`
      : `${x.listener} accepted no SYN before the refusal in the capture and accepted one ${later} after it ` +
          `(SYN-ACK frame ${after}): its program had not yet called listen()`;
  const down = `${sec((m.listenerAcceptedBeforeMs! + m.listenerAcceptedAfterMs!) / 1000)} s`;
  return (
    `${x.listener} had accepted a connection ${ago} before (SYN-ACK frame ${before}) and accepted ` +
    `${self ? "this one" : "again"} ${later} after the refusal (SYN-ACK frame ${after}): it was restarted ` +
    `(its listening socket closed and opened again), down for at most ${down}`
  );
}

/** The client's next connect() to the port, when it went to another address of the server straight after. */
function fallbackText(x: Facts, m: Record<string, number>): string | null {
  if (x.fallbackServer === null) return null;
  const when = `${m.fallbackGapMs} ms after the refusal the client connected to ${x.fallbackServer} (SYN frame ${x.fallbackSynFrame})`;
  const host = x.fallbackLoopback
    ? "another address of the same host (both on loopback)"
    : "likely the next address of the same name (the packets cannot show both are one name's)";
  const loop = "getaddrinfo()'s address loop (or Happy Eyeballs) moving on";
  if (x.fallbackOutcome === "accepted")
    return (
      `${when}, ${host}, and was accepted (SYN-ACK frame ${x.fallbackOutcomeFrame}): ${loop}; ` +
      (x.fallbackLoopback ? "the program's connect loop succeeded" : "if so, the program's connect loop succeeded")
    );
  if (x.fallbackOutcome === "refused")
    return `${when}, ${host}, and was refused too (RST frame ${x.fallbackOutcomeFrame}): ${loop}, in vain`;
  return `${when}, ${host}; that one got no answer in the capture`;
}

/** Said before the catalogue explanation when the program did not see ECONNREFUSED, or saw it late. */
function detailText(x: Facts, n: number): string | undefined {
  if (x.synAckFrame !== null)
    return (
      "The program's connect() did not fail: its TCP re-sent the refused SYN, and by then the server listened. " +
      "Only the delay shows."
    );
  if (x.fallbackOutcome === "accepted")
    return (
      "The program saw no error if it connects by name through the usual loop over getaddrinfo()'s addresses: " +
      "only the attempt to the first address failed. " +
      (x.fallbackLoopback
        ? `The server listens on ${x.fallbackServer} but not on ${x.server}; bind it to both (or to the wildcard ` +
          "address) to spare every client the refused attempt."
        : `If both addresses are the same name's, nothing listens at one of them (${x.server}): every client that ` +
          "tries it first pays a refused attempt; correct the name's addresses or start the server there.")
    );
  if (n > 1)
    return "The client's TCP re-sent the refused SYN before failing connect(): the program waited for those retries.";
  return undefined;
}

export default analyzer;
