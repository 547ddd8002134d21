/** Messages between the reading thread and its `--jobs` workers. */
import type { EngineOptions } from "../analyze/engine.js";
import type { AnalysisResult } from "../report/model.js";

/** Engine options that can cross to a worker (no functions). */
export type WorkerEngineOptions = Pick<EngineOptions,
  "analyzer" | "maxFlows" | "fragmentTimeoutSec" | "maxPendingDatagrams" | "maxFragmentBytes" | "maxFragmentsPerDatagram">;

export interface WorkerInit {
  index: number;
  analyzerIds: string[];
  engine: WorkerEngineOptions;
  /** SharedArrayBuffer of two Int32 per worker: batches sent and not yet analysed, failed flag. */
  inFlight: SharedArrayBuffer;
}

export type WorkerMessage =
  | { type: "batch"; buffer: ArrayBuffer }
  /** The capture's last packet time: "the end of the capture" for every shard alike. */
  | { type: "end"; lastPacketTime: number | undefined };

/** What a worker sends back once its shard is analysed. */
export interface ShardEnd {
  result: AnalysisResult;
  /** Analyzers' capture-wide states by analyzer id (CaptureScope), to merge. */
  captureStates: Record<string, unknown>;
}
