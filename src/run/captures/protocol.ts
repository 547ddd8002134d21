/** Messages between a many-capture pool (pool.ts) and its workers (worker.ts). */
import type { CaptureOutcome } from "./one.js";

export type ToWorker = { type: "capture"; index: number; file: string } | { type: "stop"; reason: string };

export type ToPool =
  | { type: "progress"; index: number; bytes: number; packets: number }
  | { type: "done"; index: number; outcome: CaptureOutcome }
  /** A bug, not bad input: the run fails as a single-file run would. */
  | { type: "failed"; index: number; message: string };
