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
 *   retried — connections waiting in the accept queue. They are found through a small
 *   per-capture registry of such connections per listener.
 * - a SYN-ACK retransmitted before the client acknowledged it: SYN-ACK (or ACK) lost.
 * - a SYN-ACK retransmitted after the client's ACK was captured: the server ignored the
 *   final ACK, which Linux does while the accept queue is full (tcp_abort_on_overflow = 0),
 *   unless the ACK was lost between the capture point and the server.
 *
 * A SYN re-sent just after the server answered it with a bare ACK or RST (a SYN hitting
 * TIME-WAIT, see time-wait-reuse) is the client reacting to that answer, not a timer
 * retransmission, and is not counted. No answer at all is connect-timeout.
 *
 * Reported frames are the retransmitted SYNs and SYN-ACKs (Wireshark's retransmissions).
 */
import { defineAnalyzer, type FindingSink } from "../analyzer.js";
import type { Finding, FindingWords } from "../finding.js";
import { ms, sec } from "../lib/measure.js";
import { stackOf } from "../lib/stack-profile.js";
import { describeRetries, isDuplicateCopy, SynRetries } from "../lib/syn-retries.js";
import { DIR_CLIENT, DIR_SERVER, type Flow } from "../../decode/flow/record.js";
import { seqDiff } from "../../decode/flow/tcp-tracker.js";
import { TH_ACK, TH_FIN, TH_RST, TH_SYN } from "../../decode/wire/packet.js";

function listenerKey(flow: Flow): string {
  return `${flow.vlan} ${flow.endpointName("server")}`;
}

/** Waiting connections examined per unanswered SYN: a count, not a list, is all the summary needs. */
const MAX_WAITING_SCAN = 1000;

/** A finding whose accept-queue count may change once other shards' connections are known. */
interface PendingCount {
  finding: Finding;
  key: string;
  /** The client's first SYN time, and the frame of the retry the count was taken at. */
  since: number;
  atFrame: number;
}

/**
 * Per capture: connections established and still without a byte from the server, per
 * listener, in the order they completed the handshake (a Set keeps insertion order). A
 * `--jobs` worker also logs every wait as [startFrame, stopFrame, completedTime] so the
 * counts can be taken again over all shards' connections once they are merged.
 */
class ListenerWaits {
  readonly waiting = new Map<string, Set<State>>();
  readonly log: Map<string, number[]> | null;
  readonly pending: PendingCount[] = [];
  constructor(sharded: boolean) {
    this.log = sharded ? new Map() : null;
  }
}

/**
 * Connections to the same listener that were established before `since` and still had no
 * byte from the server: they sat in the accept queue (or with a server too busy to serve
 * them) when the SYN arrived, and still did when it was retried.
 */
function countWaitingSince(w: ListenerWaits, key: string, since: number): number {
  let n = 0,
    seen = 0;
  for (const other of w.waiting.get(key) ?? []) {
    if (++seen > MAX_WAITING_SCAN) break;
    if (other.completedTime <= since) n++;
  }
  return n;
}

/** The same count from the merged logs: the waits open at frame `atFrame`, in completion order. */
function countLoggedSince(log: number[], since: number, atFrame: number): number {
  let n = 0,
    seen = 0;
  for (let i = 0; i < log.length; i += 3) {
    if (log[i]! >= atFrame) break;
    if (log[i + 1]! <= atFrame) continue;
    if (++seen > MAX_WAITING_SCAN) break;
    if (log[i + 2]! <= since) n++;
  }
  return n;
}

/** Sorts a flat [startFrame, stopFrame, completedTime, …] log by start frame. */
function sortTriples(log: number[]): void {
  const rows: number[][] = [];
  for (let i = 0; i < log.length; i += 3) rows.push([log[i]!, log[i + 1]!, log[i + 2]!]);
  rows.sort((a, b) => a[0]! - b[0]!);
  for (let i = 0; i < rows.length; i++) {
    log[i * 3] = rows[i]![0]!;
    log[i * 3 + 1] = rows[i]![1]!;
    log[i * 3 + 2] = rows[i]![2]!;
  }
}

function startWaiting(s: State, flow: Flow, out: FindingSink): void {
  const w = out.captureState(analyzer);
  s.waitingKey = listenerKey(flow);
  let set = w.waiting.get(s.waitingKey);
  if (set === undefined) w.waiting.set(s.waitingKey, (set = new Set()));
  set.add(s);
  if (w.log !== null) {
    let log = w.log.get(s.waitingKey);
    if (log === undefined) w.log.set(s.waitingKey, (log = []));
    s.logIndex = log.length;
    log.push(s.completedFrame, Infinity, s.completedTime);
  }
}

function stopWaiting(s: State, out: FindingSink): void {
  const w = out.captureState(analyzer);
  w.waiting.get(s.waitingKey)?.delete(s);
  if (w.log !== null && s.logIndex >= 0) w.log.get(s.waitingKey)![s.logIndex + 1] = out.frame;
  s.waitingKey = "";
}

class State {
  /** Unprovoked retransmissions of the client's SYN. */
  synRetries: SynRetries | null = null;
  /** SYN-ACKs re-sent by the server's timer, and those re-sent in answer to a re-sent SYN. */
  synAckRetries: SynRetries | null = null;
  synAckEchoes: SynRetries | null = null;
  /** Times of the latest SYN from each side (capture copies are measured against them). */
  lastSynTime = 0;
  lastSynAckTime = 0;
  /** The server sent a non-SYN segment (bare ACK, RST) since the client's last SYN. */
  provoked = false;
  /** The client sent a SYN the server has not answered yet. */
  synPending = false;
  /** The client's ACK completing the handshake. */
  completedFrame = 0;
  completedTime = 0;
  /** A SYN-ACK was retransmitted after the client had acknowledged one. */
  synAckAfterAckFrame = 0;
  /** Other connections waiting on the same listener since before the first SYN, counted at its first retry; -1 unknown. */
  othersWaiting = -1;
  /** In the listener's waiting set under this key, else "". */
  waitingKey = "";
  /** Where this connection's wait is in the listener's log (sharded engines only), else -1. */
  logIndex = -1;
  /** The client's retry the accept-queue count was taken at. */
  countFrame = 0;
}

const analyzer = defineAnalyzer<State, ListenerWaits>({
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
    "more workers), pass a larger backlog to listen() and raise net.core.somaxconn. For loss, look at the path.",
  references: ["000 §3.3", "003 listen()", "003 connect()"],
  createState: () => new State(),
  describe,
  capture: {
    create: (sharded) => new ListenerWaits(sharded),
    merge(into, from) {
      for (const [key, log] of from.log!) {
        const mine = into.log!.get(key);
        if (mine === undefined) into.log!.set(key, log);
        else for (const x of log) mine.push(x);
      }
      for (const p of from.pending) into.pending.push(p);
    },
    resolve(w) {
      // Every shard's waits, in completion order, as one engine would have seen them.
      for (const log of w.log!.values()) sortTriples(log);
      for (const p of w.pending) {
        const n = countLoggedSince(w.log!.get(p.key) ?? [], p.since, p.atFrame);
        // The merge writes the words afterwards, from this count.
        p.finding.measure.othersWaiting = n;
      }
    },
  },
  onTcpSegment(s, flow, seg, _p, out) {
    const f = seg.flags;
    const client = flow.ep[DIR_CLIENT],
      server = flow.ep[DIR_SERVER];
    if (seg.dir === DIR_CLIENT) {
      if ((f & (TH_SYN | TH_ACK)) === TH_SYN) {
        if (seg.frame === client.synFrame) s.lastSynTime = seg.time;
        else if (!isDuplicateCopy(seg.time, s.lastSynTime)) {
          s.lastSynTime = seg.time;
          if (!s.provoked) {
            (s.synRetries ??= new SynRetries()).add(seg.frame, seg.time);
            if (s.othersWaiting < 0 && !server.synSeen) {
              s.othersWaiting = countWaitingSince(out.captureState(analyzer), listenerKey(flow), client.synTime);
              s.countFrame = seg.frame;
            }
          }
        } else return;
        s.provoked = false;
        s.synPending = true;
        return;
      }
      if (
        s.completedFrame === 0 &&
        server.synSeen &&
        (f & (TH_ACK | TH_SYN | TH_RST)) === TH_ACK &&
        seqDiff(seg.ack, server.isn) > 0
      ) {
        s.completedFrame = seg.frame;
        s.completedTime = seg.time;
        if (server.payloadBytes === 0) startWaiting(s, flow, out);
      } else if (f & TH_RST && s.waitingKey !== "") {
        stopWaiting(s, out);
      }
      return;
    }
    if (f & TH_SYN) {
      if ((f & TH_ACK) === 0) return;
      if (seg.frame === server.synFrame) s.lastSynAckTime = seg.time;
      else if (s.synPending) {
        // Answering a re-sent SYN, not its own timer (Wireshark still calls it a retransmission).
        s.lastSynAckTime = seg.time;
        (s.synAckEchoes ??= new SynRetries()).add(seg.frame, seg.time);
      } else if (!isDuplicateCopy(seg.time, s.lastSynAckTime)) {
        s.lastSynAckTime = seg.time;
        (s.synAckRetries ??= new SynRetries()).add(seg.frame, seg.time);
        if (s.completedFrame !== 0 && s.synAckAfterAckFrame === 0) s.synAckAfterAckFrame = seg.frame;
      }
      s.synPending = false;
      return;
    }
    s.provoked = true;
    if (s.waitingKey !== "" && (seg.len > 0 || (f & (TH_FIN | TH_RST)) !== 0)) stopWaiting(s, out);
  },
  onFlowEnd(s, flow, out) {
    if (s.waitingKey !== "") stopWaiting(s, out);
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
  const done = s.completedFrame !== 0;
  const took = s.completedTime - client.synTime;
  const facts: Facts = {
    synFrame: synR === null ? null : client.synFrame,
    synSchedule:
      synR === null ? null : describeRetries([client.synTime, ...synR.times], stackOf(flow, DIR_CLIENT)).text,
    synAckFrame: ackR === null ? null : server.synFrame,
    synAckSchedule:
      ackR === null ? null : describeRetries([server.synTime, ...ackR.times], stackOf(flow, DIR_SERVER)).text,
    synAckAfterAckFrame: s.synAckAfterAckFrame === 0 ? null : s.synAckAfterAckFrame,
    completedFrame: done ? s.completedFrame : null,
    connectSec: done ? sec(took) : null,
    synAckAnswerFrames: echoes.length === 0 ? null : echoes.join(", "),
    unanswered,
    craftedSyns: client.craftedSynCount,
    // A reset the client's stack ignored before its first retry makes Linux re-send at once.
    ignoredResetFrame:
      synR !== null && server.ignoredRstFrame !== 0 && server.ignoredRstFrame < synR.frames[0]!
        ? server.ignoredRstFrame
        : null,
  };
  const finding = out.report(analyzer, {
    flow,
    dir: DIR_SERVER,
    frames,
    count: frames.length,
    time: client.synTime,
    facts,
    measure: {
      connectMs: done ? ms(took) : -1,
      synRetries: synR?.frames.length ?? 0,
      synAckRetries: ackR?.frames.length ?? 0,
      synAckAnswers: echoes.length,
      othersWaiting: s.othersWaiting,
      completed: done ? 1 : 0,
    },
  });
  if (s.countFrame !== 0) {
    out.captureState(analyzer).pending.push({
      finding,
      key: listenerKey(flow),
      since: client.synTime,
      atFrame: s.countFrame,
    });
  }
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
  /** A SYN-ACK re-sent after the client had acknowledged one. */
  synAckAfterAckFrame: number | null;
  completedFrame: number | null;
  connectSec: number | null;
  /** SYN-ACKs that answered re-sent SYNs (frames, comma-separated). */
  synAckAnswerFrames: string | null;
  /** No SYN-ACK came before the first retry: the SYN itself went unanswered. */
  unanswered: boolean;
  /** Hand-made SYNs on the 4-tuple from the client's address (crafted-syn). */
  craftedSyns: number;
  /** A RST the client's stack ignored (unacceptable-reset), before the first retry. */
  ignoredResetFrame: number | null;
}

function describe(f: Finding): FindingWords {
  const x = f.facts as Facts;
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
    causes.push(
      x.synAckAfterAckFrame !== null
        ? `the server re-sent its SYN-ACK (frame ${x.synAckAfterAckFrame}) although the client had acknowledged it ` +
            `(frame ${x.completedFrame}): the server ignored that ACK, as Linux does while the accept queue is full, ` +
            "unless the ACK was lost after the capture point"
        : "the SYN-ACK did not reach the client, or the client's ACK did not reach the server: loss on the path",
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
        : synCause(f.measure.othersWaiting!, f.endpoint!);
  const after = causes.length > 0 ? `; ${causes.join("; ")}` : "";
  return { summary: `${outcome}: ${parts.join("; ")}${cause}${after}` };
}

/** The cause sentence for SYNs nobody answered, given the connections waiting on the listener. */
function synCause(othersWaiting: number, server: string): string {
  return othersWaiting > 0
    ? `; the server's kernel ignored the SYN while ${othersWaiting} other connection(s) to ${server}, ` +
        "established before it, still had not received a byte from the server when it was retried — connections " +
        "waiting to be accept()ed (or a server too busy to serve them): the pattern of a full listen (accept) queue"
    : "; the first SYN(s) got no answer: lost on the way, or dropped by a server whose accept queue was full " +
        "(no other connection in the capture was waiting on this listener, which points to loss)";
}
export default analyzer;
