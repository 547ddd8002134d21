/**
 * The analysis side of a live capture: the same Engine as for files, plus what a capture
 * that never ends needs. Between packet batches `tick` ends the flows that are finished
 * (FlowTable.expire: closed and quiet for the linger, or idle past the idle timeout), so
 * their analyzers report from onFlowEnd while the capture goes on; findings reach
 * `onFinding` the moment they are reported, ended flows `onFlowEnd`.
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
import type { PacketRecord } from "../record.js";
import type { CaptureInfo } from "../record.js";
import { Engine, type EngineOptions } from "../../analyze/engine.js";
import type { Finding } from "../../analyze/finding.js";
import { L4_TCP } from "../../decode/packet.js";
import type { ExpireOptions, Flow, FlowEndReason } from "../../decode/flow.js";
import { buildReport, flowReport, hasFilter, matchesFilter, type FlowFilter, type FlowReport, type Report } from "../../report/model.js";
import type { PcapWriter } from "./pcap-writer.js";

import { LIVE_IDLE_SEC, LIVE_LINGER_SEC, LIVE_MAX_FLOWS, LIVE_UDP_IDLE_SEC } from "./defaults.js";
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
  /** Stop analysing after this many packets (`-c`), calling onCountReached once. */
  count?: number;
  onCountReached?: () => void;
  onFinding?: (f: Finding, flow: FlowReport | null) => void;
  onFlowEnd?: (flow: FlowReport, why: FlowEndReason) => void;
}

/** A stretch of time (seconds since the epoch) in which the capture dropped `dropped` packets. */
export interface DropWindow { from: number; to: number; dropped: number }
/** Drop windows kept; beyond, the oldest two merge (the note stays true, only coarser). */
const MAX_DROP_WINDOWS = 4096;

const byFlowFrameKind = (a: Finding, b: Finding): number =>
  (a.flow ?? 0) - (b.flow ?? 0) || (a.frames[0] ?? 0) - (b.frames[0] ?? 0) || (a.kind < b.kind ? -1 : a.kind > b.kind ? 1 : 0);

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
  private readonly dropWindows: DropWindow[] = [];

  constructor(private readonly o: LiveSessionOptions = {}) {
    const msl = o.engine?.analyzer?.mslSec ?? 30;
    this.expire = {
      lingerSec: LIVE_LINGER_SEC, idleSec: LIVE_IDLE_SEC, udpIdleSec: LIVE_UDP_IDLE_SEC, rememberSec: 2 * msl, ...o.expire,
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
      onFinding: (f, flow) => this.finding(f, flow),
      onFlowEnd: (flow, why) => this.flowEnded(flow, why),
    });
  }

  readonly onPacket = (rec: PacketRecord): void => {
    if (!this.accepting) return;
    this.o.writer?.write(rec);
    this.engine.onPacket(rec);
    if (++this.packets === this.o.count) {
      this.accepting = false;
      this.o.onCountReached?.();
    }
  };

  /** Between batches, a few times a second: ends finished flows. `now`: seconds since the epoch. */
  tick(now: number): number {
    this.o.writer?.flush();
    return this.engine.tick(now, this.expire);
  }

  /** Capture over: every flow still open ends (their findings are reported now). */
  finish(): void {
    this.engine.finish();
  }

  /** The capture dropped `dropped` packets somewhere between `from` and `to` (seconds since the epoch). */
  noteDrops(from: number, to: number, dropped: number): void {
    if (dropped <= 0) return;
    this.dropWindows.push({ from, to, dropped });
    if (this.dropWindows.length > MAX_DROP_WINDOWS) {
      const [a, b] = this.dropWindows.splice(0, 2) as [DropWindow, DropWindow];
      this.dropWindows.unshift({ from: Math.min(a.from, b.from), to: Math.max(a.to, b.to), dropped: a.dropped + b.dropped });
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
      summary: `${f.summary} (evidence incomplete: the capture dropped ${n} packet(s) while this flow was open or within ` +
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
    if (m === undefined) { m = matchesFilter(flowReport(flow), this.filter); this.matchCache.set(flow.id, m); }
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
    // Printed now: marked already if the capture dropped packets earlier in the flow's life.
    const fr = flow === null ? null : flowReport(flow);
    this.o.onFinding(fr === null ? f : this.withDropNote(f, fr), fr);
  }

  private flowEnded(flow: Flow, why: FlowEndReason): void {
    if (flow.proto === L4_TCP) this.tcpFlows++; else this.udpFlows++;
    if (why !== "capture-end") this.flowsEndedLive++; else this.flowsOpenAtEnd++;
    const matched = this.matches(flow);
    this.matchCache.delete(flow.id);
    if (!matched) return;
    const fr = flowReport(flow);
    if (this.findingFlows.has(flow.id)) {
      this.flowsWithFindings.set(flow.id, fr);
    } else {
      this.otherFlows.set(flow.id, fr);
      if (this.otherFlows.size > this.keepFlows) {
        this.otherFlows.delete(this.otherFlows.keys().next().value as number);
        this.flowsNotKept++;
      }
    }
    this.o.onFlowEnd?.(fr, why);
  }

  /** The report of the capture so far (after finish(): all of it), as `analyze` builds it. */
  report(info: CaptureInfo): Report {
    const r = buildReport(info, this.engine);
    r.flows = [...this.flowsWithFindings.values(), ...this.otherFlows.values()].sort((a, b) => a.id - b.id);
    r.findings = this.findings.map((f) => this.withDropNote(f, f.flow === null ? undefined : this.flowsWithFindings.get(f.flow))).sort(byFlowFrameKind);
    const marked = r.findings.filter((f) => f.measure.captureDroppedPackets !== undefined).length;
    if (marked > 0) {
      r.warnings.push(`${marked} finding(s) are on flows that were open while the capture dropped packets: their evidence is incomplete (marked in each)`);
    }
    r.capture.packets = this.packets;
    r.capture.flows = { tcp: this.tcpFlows, udp: this.udpFlows };
    if (this.findingsNotKept > 0) {
      r.warnings.push(`${this.findingsNotKept} finding(s) were printed as they happened but are not in this summary (it keeps the first ${this.keepFindings})`);
    }
    if (this.flowsNotKept > 0) {
      r.warnings.push(`${this.flowsNotKept} ended flow(s) without findings are not in this flow table (it keeps the last ${this.keepFlows})`);
    }
    return r;
  }
}
