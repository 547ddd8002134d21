/** Messages between the main thread and its `--jobs` workers. */
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
  /** StopLine's shared memory: where the reader stops when the run is interrupted. */
  stopLine: SharedArrayBuffer;
  /** The ring every worker reads (record-ring.ts); null on the main thread. */
  ring: SharedArrayBuffer | null;
}

/** What a worker sends: its outcome or why it failed (the main thread reads, routes and reports progress). */
export type WorkerMessage = { type: "done"; shard: ShardEnd } | { type: "failed"; message: string };

/** A worker's outcome once its shard is analysed. */
export interface ShardEnd {
  result: AnalysisResult;
  /** Analyzers' capture-wide states by analyzer id (CaptureScope), to merge. */
  captureStates: Record<string, unknown>;
}
