/**
 * Live capture's attribution of flows to programs: a flow is looked up shortly after its
 * first packet (debounced: one scan answers for every flow that began meanwhile) and
 * again periodically while it lives (a fork, an exec, a socket handed on), and the last
 * answer is kept after its socket is gone. A flow side still without a socket after
 * MAX_TRIES scans stays unknown (null); one whose socket was already gone at its first
 * look is "closed before it could be attributed".
 *
 * Times are the live clock's (seconds since the epoch), as LiveSession.tick gives them.
 */
import { DIR_CLIENT, DIR_SERVER, type Flow } from "../../decode/flow/record.js";
import { L4_TCP } from "../../decode/wire/packet.js";
import type { ProcessAttribution } from "./attribution.js";
import type { KernelSocket } from "./proc-net.js";
import type { FlowProcesses, SideProcess } from "../../analyze/side-process.js";

/** A new flow is looked up this long after its first packet at most (one tick), batching a burst. */
export const ATTRIBUTE_DEBOUNCE_SEC = 0.1;
/** Open flows are looked up again this often (who holds the socket, its queues). */
export const ATTRIBUTE_REFRESH_SEC = 5;
/** Scans take at most 1 / this of a core (see minGapSec). */
const SCAN_COST_FACTOR = 50;
/** Conditions reported in one tick share one re-read of the tables. */
const LOOK_NOW_SEC = 0.2;
/** Scans a side may stay without a socket before it is left unknown. */
const MAX_TRIES = 3;

/**
 * Whether the side had a socket of its own: it sent a SYN, data or a FIN (TCP), or
 * anything (UDP). A RST alone is the kernel answering for a port nobody listens on.
 */
function hadSocket(f: Flow, dir: number): boolean {
  const ep = f.ep[dir]!;
  if (f.proto !== L4_TCP) return ep.packets > 0;
  return ep.synSeen || ep.finFrame !== 0 || ep.payloadBytes > 0;
}

interface Tracked {
  flow: Flow;
  sides: [SideProcess | null, SideProcess | null];
  /** Side settled: known, not local, or given up. */
  settled: [boolean, boolean];
  sockets: [KernelSocket | null, KernelSocket | null];
  tries: number;
}

export class FlowAttribution {
  private readonly tracked = new Map<number, Tracked>();
  private pendingSince = -1;
  private lastScan = -Infinity;
  private lastLookNow = -Infinity;
  /** When the last scan ran, performance.now() (finish() has no capture time to go by). */
  private lastScanWallMs = -Infinity;
  /** What the last scan and its lookups took, ms (the spacing of scans follows it). */
  private costMs = 0;

  constructor(
    readonly table: ProcessAttribution,
    private readonly refreshSec = ATTRIBUTE_REFRESH_SEC,
    private readonly debounceSec = ATTRIBUTE_DEBOUNCE_SEC,
  ) {}

  /** A flow's first packet. */
  noteFlow(flow: Flow, now: number): void {
    if (this.tracked.has(flow.id)) return;
    this.tracked.set(flow.id, {
      flow,
      sides: [null, null],
      settled: [false, false],
      sockets: [null, null],
      tries: 0,
    });
    if (this.pendingSince < 0) this.pendingSince = now;
  }

  /** Between batches: scans when a new flow waits past the debounce, or the refresh is due. */
  tick(now: number): void {
    const gap = now - this.lastScan;
    if (gap < this.minGapSec()) return;
    const refresh = this.tracked.size > 0 && gap >= this.refreshSec;
    if (refresh || (this.pendingSince >= 0 && now - this.pendingSince >= this.debounceSec)) this.scanNow(now, refresh);
  }

  /**
   * Scans are at least SCAN_COST_FACTOR times their own cost apart, so that they take at
   * most 1/SCAN_COST_FACTOR of a core: on a host with tens of thousands of sockets the
   * kernel alone takes ~0.1 s to print /proc/net/tcp (docs/PERFORMANCE.md).
   */
  private minGapSec(): number {
    return (this.costMs / 1000) * SCAN_COST_FACTOR;
  }

  /** Scans now and looks up the tracked flows (`all`: every one; else those without an answer yet). */
  scanNow(now: number, all = true): void {
    const t0 = performance.now();
    this.lastScanWallMs = t0;
    this.lastScan = now;
    this.pendingSince = -1;
    this.table.scan();
    // Between refreshes only the flows still without an answer: with 100 000 flows open,
    // looking them all up on every new connection would cost more than the scan.
    for (const t of this.tracked.values()) if (all || !t.settled[0] || !t.settled[1]) this.lookUp(t);
    this.costMs = performance.now() - t0;
  }

  /**
   * A condition is being reported on this side: its socket as the kernel shows it now
   * (the tables re-read, at most once per LOOK_NOW_SEC), and its program.
   */
  lookNow(flow: Flow, dir: number, now: number): [SideProcess | null, KernelSocket | null] {
    const t = this.tracked.get(flow.id);
    if (t === undefined) return [null, null];
    if (now - this.lastLookNow >= Math.max(LOOK_NOW_SEC, this.minGapSec())) {
      this.lastLookNow = now;
      this.table.scan();
    }
    this.lookUp(t);
    return [t.sides[dir] ?? null, t.sockets[dir] ?? null];
  }

  private lookUp(t: Tracked): void {
    const f = t.flow;
    const proto = f.proto === L4_TCP ? "tcp" : "udp";
    const client = f.endpointName("client"),
      server = f.endpointName("server");
    t.tries++;
    for (const dir of [DIR_CLIENT, DIR_SERVER]) {
      const [local, remote] = dir === DIR_CLIENT ? [client, server] : [server, client];
      const r = this.table.lookup(proto, local, remote, dir === DIR_SERVER, f.endedFrame !== 0 && hadSocket(f, dir));
      t.sockets[dir] = r.socket;
      if (r.process === undefined) {
        // Local, socket not found or not yet owned: look again, up to MAX_TRIES.
        if (t.tries >= MAX_TRIES) t.settled[dir] = true;
        continue;
      }
      if (r.process === null) {
        t.settled[dir] = true;
        continue;
      }
      // A later "closed" never replaces a program seen earlier: the last answer is kept.
      if (r.process.pid !== null || t.sides[dir] === null) t.sides[dir] = r.process;
      t.settled[dir] = true;
    }
  }

  /** Both sides as known now; null when neither is. */
  processesOf(flow: Flow): FlowProcesses | null {
    const t = this.tracked.get(flow.id);
    if (t === undefined || (t.sides[0] === null && t.sides[1] === null)) return null;
    return { client: t.sides[0], server: t.sides[1] };
  }

  /** The side's socket as the last scan saw it (queues, state), null when not found. */
  socketOf(flow: Flow, dir: number): KernelSocket | null {
    return this.tracked.get(flow.id)?.sockets[dir] ?? null;
  }

  /** The process that sent a packet from side `dir`, for -w; null when unknown. */
  senderOf(flow: Flow, dir: number): SideProcess | null {
    const p = this.tracked.get(flow.id)?.sides[dir] ?? null;
    return p?.pid !== null ? p : null;
  }

  /**
   * The flow is over: a side never seen with a socket whose address is this machine's had
   * one that closed before any scan; the flow leaves the table. Returns its final answer.
   */
  finish(flow: Flow): FlowProcesses | null {
    const t = this.tracked.get(flow.id);
    if (t === undefined) return null;
    if (t.tries === 0 && performance.now() - this.lastScanWallMs >= this.minGapSec() * 1000) {
      // Over before any scan saw it: the tables as they are now still show what outlives it
      // (a TIME-WAIT entry, the server's listener), within the same bound on scans.
      this.lastScanWallMs = performance.now();
      this.table.scan();
    }
    if (t.tries === 0 || !t.settled[0] || !t.settled[1]) this.lookUpEnded(t);
    this.tracked.delete(flow.id);
    return t.sides[0] === null && t.sides[1] === null ? null : { client: t.sides[0], server: t.sides[1] };
  }

  private lookUpEnded(t: Tracked): void {
    const f = t.flow;
    const proto = f.proto === L4_TCP ? "tcp" : "udp";
    const client = f.endpointName("client"),
      server = f.endpointName("server");
    for (const dir of [DIR_CLIENT, DIR_SERVER]) {
      if (t.sides[dir] !== null) continue;
      const [local, remote] = dir === DIR_CLIENT ? [client, server] : [server, client];
      // The tables as last scanned: no new scan for a flow already gone.
      const r = this.table.lookup(proto, local, remote, dir === DIR_SERVER, hadSocket(f, dir));
      if (r.process !== undefined && r.process !== null) t.sides[dir] = r.process;
    }
  }

  get size(): number {
    return this.tracked.size;
  }
}
