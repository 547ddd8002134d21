/**
 * A `--jobs` worker thread: replays the ring the main thread fills for its shard
 * (shard.ts, record-ring.ts) and posts the outcome. It never reads the file: the main
 * thread frames and routes every record once.
 */
import { parentPort, workerData } from "node:worker_threads";
import type { WorkerInit, WorkerMessage } from "./protocol.js";
import { analyseRing } from "./shard.js";

const init = workerData as WorkerInit;

function post(m: WorkerMessage): void {
  parentPort!.postMessage(m);
}

try {
  // One message: the capture states' references to findings stay references after cloning.
  post({ type: "done", shard: analyseRing(init) });
} catch (e) {
  post({ type: "failed", message: (e as Error)?.stack ?? String(e) });
}
