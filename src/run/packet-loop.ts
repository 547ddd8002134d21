/**
 * The packet loop of one capture, data flowing one way:
 * PacketRecord → PacketDecoder → (fragments: Reassembler) → FlowTable → AnalyzerHost → Sink.
 *
 * The engine owns the per-capture state (clock, decoder, flow table, statistics) and
 * takes each record to its flow; the analyzer host (analyze/host.ts) runs the analyzers
 * on it and the sink (analyze/sink.ts) keeps what they report. `Engine` is the one
 * object a run holds, so that the pipeline, the live session, `--jobs` shards and the
 * library API (`new Engine({ analyzers })`, README) each drive one thing and read its
 * outcome (analyze/result.ts) from it.
 */
import { noteSender } from "../decode/flow/senders.js";
import type { PacketRecord } from "../capture/record.js";
import { PacketDecoder } from "../decode/wire/decoder.js";
import { FlowTable, DEFAULT_MAX_FLOWS } from "../decode/flow/table.js";
import type { ExpireOptions } from "../decode/flow/lifecycle.js";
import type { Flow } from "../decode/flow/record.js";
import type { TcpSegment } from "../decode/flow/tcp-tracker.js";
import { L4_ICMP, L4_ICMPV6, L4_TCP, L4_UDP, type DecodedPacket } from "../decode/wire/packet.js";
import { isIcmpError } from "../decode/wire/transport.js";
import {
  DEFAULT_FRAGMENT_TIMEOUT_SEC,
  DEFAULT_MAX_FRAGMENT_BYTES,
  DEFAULT_MAX_FRAGMENTS_PER_DATAGRAM,
  DEFAULT_MAX_PENDING_DATAGRAMS,
  Reassembler,
  type FragmentFailure,
  type ReassemblyListener,
} from "../decode/reassembly.js";
import type { FragmentedDatagram } from "../decode/datagram.js";
import {
  DEFAULT_ANALYZER_OPTIONS,
  type AnalyzerDescriptor,
  type AnalyzerOptions,
  type OngoingCondition,
} from "../analyze/analyzer.js";
import { compareFindings, type Finding } from "../analyze/finding.js";
import { AnalysisClock } from "../analyze/clock.js";
import { AnalyzerHost, type HostOptions, type Slots } from "../analyze/host.js";
import { DecodeStats } from "../analyze/result.js";
import { ClosedFlows } from "../analyze/closed-flows.js";
import { ANALYZERS } from "../analyze/registry.js";
import type { Sink } from "../analyze/sink.js";

/** The host's and sink's options (collectTags, onFinding, onFlowEnd, ...) and the run's bounds. */
export interface EngineOptions extends Omit<HostOptions, "retireAfterSec"> {
  analyzers?: AnalyzerDescriptor<any>[];
  analyzer?: Partial<AnalyzerOptions>;
  maxFlows?: number;
  fragmentTimeoutSec?: number;
  maxPendingDatagrams?: number;
  maxFragmentBytes?: number;
  maxFragmentsPerDatagram?: number;
  /** RETIRE_CLOSED_AFTER_SEC unless given; Infinity: never (a live capture ends closed flows itself). */
  retireClosedAfterSec?: number;
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

export class Engine implements ReassemblyListener {
  readonly options: AnalyzerOptions;
  readonly analyzers: AnalyzerDescriptor<any>[];
  readonly flows: FlowTable<Slots>;
  /** Flows whose analysis is over and that left the table, as their report needs them (reading a file). */
  readonly closedFlows = new ClosedFlows();
  readonly reassembler: Reassembler;
  readonly decoder: PacketDecoder;
  readonly stats = new DecodeStats();
  /**
   * Every time the engine and its analyzers see is analysis time, continuous across the
   * capture's clock jumps (clock.ts); findings and reports get real times back (rawTime).
   */
  readonly clock = new AnalysisClock();
  readonly host: AnalyzerHost;
  /** What the analyzers report to; its clock is the packet being analysed. */
  readonly sink: Sink;
  observer: PacketObserver | null = null;

  constructor(opts: EngineOptions = {}) {
    this.options = { ...DEFAULT_ANALYZER_OPTIONS, ...opts.analyzer };
    this.analyzers = opts.analyzers ?? ANALYZERS;
    const retireAfterSec = opts.retireClosedAfterSec ?? RETIRE_CLOSED_AFTER_SEC;
    this.host = new AnalyzerHost(this.analyzers, this.options, this.clock.jumps, { ...opts, retireAfterSec });
    this.sink = this.host.sink;
    this.flows = new FlowTable<Slots>(
      this.host,
      { maxFlows: opts.maxFlows ?? DEFAULT_MAX_FLOWS, retireAfterSec },
      this.closedFlows,
    );
    this.reassembler = new Reassembler(this, {
      timeoutSec: opts.fragmentTimeoutSec ?? DEFAULT_FRAGMENT_TIMEOUT_SEC,
      maxPending: opts.maxPendingDatagrams ?? DEFAULT_MAX_PENDING_DATAGRAMS,
      maxBytes: opts.maxFragmentBytes ?? DEFAULT_MAX_FRAGMENT_BYTES,
      maxFragments: opts.maxFragmentsPerDatagram ?? DEFAULT_MAX_FRAGMENTS_PER_DATAGRAM,
    });
    this.decoder = new PacketDecoder();
  }

  /** Sorted by compareFindings once the capture is finished. */
  get findings(): Finding[] {
    return this.sink.findings;
  }
  /** frame → kinds of every finding that names it; null unless `collectTags`. */
  get tags(): Map<number, string[]> | null {
    return this.sink.tags;
  }
  /** Analyzers' capture-wide states, by analyzer id (CaptureScope). */
  get captureStates(): Map<string, unknown> {
    return this.sink.captureStates;
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
    this.sink.frame = frame;
    this.sink.time = time;
    if (st.firstTime < 0) {
      st.firstTime = time;
      st.firstFrame = frame;
    }
    if (time > st.lastTime) st.lastTime = time;
    this.flows.advanceClock(this.clock.confirmedTime, this.clock.lastJumpAt);
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
      // A pcapng that names each packet's sending process (capture/packet-process.ts).
      if (rec.process !== null) noteSender(flow, rec.process.inbound ? 1 - dir : dir, rec.process);
      let seg: TcpSegment | null = null;
      if (flow.retired) {
        if (l4 === L4_TCP) seg = this.flows.trackTcp(flow, dir, p, frame, time);
        this.observer?.(rec, p, flow, dir, seg);
        return;
      }
      if (l4 === L4_TCP) {
        seg = this.flows.trackTcp(flow, dir, p, frame, time);
        this.host.tcpSegment(flow, seg, p);
      } else {
        this.host.udpDatagram(flow, dir, frame, time, p);
      }
      if (p.datagram !== null) this.host.datagramComplete(flow, dir, p.datagram, p);
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
    this.flows.advanceClock(this.clock.confirmedTime, this.clock.lastJumpAt);
  }

  /**
   * Live capture, between packet batches: `now` (capture time, seconds since the epoch)
   * becomes the capture clock, fragments older than the reassembly timeout fail, and
   * flows that are finished end (FlowTable.expire), so analyzers report from onFlowEnd
   * while the capture goes on. Returns how many flows ended.
   */
  tick(nowReal: number, expire: ExpireOptions): number {
    const now = this.clock.peek(nowReal);
    if (now > this.sink.time) this.sink.time = now;
    this.reassembler.expire(now);
    return this.flows.expire(now, expire);
  }

  /** Live capture: the conditions analyzers see holding on watched connections (AnalyzerHost.forEachOngoing). */
  forEachOngoing(
    now: number,
    each: (kind: AnalyzerDescriptor<unknown>, flow: Flow, dir: number, c: OngoingCondition) => void,
  ): void {
    this.host.forEachOngoing(now, each);
  }

  /**
   * Capture over: fail pending fragments, end every flow, sort the findings. A `--jobs`
   * worker passes the time of the capture's last packet (which may not be in its shard):
   * analyzers measure "until the end of the capture" from it.
   */
  finish(lastPacketTime?: number): void {
    this.sink.frame = Infinity;
    if (lastPacketTime !== undefined) this.sink.time = this.clock.peek(lastPacketTime);
    this.reassembler.finish();
    this.flows.finish();
    this.findings.sort(compareFindings);
  }

  // --- ReassemblyListener
  datagramFailed(d: FragmentedDatagram, reason: FragmentFailure): void {
    let flow: Flow<Slots> | null = null;
    if (d.srcPort >= 0 && (d.proto === L4_TCP || d.proto === L4_UDP)) {
      flow = this.flows.find(d.vlan, d.proto, d.ipVersion, d.src, d.srcPort, d.dst, d.dstPort);
      if (flow?.retired) return; // its analysis is over
    }
    this.host.datagramFailed(flow, d, reason);
  }

  private icmpError(p: DecodedPacket, frame: number, time: number): void {
    const q = p.quoted;
    if (q.srcPort < 0 || (q.proto !== L4_TCP && q.proto !== L4_UDP)) {
      // The quote is too short (or not TCP/UDP) to name a flow.
      this.host.icmpError(null, 0, frame, time, p);
      return;
    }
    const flow = this.flows.lookupQuoted(p, frame, time);
    if (flow === null) return; // the flow table is full: counted as untracked
    flow.icmpErrors++;
    if (flow.retired) return; // its analysis is over
    const quotedDir = flow.isClient([q.src0, q.src1, q.src2, q.src3], q.srcPort) ? 0 : 1;
    this.host.icmpError(flow, quotedDir, frame, time, p);
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
}
