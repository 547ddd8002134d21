/**
 * syn-retransmit: the handshake needed retransmissions — the client's SYN, the server's
 * SYN-ACK, or both — and the server did answer in the end. Measured: how long connect()
 * took (first SYN to the client's handshake ACK), how many retries and at what intervals.
 *
 * Causes the capture can separate:
 * - client SYNs with no answer at all, then a SYN-ACK: the server's kernel dropped the
 *   SYN (its accept queue was full: Linux then ignores SYNs, counting ListenOverflows) or
 *   the SYN was lost. Evidence for the first: other connections to the same server port,
 *   established before the SYN, that still had no byte from the server when the SYN was
 *   retried — connections waiting in the accept queue (lib/listener-queue.ts, the
 *   registry connect-timeout reads too, gives the counts and the window).
 * - a SYN-ACK retransmitted before the client acknowledged it: SYN-ACK (or ACK) lost.
 * - a SYN-ACK retransmitted after the client's ACK was captured: the server ignored the
 *   final ACK, which Linux does while the accept queue is full (tcp_abort_on_overflow = 0),
 *   unless the ACK was lost between the capture point and the server; the same registry
 *   tells whether other connections were waiting then.
 * - a SYN-ACK re-sent once after the client's ACK, a timer tick later than an ignored ACK
 *   would have it, with no data from the client in between: the end of the server's
 *   TCP_DEFER_ACCEPT period (the registry tells it apart). Nothing went wrong and the
 *   client saw nothing: reported as info when it is the only retransmission, so that the
 *   re-sent SYN-ACK Wireshark flags is explained.
 *
 * A SYN re-sent just after the server answered it with a bare ACK or RST (a SYN hitting
 * TIME-WAIT, see time-wait-reuse) is the client reacting to that answer, not a timer
 * retransmission, and is not counted. No answer at all is connect-timeout.
 *
 * Reported frames are the retransmitted SYNs and SYN-ACKs (Wireshark's retransmissions).
 */
import { defineAnalyzer, type FindingSink } from "../analyzer.js";
import type { Finding, FindingWords } from "../finding.js";
import {
  evidenceOf,
  fullQueueWords,
  HandshakeResend,
  type ListenerQueues,
  listenerQueueScope,
  QueueWatch,
  queueWasFull,
  reportWithQueue,
  type TurnedAway,
} from "../lib/listener-queue.js";
import { ms, sec } from "../lib/measure.js";
import { stackOf } from "../lib/side-stack.js";
import type { CaptureFacts } from "../lib/recording-host.js";
import { describeRetries, SynRetries } from "../lib/syn-retries.js";
import { DIR_CLIENT, DIR_SERVER, type Flow } from "../../decode/flow/record.js";

class State {
  /** Unprovoked retransmissions of the client's SYN. */
  synRetries: SynRetries | null = null;
  /** SYN-ACKs re-sent by the server's timer, and those re-sent in answer to a re-sent SYN. */
  synAckRetries: SynRetries | null = null;
  synAckEchoes: SynRetries | null = null;
  /** Its part in the listener's accept queue (handshake completed, waiting, SYNs dropped, ACK ignored); tells the retransmissions apart. */
  readonly queue = new QueueWatch();
}

const analyzer = defineAnalyzer<State, ListenerQueues>({
  id: "syn-retransmit",
  title: "Slow connect(): SYN or SYN-ACK retransmitted before the handshake completed",
  severity: "warning",
  family: "tcp-opening",
  wire: "The SYN (or the SYN-ACK) is retransmitted after a timeout; then the server answers and the handshake completes.",
  explanation:
    "The client's connect() succeeded, but only after its kernel had to retransmit the SYN, or the server's kernel had " +
    "to retransmit the SYN-ACK: connect() took at least one retransmission timeout (1 s on Linux) longer than the round " +
    "trip. No error is reported anywhere; the program just sees an occasional slow connect(). Two causes are common. " +
    "Packet loss: a SYN or SYN-ACK was dropped on the way. Or the server's listen queue was full: once the queue of " +
    "connections that completed their handshake but were not yet accept()ed reaches the listen() backlog, Linux " +
    "silently drops new SYNs (and ignores the final ACK of handshakes in progress, re-sending the SYN-ACK) so that the " +
    "clients retry later, instead of refusing them. That happens when the server calls accept() too slowly — a busy or " +
    "blocked accept loop, a backlog that is too small (listen(fd, 0) or a low net.core.somaxconn), or a burst of clients. " +
    "On the server, `nstat -az TcpExtListenOverflows TcpExtListenDrops` counts such drops and `ss -ltn` shows the " +
    "listener's queue (Recv-Q) against its backlog (Send-Q). Fix the server: accept() promptly (a dedicated accept loop, " +
    "more workers), pass a larger backlog to listen() and raise net.core.somaxconn. For loss, look at the path. " +
    "One SYN-ACK re-sent seconds after the client's ACK, with no data from the client in between, is no fault " +
    "(reported as info): the server's listener has TCP_DEFER_ACCEPT, which holds the connection until the client " +
    "speaks.",
  references: ["000 §3.3", "003 listen()", "003 connect()"],
  createState: () => new State(),
  describe,
  capture: listenerQueueScope,
  onTcpSegment(s, flow, seg, _p, out) {
    switch (s.queue.note(out, analyzer, flow, seg)) {
      case HandshakeResend.Syn:
        (s.synRetries ??= new SynRetries()).add(seg.frame, seg.time);
        break;
      case HandshakeResend.SynAck:
        (s.synAckRetries ??= new SynRetries()).add(seg.frame, seg.time);
        break;
      case HandshakeResend.SynAckAnswer:
        (s.synAckEchoes ??= new SynRetries()).add(seg.frame, seg.time);
        break;
    }
  },
  onFlowEnd(s, flow, out) {
    s.queue.end(out, analyzer);
    const client = flow.ep[DIR_CLIENT],
      server = flow.ep[DIR_SERVER];
    if (
      (s.synRetries === null && s.synAckRetries === null && s.synAckEchoes === null) ||
      !client.synSeen ||
      !server.synSeen
    )
      return;
    report(s, flow, out);
  },
});

function report(s: State, flow: Flow, out: FindingSink): void {
  const client = flow.ep[DIR_CLIENT],
    server = flow.ep[DIR_SERVER];
  const synR = s.synRetries,
    ackR = s.synAckRetries;
  const echoes = s.synAckEchoes?.frames ?? [];
  const frames = [...(synR?.frames ?? []), ...(ackR?.frames ?? []), ...echoes];
  // Were the SYN retries answered by nothing (a dropped SYN) or did a SYN-ACK cross them?
  const unanswered = synR !== null && server.synTime > synR.times[0]!;
  const q = s.queue;
  const done = q.completedFrame !== 0;
  const took = q.completedTime - client.synTime;
  const facts: Facts = {
    synFrame: synR === null ? null : client.synFrame,
    synSchedule:
      synR === null
        ? null
        : describeRetries([client.synTime, ...synR.times], stackOf(flow, DIR_CLIENT, out.capture)).text,
    synAckFrame: ackR === null ? null : server.synFrame,
    synAckSchedule: ackR === null ? null : synAckSchedule(flow, ackR, q, out.capture),
    synAckAfterAckFrame: q.ignoredAckFrame === 0 ? null : q.ignoredAckFrame,
    ackIgnoredFrame: q.ignoredAckFrame === 0 ? null : q.ignoredAckOfFrame,
    resentAfterDeferredFrame:
      q.deferredFrame === 0 || q.ignoredAckFrame !== 0 ? null : (ackR?.frames.find((n) => n > q.deferredFrame) ?? null),
    synAckAfterSilence: q.ignoredAckClientSilent,
    deferredFrame: q.deferredFrame === 0 ? null : q.deferredFrame,
    deferredIdleSec: q.deferredFrame === 0 ? null : sec(q.deferredTime - q.completedTime),
    completedFrame: done ? q.completedFrame : null,
    connectSec: done ? sec(took) : null,
    synAckAnswerFrames: echoes.length === 0 ? null : echoes.join(", "),
    unanswered,
    ...queueWindow(flow, q),
    craftedSyns: client.craftedSynCount,
    // A reset the client's stack ignored before its first retry makes Linux re-send at once.
    ignoredResetFrame:
      synR !== null && server.ignoredRstFrame !== 0 && server.ignoredRstFrame < synR.frames[0]!
        ? server.ignoredRstFrame
        : null,
  };
  // The listener's queue is looked at over the time it turned the client away.
  const [from, until] = q.turnedAway === "ack" ? [q.completedTime, q.ignoredAckTime] : [client.synTime, server.synTime];
  // The end of a defer period, and no other retransmission: nothing went wrong.
  const onlyDeferred = q.deferredFrame !== 0 && synR === null && echoes.length === 0 && ackR?.frames.length === 1;
  reportWithQueue(out, analyzer, flow, q, from, until, {
    flow,
    dir: DIR_SERVER,
    severity: onlyDeferred ? "info" : undefined,
    frames,
    count: frames.length,
    time: client.synTime,
    facts,
    measure: {
      connectMs: done ? ms(took) : -1,
      synRetries: synR?.frames.length ?? 0,
      synAckRetries: ackR?.frames.length ?? 0,
      synAckAnswers: echoes.length,
      completed: done ? 1 : 0,
    },
  });
}

/**
 * The window the listener's accept queue is looked at over: its SYNs going unanswered
 * (first SYN to the SYN-ACK), or its handshake ACK ignored (the ACK to the re-sent SYN-ACK).
 */
function queueWindow(
  flow: Flow,
  q: QueueWatch,
): Pick<Facts, "queueTurnedAway" | "queueFromFrame" | "queueToFrame" | "queueWindowSec"> {
  const client = flow.ep[DIR_CLIENT],
    server = flow.ep[DIR_SERVER];
  if (q.turnedAway === "syn")
    return {
      queueTurnedAway: "syn",
      queueFromFrame: client.synFrame,
      queueToFrame: server.synFrame,
      queueWindowSec: sec(server.synTime - client.synTime),
    };
  if (q.turnedAway === "ack")
    return {
      queueTurnedAway: "ack",
      queueFromFrame: q.completedFrame,
      queueToFrame: q.ignoredAckFrame,
      queueWindowSec: sec(q.ignoredAckTime - q.completedTime),
    };
  return { queueTurnedAway: null, queueFromFrame: null, queueToFrame: null, queueWindowSec: null };
}

/** What the words are written from (describe), besides the measure; null when it did not happen. */
interface Facts {
  [key: string]: string | number | boolean | null;
  /** The client's first SYN, when it was retransmitted, and its retry schedule in words. */
  synFrame: number | null;
  synSchedule: string | null;
  /** The server's first SYN-ACK, when it was retransmitted, and its schedule. */
  synAckFrame: number | null;
  synAckSchedule: string | null;
  /** A SYN-ACK re-sent after the client had acknowledged one (not the end of a defer period), and that ACK. */
  synAckAfterAckFrame: number | null;
  ackIgnoredFrame: number | null;
  /** A SYN-ACK re-sent after the one that ended the defer period, with no ACK from the client in between. */
  resentAfterDeferredFrame: number | null;
  /** The client had sent no data when that SYN-ACK came (a one-tick TCP_DEFER_ACCEPT looks the same). */
  synAckAfterSilence: boolean;
  /** The SYN-ACK that ended the server's TCP_DEFER_ACCEPT period, and the client's silence before it (s). */
  deferredFrame: number | null;
  deferredIdleSec: number | null;
  completedFrame: number | null;
  connectSec: number | null;
  /** SYN-ACKs that answered re-sent SYNs (frames, comma-separated). */
  synAckAnswerFrames: string | null;
  /** No SYN-ACK came before the first retry: the SYN itself went unanswered. */
  unanswered: boolean;
  /** How the listener turned the client away (lib/listener-queue.ts), and over which frames and time. */
  queueTurnedAway: TurnedAway | null;
  queueFromFrame: number | null;
  queueToFrame: number | null;
  queueWindowSec: number | null;
  /** Hand-made SYNs on the 4-tuple from the client's address (crafted-syn). */
  craftedSyns: number;
  /** A RST the client's stack ignored (unacceptable-reset), before the first retry. */
  ignoredResetFrame: number | null;
}

function describe(f: Finding): FindingWords {
  const x = f.facts as Facts;
  if (f.severity === "info" && x.deferredFrame !== null) return { summary: deferredOnlyWords(x) };
  const parts: string[] = [];
  const causes: string[] = [];
  if (x.synFrame !== null)
    parts.push(
      `the client's SYN (frame ${x.synFrame}) was retransmitted ${f.measure.synRetries} time(s), ${x.synSchedule}`,
    );
  if (x.synAckFrame !== null) {
    parts.push(
      `the server's SYN-ACK (frame ${x.synAckFrame}) was retransmitted ${f.measure.synAckRetries} time(s), ${x.synAckSchedule}`,
    );
    if (x.deferredFrame !== null) causes.push(deferredWords(x));
    if (x.resentAfterDeferredFrame !== null)
      causes.push(
        `the server re-sent it again (frame ${x.resentAfterDeferredFrame}) with no ACK from the client in between: ` +
          "that SYN-ACK did not reach the client, or the client's ACK did not reach the capture point: loss on the path",
      );
    else if (x.synAckAfterAckFrame !== null || x.deferredFrame === null)
      causes.push(
        x.synAckAfterAckFrame === null
          ? "the SYN-ACK did not reach the client, or the client's ACK did not reach the server: loss on the path"
          : `the server re-sent its SYN-ACK (frame ${x.synAckAfterAckFrame}) although the client had acknowledged it ` +
              `(frame ${x.ackIgnoredFrame}): the server ignored that ACK, or the ACK was lost after the capture point; ` +
              (x.queueTurnedAway === "ack" && fullQueue(f)
                ? queueWords(f, x)
                : "Linux ignores it while the accept queue is full, but no other connection in the capture was " +
                  "waiting on this listener, which points to loss" +
                  (x.synAckAfterSilence ? ONE_TICK_DEFER : "")),
      );
  }
  if (x.synAckAnswerFrames !== null) {
    const several = x.synAckAnswerFrames.includes(",");
    parts.push(
      `the server answered the re-sent SYN with another SYN-ACK (frame${several ? "s" : ""} ${x.synAckAnswerFrames})`,
    );
  }
  const outcome =
    x.completedFrame !== null
      ? `connect() took ${x.connectSec} s (handshake completed in frame ${x.completedFrame})`
      : "the handshake never completed in the capture";
  const cause = !x.unanswered
    ? ""
    : x.craftedSyns > 0
      ? `; ${x.craftedSyns} hand-made SYN(s) from the client's address on the same 4-tuple (see crafted-syn) came ` +
        "around it: the first SYN(s) were lost, or ignored by a server that held a half-open connection for one of " +
        "those and answered that one instead; the capture cannot tell which"
      : x.ignoredResetFrame !== null
        ? `; a reset the client's stack ignored (frame ${x.ignoredResetFrame}, see unacceptable-reset) came before ` +
          "the retry: the client's TCP answers such a segment and may send its SYN again at once, so the retry is no " +
          "sign of loss by itself"
        : synCause(f, x);
  const after = causes.length > 0 ? `; ${causes.join("; ")}` : "";
  return { summary: `${outcome}: ${parts.join("; ")}${cause}${after}` };
}

/**
 * The SYN-ACK's re-sends in words. After a deferred accept, their times from the first
 * SYN-ACK on Linux's SYN-ACK timer: a schedule skipping ticks is no irregular timer.
 */
function synAckSchedule(flow: Flow, r: SynRetries, q: QueueWatch, capture: CaptureFacts): string {
  const first = flow.ep[DIR_SERVER].synTime;
  if (q.deferredFrame === 0) return describeRetries([first, ...r.times], stackOf(flow, DIR_SERVER, capture)).text;
  return (
    `${r.times.map((t) => sec(t - first)).join(", ")} s after it, on the ticks of Linux's SYN-ACK timer (1, 3, 7 … s ` +
    "after the SYN-ACK), which re-sends nothing during a TCP_DEFER_ACCEPT period"
  );
}

/** What TCP_DEFER_ACCEPT does, for the words of a deferred accept. */
const DEFER_ACCEPT =
  "the server set TCP_DEFER_ACCEPT on its listener, a Linux socket option: its kernel keeps a completed handshake " +
  "out of the accept queue until the client's first data arrives and, when the defer period runs out, re-sends its " +
  "SYN-ACK once, the client's ACK of which puts the connection in the accept queue";

/** A re-sent SYN-ACK that ended a defer period, as a cause among others. */
function deferredWords(x: Facts): string {
  return (
    `the server re-sent its SYN-ACK (frame ${x.deferredFrame}) ${x.deferredIdleSec} s after the client's ACK ` +
    `(frame ${x.completedFrame}), with no data from the client in between and a timer tick later than an ignored ` +
    `or lost ACK would have it: ${DEFER_ACCEPT}; not a full accept queue`
  );
}

/** A deferred accept and no other retransmission: nothing went wrong, and the client saw nothing. */
function deferredOnlyWords(x: Facts): string {
  return (
    `deferred accept, not a slow connect(): the client completed the handshake (frame ${x.completedFrame}) and sent ` +
    `no data for ${x.deferredIdleSec} s, then the server re-sent its SYN-ACK (frame ${x.deferredFrame}), once, a ` +
    `timer tick later than an ignored or lost ACK would have it: ${DEFER_ACCEPT}. Not a full accept queue (that ` +
    `re-sends the SYN-ACK at the first tick, 1 s after it) and not loss; the client saw nothing of it: its connect() ` +
    `had returned in ${x.connectSec} s, and only the server's accept() waited for it`
  );
}

/** The wire of a one-tick defer period (nginx's `deferred`, HAProxy's `defer-accept` set 1 s) is that of a lost ACK. */
const ONE_TICK_DEFER =
  ", or to a listener with TCP_DEFER_ACCEPT of 1 s (what nginx's `listen … deferred` and HAProxy's `defer-accept` " +
  "set: the kernel holds the handshake until the client's first data, which had not come, and re-sends its SYN-ACK " +
  "at the first timer tick), which the capture cannot tell apart";

/** The cause sentence for SYNs nobody answered, from the listener's accept queue (lib/listener-queue.ts). */
function synCause(f: Finding, x: Facts): string {
  return x.queueTurnedAway === "syn" && fullQueue(f)
    ? `; ${queueWords(f, x)}`
    : "; the first SYN(s) got no answer: lost on the way, or dropped by a server whose accept queue was full " +
        "(no other connection in the capture was waiting on this listener, which points to loss)";
}

function fullQueue(f: Finding): boolean {
  const e = evidenceOf(f);
  return e !== null && queueWasFull(e);
}

function queueWords(f: Finding, x: Facts): string {
  return fullQueueWords(
    evidenceOf(f)!,
    f.endpoint!,
    x.queueTurnedAway!,
    x.queueFromFrame!,
    x.queueToFrame!,
    x.queueWindowSec!,
  );
}
export default analyzer;
