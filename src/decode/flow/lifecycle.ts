/**
 * How flows leave the flow table, and when its owner is told: a closed connection quiet
 * for `retireAfterSec` retires (it stays in the table, its owner's analysis is over); a
 * full table evicts closed and long-quiet flows; a live capture ends finished flows
 * (`expire`) and remembers the closed ones for a while, so a new SYN on their 4-tuple
 * still finds its previous connection.
 */
import { L4_TCP } from "../wire/packet.js";
import type { Flow } from "./record.js";

/** A flow quiet for less than this is never evicted to make room (see FlowLifecycle.makeRoom). */
export const EVICT_MIN_IDLE_SEC = 60;

/** The table's owner: told when flows start, retire and end, and asked before one retires. */
export interface FlowListener<A = unknown> {
  /** A new flow: the owner sets its `attachment`. */
  flowStarted(flow: Flow<A>): void;
  /**
   * The flow will see no more packets: replaced by a new incarnation or after a long gap
   * (then concluded at its own last packet), evicted, capture end, or (live capture, `FlowTable.expire`) closed and quiet, or idle too long.
   */
  flowEnded(flow: Flow<A>, why: FlowEndReason): void;
  /** A closed flow has been quiet for FlowLimits.retireAfterSec: it stays in the table (until evicted), its owner done with it. */
  flowRetired(flow: Flow<A>): void;
  /** Whether a closed, quiet flow may retire now; false keeps it as it is (asked again when a packet reaches it). */
  mayRetire(flow: Flow<A>): boolean;
}

/**
 * Why a flow ended. "gap": the next packet on its 4-tuple came after a quiet no TCP timer
 * explains, or across a clock jump (table.ts, SPLIT_AFTER_QUIET_SEC), and started another
 * flow; what the wire shows of this one ends with its own last packet.
 */
export type FlowEndReason = "capture-end" | "replaced" | "gap" | "evicted" | "closed" | "idle";

/** When a live capture ends flows (`FlowTable.expire`); all in seconds. */
export interface ExpireOptions {
  /** A closed flow (both FINs acknowledged, or a reset) quiet this long has ended. */
  lingerSec: number;
  /** An open TCP flow quiet this long is ended. */
  idleSec: number;
  /** A UDP flow quiet this long is ended. */
  udpIdleSec: number;
  /**
   * How long an expired closed flow can still be found by a new SYN on its 4-tuple, so
   * the new connection is linked to it as `previous` (time-wait-reuse): 2·MSL.
   */
  rememberSec: number;
}

/**
 * Where a file's flows go once their analysis is over and they have left the table: it
 * keeps what the report needs of them (analyze/closed-flows.ts), so the table's `all`
 * need not hold every Flow ever seen to the end of the capture.
 */
export interface EndedFlowStore<A> {
  /** `flow` will see no more packets, and its owner is done with it. */
  keep(flow: Flow<A>): void;
}

/** Ended flows handed to the store at least this many at a time (each hand-over rewrites `all`). */
const MIN_HANDOVER = 1024;

/** What the lifecycle needs of the table that holds the flows. */
export interface FlowStore<A> {
  readonly activeCount: number;
  /** Every flow in order of first packet not yet handed to the EndedFlowStore (a live capture drops ended ones). */
  readonly all: Flow<A>[];
  /** The flows in the table now, in bucket order. */
  activeFlows(): Flow<A>[];
  /** Takes a flow out of the table (its owner is told by the caller, with `end`). */
  remove(flow: Flow<A>): void;
}

export class FlowLifecycle<A> {
  evicted = 0;
  private noRoomUntil = -Infinity;
  /**
   * Live capture only: closed flows `expire` has ended, by hash, oldest first, kept for
   * `rememberSec` so a new SYN on the same 4-tuple still finds its previous connection.
   * Always empty when reading files.
   */
  private readonly recent = new Map<number, Flow<A>>();
  private sweeps = 0;
  /** Closed flows not yet retired (`sweep`). */
  private closed: Flow<A>[] = [];
  readonly retireAfterSec: number;
  /**
   * The clock retirement goes by: the capture's time, advanced by every record
   * (`advanceClock`, also for records of other `--jobs` shards, so every worker retires at
   * the same records). It is the analysis clock's confirmed time (AnalysisClock: the lower
   * of a record's time and the previous one's), so it takes two records to move it: one
   * far-future timestamp (a capture merged from several interfaces) cannot retire every
   * closed flow at once.
   */
  private clock = -Infinity;
  private nextSweep = -Infinity;
  /** Ended flows not yet handed to `endedStore` (`handOver`), and how many were. */
  private ended = new Set<Flow<A>>();
  private handedOver = 0;

  constructor(
    private readonly store: FlowStore<A>,
    private readonly listener: FlowListener<A>,
    private readonly maxFlows: number,
    retireAfterSec: number,
    /**
     * Takes ended flows out of `all`; only when reading a file (retireAfterSec finite):
     * a live capture drops them itself (`expire`).
     */
    private readonly endedStore: EndedFlowStore<A> | null = null,
  ) {
    this.retireAfterSec = retireAfterSec;
    if (retireAfterSec === Infinity) this.endedStore = null;
  }

  /** After a record of the capture (any, even one another worker analyses): the analysis clock's confirmed time. */
  advanceClock(confirmed: number): void {
    if (this.retireAfterSec === Infinity) return;
    if (confirmed <= this.clock) return;
    this.clock = confirmed;
    if (this.clock >= this.nextSweep) {
      this.sweep();
      this.nextSweep = this.clock + 1;
    }
  }

  /** The tracker has just closed `flow` (both FINs acknowledged, or a reset): it may retire. */
  flowClosed(flow: Flow<A>): void {
    if (this.retireAfterSec !== Infinity) this.closed.push(flow);
  }

  /**
   * Retires every closed flow quiet for `retireAfterSec` by the clock, so memory follows
   * the connections still open, not every one seen. Only saves memory: whether a flow is
   * retired when something touches it is decided by `retireIfDue` alike.
   */
  private sweep(): void {
    const keep: Flow<A>[] = [];
    for (const f of this.closed) {
      if (f.retired || f.endedFrame === 0) continue; // ended, or re-opened (queued again when it closes)
      if (this.clock - f.lastTime < this.retireAfterSec) keep.push(f);
      else if (this.listener.mayRetire(f)) this.retire(f);
    }
    this.closed = keep;
  }

  /** Retires `flow` if it is closed, quiet for `retireAfterSec` by the clock, and its owner lets it. */
  retireIfDue(flow: Flow<A>): void {
    if (
      !flow.retired &&
      flow.endedFrame !== 0 &&
      this.clock - flow.lastTime >= this.retireAfterSec &&
      this.listener.mayRetire(flow)
    )
      this.retire(flow);
  }

  private retire(flow: Flow<A>): void {
    flow.retired = true;
    this.listener.flowRetired(flow);
  }

  /** Tells the owner that `flow`, out of the table, will see no more packets. */
  end(flow: Flow<A>, why: FlowEndReason): void {
    this.listener.flowEnded(flow, why);
    flow.retired = true;
    // Only the tracker reads the facts, and no packet reaches the flow now.
    flow.releaseFacts();
    if (this.endedStore === null) return;
    this.ended.add(flow);
    // In batches, so that rewriting `all` costs a few steps per flow handed over.
    if (this.ended.size >= Math.max(MIN_HANDOVER, this.store.all.length >> 3)) this.handOver();
  }

  /** Capture over: retire what is due before every flow ends. */
  finish(): void {
    if (this.retireAfterSec !== Infinity) this.sweep();
  }

  /**
   * Every flow has ended (capture over, after `finish`): none is left to retire. They all go
   * to the store once any did: a capture that never ended MIN_HANDOVER flows keeps them in
   * `all` as Flows, where the library's users (and the tests) can read a small capture's
   * TCP state after the run.
   */
  allEnded(): void {
    this.closed = [];
    if (this.handedOver > 0 || this.ended.size >= MIN_HANDOVER) this.handOver();
  }

  /**
   * Hands the ended flows to the store and takes them out of `all`. A flow's `previous`
   * link is cut then: its id is kept, and nothing reads the earlier Flow once its
   * successor has started (time-wait-reuse reads it at the successor's SYN), so a 4-tuple
   * reused again and again does not hold a chain of every connection it carried.
   */
  private handOver(): void {
    const store = this.endedStore;
    if (store === null || this.ended.size === 0) return;
    for (const f of this.ended) {
      store.keep(f);
      f.previous = null;
    }
    this.handedOver += this.ended.size;
    const all = this.store.all;
    let keep = 0;
    for (let i = 0; i < all.length; i++) {
      const f = all[i]!;
      if (!this.ended.has(f)) all[keep++] = f;
    }
    all.length = keep;
    this.ended = new Set();
  }

  /**
   * The table is full: evict a tenth of it, closed flows first, then those quiet the
   * longest, but never a flow heard from in the last EVICT_MIN_IDLE_SEC (evicting busy
   * flows would bring them straight back as new ones, and the table would churn through
   * them; Suricata's flow memcap behaves alike). Returns whether there is room now. A
   * failed attempt is not retried for a second of capture time: a flood of busy flows
   * must not cost a sort per packet. A sweep is O(flows) but happens once per limit/10
   * new flows.
   */
  makeRoom(now: number): boolean {
    if (now < this.noRoomUntil) return false;
    const target = Math.floor(this.maxFlows * 0.9);
    if (this.retireAfterSec !== Infinity) this.sweep();
    // Retired flows first (their owner is done with them: dropping them loses nothing but
    // the count of their late packets), then closed ones, then the longest quiet.
    const rank = (f: Flow<A>): number => (f.retired ? 0 : f.endedFrame !== 0 ? 1 : 2);
    const byIdle = this.store.activeFlows().sort((a, b) => rank(a) - rank(b) || a.lastTime - b.lastTime);
    for (const flow of byIdle) {
      if (this.store.activeCount <= target) break;
      if (flow.endedFrame === 0 && now - flow.lastTime < EVICT_MIN_IDLE_SEC) break;
      this.store.remove(flow);
      if (!flow.retired) this.evicted++;
      this.end(flow, "evicted");
    }
    if (this.store.activeCount < this.maxFlows) return true;
    this.noRoomUntil = now + 1;
    return false;
  }

  /**
   * Live capture: ends the flows that are finished, as a file's end would, so their
   * findings can be reported while the capture goes on, and forgets them. A flow ends
   * when it is closed (`endedFrame`: both FINs acknowledged, or a reset) and has been
   * quiet for `lingerSec` (late retransmissions and the final ACK stay in it), or when
   * it has been quiet for the idle timeout. Every flow no longer in the table (ended
   * here, replaced or evicted) leaves `all`, and its `previous` link is cut, so memory
   * holds only the active flows. `now` is in capture time (seconds since the epoch).
   * O(active flows); meant to run a few times a second between packet batches.
   * Returns how many flows it ended.
   */
  expire(now: number, o: ExpireOptions): number {
    const mark = ++this.sweeps;
    const ended: [Flow<A>, FlowEndReason][] = [];
    for (const f of this.store.activeFlows()) {
      const quiet = now - f.lastTime;
      if (f.endedFrame !== 0 ? quiet >= o.lingerSec : quiet >= (f.proto === L4_TCP ? o.idleSec : o.udpIdleSec)) {
        ended.push([f, f.endedFrame !== 0 ? "closed" : "idle"]);
      } else {
        f.expireMark = mark;
      }
    }
    for (const [f, why] of ended) {
      this.store.remove(f);
      if (why === "closed" && o.rememberSec > 0 && f.proto === L4_TCP) {
        this.recent.delete(f.hash);
        this.recent.set(f.hash, f);
      }
      this.end(f, why);
    }
    for (const f of this.recent.values()) {
      if (now - f.lastTime < o.rememberSec && this.recent.size <= this.maxFlows) break;
      this.recent.delete(f.hash);
    }
    let keep = 0;
    const all = this.store.all;
    for (let i = 0; i < all.length; i++) {
      const f = all[i]!;
      if (f.expireMark === mark) all[keep++] = f;
      else f.previous = null;
    }
    all.length = keep;
    return ended.length;
  }

  /** Whether `expire` remembers closed flows a new SYN may reincarnate. */
  get remembersAny(): boolean {
    return this.recent.size > 0;
  }

  /** The closed flow `expire` ended recently with this hash, if any. */
  remembered(hash: number): Flow<A> | undefined {
    return this.recent.get(hash);
  }

  /** A remembered flow has been reincarnated: no other SYN may claim it. */
  forget(hash: number): void {
    this.recent.delete(hash);
  }
}
