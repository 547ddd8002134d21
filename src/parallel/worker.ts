/**
 * A `--jobs` worker thread. Every worker reads the whole capture (from the page cache
 * after the first) and runs the same deterministic router over every record, so all of
 * them agree on who owns what without talking; each analyses only its own shard. That
 * costs each worker the framing, but no records cross threads: a single reader copying
 * records to the workers was slower than one thread on a 2-core machine (README,
 * Performance).
 */
import { parentPort, workerData } from "node:worker_threads";
import { CaptureError } from "../capture/errors.js";
import { readCapture } from "../capture/reader.js";
import { Engine } from "../analyze/engine.js";
import { ANALYZERS } from "../analyze/registry.js";
import { engineResult } from "../report/model.js";
import type { WorkerInit, WorkerMessage } from "./protocol.js";
import { ShardRouter, UNSPLITTABLE } from "./router.js";

const init = workerData as WorkerInit;
const ids = new Set(init.analyzerIds);
const engine = new Engine({ ...init.engine, analyzers: ANALYZERS.filter((a) => ids.has(a.id)), sharded: true });
const router = new ShardRouter(init.workers);
const me = init.index;

/** Thrown out of the reader to stop at once: this capture goes on one thread. */
class Unsplittable extends Error {}

function post(m: WorkerMessage): void {
  parentPort!.postMessage(m);
}

try {
  let lastPacketTime: number | undefined;
  const info = await readCapture(init.path, (rec) => {
    lastPacketTime = rec.tsSec + rec.tsNsec / 1e9;
    const owner = router.route(rec);
    if (owner === me) engine.onPacket(rec);
    else if (owner === UNSPLITTABLE) throw new Unsplittable(router.unsplittable);
    else engine.advanceClock(lastPacketTime); // every worker retires flows at the same records
  }, {
    chunkSize: init.chunkSize,
    onProgress: init.progress ? (bytesRead, packets, totalBytes) => post({ type: "progress", bytesRead, packets, totalBytes }) : undefined,
  });
  // "The end of the capture" is its last packet, whichever shard that fell in.
  engine.finish(lastPacketTime);
  const captureStates: Record<string, unknown> = {};
  for (const [id, st] of engine.captureStates) captureStates[id] = st;
  // One message: the capture states' references to findings stay references after cloning.
  post({ type: "done", shard: { result: engineResult(engine), captureStates }, info });
} catch (e) {
  if (e instanceof Unsplittable) post({ type: "unsplittable", reason: e.message });
  else {
    const ce = e instanceof CaptureError ? { file: e.file, offset: e.offset, problem: e.problem } : null;
    post({ type: "failed", message: (e as Error)?.stack ?? String(e), captureError: ce });
  }
}
