/**
 * A `--jobs` worker thread: analyses one shard (shard.ts) and posts the outcome. Every
 * thread reads the whole capture (from the page cache after the first) and routes every
 * record itself: that costs each the framing, but no records cross threads (a single
 * reader copying records to the workers was slower than one thread on a 2-core machine:
 * docs/PERFORMANCE.md).
 */
import { parentPort, workerData } from "node:worker_threads";
import { CaptureError } from "../../capture/errors.js";
import type { WorkerInit, WorkerMessage } from "./protocol.js";
import { analyseShard, Unsplittable } from "./shard.js";

const init = workerData as WorkerInit;

function post(m: WorkerMessage): void {
  parentPort!.postMessage(m);
}

try {
  const { shard, info } = await analyseShard(init);
  // One message: the capture states' references to findings stay references after cloning.
  post({ type: "done", shard, info });
} catch (e) {
  if (e instanceof Unsplittable) post({ type: "unsplittable", reason: e.message });
  else {
    const ce = e instanceof CaptureError ? { file: e.file, offset: e.offset, problem: e.problem } : null;
    post({ type: "failed", message: (e as Error)?.stack ?? String(e), captureError: ce });
  }
}
