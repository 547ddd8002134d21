/**
 * The finding sink: what analyzers report to (FindingSink). It turns their reports into
 * findings, tags every frame a finding names (for `sockscope packets`), and keeps the
 * analyzers' capture-wide states (CaptureScope). Its clock (`frame`, `time`) is the
 * moment the analyzers are told it is: the packet being analysed, set by the packet
 * loop; for a flow concluding at another moment, `at` gives the same sink read at that
 * moment. The per-flow services (side history, watched flows) live with the analyzer
 * host, which owns the flows' slots (host.ts).
 */
import type { Flow } from "../decode/flow/record.js";
import { DIR_CLIENT } from "../decode/flow/record.js";
import type { AnalyzerDescriptor, AnalyzerOptions, FindingInput, FindingSink } from "./analyzer.js";
import { rawTime, stretchEndBefore, type ClockJump } from "./clock.js";
import { MAX_EVIDENCE_FRAMES, type Finding } from "./finding.js";
import { MAX_TAGGED_FRAMES } from "./lib/measure.js";
import { flatten, writeWords } from "./words.js";
import type { SideHistory } from "./lib/side-history.js";
import { NO_CAPTURE_FACTS, type CaptureFacts } from "./lib/recording-host.js";

export interface SinkOptions {
  /** Keep every frame of every finding as a per-frame tag (for `sockscope packets`). */
  collectTags?: boolean;
  /** Called with every finding as it is reported (live capture prints it at once). */
  onFinding?: (finding: Finding, flow: Flow | null) => void;
  /** Keep findings in `findings` (default true; a live capture keeps its own, bounded). */
  keepFindings?: boolean;
  /** The analyzers see one shard of the capture's flows (a `--jobs` worker): see CaptureScope. */
  sharded?: boolean;
}

/** The FindingSink services kept on a flow's slots by the analyzer host. */
export interface FlowServices {
  sideHistory(flow: Flow): SideHistory;
  watch(flow: Flow): void;
}

export class Sink implements FindingSink {
  readonly findings: Finding[] = [];
  /**
   * frame → kinds, from all frames analyzers reported (findings keep only the first
   * MAX_EVIDENCE_FRAMES); null unless `collectTags`.
   */
  readonly tags: Map<number, string[]> | null;
  readonly frameCap: number;
  /** Analyzers' capture-wide states, by analyzer id (CaptureScope). */
  readonly captureStates = new Map<string, unknown>();
  /** Frame number of the packet being analysed; Infinity once the capture has ended. */
  frame = 0;
  /** Analysis time of the latest packet (clock.ts); at capture end, the end of the capture. */
  time = 0;
  /** The capture file's sections and interfaces, filled by the reader as it goes (FindingSink.capture). */
  capture: CaptureFacts = NO_CAPTURE_FACTS;
  private readonly onFinding: SinkOptions["onFinding"];
  private readonly keepFindings: boolean;
  private readonly sharded: boolean;

  constructor(
    readonly options: AnalyzerOptions,
    /** The capture's clock jumps so far: findings get real times back (rawTime). */
    private readonly jumps: readonly ClockJump[],
    private readonly services: FlowServices,
    opts: SinkOptions = {},
  ) {
    this.tags = opts.collectTags ? new Map() : null;
    this.frameCap = opts.collectTags ? MAX_TAGGED_FRAMES : MAX_EVIDENCE_FRAMES;
    this.onFinding = opts.onFinding;
    this.keepFindings = opts.keepFindings ?? true;
    this.sharded = opts.sharded ?? false;
  }

  /** This sink with its clock reading `frame` and `time`: for analyzers concluding a flow at a moment of its own. */
  at(frame: number, time: number): FindingSink {
    return new SinkAt(this, frame, time);
  }

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
      time: rawTime(input.time, this.jumps),
      side,
      endpoint: side === null || flow === null ? null : flow.endpointName(side),
      summary: input.summary ?? "",
      explanation: input.detail ? `${input.detail} ${kind.explanation}` : kind.explanation,
      references: kind.references,
      measure: input.measure ?? {},
    };
    if (input.facts !== undefined) f.facts = input.facts;
    if (input.facts === undefined || kind.describe === undefined) {
      if (input.summary === undefined) throw new Error(`${kind.id} reported a finding without words or describe()`);
      flatten(f);
    } else if (!this.sharded) {
      // A `--jobs` shard leaves the words to the merge, which may still renumber the facts.
      writeWords(f, kind);
    }
    if (this.keepFindings) this.findings.push(f);
    this.onFinding?.(f, flow);
    return f;
  }

  revise(kind: AnalyzerDescriptor<unknown>, f: Finding): void {
    if (!this.sharded) writeWords(f, kind);
  }

  stretchAfter(t: number): { end: number; nextFrame: number } | null {
    const j = this.jumps.find((jump) => jump.at > t);
    return j === undefined ? null : { end: stretchEndBefore(j), nextFrame: j.frame };
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

  sideHistory(flow: Flow): SideHistory {
    return this.services.sideHistory(flow);
  }

  watch(flow: Flow): void {
    this.services.watch(flow);
  }
}

/** A Sink read at a moment of its own (Sink.at): everything but the clock goes to the sink. */
class SinkAt implements FindingSink {
  constructor(
    private readonly sink: Sink,
    readonly frame: number,
    readonly time: number,
  ) {}
  get options(): AnalyzerOptions {
    return this.sink.options;
  }
  get frameCap(): number {
    return this.sink.frameCap;
  }
  get capture(): CaptureFacts {
    return this.sink.capture;
  }
  report(kind: AnalyzerDescriptor<unknown>, input: FindingInput): Finding {
    return this.sink.report(kind, input);
  }
  addEvidence(f: Finding, frames: readonly number[]): void {
    this.sink.addEvidence(f, frames);
  }
  revise(kind: AnalyzerDescriptor<unknown>, f: Finding): void {
    this.sink.revise(kind, f);
  }
  stretchAfter(t: number): { end: number; nextFrame: number } | null {
    return this.sink.stretchAfter(t);
  }
  captureState<C>(kind: AnalyzerDescriptor<any, C>): C {
    return this.sink.captureState(kind);
  }
  sideHistory(flow: Flow): SideHistory {
    return this.sink.sideHistory(flow);
  }
  watch(flow: Flow): void {
    this.sink.watch(flow);
  }
}
