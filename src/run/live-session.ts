/**
 * The analysis side of a live capture: the same Engine as for files, plus what a capture
 * that never ends needs. Between packet batches `tick` ends the flows that are finished
 * (FlowTable.expire: closed and quiet for the linger, or idle past the idle timeout), so
 * their analyzers report from onFlowEnd while the capture goes on; findings reach
 * `onFinding` the moment a packet completes them, or, for those a tick or the end of the
 * capture brings (many flows ending at once), in time order after it; ended flows
 * `onFlowEnd`.
 *
 * A stuck connection sends few packets or none, and its findings wait for its end, so
 * `tick` also asks the analyzers what they see holding right now (Engine.forEachOngoing:
 * a zero window, unanswered SYNs, unacknowledged data, CLOSE_WAIT) and reports each
 * condition to `onOngoing` once, when it first crosses its analyzer's threshold; again
 * only at 10×, 100×, … that time (a hang stays visible, quietly); and "over" when it
 * stops while the connection goes on (when the connection ends, its finding says it).
 * A condition that keeps coming back on a connection (a reader that pauses again and
 * again) is shown the 1st, 10th, 100th, … time, as Zeek escalates repeated weirds.
 *
 * Packets the capture dropped (the backend's counters, read about once a second) are
 * noted as windows of time (`noteDrops`); a finding on a flow that was open during one
 * (so, to the second) says its evidence is incomplete, and carries the count in its measure
 * `captureDroppedPackets`: the missing packets may be the ones that explain it.
 *
 * Memory stays flat however long it runs: the flow table holds only active flows (at
 * most `maxFlows`, idle ones evicted beyond), ended flows are dropped, and the summary
 * keeps a bounded number of findings and ended flows (the stream has them all).
 */
import type { PacketRecord } from "../capture/record.js";
import type { CaptureInfo } from "../capture/record.js";
import { Engine, type EngineOptions } from "./packet-loop.js";
import { LONGEST_TIME_WAIT_SEC } from "../analyze/lib/stack-profile.js";
import { rawTime } from "../analyze/clock.js";
import type { AnalyzerDescriptor, OngoingCondition } from "../analyze/analyzer.js";
import type { Finding, Severity } from "../analyze/finding.js";
import { L4_TCP } from "../decode/wire/packet.js";
import type { ExpireOptions, FlowEndReason } from "../decode/flow/lifecycle.js";
import type { Flow } from "../decode/flow/record.js";
import { flowReport, type FlowReport } from "../analyze/result.js";
import { buildReport, hasFilter, matchesFilter, type FlowFilter, type Report } from "../report/model.js";
import type { PcapWriter } from "../capture/live/pcap-writer.js";
import type { FlowAttribution } from "../live/process/flow-attribution.js";
import type { PacketProcess } from "../capture/record.js";
import type { SideProcess } from "../analyze/side-process.js";
import { kernelView } from "../live/process/kernel-view.js";
import { tcpInfo } from "../live/process/tcp-info.js";

import { LIVE_IDLE_SEC, LIVE_LINGER_SEC, LIVE_MAX_FLOWS, LIVE_UDP_IDLE_SEC } from "../capture/live/defaults.js";
export { LIVE_IDLE_SEC, LIVE_LINGER_SEC, LIVE_MAX_FLOWS, LIVE_UDP_IDLE_SEC };
/** Findings and ended flows kept for the summary. */
export const LIVE_KEEP_FINDINGS = 5000;
export const LIVE_KEEP_FLOWS = 2000;

export interface LiveSessionOptions {
  engine?: EngineOptions;
  filter?: FlowFilter;
  expire?: Partial<ExpireOptions>;
  keepFindings?: number;
  keepFlows?: number;
  writer?: PcapWriter | null;
  /** Which program owns each flow's sockets (null: --no-process, or not on Linux). */
  processes?: FlowAttribution | null;
  /** Stop analysing after this many packets (`-c`), calling onCountReached once. */
  count?: number;
  onCountReached?: () => void;
  onFinding?: (f: Finding, flow: FlowReport | null) => void;
  onFlowEnd?: (flow: FlowReport, why: FlowEndReason) => void;
  onOngoing?: (e: OngoingEvent) => void;
}

/** A condition holding on an open connection (see the module doc), as `tick` reports it. */
export interface OngoingEvent {
  /** started: crossed its threshold; still: at 10×, 100×, … the elapsed time it started at; over: no longer holds. */
  state: "started" | "still" | "over";
  kind: string;
  severity: Severity;
  flow: FlowReport;
  side: "client" | "server";
  endpoint: string;
  /** Capture time and frame it began at. */
  since: number;
  sinceFrame: number;
  /** Capture time of this report, and how long the condition has held (over: at the last poll that saw it), to the ms. */
  time: number;
  elapsedSec: number;
  /** What is happening (over: that it no longer is). */
  summary: string;
  /** How many times this condition has begun on this side of the flow (1, 10, 100, … are shown). */
  episode: number;
  /** Live attribution: the side's program and what its socket holds now (kernel-view.ts); null when not known. */
  kernel: string | null;
}

/** A condition seen holding and not yet over, shown or (a repeat, see isShownEpisode) followed silently. */
interface OpenCondition {
  flow: Flow;
  kind: AnalyzerDescriptor<unknown>;
  dir: number;
  c: OngoingCondition;
  elapsedSec: number;
  /** Elapsed time at which it is reported again ("still"). */
  nextReportSec: number;
  /** The poll that last saw it. */
  poll: number;
  episode: number;
  /** Reported (1st, 10th, 100th… episode); the others are followed silently. */
  shown: boolean;
}

/** Which episodes of a condition on one flow side are shown: 1st, 10th, 100th, 1000th, then every 10 000th. */
const isShownEpisode = (n: number): boolean => n === 1 || n === 10 || n === 100 || n === 1000 || n % 10_000 === 0;

/** A still-ongoing condition is reported again when it has lasted this many times as long as when first reported. */
const ONGOING_REPORT_FACTOR = 10;

/** A stretch of time (seconds since the epoch) in which the capture dropped `dropped` packets. */
export interface DropWindow {
  from: number;
  to: number;
  dropped: number;
}
/** Drop windows kept; beyond, the oldest two merge (the note stays true, only coarser). */
const MAX_DROP_WINDOWS = 4096;

const byFlowFrameKind = (a: Finding, b: Finding): number =>
  (a.flow ?? 0) - (b.flow ?? 0) ||
  (a.frames[0] ?? 0) - (b.frames[0] ?? 0) ||
  (a.kind < b.kind ? -1 : a.kind > b.kind ? 1 : 0);

export class LiveSession {
  readonly engine: Engine;
  readonly expire: ExpireOptions;
  /** Packets analysed (and written with -w). */
  packets = 0;
  accepting = true;
  tcpFlows = 0;
  udpFlows = 0;
  /** Flows ended while capturing (closed, idle, replaced, evicted), not at the end. */
  flowsEndedLive = 0;
  /** Flows still open when the capture ended. */
  flowsOpenAtEnd = 0;
  findingsReported = 0;
  findingsNotKept = 0;
  flowsNotKept = 0;
  private readonly filter: FlowFilter;
  private readonly filtering: boolean;
  private readonly findings: Finding[] = [];
  private readonly findingFlows = new Set<number>();
  private readonly flowsWithFindings = new Map<number, FlowReport>();
  private readonly otherFlows = new Map<number, FlowReport>();
  private readonly matchCache = new Map<number, boolean>();
  private readonly keepFindings: number;
  private readonly keepFlows: number;
  /** Open conditions by `flow kind dir`. */
  private readonly open = new Map<string, OpenCondition>();
  /** Conditions begun so far per `flow kind dir` on flows still open. */
  private readonly episodes = new Map<string, number>();
  private polls = 0;
  /**
   * While a tick or the end runs: findings (and ended flows, after them) held back to be
   * emitted in time order; null while packets are analysed (then they go out at once).
   */
  private held: { findings: [Finding, FlowReport | null][]; ended: [FlowReport, FlowEndReason][] } | null = null;
  private readonly dropWindows: DropWindow[] = [];
  private readonly processes: FlowAttribution | null;
  /** The flow and direction of the packet being analysed (the engine's observer), for -w's process. */
  private packetFlow: Flow | null = null;
  private packetDir = 0;
  /** The last sender written with -w, and its record form (one object per process, not per packet). */
  private lastSender: SideProcess | null = null;
  private lastSenderRecord: PacketProcess | null = null;

  constructor(private readonly o: LiveSessionOptions = {}) {
    // As long as time-wait-reuse may still link a new SYN to it: 2·MSL, or the longest
    // TIME_WAIT of any stack when each closer's own is used.
    const msl = o.engine?.analyzer?.mslSec ?? null;
    this.expire = {
      lingerSec: LIVE_LINGER_SEC,
      idleSec: LIVE_IDLE_SEC,
      udpIdleSec: LIVE_UDP_IDLE_SEC,
      rememberSec: msl !== null ? 2 * msl : LONGEST_TIME_WAIT_SEC,
      ...o.expire,
    };
    this.filter = o.filter ?? {};
    this.filtering = hasFilter(this.filter);
    this.keepFindings = o.keepFindings ?? LIVE_KEEP_FINDINGS;
    this.keepFlows = o.keepFlows ?? LIVE_KEEP_FLOWS;
    this.engine = new Engine({
      maxFlows: LIVE_MAX_FLOWS,
      ...o.engine,
      keepFindings: false,
      // Flows end here (FlowTable.expire, after --linger) and leave memory: no retirement.
      retireClosedAfterSec: Infinity,
      watchOngoing: true,
      onFinding: (f, flow) => this.finding(f, flow),
      onFlowEnd: (flow, why) => this.flowEnded(flow, why),
    });
    this.processes = o.processes ?? null;
    const other = this.engine.observer;
    this.engine.observer = (rec, p, flow, dir, seg) => {
      this.packetFlow = flow;
      this.packetDir = dir;
      // A new flow: looked up at the next tick (debounced).
      if (flow !== null && flow.firstFrame === rec.frame) this.processes?.noteFlow(flow, rec.time);
      other?.(rec, p, flow, dir, seg);
    };
  }

  readonly onPacket = (rec: PacketRecord): void => {
    if (!this.accepting) return;
    this.packetFlow = null;
    this.engine.onPacket(rec);
    this.o.writer?.write(rec, this.senderOf());
    if (++this.packets === this.o.count) {
      this.accepting = false;
      this.o.onCountReached?.();
    }
  };

  /** The process that sent the packet just analysed, as -w keeps it; null when not known (yet). */
  private senderOf(): PacketProcess | null {
    if (this.processes === null || this.packetFlow === null) return null;
    const p = this.processes.senderOf(this.packetFlow, this.packetDir);
    if (p === null) return null;
    if (p !== this.lastSender) {
      this.lastSender = p;
      this.lastSenderRecord = {
        pid: p.pid!,
        tid: 0,
        command: p.command ?? "",
        args: p.commandLine ?? "",
        inbound: false,
      };
    }
    return this.lastSenderRecord;
  }

  /** A flow as reports show it, with its programs when known. */
  private reportOf(flow: Flow): FlowReport {
    const fr = flowReport(flow, this.engine.clock.jumps);
    const p = this.processes?.processesOf(flow) ?? null;
    if (p !== null) fr.process = p;
    return fr;
  }

  /**
   * Between batches, a few times a second: ends finished flows, then reports the
   * conditions holding on the open ones. `now`: capture time, seconds since the epoch.
   */
  tick(now: number): number {
    this.o.writer?.flush();
    this.processes?.tick(now);
    const ended = this.inTimeOrder(() => this.engine.tick(now, this.expire));
    this.pollOngoing(now);
    return ended;
  }

  /** Capture over: every flow still open ends (their findings are reported now, in time order). */
  finish(): void {
    this.inTimeOrder(() => this.engine.finish());
  }

  /** Runs `f`, holding back what it reports, then emits its findings by time (stable), then its ended flows. */
  private inTimeOrder<T>(f: () => T): T {
    const held: NonNullable<LiveSession["held"]> = (this.held = { findings: [], ended: [] });
    try {
      return f();
    } finally {
      this.held = null;
      held.findings.sort((a, b) => a[0].time - b[0].time);
      for (const [finding, fr] of held.findings) this.o.onFinding?.(finding, fr);
      for (const [fr, why] of held.ended) this.o.onFlowEnd?.(fr, why);
    }
  }

  private pollOngoing(now: number): void {
    if (this.o.onOngoing === undefined) return;
    const poll = ++this.polls;
    // Conditions begin at analysis times (clock.ts: no timer runs across a clock jump).
    const at = this.engine.clock.peek(now);
    this.engine.forEachOngoing(at, (kind, flow, dir, c) => {
      if (!this.matches(flow)) return;
      const key = `${flow.id} ${kind.id} ${dir}`;
      const elapsedSec = at - c.since;
      let o = this.open.get(key);
      if (o !== undefined && o.c.since !== c.since) {
        // The condition ended and a new one began between two polls (a reader that read a little).
        this.ongoingEvent("over", o, now);
        o = undefined;
      }
      if (o === undefined) {
        const episode = (this.episodes.get(key) ?? 0) + 1;
        this.episodes.set(key, episode);
        o = {
          flow,
          kind,
          dir,
          c,
          elapsedSec,
          nextReportSec: ONGOING_REPORT_FACTOR * elapsedSec,
          poll,
          episode,
          shown: isShownEpisode(episode),
        };
        this.open.set(key, o);
        this.ongoingEvent("started", o, now);
        return;
      }
      o.c = c;
      o.elapsedSec = elapsedSec;
      o.poll = poll;
      if (elapsedSec >= o.nextReportSec) {
        o.nextReportSec *= ONGOING_REPORT_FACTOR;
        this.ongoingEvent("still", o, now);
      }
    });
    for (const [key, o] of this.open) {
      if (o.poll === poll) continue;
      this.open.delete(key);
      // A closed connection ends within the linger, and its finding says how it ended.
      if (o.flow.endedFrame === 0) this.ongoingEvent("over", o, now);
    }
  }

  private ongoingEvent(state: OngoingEvent["state"], o: OpenCondition, now: number): void {
    if (!o.shown) return;
    const side = o.dir === 0 ? "client" : "server";
    const elapsedSec = Math.round(o.elapsedSec * 1000) / 1000;
    const summary =
      state !== "over"
        ? o.c.summary
        : `no longer holds (last seen ${elapsedSec.toFixed(1)} s after frame ${o.c.frame}); its finding follows when the flow ends`;
    this.o.onOngoing!({
      state,
      kind: o.kind.id,
      severity: o.kind.severity,
      flow: this.reportOf(o.flow),
      side,
      endpoint: o.flow.endpointName(side),
      since: rawTime(o.c.since, this.engine.clock.jumps),
      sinceFrame: o.c.frame,
      time: now,
      elapsedSec,
      summary,
      episode: o.episode,
      kernel: state === "over" ? null : this.kernelWords(o, now, elapsedSec),
    });
  }

  /** What the condition's side's socket holds now, in words naming its program (kernel-view.ts); null when not known. */
  private kernelWords(o: OpenCondition, now: number, elapsedSec: number): string | null {
    if (this.processes === null) return null;
    const [p, socket] = this.processes.lookNow(o.flow, o.dir, now);
    const side = o.dir === 0 ? "client" : "server";
    const peer = o.dir === 0 ? "server" : "client";
    const pid = p?.netns !== null ? p?.pid : null; // ss runs in the socket's namespace
    return kernelView(o.kind.id, p, socket, elapsedSec, () =>
      tcpInfo(o.flow.endpointName(side), o.flow.endpointName(peer), pid ?? null),
    );
  }

  /** The capture dropped `dropped` packets somewhere between `from` and `to` (seconds since the epoch). */
  noteDrops(from: number, to: number, dropped: number): void {
    if (dropped <= 0) return;
    this.dropWindows.push({ from, to, dropped });
    if (this.dropWindows.length > MAX_DROP_WINDOWS) {
      const [a, b] = this.dropWindows.splice(0, 2) as [DropWindow, DropWindow];
      this.dropWindows.unshift({
        from: Math.min(a.from, b.from),
        to: Math.max(a.to, b.to),
        dropped: a.dropped + b.dropped,
      });
    }
  }

  /** Packets dropped in windows that overlap [from, to]: all of them may belong to the flow. */
  private droppedDuring(from: number, to: number): number {
    let n = 0;
    for (const w of this.dropWindows) if (w.from <= to && w.to >= from) n += w.dropped;
    return n;
  }

  /** The finding as the report shows it: marked when its flow was open while the capture dropped packets. */
  private withDropNote(f: Finding, fr: FlowReport | undefined): Finding {
    if (this.dropWindows.length === 0 || fr === undefined) return f;
    const n = this.droppedDuring(fr.start, fr.start + fr.durationSec);
    if (n === 0) return f;
    return {
      ...f,
      summary:
        `${f.summary} (evidence incomplete: the capture dropped ${n} packet(s) while this flow was open or within ` +
        `a second of it, on this or other flows; the missing ones may change this finding)`,
      measure: { ...f.measure, captureDroppedPackets: n },
    };
  }

  get activeFlows(): number {
    return this.engine.flows.activeCount;
  }

  private matches(flow: Flow): boolean {
    if (!this.filtering) return true;
    let m = this.matchCache.get(flow.id);
    if (m === undefined) {
      m = matchesFilter(flowReport(flow), this.filter);
      this.matchCache.set(flow.id, m);
    }
    return m;
  }

  private finding(f: Finding, flow: Flow | null): void {
    if (flow === null ? this.filtering : !this.matches(flow)) return;
    this.findingsReported++;
    if (this.findings.length < this.keepFindings) {
      this.findings.push(f);
      if (f.flow !== null) this.findingFlows.add(f.flow);
    } else {
      this.findingsNotKept++;
    }
    if (this.o.onFinding === undefined) return;
    // Printed now (or after the tick, in time order): marked already if the capture dropped packets earlier in the flow's life.
    const fr = flow === null ? null : this.reportOf(flow);
    const shown = fr === null ? f : this.withDropNote(f, fr);
    if (this.held !== null) this.held.findings.push([shown, fr]);
    else this.o.onFinding(shown, fr);
  }

  private flowEnded(flow: Flow, why: FlowEndReason): void {
    if (flow.proto === L4_TCP) this.tcpFlows++;
    else this.udpFlows++;
    if (why !== "capture-end") this.flowsEndedLive++;
    else this.flowsOpenAtEnd++;
    const matched = this.matches(flow);
    this.matchCache.delete(flow.id);
    if (this.episodes.size > 0) {
      for (const [key, o] of this.open) if (o.flow === flow) this.open.delete(key);
      const prefix = `${flow.id} `;
      for (const key of this.episodes.keys()) if (key.startsWith(prefix)) this.episodes.delete(key);
    }
    const processes = this.processes?.finish(flow) ?? null;
    if (!matched) return;
    const fr = flowReport(flow, this.engine.clock.jumps);
    if (processes !== null) fr.process = processes;
    if (this.findingFlows.has(flow.id)) {
      this.flowsWithFindings.set(flow.id, fr);
    } else {
      this.otherFlows.set(flow.id, fr);
      if (this.otherFlows.size > this.keepFlows) {
        this.otherFlows.delete(this.otherFlows.keys().next().value as number);
        this.flowsNotKept++;
      }
    }
    if (this.held !== null) this.held.ended.push([fr, why]);
    else this.o.onFlowEnd?.(fr, why);
  }

  /** The report of the capture so far (after finish(): all of it), as `analyze` builds it. */
  report(info: CaptureInfo): Report {
    const r = buildReport(info, this.engine);
    r.flows = [...this.flowsWithFindings.values(), ...this.otherFlows.values()].sort((a, b) => a.id - b.id);
    r.findings = this.findings
      .map((f) => this.withDropNote(f, f.flow === null ? undefined : this.flowsWithFindings.get(f.flow)))
      .sort(byFlowFrameKind);
    const marked = r.findings.filter((f) => f.measure.captureDroppedPackets !== undefined).length;
    if (marked > 0) {
      r.warnings.push(
        `${marked} finding(s) are on flows that were open while the capture dropped packets: their evidence is incomplete (marked in each)`,
      );
    }
    r.capture.packets = this.packets;
    r.capture.flows = { tcp: this.tcpFlows, udp: this.udpFlows };
    if (this.findingsNotKept > 0) {
      r.warnings.push(
        `${this.findingsNotKept} finding(s) were printed as they happened but are not in this summary (it keeps the first ${this.keepFindings})`,
      );
    }
    if (this.flowsNotKept > 0) {
      r.warnings.push(
        `${this.flowsNotKept} ended flow(s) without findings are not in this flow table (it keeps the last ${this.keepFlows})`,
      );
    }
    return r;
  }
}
