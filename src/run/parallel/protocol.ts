/** Messages between the main thread and its `--jobs` workers. */
import type { CaptureInfo } from "../../capture/record.js";
import type { EngineOptions } from "../packet-loop.js";
import type { AnalysisResult } from "../../analyze/result.js";

/** Engine options that can cross to a worker (no functions). */
export type WorkerEngineOptions = Pick<
  EngineOptions,
  | "analyzer"
  | "maxFlows"
  | "fragmentTimeoutSec"
  | "maxPendingDatagrams"
  | "maxFragmentBytes"
  | "maxFragmentsPerDatagram"
>;

export interface WorkerInit {
  path: string;
  index: number;
  workers: number;
  analyzerIds: string[];
  engine: WorkerEngineOptions;
  chunkSize: number | undefined;
  /** StopLine's shared memory: where every thread stops when the run is interrupted. */
  stopLine: SharedArrayBuffer;
}

/** What a worker sends: its outcome or why it failed (the main thread reads too and reports progress). */
export type WorkerMessage =
  | { type: "done"; shard: ShardEnd; info: CaptureInfo }
  /** The capture cannot be split without changing the report (ShardRouter): run it on one thread. */
  | { type: "unsplittable"; reason: string }
  | { type: "failed"; message: string; captureError: { file: string; offset: number | null; problem: string } | null };

/** A worker's outcome once its shard is analysed. */
export interface ShardEnd {
  result: AnalysisResult;
  /** Analyzers' capture-wide states by analyzer id (CaptureScope), to merge. */
  captureStates: Record<string, unknown>;
}
