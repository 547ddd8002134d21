/**
 * A listener's accept queue as the capture shows it, for the kinds that explain a SYN
 * nobody answered (connect-timeout, syn-retransmit): one rule, read by both.
 *
 * What Linux does while a listener's accept queue is full (more connections completed
 * than listen()'s backlog, none accept()ed): tcp_conn_request() drops every new SYN
 * without an answer (TcpExtListenOverflows), so those clients re-send it on their timer;
 * and tcp_check_req() ignores the final ACK of a handshake already in progress (with
 * net.ipv4.tcp_abort_on_overflow = 0, the default), so the server re-sends its SYN-ACK
 * although the client had acknowledged it. On the wire, per listener (server address and
 * port, VLAN):
 * - accepted: connections whose handshake completed and that still had no byte from the
 *   server after their client had spoken (data or FIN), or at all on a listener whose server
 *   speaks first: waiting in the queue (or on a server too busy to serve them). A silent
 *   client on a listener where clients speak first (HTTP) gets nothing from a server that
 *   accept()ed it either: an idle keep-alive or pre-connected client is no sign of a queue;
 * - dropped: clients whose SYN was re-sent with no answer in between;
 * - ignored ACKs: clients the server re-sent its SYN-ACK to after their ACK.
 * A client's unanswered SYNs are put down to a full queue when connections completed
 * before its first SYN were still waiting when it re-sent it (`accepted` > 0): the
 * listener was up and took connections, but not this one.
 *
 * A SYN-ACK re-sent after the client's ACK is not always an ignored ACK: a listener with
 * TCP_DEFER_ACCEPT (Linux) drops the bare ACK on purpose and holds the handshake until the
 * client's first data; its SYN-ACK timer keeps ticking (1, 3, 7 … s after the SYN-ACK)
 * without re-sending, and at the last tick of the defer period re-sends the SYN-ACK once,
 * taking the client's ACK of that one (inet_connection_sock.c syn_ack_recalc,
 * tcp_minisocks.c tcp_check_req; fixtures/scenarios/defer-accept.py). An ignored or lost
 * ACK is re-sent for at the very next tick. So a re-send that skipped a tick, with no data
 * from the client since its ACK, is a deferred accept (`deferredAccept`), not evidence of a
 * full queue. A defer period of one tick (nginx's and HAProxy's setting) looks like a lost
 * ACK on the wire; the words say so where they would say loss.
 *
 * Each kind keeps its own ListenerQueues (its capture scope), fed by a QueueWatch per
 * flow from its onTcpSegment: both see every TCP segment, so both registries hold the
 * same. `accepted` is counted when the client re-sends its SYN, from the connections
 * waiting right then; a `--jobs` worker also logs every wait so that `resolve` can count
 * again over all shards' connections. Dropped clients and ignored ACKs are kept as a list
 * per listener (only flows with a troubled handshake) and counted over the finding's
 * window when it is reported, as far as the capture had shown them by then, so that the
 * merge, counting again over every shard's lists, counts the same. The count walks back
 * from the last client the capture had shown, over only the part of the list that can
 * reach the window, and stops at MAX_COUNTED ("at least"): linear on a SYN flood.
 */
import type { AnalyzerDescriptor, CaptureScope, FindingInput, FindingSink } from "../analyzer.js";
import type { Finding } from "../finding.js";
import { packetsNameOtherThanLinux } from "./stack-profile.js";
import { isDuplicateCopy } from "./syn-retries.js";
import { DIR_CLIENT, DIR_SERVER, type Flow } from "../../decode/flow/record.js";
import { seqDiff, type TcpSegment } from "../../decode/flow/tcp-tracker.js";
import { TH_ACK, TH_FIN, TH_RST, TH_SYN } from "../../decode/wire/packet.js";

export function listenerKey(flow: Flow): string {
  return `${flow.vlan} ${flow.endpointName("server")}`;
}

/** Waiting connections examined per unanswered SYN: a count, not a list, is all the words need. */
const MAX_WAITING_SCAN = 1000;

/** A finding whose counts are taken again once every shard's connections are known. */
interface PendingCount {
  finding: Finding;
  key: string;
  /** `accepted` counts the connections completed by `since` and still waiting at frame `atFrame`. */
  since: number;
  atFrame: number;
  /** The window (capture times) dropped clients and ignored ACKs are counted over, as of frame `madeAt`. */
  from: number;
  until: number;
  madeAt: number;
}

/** One client whose SYNs the listener left unanswered: first SYN to last unanswered re-send. */
interface DroppedClient {
  /** The client's first SYN. */
  from: number;
  /** Its unanswered re-sends, in capture order: times, and frames (from the first one on, the capture shows the drop). */
  times: number[];
  frames: number[];
}

/** Re-sends kept per dropped client (a kernel gives up after a handful). */
const MAX_RESENDS_KEPT = 64;

/**
 * Whether the client's SYNs were going unanswered within [since, until], as the capture
 * had shown by frame `madeAt`: its first SYN or a re-send fell in the window.
 */
function droppedWithin(d: DroppedClient, since: number, until: number, madeAt: number): boolean {
  if (d.frames[0]! > madeAt || d.from > until) return false;
  if (d.from >= since) return true;
  for (let i = 0; i < d.frames.length && d.frames[i]! <= madeAt; i++) {
    if (d.times[i]! >= since && d.times[i]! <= until) return true;
  }
  return false;
}

/** Per capture, per listener: waiting connections, dropped clients, ignored ACKs. */
export class ListenerQueues {
  /** Connections waiting now, in the order they completed the handshake (a Set keeps it). */
  readonly waiting = new Map<string, Set<QueueWatch>>();
  /** `--jobs` workers only: every wait as [startFrame, stopFrame, completedTime, spokeFrame] (LOG_ROW). */
  readonly log: Map<string, number[]> | null;
  /** The frame that first showed the listener's server speaking first (data before its client's), per listener. */
  readonly serverFirst = new Map<string, number>();
  /** Dropped clients in the order of their first unanswered re-send (frames[0]). */
  readonly dropped = new Map<string, DroppedClient[]>();
  /**
   * Per listener: the longest time from a dropped client's first SYN to its first
   * unanswered re-send (lead) and from that to its last kept one (span), and whether the
   * list's first re-sends run in time order too; together they bound the part of the list
   * whose clients can reach a finding's window.
   */
  readonly droppedLead = new Map<string, number>();
  readonly droppedSpan = new Map<string, number>();
  readonly droppedOutOfOrder = new Set<string>();
  /** The server re-sent its SYN-ACK after the client's ACK (first per client): [time, frame, …]. */
  readonly ignoredAcks = new Map<string, number[]>();
  readonly pending: PendingCount[] = [];
  constructor(sharded: boolean) {
    this.log = sharded ? new Map() : null;
  }
}

/**
 * The capture scope of a kind that keeps a ListenerQueues. The states a `--jobs` merge
 * hands it are structured clones (plain data, no methods), hence free functions.
 */
export const listenerQueueScope: CaptureScope<ListenerQueues> = {
  create: (sharded) => new ListenerQueues(sharded),
  merge(into, from) {
    appendAll(into.log!, from.log!);
    for (const [key, frame] of from.serverFirst)
      into.serverFirst.set(key, Math.min(frame, into.serverFirst.get(key) ?? frame));
    appendAll(into.dropped, from.dropped);
    for (const [key, lead] of from.droppedLead)
      into.droppedLead.set(key, Math.max(lead, into.droppedLead.get(key) ?? 0));
    for (const [key, span] of from.droppedSpan)
      into.droppedSpan.set(key, Math.max(span, into.droppedSpan.get(key) ?? 0));
    appendAll(into.ignoredAcks, from.ignoredAcks);
    for (const p of from.pending) into.pending.push(p);
  },
  // Every shard's waits in completion order, as one engine would have seen them, and each
  // pending finding's counts taken again over all shards' (the merge writes the words afterwards).
  resolve(q) {
    for (const log of q.log!.values()) sortRows(log, LOG_ROW, 0);
    for (const acks of q.ignoredAcks.values()) sortRows(acks, 2, 1);
    for (const [key, list] of q.dropped) {
      list.sort((a, b) => a.frames[0]! - b.frames[0]!);
      q.droppedOutOfOrder.delete(key);
      for (let i = 1; i < list.length; i++)
        if (list[i]!.times[0]! < list[i - 1]!.times[0]!) q.droppedOutOfOrder.add(key);
    }
    for (const p of q.pending) {
      const serverFirst = q.serverFirst.get(p.key) ?? Infinity;
      const accepted = countLoggedSince(q.log!.get(p.key) ?? [], p.since, p.atFrame, serverFirst);
      setMeasures(p.finding.measure, { accepted, ...countTroubles(q, p.key, p.from, p.until, p.madeAt) });
    }
  },
};

function appendAll<T>(into: Map<string, T[]>, from: Map<string, T[]>): void {
  for (const [key, list] of from) {
    const mine = into.get(key);
    if (mine === undefined) into.set(key, list);
    else for (const x of list) mine.push(x);
  }
}

/**
 * Whether a SYN-ACK the server's timer re-sent after the client's ACK ends a
 * TCP_DEFER_ACCEPT period: the client sent no data (nor FIN) since, the re-send came at
 * least two timer periods after the previous SYN-ACK (a tick skipped: `gap`, s), and the
 * server's stack is Linux or unknown (the option is Linux's). `previousGap`: the interval
 * before the previous SYN-ACK re-send, 0 if this is the first (the timer then starts at
 * 1 s, TCP_TIMEOUT_INIT, and doubles).
 */
function deferredAccept(flow: Flow, gap: number, previousGap: number): boolean {
  const client = flow.ep[DIR_CLIENT];
  if (client.payloadBytes > 0 || client.finFrame !== 0 || client.rstFrame !== 0) return false;
  // The packets' word alone: the option is Linux's, so only another stack they prove rules it out.
  if (packetsNameOtherThanLinux(flow.ep[DIR_SERVER], flow.ipVersion)) return false;
  const nextTick = previousGap > 0 ? 2 * previousGap : FIRST_SYNACK_TIMEOUT_SEC;
  return gap >= 2 * nextTick;
}

/** Linux's first SYN-ACK retransmission timeout (TCP_TIMEOUT_INIT). */
const FIRST_SYNACK_TIMEOUT_SEC = 1;

/** An analyzer keeping a ListenerQueues as its capture state. */
type QueueKind = AnalyzerDescriptor<unknown, ListenerQueues>;

/** What a finding says of its listener's queue over the window of its client's SYNs. */
export interface QueueEvidence {
  /** Connections completed before the client's first SYN, still waiting at its first re-send. */
  accepted: number;
  /** Clients (this one included) with unanswered SYNs re-sent within the window. */
  dropped: number;
  /** Clients whose handshake ACK the listener ignored within the window. */
  ignoredAcks: number;
}

/** The rule: the listener held completed connections it had not served while this client's SYN went unanswered. */
export function queueWasFull(e: QueueEvidence): boolean {
  return e.accepted > 0;
}

/**
 * Dropped clients and ignored ACKs on the listener `key` within [since, until] (capture
 * times) that the capture had shown by frame `madeAt` (so one engine, counting when it
 * reports, and a `--jobs` merge, counting afterwards, count the same).
 */
function countTroubles(
  q: ListenerQueues,
  key: string,
  since: number,
  until: number,
  madeAt: number,
): { dropped: number; ignoredAcks: number } {
  let dropped = 0,
    ignoredAcks = 0;
  // Back from the last client shown by `madeAt` that can have sent its first SYN by
  // `until`, as far as one could still reach the window.
  const list = q.dropped.get(key) ?? [];
  const span = q.droppedSpan.get(key) ?? 0;
  const inOrder = !q.droppedOutOfOrder.has(key);
  let last = lastAtOrBefore(list.length, (j) => list[j]!.frames[0]!, madeAt);
  if (inOrder) {
    const lead = q.droppedLead.get(key) ?? 0;
    last = Math.min(
      last,
      lastAtOrBefore(list.length, (j) => list[j]!.times[0]!, until + lead),
    );
  }
  for (let i = last; i >= 0; i--) {
    const d = list[i]!;
    if (inOrder && d.times[0]! + span < since) break;
    if (droppedWithin(d, since, until, madeAt) && ++dropped >= MAX_COUNTED) break;
  }
  const acks = q.ignoredAcks.get(key) ?? [];
  for (let i = lastAtOrBefore(acks.length / 2, (j) => acks[j * 2 + 1]!, madeAt); i >= 0; i--) {
    if (acks[i * 2]! >= since && acks[i * 2]! <= until && ++ignoredAcks >= MAX_COUNTED) break;
  }
  return { dropped, ignoredAcks };
}

/**
 * Clients counted per finding, at most (the words then say "at least"): a count is all
 * they need, and counting every client of a SYN flood for each of its findings is quadratic.
 */
const MAX_COUNTED = 1000;

/** The index of the last of `n` entries, in ascending order of `keyOf` (a frame, a time), at or before `bound`; -1 if none. */
function lastAtOrBefore(n: number, keyOf: (i: number) => number, bound: number): number {
  let lo = 0,
    hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keyOf(mid) <= bound) lo = mid + 1;
    else hi = mid;
  }
  return lo - 1;
}

/** `n` in words, as a count that stopped at MAX_COUNTED. */
function atLeast(n: number): string {
  return n >= MAX_COUNTED ? `at least ${n}` : `${n}`;
}

/**
 * Reports a finding on `flow` (out.report) with its listener's counts in its measure,
 * taken over the window [from, until] (capture times) in which the listener turned the
 * client away (its SYNs unanswered, or its handshake ACK ignored); none when the capture
 * shows neither. The counts go in before the words are written: a live capture prints
 * them at once. A `--jobs` worker also keeps what the merge needs to count again.
 */
export function reportWithQueue(
  out: FindingSink,
  kind: QueueKind,
  flow: Flow,
  w: QueueWatch,
  from: number,
  until: number,
  input: FindingInput,
): Finding {
  if (w.countFrame === 0) return out.report(kind, input);
  const q = out.captureState(kind);
  const key = listenerKey(flow);
  setMeasures((input.measure ??= {}), { accepted: w.accepted, ...countTroubles(q, key, from, until, out.frame) });
  const finding = out.report(kind, input);
  if (q.log !== null)
    q.pending.push({ finding, key, since: w.countSince, atFrame: w.countFrame, from, until, madeAt: out.frame });
  return finding;
}

function setMeasures(m: Record<string, number>, e: QueueEvidence): void {
  m.queueAccepted = e.accepted;
  m.queueDropped = e.dropped;
  m.queueIgnoredAcks = e.ignoredAcks;
}

/** The listener's counts a finding keeps in its measure (queueMeasures), or null when it has none. */
export function evidenceOf(f: Finding): QueueEvidence | null {
  if (f.measure.queueAccepted === undefined) return null;
  return {
    accepted: f.measure.queueAccepted,
    dropped: f.measure.queueDropped ?? 0,
    ignoredAcks: f.measure.queueIgnoredAcks ?? 0,
  };
}

/** How the listener turned this client away: dropped its SYNs, or ignored its handshake ACK. */
export type TurnedAway = "syn" | "ack";

/**
 * The words for a full queue, from the evidence and the window's frames: what the
 * listener did in that time, and why that means a full accept queue.
 */
export function fullQueueWords(
  e: QueueEvidence,
  server: string,
  turnedAway: TurnedAway,
  fromFrame: number,
  toFrame: number,
  windowSec: number,
): string {
  const before = turnedAway === "syn" ? "this client's first SYN" : "it re-sent this client its SYN-ACK";
  const did: string[] = [];
  if (e.dropped > 0)
    did.push(
      turnedAway !== "syn"
        ? `left the SYNs of ${atLeast(e.dropped)} other client(s) unanswered`
        : e.dropped > 1
          ? `left the SYNs of ${atLeast(e.dropped)} clients, this one included, unanswered`
          : "left this client's SYNs unanswered",
    );
  if (e.ignoredAcks > 0)
    did.push(
      turnedAway !== "ack"
        ? `ignored the handshake ACK of ${atLeast(e.ignoredAcks)} client(s) (re-sent its SYN-ACK after their ACK)`
        : e.ignoredAcks > 1
          ? `re-sent its SYN-ACK after the handshake ACK of ${atLeast(e.ignoredAcks)} clients, this one included`
          : "re-sent its SYN-ACK after this client's handshake ACK",
    );
  return (
    `the listener ${server}'s accept queue was full: from frame ${fromFrame} to frame ${toFrame} (${windowSec} s) ` +
    `it held ${e.accepted} connection(s) that had completed the handshake before ${before} and still had no byte ` +
    `from the server after their client's request (or, where the server speaks first, at all): waiting to be ` +
    "accept()ed, or on a server too busy to serve them" +
    (did.length > 0 ? `, and ${did.join(", and ")}` : "") +
    ": while the listen backlog is full Linux drops new SYNs without a word and ignores the final ACK of a " +
    "handshake, re-sending its SYN-ACK (TcpExtListenOverflows counts both), so the server was up and listening"
  );
}

/** A flow's SYN-ACKs after the first: the server's timer period so far, and what the re-sends were. */
class SynAckResends {
  /** The last SYN-ACK's frame, and the seconds between the last two. */
  lastFrame = 0;
  gap = 0;
  /** The re-send that ended a TCP_DEFER_ACCEPT period (QueueWatch.deferredFrame). */
  deferredFrame = 0;
  deferredTime = 0;
  /** The re-send that ignored the client's ACK (frame `ignoredAckOf`), and whether the client had spoken then. */
  ignoredAckFrame = 0;
  ignoredAckTime = 0;
  ignoredAckOf = 0;
  clientSilent = false;
}

/** What a handshake segment was (QueueWatch.note). */
export const HandshakeResend = {
  None: 0,
  /** The client's SYN, re-sent by its timer (not a copy, not an answer to a bare ACK or RST). */
  Syn: 1,
  /** The server's SYN-ACK, re-sent by its timer. */
  SynAck: 2,
  /** A SYN-ACK answering a re-sent SYN (Wireshark still calls it a retransmission). */
  SynAckAnswer: 3,
} as const;
export type HandshakeResend = (typeof HandshakeResend)[keyof typeof HandshakeResend];

/**
 * One flow's part in its listener's queue: when its handshake completed, whether it is
 * waiting for the server's first byte, whether its SYNs went unanswered or its ACK was
 * ignored. Fed every TCP segment of the flow (`note`), and `end` when the flow ends.
 */
export class QueueWatch {
  /** The client's ACK completing the handshake; 0 before. */
  completedFrame = 0;
  completedTime = 0;
  /**
   * `accepted` counted when the listener first turned this client away (countFrame): at
   * the first unanswered re-send of its SYN, or when the server re-sent its SYN-ACK after
   * the client's ACK; the connections completed by countSince and still waiting then.
   */
  accepted = 0;
  countFrame = 0;
  countSince = 0;
  /** How the listener first turned this client away; null if it never did. */
  turnedAway: TurnedAway | null = null;
  private lastSynTime = 0;
  private lastSynAckTime = 0;
  /** Set at the first SYN-ACK after the first (most flows have none: no memory spent on them). */
  private resends: SynAckResends | null = null;
  /** The client sent a SYN the server has not answered yet. */
  private synPending = false;
  /** The server sent a non-SYN segment (bare ACK, RST) since the client's last SYN. */
  private provoked = false;
  private drop: DroppedClient | null = null;
  /** In the listener's waiting set under this key, else "". */
  private waitingKey = "";
  /** The client's first data or FIN (0: none yet): from then on a server that has sent nothing owes it an answer. */
  spokeFrame = 0;
  /** Where this wait is in the listener's log (sharded engines only), else -1. */
  private logIndex = -1;

  /**
   * Notes one segment of the flow; `kind`: the analyzer whose capture state (its
   * ListenerQueues) the flow reports to. Says which handshake retransmission the segment
   * was, if any (HandshakeResend), for the kinds that measure them.
   */
  note(out: FindingSink, kind: QueueKind, flow: Flow, seg: TcpSegment): HandshakeResend {
    const f = seg.flags;
    const client = flow.ep[DIR_CLIENT],
      server = flow.ep[DIR_SERVER];
    if (seg.dir === DIR_CLIENT) {
      if ((f & (TH_SYN | TH_ACK)) === TH_SYN) {
        let resend: HandshakeResend = HandshakeResend.None;
        if (seg.frame === client.synFrame) this.lastSynTime = seg.time;
        else if (isDuplicateCopy(seg.time, this.lastSynTime)) return HandshakeResend.None;
        else {
          this.lastSynTime = seg.time;
          // A SYN re-sent at once after a bare ACK or RST answers that, not a timer.
          if (!this.provoked) {
            resend = HandshakeResend.Syn;
            // Hand-made SYNs have no kernel timer behind them (crafted-syn).
            if (!server.synSeen && !client.synCrafted) this.dropped(out.captureState(kind), flow, seg);
          }
        }
        this.provoked = false;
        this.synPending = true;
        return resend;
      }
      if (
        this.completedFrame === 0 &&
        server.synSeen &&
        (f & (TH_ACK | TH_SYN | TH_RST)) === TH_ACK &&
        seqDiff(seg.ack, server.isn) > 0
      ) {
        this.completedFrame = seg.frame;
        this.completedTime = seg.time;
        if (server.payloadBytes === 0) this.startWaiting(out.captureState(kind), flow);
      } else if (f & TH_RST && this.waitingKey !== "") {
        this.stopWaiting(out.captureState(kind), out.frame);
      }
      if (this.spokeFrame === 0 && (seg.len > 0 || f & TH_FIN)) this.spoke(out.captureState(kind), seg.frame);
      return HandshakeResend.None;
    }
    if (f & TH_SYN) {
      if ((f & TH_ACK) === 0) return HandshakeResend.None;
      let resend: HandshakeResend = HandshakeResend.None;
      // A copy of the last SYN-ACK (isDuplicateCopy) is no new SYN-ACK for the client to acknowledge.
      const copy = seg.frame !== server.synFrame && !this.synPending && isDuplicateCopy(seg.time, this.lastSynAckTime);
      // Only an ACK sent since the previous SYN-ACK can have been ignored (or deferred).
      // (The client's segments after a SYN-ACK, but a re-sent SYN (synPending), are ACKs.)
      const acked = client.lastFrame > (this.resends?.lastFrame ?? server.synFrame);
      if (!copy && seg.frame !== server.synFrame) (this.resends ??= new SynAckResends()).lastFrame = seg.frame;
      if (seg.frame === server.synFrame) this.lastSynAckTime = seg.time;
      else if (this.synPending) {
        this.lastSynAckTime = seg.time;
        resend = HandshakeResend.SynAckAnswer;
      } else if (!copy) {
        const gap = seg.time - this.lastSynAckTime;
        const r = this.resends!;
        const previousGap = r.gap;
        this.lastSynAckTime = seg.time;
        r.gap = gap;
        resend = HandshakeResend.SynAck;
        if (this.completedFrame !== 0 && this.ignoredAckFrame === 0 && acked) {
          if (r.deferredFrame === 0 && deferredAccept(flow, gap, previousGap))
            this.deferred(out.captureState(kind), seg, out.frame);
          else this.ignoredAck(out.captureState(kind), flow, seg, out.frame);
        }
      }
      this.synPending = false;
      return resend;
    }
    this.provoked = true;
    // The server's first data before any of its client's: this listener's server speaks first.
    // (Its first data segment: the tracker has counted it, or not yet.)
    if (seg.len > 0 && server.payloadBytes <= seg.len && this.spokeFrame === 0 && client.synSeen) {
      const q = out.captureState(kind);
      const key = listenerKey(flow);
      if (!q.serverFirst.has(key)) q.serverFirst.set(key, seg.frame);
    }
    if (this.waitingKey !== "" && (seg.len > 0 || (f & (TH_FIN | TH_RST)) !== 0))
      this.stopWaiting(out.captureState(kind), out.frame);
    return HandshakeResend.None;
  }

  /** The client's first data or FIN: a waiting connection now has a request the server has not answered. */
  private spoke(q: ListenerQueues, frame: number): void {
    this.spokeFrame = frame;
    if (q.log !== null && this.waitingKey !== "" && this.logIndex >= 0)
      q.log.get(this.waitingKey)![this.logIndex + 3] = frame;
  }

  /** The SYN-ACK that ended a TCP_DEFER_ACCEPT period (`deferredAccept`), and its time; 0 if none. */
  get deferredFrame(): number {
    return this.resends?.deferredFrame ?? 0;
  }
  get deferredTime(): number {
    return this.resends?.deferredTime ?? 0;
  }
  /** The SYN-ACK the server's timer re-sent after the client had acknowledged one, and its time; 0 if none. */
  get ignoredAckFrame(): number {
    return this.resends?.ignoredAckFrame ?? 0;
  }
  get ignoredAckTime(): number {
    return this.resends?.ignoredAckTime ?? 0;
  }
  /** The client's ACK the re-sent SYN-ACK at ignoredAckFrame ignored; 0 if none. */
  get ignoredAckOfFrame(): number {
    return this.resends?.ignoredAckOf ?? 0;
  }
  /** The client had sent no data (nor FIN) when that SYN-ACK came: a one-tick deferred accept looks the same. */
  get ignoredAckClientSilent(): boolean {
    return this.resends?.clientSilent ?? false;
  }

  end(out: FindingSink, kind: QueueKind): void {
    if (this.waitingKey !== "") this.stopWaiting(out.captureState(kind), out.frame);
  }

  /** A SYN re-sent with no answer since the first: the listener dropped this client's SYN. */
  private dropped(q: ListenerQueues, flow: Flow, seg: TcpSegment): void {
    const key = listenerKey(flow);
    if (this.drop !== null) {
      if (this.drop.frames.length < MAX_RESENDS_KEPT) {
        this.drop.times.push(seg.time);
        this.drop.frames.push(seg.frame);
        const span = seg.time - this.drop.times[0]!;
        if (span > (q.droppedSpan.get(key) ?? 0)) q.droppedSpan.set(key, span);
      }
      return;
    }
    this.drop = { from: flow.ep[DIR_CLIENT].synTime, times: [seg.time], frames: [seg.frame] };
    const lead = seg.time - this.drop.from;
    if (lead > (q.droppedLead.get(key) ?? 0)) q.droppedLead.set(key, lead);
    const list = listOf(q.dropped, key);
    if (list.length > 0 && seg.time < list[list.length - 1]!.times[0]!) q.droppedOutOfOrder.add(key);
    list.push(this.drop);
    this.countAt(q, key, this.drop.from, seg.frame, "syn");
  }

  /** The SYN-ACK ending a defer period: the server's kernel held the connection out of the accept queue until now. */
  private deferred(q: ListenerQueues, seg: TcpSegment, frame: number): void {
    this.resends!.deferredFrame = seg.frame;
    this.resends!.deferredTime = seg.time;
    if (this.waitingKey !== "") this.stopWaiting(q, frame);
  }

  /** The server's timer re-sent its SYN-ACK after the client's ACK: it ignored that ACK (or it was lost). */
  private ignoredAck(q: ListenerQueues, flow: Flow, seg: TcpSegment, frame: number): void {
    const client = flow.ep[DIR_CLIENT];
    this.resends!.ignoredAckFrame = seg.frame;
    this.resends!.ignoredAckTime = seg.time;
    this.resends!.ignoredAckOf = client.lastFrame;
    this.resends!.clientSilent = client.payloadBytes === 0 && client.finFrame === 0;
    const key = listenerKey(flow);
    listOf(q.ignoredAcks, key).push(seg.time, seg.frame);
    // Not in the queue after all: the server had no connection for that ACK.
    if (this.waitingKey !== "") this.stopWaiting(q, frame);
    if (this.countFrame === 0) this.countAt(q, key, seg.time, seg.frame, "ack");
  }

  private countAt(q: ListenerQueues, key: string, since: number, frame: number, how: TurnedAway): void {
    this.turnedAway = how;
    this.accepted = countWaitingSince(q, key, since);
    this.countSince = since;
    this.countFrame = frame;
  }

  private startWaiting(q: ListenerQueues, flow: Flow): void {
    this.waitingKey = listenerKey(flow);
    let set = q.waiting.get(this.waitingKey);
    if (set === undefined) q.waiting.set(this.waitingKey, (set = new Set()));
    set.add(this);
    if (q.log !== null) {
      const log = listOf(q.log, this.waitingKey);
      this.logIndex = log.length;
      log.push(this.completedFrame, Infinity, this.completedTime, this.spokeFrame || Infinity);
    }
  }

  private stopWaiting(q: ListenerQueues, frame: number): void {
    q.waiting.get(this.waitingKey)?.delete(this);
    if (q.log !== null && this.logIndex >= 0) q.log.get(this.waitingKey)![this.logIndex + 1] = frame;
    this.waitingKey = "";
  }
}

function listOf<T>(m: Map<string, T[]>, key: string): T[] {
  let list = m.get(key);
  if (list === undefined) m.set(key, (list = []));
  return list;
}

/**
 * Connections to the listener that completed the handshake by `since` and are still
 * waiting now: with a request the server has not answered, or, on a listener whose server
 * speaks first, with nothing from the server at all.
 */
function countWaitingSince(q: ListenerQueues, key: string, since: number): number {
  const serverFirst = q.serverFirst.has(key);
  let n = 0,
    seen = 0;
  for (const other of q.waiting.get(key) ?? []) {
    if (++seen > MAX_WAITING_SCAN) break;
    if (other.completedTime <= since && (serverFirst || other.spokeFrame !== 0)) n++;
  }
  return n;
}

/** A merged log's row: [startFrame, stopFrame, completedTime, spokeFrame] (Infinity: not yet). */
const LOG_ROW = 4;

/**
 * The same count from the merged logs: the waits open at frame `atFrame`, in completion
 * order, as far as frames before `atFrame` showed them (`serverFirst`: the listener's
 * server-speaks-first frame, Infinity if none).
 */
function countLoggedSince(log: number[], since: number, atFrame: number, serverFirst: number): number {
  let n = 0,
    seen = 0;
  for (let i = 0; i < log.length; i += LOG_ROW) {
    if (log[i]! >= atFrame) break;
    if (log[i + 1]! <= atFrame) continue;
    if (++seen > MAX_WAITING_SCAN) break;
    if (log[i + 2]! <= since && (serverFirst < atFrame || log[i + 3]! < atFrame)) n++;
  }
  return n;
}

/** Sorts a flat list of `width`-number rows by their number at `column` (a frame). */
function sortRows(list: number[], width: number, column: number): void {
  const rows: number[][] = [];
  for (let i = 0; i < list.length; i += width) rows.push(list.slice(i, i + width));
  rows.sort((a, b) => a[column]! - b[column]!);
  for (let i = 0; i < rows.length; i++) for (let j = 0; j < width; j++) list[i * width + j] = rows[i]![j]!;
}
