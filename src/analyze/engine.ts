/**
 * The pipeline for one capture, data flowing one way:
 * PacketRecord → PacketDecoder → (fragments: Reassembler) → FlowTable → analyzers → findings.
 *
 * The engine owns the per-capture state and compiles the analyzers' hooks into one array
 * per event at construction, so the per-packet loop calls plain functions with no
 * property lookups across analyzer objects and no closures.
 */
import type { PacketRecord } from "../capture/record.js";
import { PacketDecoder } from "../decode/wire/decoder.js";
import { DIR_CLIENT, DIR_SERVER, type Flow } from "../decode/flow/record.js";
import { FlowTable, DEFAULT_MAX_FLOWS } from "../decode/flow/table.js";
import type { ExpireOptions, FlowEndReason, FlowListener } from "../decode/flow/lifecycle.js";
import type { TcpSegment } from "../decode/flow/tcp-tracker.js";
import { L4_ICMP, L4_ICMPV6, L4_TCP, L4_UDP, TH_RST, TH_SYN, type DecodedPacket } from "../decode/wire/packet.js";
import { isIcmpError } from "../decode/wire/transport.js";
import {
  DEFAULT_FRAGMENT_TIMEOUT_SEC,
  DEFAULT_MAX_FRAGMENT_BYTES,
  DEFAULT_MAX_FRAGMENTS_PER_DATAGRAM,
  DEFAULT_MAX_PENDING_DATAGRAMS,
  Reassembler,
  type FragmentFailure,
  type FragmentedDatagram,
  type ReassemblyListener,
} from "../decode/reassembly.js";
import {
  DEFAULT_ANALYZER_OPTIONS,
  WAKE_NEW_INCARNATION,
  WAKE_ZERO_WINDOW,
  type AnalyzerDescriptor,
  type AnalyzerOptions,
  type FindingInput,
  type FindingSink,
  type OngoingCondition,
} from "./analyzer.js";
import { compareFindings, MAX_EVIDENCE_FRAMES, type Finding } from "./finding.js";
import { MAX_TAGGED_FRAMES } from "./measure.js";
import { SideHistory } from "./side-history.js";
import { AnalysisClock, rawTime } from "./clock.js";
import { ANALYZERS } from "./registry.js";

export interface EngineOptions {
  analyzers?: AnalyzerDescriptor<any>[];
  analyzer?: Partial<AnalyzerOptions>;
  maxFlows?: number;
  fragmentTimeoutSec?: number;
  maxPendingDatagrams?: number;
  maxFragmentBytes?: number;
  maxFragmentsPerDatagram?: number;
  /** Keep every frame of every finding as a per-frame tag (for `sockscope packets`). */
  collectTags?: boolean;
  /** Called with every finding as it is reported (live capture prints it at once). */
  onFinding?: (finding: Finding, flow: Flow | null) => void;
  /** Called when a flow has ended, after its analyzers' onFlowEnd. */
  onFlowEnd?: (flow: Flow, why: FlowEndReason) => void;
  /** Keep findings in `findings` (default true; a live capture keeps its own, bounded). */
  keepFindings?: boolean;
  /** This engine sees one shard of the capture's flows (a `--jobs` worker): see CaptureScope. */
  sharded?: boolean;
  /** RETIRE_CLOSED_AFTER_SEC unless given; Infinity: never (a live capture ends closed flows itself). */
  retireClosedAfterSec?: number;
  /** Keep the flows analyzers watch (FindingSink.watch) for forEachOngoing: a live capture. */
  watchOngoing?: boolean;
}

/** Called for every decoded packet, for per-packet output (`sockscope packets`). */
export type PacketObserver = (
  rec: PacketRecord,
  p: DecodedPacket,
  flow: Flow | null,
  dir: number,
  seg: TcpSegment | null,
) => void;

/**
 * A closed connection (both FINs acknowledged, or a reset) quiet this long is retired: its
 * analyzers conclude and free their state. Late packets of a close come sooner: a lost
 * final ACK makes the peer re-send its FIN after 0.2, 0.4, 0.8, ... s (five re-sends
 * take 6.2 s). Without it a file's every connection kept its analyzers' state (~7 KB) to
 * the end of the capture: 1.7 GB for 200 k short connections.
 */
export const RETIRE_CLOSED_AFTER_SEC = 15;

/** Counts of packets the engine could not take all the way to a flow, by reason. */
export class DecodeStats {
  packets = 0;
  ipPackets = 0;
  nonIpPackets = 0;
  truncatedPackets = 0;
  fragments = 0;
  reassembledDatagrams = 0;
  firstTime = -1;
  /** The frame `firstTime` is from (a `--jobs` shard may not start with frame 1). */
  firstFrame = 0;
  lastTime = -1;
  /** Packets whose analysis threw (a bug in sockscope): counted, the first kept. */
  internalErrors = 0;
  firstInternalError = "";
  firstInternalErrorFrame = 0;
  /** issue text → [count, first frame] */
  readonly issues = new Map<string, [number, number]>();
}

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

/** What the engine attaches to each flow: its analyzers' states, by analyzer number. */
type Slots = unknown[];

/** The slot of an analyzer sleeping on a flow until one of its wakeOn events (shared: no per-flow cost). */
const ASLEEP = Object.freeze({ asleep: true });

/**
 * One function calling every analyzer's onTcpSegment in turn, each from its own call
 * site. A loop over an array of hooks makes one call site see every analyzer (a
 * megamorphic call V8 cannot inline); generated straight-line calls stay monomorphic
 * and get inlined. Profiled: the analyzers' share of a run fell by about a third.
 * Sleeping analyzers (wakeOn) cost one comparison per segment until they wake.
 */
function compileTcpDispatch(analyzers: AnalyzerDescriptor<any>[]): TcpDispatch {
  const names: string[] = [],
    values: unknown[] = [],
    lines: string[] = [];
  analyzers.forEach((a, i) => {
    if (a.onTcpSegment === undefined) return;
    names.push(`h${i}`);
    values.push(a.onTcpSegment);
    if (a.wakeOn === undefined) {
      lines.push(`h${i}(st[${i}], flow, seg, p, out);`);
      return;
    }
    names.push(`c${i}`);
    values.push(a.createState ?? (() => null));
    lines.push(
      `s = st[${i}];`,
      `if (s === ASLEEP && (events & ${a.wakeOn}) !== 0) s = st[${i}] = c${i}(flow);`,
      `if (s !== ASLEEP) h${i}(s, flow, seg, p, out);`,
    );
  });
  const body = `return function dispatchTcp(st, flow, seg, p, out, events) {\nlet s;\n${lines.join("\n")}\n};`;
  return new Function("ASLEEP", ...names, body)(ASLEEP, ...values) as TcpDispatch;
}

export class Engine implements FlowListener<Slots>, ReassemblyListener, FindingSink {
  readonly options: AnalyzerOptions;
  readonly analyzers: AnalyzerDescriptor<any>[];
  readonly flows: FlowTable<Slots>;
  readonly reassembler: Reassembler;
  readonly decoder: PacketDecoder;
  readonly stats = new DecodeStats();
  /**
   * Every time the engine and its analyzers see is analysis time, continuous across the
   * capture's clock jumps (clock.ts); findings and reports get real times back (rawTime).
   */
  readonly clock = new AnalysisClock();
  readonly findings: Finding[] = [];
  observer: PacketObserver | null = null;
  /**
   * frame → kinds, from all frames analyzers reported (findings keep only the first
   * MAX_EVIDENCE_FRAMES); null unless `collectTags`.
   */
  readonly tags: Map<number, string[]> | null;
  readonly frameCap: number;
  private readonly udpHooks: UdpHook[] = [];
  private readonly dispatchTcp: TcpDispatch;
  private readonly udpSlots: number[] = [];
  /** Where TCP flows keep the shared SideHistory in their attachment (after the analyzers'); -1: no analyzer reads it. */
  private readonly historySlot: number;
  private currentFrame = 0;
  private currentTime = 0;
  private readonly onFinding: EngineOptions["onFinding"];
  private readonly onFlowEnd: EngineOptions["onFlowEnd"];
  private readonly keepFindings: boolean;
  private readonly sharded: boolean;
  /** Analyzers' capture-wide states, by analyzer id (CaptureScope). */
  readonly captureStates = new Map<string, unknown>();
  /** Open flows an analyzer may report an ongoing condition on (FindingSink.watch); null unless `watchOngoing`. */
  private readonly watched: Set<Flow<Slots>> | null;

  constructor(opts: EngineOptions = {}) {
    this.options = { ...DEFAULT_ANALYZER_OPTIONS, ...opts.analyzer };
    this.analyzers = opts.analyzers ?? ANALYZERS;
    this.flows = new FlowTable(this, {
      maxFlows: opts.maxFlows ?? DEFAULT_MAX_FLOWS,
      retireAfterSec: opts.retireClosedAfterSec ?? RETIRE_CLOSED_AFTER_SEC,
    });
    this.reassembler = new Reassembler(this, {
      timeoutSec: opts.fragmentTimeoutSec ?? DEFAULT_FRAGMENT_TIMEOUT_SEC,
      maxPending: opts.maxPendingDatagrams ?? DEFAULT_MAX_PENDING_DATAGRAMS,
      maxBytes: opts.maxFragmentBytes ?? DEFAULT_MAX_FRAGMENT_BYTES,
      maxFragments: opts.maxFragmentsPerDatagram ?? DEFAULT_MAX_FRAGMENTS_PER_DATAGRAM,
    });
    this.decoder = new PacketDecoder();
    this.tags = opts.collectTags ? new Map() : null;
    this.onFinding = opts.onFinding;
    this.onFlowEnd = opts.onFlowEnd;
    this.keepFindings = opts.keepFindings ?? true;
    this.sharded = opts.sharded ?? false;
    this.watched = opts.watchOngoing ? new Set() : null;
    this.frameCap = opts.collectTags ? MAX_TAGGED_FRAMES : MAX_EVIDENCE_FRAMES;
    this.analyzers.forEach((a, i) => {
      if (a.onUdpDatagram) {
        this.udpHooks.push(a.onUdpDatagram as UdpHook);
        this.udpSlots.push(i);
      }
    });
    this.dispatchTcp = compileTcpDispatch(this.analyzers);
    this.historySlot = this.analyzers.some((a) => a.usesSideHistory) ? this.analyzers.length : -1;
  }

  /** The per-packet entry point: synchronous, allocation-free on the common path. */
  readonly onPacket = (rec: PacketRecord): void => {
    try {
      this.process(rec);
    } catch (e) {
      // A bug must not cost the user the rest of the capture: count it, keep the first
      // message for the report (with the frame, so it can be reproduced), and go on.
      const st = this.stats;
      if (st.internalErrors++ === 0) {
        st.firstInternalError = `frame ${rec.frame}: ${(e as Error)?.stack ?? String(e)}`;
        st.firstInternalErrorFrame = rec.frame;
      }
    }
  };

  private process(rec: PacketRecord): void {
    const st = this.stats;
    st.packets++;
    const frame = rec.frame;
    const time = this.clock.toAnalysis(frame, rec.tsSec + rec.tsNsec / 1e9);
    this.currentFrame = frame;
    this.currentTime = time;
    if (st.firstTime < 0) {
      st.firstTime = time;
      st.firstFrame = frame;
    }
    if (time > st.lastTime) st.lastTime = time;
    this.flows.advanceClock(this.clock.confirmedTime);
    const p = this.decoder.decode(rec);
    if (p.isFragment) {
      // Reassembly, between the IP layer and the transport: a completed datagram is decoded whole.
      const whole = this.reassembler.add(p, frame, time);
      if (whole !== null) this.decoder.decodeReassembled(p, whole, this.reassembler.completed!);
    }
    if (p.issues.length > 0) this.noteIssues(p, frame);
    if (p.truncated) st.truncatedPackets++;
    if (p.ipVersion === 0) {
      st.nonIpPackets++;
      this.observer?.(rec, p, null, 0, null);
      return;
    }
    st.ipPackets++;
    if (p.reassembled) {
      st.fragments++;
      st.reassembledDatagrams++;
    } else if (p.isFragment) {
      st.fragments++;
      this.observer?.(rec, p, null, 0, null);
      return;
    }
    const l4 = p.l4;
    if (l4 === L4_TCP || l4 === L4_UDP) {
      const flow = this.flows.lookup(p, frame, time);
      if (flow === null) {
        this.observer?.(rec, p, null, 0, null);
        return;
      }
      const dir = this.flows.dir;
      let seg: TcpSegment | null = null;
      if (flow.retired) {
        if (l4 === L4_TCP) seg = this.flows.trackTcp(flow, dir, p, frame, time);
        this.observer?.(rec, p, flow, dir, seg);
        return;
      }
      if (l4 === L4_TCP) {
        seg = this.flows.trackTcp(flow, dir, p, frame, time);
        const events =
          (seg.flags & 0xff) |
          (p.win === 0 && (seg.flags & (TH_SYN | TH_RST)) === 0 ? WAKE_ZERO_WINDOW : 0) |
          (seg.newIncarnation ? WAKE_NEW_INCARNATION : 0);
        this.dispatchTcp(flow.attachment, flow, seg, p, this, events);
        // After the analyzers, and not for resets: at a reset the history tells what came before it.
        if (this.historySlot >= 0 && (seg.flags & TH_RST) === 0)
          (flow.attachment[this.historySlot] as SideHistory).note(flow, seg);
      } else {
        const hooks = this.udpHooks,
          slots = this.udpSlots;
        for (let i = 0; i < hooks.length; i++) hooks[i]!(flow.attachment[slots[i]!], flow, dir, frame, time, p, this);
      }
      if (p.datagram !== null) {
        const as = this.analyzers;
        for (let i = 0; i < as.length; i++)
          as[i]!.onDatagramComplete?.(this.stateOf(flow, i), flow, dir, p.datagram, p, this);
      }
      this.observer?.(rec, p, flow, dir, seg);
      return;
    }
    if ((l4 === L4_ICMP || l4 === L4_ICMPV6) && isIcmpError(p.icmpType, l4 === L4_ICMPV6)) {
      this.icmpError(p, frame, time);
    }
    this.observer?.(rec, p, null, 0, null);
  }

  /** A record another `--jobs` worker analyses (frame `frame`, real time `time`): it still moves this engine's clocks. */
  advanceClock(time: number, frame: number): void {
    this.clock.toAnalysis(frame, time);
    this.flows.advanceClock(this.clock.confirmedTime);
  }

  /**
   * Live capture, between packet batches: `now` (capture time, seconds since the epoch)
   * becomes the capture clock, fragments older than the reassembly timeout fail, and
   * flows that are finished end (FlowTable.expire), so analyzers report from onFlowEnd
   * while the capture goes on. Returns how many flows ended.
   */
  tick(nowReal: number, expire: ExpireOptions): number {
    const now = this.clock.peek(nowReal);
    if (now > this.currentTime) this.currentTime = now;
    this.reassembler.expire(now);
    return this.flows.expire(now, expire);
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
    each: (kind: AnalyzerDescriptor<unknown>, flow: Flow, dir: number, c: OngoingCondition) => void,
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

  /**
   * Capture over: fail pending fragments, end every flow, sort the findings. A `--jobs`
   * worker passes the time of the capture's last packet (which may not be in its shard):
   * analyzers measure "until the end of the capture" from it.
   */
  finish(lastPacketTime?: number): void {
    this.currentFrame = Infinity;
    if (lastPacketTime !== undefined) this.currentTime = this.clock.peek(lastPacketTime);
    this.reassembler.finish();
    this.flows.finish();
    this.findings.sort(compareFindings);
  }

  // --- FindingSink
  captureState<C>(kind: AnalyzerDescriptor<any, C>): C {
    let st = this.captureStates.get(kind.id) as C | undefined;
    if (st === undefined) {
      if (kind.capture === undefined) throw new Error(`analyzer ${kind.id} has no capture scope`);
      st = kind.capture.create(this.sharded);
      this.captureStates.set(kind.id, st);
    }
    return st;
  }

  report(kind: AnalyzerDescriptor<unknown>, input: FindingInput): Finding {
    const flow = input.flow;
    const side = input.dir === null || flow === null ? null : input.dir === DIR_CLIENT ? "client" : "server";
    const frames = [...new Set(input.frames)].sort((a, b) => a - b);
    this.tagFrames(kind.id, frames);
    const f: Finding = {
      kind: kind.id,
      severity: input.severity ?? kind.severity,
      flow: flow === null ? null : flow.id,
      frames: frames.slice(0, MAX_EVIDENCE_FRAMES),
      count: input.count ?? 1,
      time: rawTime(input.time, this.clock.jumps),
      side,
      endpoint: side === null || flow === null ? null : flow.endpointName(side),
      summary: input.summary,
      explanation: input.detail ? `${input.detail} ${kind.explanation}` : kind.explanation,
      references: kind.references,
      measure: input.measure ?? {},
    };
    // Summaries are built by concatenation: ropes of a dozen pieces each. Reading a
    // character makes V8 flatten one into a single string, which a long capture's tens of
    // thousands of findings need (a rope costs several times the text).
    f.summary.charCodeAt(0);
    f.explanation.charCodeAt(0);
    if (this.keepFindings) this.findings.push(f);
    this.onFinding?.(f, flow);
    return f;
  }

  addEvidence(f: Finding, frames: readonly number[]): void {
    this.tagFrames(f.kind, frames);
    for (const fr of frames) {
      if (f.frames.length >= MAX_EVIDENCE_FRAMES) break;
      if (!f.frames.includes(fr)) f.frames.push(fr);
    }
  }

  private tagFrames(kind: string, frames: readonly number[]): void {
    if (this.tags === null) return;
    for (const fr of frames) {
      const t = this.tags.get(fr);
      if (t === undefined) this.tags.set(fr, [kind]);
      else if (!t.includes(kind)) t.push(kind);
    }
  }

  // --- FlowListener
  flowStarted(flow: Flow<Slots>): void {
    const slots: Slots = [];
    flow.attachment = slots;
    const as = this.analyzers;
    for (let i = 0; i < as.length; i++) {
      const a = as[i]!;
      // Analyzers that wait for rare events (fragments, ICMP errors) get their state when
      // one comes (stateOf): most flows never see one, and a flood of flows is all state.
      const tcp = flow.proto === L4_TCP;
      const perPacket = tcp ? a.onTcpSegment !== undefined : a.onUdpDatagram !== undefined;
      if (tcp && perPacket && a.wakeOn !== undefined) slots.push(ASLEEP);
      else slots.push(perPacket && a.createState ? a.createState(flow) : null);
    }
    if (this.historySlot >= 0 && flow.proto === L4_TCP) slots.push(new SideHistory());
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
    // on which packets a worker saw): the clock reads the moment the flow became retirable.
    const frame = this.currentFrame,
      time = this.currentTime;
    this.currentFrame = flow.lastFrame;
    this.currentTime = flow.lastTime + RETIRE_CLOSED_AFTER_SEC;
    this.concludeAnalyzers(flow);
    this.currentFrame = frame;
    this.currentTime = time;
  }

  flowEnded(flow: Flow<Slots>, why: FlowEndReason = "capture-end"): void {
    this.watched?.delete(flow);
    if (!flow.retired) this.concludeAnalyzers(flow);
    this.onFlowEnd?.(flow, why);
  }

  /** Runs the analyzers' onFlowEnd, then frees their state. */
  private concludeAnalyzers(flow: Flow<Slots>): void {
    const as = this.analyzers,
      slots = flow.attachment;
    for (let i = 0; i < as.length; i++) {
      const a = as[i]!;
      if (a.onFlowEnd === undefined || !isRelevant(a, flow.proto) || slots[i] === ASLEEP) continue;
      if (slots[i] !== null || a.createState === undefined) a.onFlowEnd(slots[i], flow, this);
    }
    // The flow stays in the report, but its analyzers are done: free their state, so
    // memory follows the flows still open rather than every flow ever seen.
    slots.length = 0;
  }

  // --- ReassemblyListener
  datagramFailed(d: FragmentedDatagram, reason: FragmentFailure): void {
    let flow: Flow<Slots> | null = null;
    if (d.srcPort >= 0 && (d.proto === L4_TCP || d.proto === L4_UDP)) {
      flow = this.flows.find(d.vlan, d.proto, d.ipVersion, d.src, d.srcPort, d.dst, d.dstPort);
      if (flow?.retired) return; // its analysis is over
    }
    const as = this.analyzers;
    for (let i = 0; i < as.length; i++)
      as[i]!.onDatagramFailed?.(flow === null ? null : this.stateOf(flow, i), flow, d, reason, this);
  }

  private icmpError(p: DecodedPacket, frame: number, time: number): void {
    const q = p.quoted;
    const as = this.analyzers;
    if (q.srcPort < 0 || (q.proto !== L4_TCP && q.proto !== L4_UDP)) {
      // The quote is too short (or not TCP/UDP) to name a flow.
      for (let i = 0; i < as.length; i++) as[i]!.onIcmpError?.(null, null, 0, frame, time, p, this);
      return;
    }
    const flow = this.flows.lookupQuoted(p, frame, time);
    if (flow === null) return; // the flow table is full: counted as untracked
    flow.icmpErrors++;
    if (flow.retired) return; // its analysis is over
    const quotedDir = flow.isClient([q.src0, q.src1, q.src2, q.src3], q.srcPort) ? 0 : 1;
    for (let i = 0; i < as.length; i++)
      as[i]!.onIcmpError?.(this.stateOf(flow, i), flow, quotedDir, frame, time, p, this);
  }

  private noteIssues(p: DecodedPacket, frame: number): void {
    for (const issue of p.issues) {
      if (issue.code === "truncated") continue; // counted as truncatedPackets
      const key = issue.text;
      const seen = this.stats.issues.get(key);
      if (seen) seen[0]++;
      else this.stats.issues.set(key, [1, frame]);
    }
  }

  watch(flow: Flow): void {
    this.watched?.add(flow as Flow<Slots>);
  }

  sideHistory(flow: Flow): SideHistory {
    const h = (flow as Flow<Slots>).attachment[this.historySlot];
    if (!(h instanceof SideHistory))
      throw new Error(
        `no SideHistory on flow ${flow.id}: only for analyzers that set usesSideHistory, on TCP flows still analysed`,
      );
    return h;
  }

  get frame(): number {
    return this.currentFrame;
  }
  get time(): number {
    return this.currentTime;
  }
}
