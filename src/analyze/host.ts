/**
 * The analyzer host: runs the analyzers over the flows the packet loop hands it. It gives
 * each flow one slot per analyzer (plus the shared SideHistory) when the flow starts,
 * lets analyzers with a `wakeOn` sleep on a flow until their event comes, calls their
 * hooks (every onTcpSegment from one compiled function), and has them conclude and free
 * their slots when the flow retires or ends (it is the flow table's FlowListener). What
 * they report goes to its Sink (sink.ts).
 */
import type { FragmentFailure } from "../decode/reassembly.js";
import type { FragmentedDatagram } from "../decode/datagram.js";
import { DIR_CLIENT, DIR_SERVER, type Flow } from "../decode/flow/record.js";
import type { FlowEndReason, FlowListener } from "../decode/flow/lifecycle.js";
import type { TcpSegment } from "../decode/flow/tcp-tracker.js";
import { L4_TCP, TH_RST, TH_SYN, type DecodedPacket } from "../decode/wire/packet.js";
import {
  WAKE_CRAFTED_SYN,
  WAKE_NEW_INCARNATION,
  WAKE_ZERO_WINDOW,
  type AnalyzerDescriptor,
  type AnalyzerOptions,
  type FindingSink,
  type OngoingCondition,
} from "./analyzer.js";
import { SideHistory } from "./lib/side-history.js";
import type { ClockJump } from "./clock.js";
import { Sink, type FlowServices, type SinkOptions } from "./sink.js";

/** What the host attaches to each flow: its analyzers' states, by analyzer number (no map lookup per packet). */
export type Slots = unknown[];

/** Whether an analyzer has anything to do with flows of this protocol. */
function isRelevant(a: AnalyzerDescriptor<any>, proto: number): boolean {
  const shared = a.onIcmpError !== undefined || a.onDatagramComplete !== undefined || a.onDatagramFailed !== undefined;
  return shared || (proto === L4_TCP ? a.onTcpSegment !== undefined : a.onUdpDatagram !== undefined);
}

type UdpHook = (
  s: unknown,
  f: Flow,
  dir: number,
  frame: number,
  time: number,
  p: DecodedPacket,
  out: FindingSink,
) => void;

type TcpDispatch = (
  slots: unknown[],
  f: Flow,
  seg: TcpSegment,
  p: DecodedPacket,
  out: FindingSink,
  events: number,
) => void;

/** The slot of an analyzer sleeping on a flow until one of its wakeOn events (shared: no per-flow cost). */
const ASLEEP = Object.freeze({ asleep: true });

/**
 * One function calling every analyzer's onTcpSegment in turn, each from its own call
 * site. A loop over an array of hooks makes one call site see every analyzer (a
 * megamorphic call V8 cannot inline); generated straight-line calls stay monomorphic
 * and get inlined. Profiled: the analyzers' share of a run fell by about a third.
 * Sleeping analyzers (wakeOn) cost one comparison per segment until they wake. Capture
 * copies reach only the analyzers that ask for them (seesCaptureCopies).
 */
function compileTcpDispatch(analyzers: AnalyzerDescriptor<any>[], unaccepted = false): TcpDispatch {
  const names: string[] = [],
    values: unknown[] = [],
    lines: string[] = [];
  analyzers.forEach((a, i) => {
    if (a.onTcpSegment === undefined || (unaccepted && a.readsUnaccepted !== true)) return;
    names.push(`h${i}`);
    values.push(a.onTcpSegment);
    const copyGuard = a.seesCaptureCopies === true ? "" : "if (!seg.captureCopy) ";
    if (a.wakeOn === undefined) {
      lines.push(`${copyGuard}h${i}(st[${i}], flow, seg, p, out);`);
      return;
    }
    names.push(`c${i}`);
    values.push(a.createState ?? (() => null));
    lines.push(
      `s = st[${i}];`,
      `if (s === ASLEEP && (events & ${a.wakeOn}) !== 0) s = st[${i}] = c${i}(flow);`,
      `if (s !== ASLEEP${a.seesCaptureCopies === true ? "" : " && !seg.captureCopy"}) h${i}(s, flow, seg, p, out);`,
    );
  });
  const body = `return function dispatchTcp(st, flow, seg, p, out, events) {\nlet s;\n${lines.join("\n")}\n};`;
  return new Function("ASLEEP", ...names, body)(ASLEEP, ...values) as TcpDispatch;
}

export interface HostOptions extends SinkOptions {
  /** Called when a flow has ended, after its analyzers' onFlowEnd. */
  onFlowEnd?: (flow: Flow<Slots>, why: FlowEndReason) => void;
  /** Keep the flows analyzers watch (FindingSink.watch) for forEachOngoing: a live capture. */
  watchOngoing?: boolean;
  /**
   * How long a closed flow is quiet before the flow table retires it (FlowLimits.retireAfterSec):
   * its analyzers conclude at that moment.
   */
  retireAfterSec: number;
}

export class AnalyzerHost implements FlowListener<Slots>, FlowServices {
  private readonly udpHooks: UdpHook[] = [];
  private readonly dispatchTcp: TcpDispatch;
  /** The same for segments the receiver would not have accepted: only analyzers that readsUnaccepted. */
  private readonly dispatchUnaccepted: TcpDispatch;
  private readonly udpSlots: number[] = [];
  /** Where TCP flows keep the shared SideHistory in their attachment (after the analyzers'); -1: no analyzer reads it. */
  private readonly historySlot: number;
  private readonly onFlowEnd: HostOptions["onFlowEnd"];
  private readonly retireAfterSec: number;
  /** Open flows an analyzer may report an ongoing condition on (FindingSink.watch); null unless `watchOngoing`. */
  private readonly watched: Set<Flow<Slots>> | null;
  readonly sink: Sink;

  /** `jumps`: the capture's clock jumps (AnalysisClock.jumps), for the sink's real times. */
  constructor(
    readonly analyzers: AnalyzerDescriptor<any>[],
    options: AnalyzerOptions,
    jumps: readonly ClockJump[],
    opts: HostOptions,
  ) {
    this.onFlowEnd = opts.onFlowEnd;
    this.retireAfterSec = opts.retireAfterSec;
    this.watched = opts.watchOngoing ? new Set() : null;
    this.analyzers.forEach((a, i) => {
      if (a.onUdpDatagram) {
        this.udpHooks.push(a.onUdpDatagram as UdpHook);
        this.udpSlots.push(i);
      }
    });
    this.dispatchTcp = compileTcpDispatch(this.analyzers);
    this.dispatchUnaccepted = compileTcpDispatch(this.analyzers, true);
    this.historySlot = this.analyzers.some((a) => a.usesSideHistory) ? this.analyzers.length : -1;
    this.sink = new Sink(options, jumps, this, opts);
  }

  /** A TCP segment of a flow still analysed: wakes the analyzers it concerns, calls them, then notes it in the side history. */
  tcpSegment(flow: Flow<Slots>, seg: TcpSegment, p: DecodedPacket): void {
    // A segment its receiver dropped for a bad header is no event of the connection.
    if (seg.headerRejected) return;
    const events =
      (seg.flags & 0xff) |
      (p.win === 0 && (seg.flags & (TH_SYN | TH_RST)) === 0 ? WAKE_ZERO_WINDOW : 0) |
      (seg.newIncarnation ? WAKE_NEW_INCARNATION : 0) |
      (seg.craftedSyn ? WAKE_CRAFTED_SYN : 0);
    if (!seg.accepted) {
      // For the sockets nothing happened: no analyzer but those that ask sees it, and the side history skips it.
      this.dispatchUnaccepted(flow.attachment, flow, seg, p, this.sink, events);
      return;
    }
    this.dispatchTcp(flow.attachment, flow, seg, p, this.sink, events);
    // After the analyzers, and not for resets: at a reset the history tells what came before it.
    if (this.historySlot >= 0 && (seg.flags & TH_RST) === 0 && !seg.captureCopy)
      (flow.attachment[this.historySlot] as SideHistory).note(flow, seg, p);
  }

  /** A UDP datagram of a flow still analysed. */
  udpDatagram(flow: Flow<Slots>, dir: number, frame: number, time: number, p: DecodedPacket): void {
    const hooks = this.udpHooks,
      slots = this.udpSlots;
    for (let i = 0; i < hooks.length; i++) hooks[i]!(flow.attachment[slots[i]!], flow, dir, frame, time, p, this.sink);
  }

  /** `p` completed fragmented datagram `d` of `flow` (already given to tcpSegment or udpDatagram). */
  datagramComplete(flow: Flow<Slots>, dir: number, d: FragmentedDatagram, p: DecodedPacket): void {
    const as = this.analyzers;
    for (let i = 0; i < as.length; i++) as[i]!.onDatagramComplete?.(this.stateOf(flow, i), flow, dir, d, p, this.sink);
  }

  /** Datagram `d` will never complete; `flow` is its flow (still analysed) when its first fragment named one. */
  datagramFailed(flow: Flow<Slots> | null, d: FragmentedDatagram, reason: FragmentFailure): void {
    const as = this.analyzers;
    for (let i = 0; i < as.length; i++)
      as[i]!.onDatagramFailed?.(flow === null ? null : this.stateOf(flow, i), flow, d, reason, this.sink);
  }

  /**
   * An ICMP error quoting a packet of `flow` (still analysed) sent in direction
   * `quotedDir`; `flow` null when the quote is too short (or not TCP/UDP) to name one.
   */
  icmpError(flow: Flow<Slots> | null, quotedDir: number, frame: number, time: number, p: DecodedPacket): void {
    const as = this.analyzers;
    for (let i = 0; i < as.length; i++)
      as[i]!.onIcmpError?.(flow === null ? null : this.stateOf(flow, i), flow, quotedDir, frame, time, p, this.sink);
  }

  /**
   * Live capture (`watchOngoing`): calls `each` with every condition an analyzer sees
   * holding at `now` on a watched connection (AnalyzerDescriptor.ongoing). A closed
   * connection (FINs both ways, or a reset) has none and is no longer watched: what held
   * until the close is in the findings its end brings. O(watched flows): polling every
   * open flow cost ten times FlowTable.expire (200 ms a poll at 100 000 flows).
   */
  forEachOngoing(
    now: number,
    each: (kind: AnalyzerDescriptor<unknown>, flow: Flow<Slots>, dir: number, c: OngoingCondition) => void,
  ): void {
    if (this.watched === null) return;
    const as = this.analyzers;
    const withHook: number[] = [];
    for (let i = 0; i < as.length; i++) if (as[i]!.ongoing !== undefined) withHook.push(i);
    for (const flow of this.watched) {
      if (flow.retired || flow.endedFrame !== 0 || flow.attachment.length === 0) {
        this.watched.delete(flow);
        continue;
      }
      for (const i of withHook) {
        const st = flow.attachment[i];
        // Asleep, or no state because the analyzer has nothing to do with this flow.
        if (st === ASLEEP || (st === null && as[i]!.createState !== undefined)) continue;
        for (let dir = 0; dir < 2; dir++) {
          const c = as[i]!.ongoing!(st, flow, dir, now);
          if (c !== null) each(as[i]!, flow, dir, c);
        }
      }
    }
  }

  // --- FlowListener
  flowStarted(flow: Flow<Slots>): void {
    const as = this.analyzers;
    const tcp = flow.proto === L4_TCP;
    const withHistory = this.historySlot >= 0 && tcp;
    // Made at its final length: an array grown by push keeps room for half as many again,
    // memory every open connection would pay.
    const slots: Slots = new Array(as.length + (withHistory ? 1 : 0));
    for (let i = 0; i < as.length; i++) {
      const a = as[i]!;
      // Analyzers that wait for rare events (fragments, ICMP errors) get their state when
      // one comes (stateOf): most flows never see one, and a flood of flows is all state.
      const perPacket = tcp ? a.onTcpSegment !== undefined : a.onUdpDatagram !== undefined;
      if (tcp && perPacket && a.wakeOn !== undefined) slots[i] = ASLEEP;
      else slots[i] = perPacket && a.createState && a.stateOnRareEvent !== true ? a.createState(flow) : null;
    }
    if (withHistory) slots[as.length] = new SideHistory();
    flow.attachment = slots;
  }

  /** An analyzer's state for a rare event on `flow`, created on first use; null once the flow has ended. */
  private stateOf(flow: Flow<Slots>, i: number): unknown {
    if (flow.attachment.length === 0) return null;
    let st = flow.attachment[i];
    const a = this.analyzers[i]!;
    if (st === ASLEEP) return null; // rare-event hooks don't wake a sleeping analyzer
    if (st === null && a.createState !== undefined && isRelevant(a, flow.proto))
      st = flow.attachment[i] = a.createState(flow);
    return st;
  }

  /**
   * A closed flow may retire unless it is a connection attempt that never got a SYN-ACK:
   * the client's RST there may be undone by its next SYN (the tracker re-opens the flow),
   * and connect-timeout measures such an attempt to the end of the capture.
   */
  mayRetire(flow: Flow<Slots>): boolean {
    return !(flow.ep[DIR_CLIENT].synSeen && !flow.ep[DIR_SERVER].synSeen);
  }

  flowRetired(flow: Flow<Slots>): void {
    // What the analyzers conclude must not depend on when the sweep ran (nor, with --jobs,
    // on which packets a worker saw): they conclude at the moment the flow became
    // retirable, its last packet's frame and that packet's time plus the quiet it needed.
    this.concludeAnalyzers(flow, this.sink.at(flow.lastFrame, flow.lastTime + this.retireAfterSec));
  }

  flowEnded(flow: Flow<Slots>, why: FlowEndReason = "capture-end"): void {
    this.watched?.delete(flow);
    // After a long gap the 4-tuple's next packet is another flow's: this one ends where the
    // wire last showed it, not hours later.
    if (!flow.retired)
      this.concludeAnalyzers(flow, why === "gap" ? this.sink.at(flow.lastFrame, flow.lastTime) : this.sink);
    this.onFlowEnd?.(flow, why);
  }

  /** Runs the analyzers' onFlowEnd, then frees their state. */
  private concludeAnalyzers(flow: Flow<Slots>, out: FindingSink): void {
    const as = this.analyzers;
    for (let i = 0; i < as.length; i++) {
      const a = as[i]!;
      if (a.onFlowEnd === undefined || !isRelevant(a, flow.proto) || flow.attachment[i] === ASLEEP) continue;
      if (flow.attachment[i] !== null || a.createState === undefined) a.onFlowEnd(flow.attachment[i], flow, out);
    }
    // The flow stays in the report, but its analyzers are done: free their state, so
    // memory follows the flows still open rather than every flow ever seen.
    flow.attachment.length = 0;
  }

  // --- FlowServices (FindingSink's per-flow part)
  watch(flow: Flow<Slots>): void {
    this.watched?.add(flow);
  }

  sideHistory(flow: Flow<Slots>): SideHistory {
    const h = flow.attachment[this.historySlot];
    if (!(h instanceof SideHistory))
      throw new Error(
        `no SideHistory on flow ${flow.id}: only for analyzers that set usesSideHistory, on TCP flows still analysed`,
      );
    return h;
  }
}
