/**
 * What other connections say about a refused connect() (connection-refused's capture-wide
 * evidence):
 * - the listener (VLAN, server address and port): the last SYN-ACK it sent before the
 *   refusal and the first after it. None at all: nothing listened there in the capture;
 *   only before: its program closed the listening socket or exited; only after: it
 *   came up (or back) later; both: it was restarted in between.
 * - the client's next connect() to the same port: when the first attempt the client
 *   host makes to that port after the refusal goes to another address of the server
 *   within FALLBACK_MAX_GAP_SEC of the reset, the client's connect loop moved on to the
 *   next address (getaddrinfo()'s list, or Happy Eyeballs), and that attempt's outcome
 *   is the program's.
 *
 * One engine learns the facts in packet order and revises a finding when a later packet
 * changes them; a `--jobs` worker logs every accept and attempt of its shard, and
 * `resolve` takes the same facts again over all shards' logs, by frame number, so both
 * give the same report.
 */
import type { Finding } from "../finding.js";
import type { Flow } from "../../decode/flow/record.js";
import { addressToString } from "../../decode/wire/address.js";

/**
 * Longest gap between the reset that failed a connect() and the client's next SYN to the
 * same port on another server address for that SYN to count as the same program's
 * connect loop moving on. A loop over getaddrinfo()'s addresses (or Happy Eyeballs after
 * a failure, RFC 8305 §5) calls connect() again at once: the gap is the program's own
 * scheduling, well under a millisecond to a few ms. A tenth of a second leaves room for a
 * busy client while keeping unrelated connections to the port (a client talking to many
 * servers) out.
 */
export const FALLBACK_MAX_GAP_SEC = 0.1;

/** Resets kept per refusal (a stack retrying more often than this is a loop, not a kernel). */
export const MAX_REFUSALS_KEPT = 64;

/** How a connection attempt (a flow begun with the client's SYN) ended, as far as the capture shows. */
export const OUTCOME_NONE = 0;
export const OUTCOME_ACCEPTED = 1;
export const OUTCOME_REFUSED = 2;

/** One connect(): a flow begun by the client's SYN. */
export class Attempt {
  outcome = OUTCOME_NONE;
  /** The SYN-ACK or first RST that decided it, 0 while undecided. */
  outcomeFrame = 0;
  /** Refusals whose fallback this attempt is (one engine: revised when its outcome comes). */
  dependents: Refusal[] | null = null;
  constructor(
    readonly synFrame: number,
    readonly synTime: number,
    /** "ip:port" of the server, for the words. */
    readonly server: string,
    /** The server address alone, to tell another address of the same port. */
    readonly serverAddress: string,
    /** Both ends on loopback: the other address is surely the same host. */
    readonly loopback: boolean,
  ) {}
}

/** A refused connection attempt and what the rest of the capture says about it. */
export class Refusal {
  readonly rstFrames: number[] = [];
  readonly rstTimes: number[] = [];
  lastRstFrame = 0;
  lastRstTime = 0;
  /** The listener's last SYN-ACK before the first reset and its first after, 0 when none. */
  acceptedBeforeFrame = 0;
  acceptedBeforeTime = 0;
  acceptedAfterFrame = 0;
  acceptedAfterTime = 0;
  /** The client's next attempt to the port, when it went to another address straight after. */
  fallback: Attempt | null = null;
  fallbackGapSec = 0;
  /** The finding, once the flow has ended and it was reported. */
  finding: Finding | null = null;
  constructor(
    readonly listener: string,
    readonly clientKey: string,
    readonly serverAddress: string,
    readonly firstRstFrame: number,
  ) {}

  addReset(frame: number, time: number): void {
    this.lastRstFrame = frame;
    this.lastRstTime = time;
    if (this.rstFrames.length >= MAX_REFUSALS_KEPT) return;
    this.rstFrames.push(frame);
    this.rstTimes.push(time);
  }
}

/** The listener a flow's SYNs go to: VLAN, server address and port. */
export function listenerKey(flow: Flow): string {
  return `${flow.vlan} ${flow.endpointName("server")}`;
}

function isLoopback(flow: Flow, words: readonly number[]): boolean {
  if (flow.ipVersion === 4) return words[0]! >>> 24 === 127;
  if (words[0] !== 0 || words[1] !== 0) return false;
  // ::1, or an IPv4-mapped 127.x address.
  return (words[2] === 0 && words[3] === 1) || (words[2] === 0xffff && words[3]! >>> 24 === 127);
}

/** Both ends of the flow on loopback: the connection never left the host. */
export function onLoopback(flow: Flow): boolean {
  return isLoopback(flow, flow.client) && isLoopback(flow, flow.server);
}

/**
 * The client host and the server port: attempts with the same key are the same client's
 * connects to that port. Loopback addresses (127.0.0.1, ::1) are one host; any other
 * client is known by its address (two addresses of one client cannot be told apart).
 */
export function clientKey(flow: Flow): string {
  const host = onLoopback(flow)
    ? "loopback"
    : addressToString(flow.ipVersion, flow.client[0]!, flow.client[1]!, flow.client[2]!, flow.client[3]!);
  return `${flow.vlan} ${host} ${flow.serverPort}`;
}

export function serverAddress(flow: Flow): string {
  return addressToString(flow.ipVersion, flow.server[0]!, flow.server[1]!, flow.server[2]!, flow.server[3]!);
}

/** Called with a refusal whose facts changed after its finding was reported. */
export type Revise = (r: Refusal) => void;

/**
 * Per capture. One engine keeps the latest accept per listener and the refusals still
 * waiting for evidence; a sharded one logs everything for `resolve`.
 */
export class RefusalEvidence {
  /** One engine: each listener's latest SYN-ACK [frame, time]. */
  readonly lastAccept = new Map<string, [number, number]>();
  /** One engine: refusals waiting for their listener's next SYN-ACK, and for the client's next attempt. */
  readonly awaitingAccept = new Map<string, Refusal[]>();
  readonly awaitingAttempt = new Map<string, Refusal[]>();
  /** Sharded: every SYN-ACK per listener, flat [frame, time, …], and every attempt per client key. */
  readonly accepts: Map<string, number[]> | null;
  readonly attempts: Map<string, Attempt[]> | null;
  /** Sharded: every refusal of the shard, for `resolve`. */
  readonly refusals: Refusal[] | null;

  constructor(sharded: boolean) {
    this.accepts = sharded ? new Map() : null;
    this.attempts = sharded ? new Map() : null;
    this.refusals = sharded ? [] : null;
  }

  /** The listener answered a SYN with a SYN-ACK. */
  accepted(listener: string, frame: number, time: number, revise: Revise): void {
    if (this.accepts !== null) {
      push(this.accepts, listener, frame, time);
      return;
    }
    this.lastAccept.set(listener, [frame, time]);
    const waiting = this.awaitingAccept.get(listener);
    if (waiting === undefined) return;
    this.awaitingAccept.delete(listener);
    for (const r of waiting) {
      r.acceptedAfterFrame = frame;
      r.acceptedAfterTime = time;
      revise(r);
    }
  }

  /**
   * Whether a new connect() must be noted: always when sharded (another worker may hold
   * the refusal it follows), else only while a refusal waits for the client's next attempt.
   */
  wantsAttempts(): boolean {
    return this.attempts !== null || this.awaitingAttempt.size > 0;
  }

  /** A new connect(): the client's first SYN on a flow. */
  attempted(key: string, a: Attempt, revise: Revise): void {
    if (this.attempts !== null) {
      push(this.attempts, key, a);
      return;
    }
    const waiting = this.awaitingAttempt.get(key);
    if (waiting === undefined) return;
    // The first attempt after a refusal decides whether it was a fallback.
    this.awaitingAttempt.delete(key);
    for (const r of waiting) {
      if (linkFallback(r, a)) (a.dependents ??= []).push(r);
      revise(r);
    }
  }

  /** A connection attempt's first reset: a refusal, with what is known of its listener so far. */
  refused(r: Refusal): void {
    if (this.refusals !== null) {
      this.refusals.push(r);
      return;
    }
    const before = this.lastAccept.get(r.listener);
    if (before !== undefined) [r.acceptedBeforeFrame, r.acceptedBeforeTime] = before;
    push(this.awaitingAccept, r.listener, r);
    push(this.awaitingAttempt, r.clientKey, r);
  }
}

/*
 * The merge and the resolution are functions, not methods: a worker's state comes back as
 * a structured clone, plain data without its class.
 */

/** Folds a worker's logs into `into`. */
export function mergeEvidence(into: RefusalEvidence, from: RefusalEvidence): void {
  for (const [k, log] of from.accepts!) for (const x of log) push(into.accepts!, k, x);
  for (const [k, list] of from.attempts!) for (const a of list) push(into.attempts!, k, a);
  for (const r of from.refusals!) into.refusals!.push(r);
}

/** After the merge: every refusal's facts from all shards' logs, as one engine finds them. */
export function resolveEvidence(ev: RefusalEvidence, rewrite: Revise): void {
  for (const log of ev.accepts!.values()) sortPairs(log);
  for (const list of ev.attempts!.values()) list.sort((a, b) => a.synFrame - b.synFrame);
  for (const r of ev.refusals!) {
    const log = ev.accepts!.get(r.listener) ?? [];
    for (let i = 0; i < log.length; i += 2) {
      if (log[i]! < r.firstRstFrame) [r.acceptedBeforeFrame, r.acceptedBeforeTime] = [log[i]!, log[i + 1]!];
      else {
        [r.acceptedAfterFrame, r.acceptedAfterTime] = [log[i]!, log[i + 1]!];
        break;
      }
    }
    const next = ev.attempts!.get(r.clientKey)?.find((a) => a.synFrame > r.firstRstFrame);
    if (next !== undefined) linkFallback(r, next);
    if (r.finding !== null) rewrite(r);
  }
}

/** Links `next` as the refusal's fallback when it went to another server address straight after. */
function linkFallback(r: Refusal, next: Attempt): boolean {
  if (next.serverAddress === r.serverAddress) return false;
  const gap = next.synTime - resetTimeBefore(r, next.synFrame);
  if (gap < 0 || gap > FALLBACK_MAX_GAP_SEC) return false;
  r.fallback = next;
  r.fallbackGapSec = gap;
  return true;
}

/** Time of the last reset before `frame` (the one that had failed connect() when that frame came). */
function resetTimeBefore(r: Refusal, frame: number): number {
  if (frame > r.lastRstFrame) return r.lastRstTime;
  let t = r.rstTimes[0]!;
  for (let i = 0; i < r.rstFrames.length && r.rstFrames[i]! < frame; i++) t = r.rstTimes[i]!;
  return t;
}

function push<T>(m: Map<string, T[]>, key: string, ...xs: T[]): void {
  const list = m.get(key);
  if (list === undefined) m.set(key, xs);
  else list.push(...xs);
}

/** Sorts a flat [frame, time, …] log by frame. */
function sortPairs(log: number[]): void {
  const pairs: [number, number][] = [];
  for (let i = 0; i < log.length; i += 2) pairs.push([log[i]!, log[i + 1]!]);
  pairs.sort((a, b) => a[0] - b[0]);
  pairs.forEach(([f, t], i) => {
    log[2 * i] = f;
    log[2 * i + 1] = t;
  });
}
