/**
 * What an analysis produces, as plain data: the decode statistics, one record per flow,
 * and the findings. One engine's outcome (`engineResult`) and the merged outcomes of
 * `--jobs` workers (run/parallel/merge.ts) have this one shape, so it crosses threads;
 * the report layer only reads it (report/model.ts).
 */
import type { Flow } from "../decode/flow/record.js";
import type { FlowTable } from "../decode/flow/table.js";
import type { Reassembler } from "../decode/reassembly.js";
import type { AnalysisClock, ClockJump } from "./clock.js";
import { ClosedFlows, type FlowReport } from "./closed-flows.js";
import type { Finding } from "./finding.js";
import { foldMirroredFlows } from "./mirrored-flows.js";
import { foldPortScans } from "./port-scans.js";

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

export type { FlowReport } from "./closed-flows.js";
export { round6 } from "./closed-flows.js";

/**
 * `jumps`: the capture's clock jumps, to give the flow's real start time (its times are
 * analysis times). Written through a ClosedFlows row, as every ended flow's report is.
 */
export function flowReport(f: Flow, jumps: readonly ClockJump[] = []): FlowReport {
  scratch ??= new ClosedFlows();
  scratch.clear();
  scratch.keep(f);
  return scratch.report(0, jumps);
}
let scratch: ClosedFlows | null = null;

/**
 * What a report is built from: one engine's outcome (`engineResult`), or the merged
 * outcomes of `--jobs` workers (run/parallel/merge.ts). Plain data, so it crosses threads.
 */
export interface AnalysisResult {
  stats: DecodeStats;
  /** Every flow, in order of first packet (ids 1…n). */
  flows: FlowReport[];
  /** Sorted by compareFindings. */
  findings: Finding[];
  flowsEvicted: number;
  /** Packets of connections the full flow table could not take (FlowTable.makeRoom). */
  untrackedPackets: number;
  vlanJoined: number;
  fragmentEvictions: number;
  /** IP fragments the capture holds more than once (Reassembler.copies). */
  fragmentCopies: number;
  /** The capture's clock jumps (the same in every `--jobs` shard: each sees every record's time). */
  clockJumps: ClockJump[];
  /** Findings left out because their flow repeats another (mirrored-flows.ts). */
  mirroredFindings: number;
}

/** What `engineResult` reads of a finished run: the run's Engine (run/packet-loop.ts) has it all. */
export interface EngineState {
  readonly stats: DecodeStats;
  readonly flows: FlowTable;
  /** The flows that ended, out of `flows.all` (FlowTable's EndedFlowStore). */
  readonly closedFlows: ClosedFlows;
  readonly findings: Finding[];
  readonly reassembler: Reassembler;
  readonly clock: AnalysisClock;
}

/** One finished run's outcome as plain data, each connection judged once (mirrored-flows.ts). */
export function engineResult(engine: EngineState): AnalysisResult {
  return readAcrossFlows(shardResult(engine));
}

/** What is read across flows once they are all known: connections recorded twice, port scans. */
export function readAcrossFlows(result: AnalysisResult): AnalysisResult {
  return foldPortScans(foldMirroredFlows(result));
}

/**
 * A `--jobs` shard's outcome: its flows alone, before anything is read across flows (the
 * merge does that over every shard's flows).
 */
export function shardResult(engine: EngineState): AnalysisResult {
  return {
    stats: engine.stats,
    flows: flowReports(engine),
    findings: engine.findings,
    flowsEvicted: engine.flows.evicted,
    untrackedPackets: engine.flows.untrackedPackets,
    vlanJoined: engine.flows.vlanJoined,
    fragmentEvictions: engine.reassembler.evictions,
    fragmentCopies: engine.reassembler.copies,
    clockJumps: engine.clock.jumps,
    mirroredFindings: 0,
  };
}

/** Every flow's report in order of id: those that ended (ClosedFlows) and those still in the table. */
export function flowReports(engine: EngineState): FlowReport[] {
  const jumps = engine.clock.jumps;
  const closed = engine.closedFlows,
    open = engine.flows.all;
  const rows = closed.rowsById();
  const out: FlowReport[] = [];
  let r = 0,
    o = 0;
  while (r < rows.length || o < open.length) {
    if (o === open.length || (r < rows.length && closed.idOf(rows[r]!) < open[o]!.id))
      out.push(closed.report(rows[r++]!, jumps));
    else out.push(flowReport(open[o++]!, jumps));
  }
  return out;
}
