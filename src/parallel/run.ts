/**
 * `--jobs N`: this thread reads and frames the capture and routes every record (router.ts)
 * into per-worker batches; N worker threads each run an Engine over their shard; the
 * outcomes merge into what one engine would have reported (merge.ts).
 *
 * Backpressure: a worker has at most MAX_IN_FLIGHT batches waiting; past that the reader
 * blocks (Atomics.wait) until the worker catches up, so memory stays bounded whatever the
 * capture size or the workers' speed.
 */
import { Worker } from "node:worker_threads";
import { readCapture } from "../capture/reader.js";
import type { CaptureInfo } from "../capture/record.js";
import {
  DEFAULT_FRAGMENT_TIMEOUT_SEC, DEFAULT_MAX_FRAGMENT_BYTES, DEFAULT_MAX_PENDING_DATAGRAMS,
} from "../decode/reassembly.js";
import { DEFAULT_MAX_FLOWS } from "../decode/flow.js";
import { ANALYZERS } from "../analyze/registry.js";
import type { AnalysisResult } from "../report/model.js";
import type { RunOptions } from "../pipeline.js";
import { BatchWriter, type RecordFields } from "./batch.js";
import { mergeShards } from "./merge.js";
import type { ShardEnd, WorkerInit, WorkerMessage } from "./protocol.js";
import { ShardRouter } from "./router.js";

const MAX_IN_FLIGHT = 8;

export async function runParallel(path: string, opts: RunOptions, jobs: number): Promise<{ info: CaptureInfo; result: AnalysisResult }> {
  const analyzers = opts.analyzers ?? ANALYZERS;
  // Per worker: [batches in flight, failed flag]. Shared memory, because the reader
  // blocks in Atomics.wait and cannot receive messages while it does.
  const inFlightBuf = new SharedArrayBuffer(8 * jobs);
  const inFlight = new Int32Array(inFlightBuf);
  // The bounds hold for the whole run: each worker gets its share of them.
  const engine = {
    analyzer: opts.analyzer,
    maxFlows: Math.ceil((opts.maxFlows ?? DEFAULT_MAX_FLOWS) / jobs),
    fragmentTimeoutSec: opts.fragmentTimeoutSec,
    maxPendingDatagrams: Math.ceil((opts.maxPendingDatagrams ?? DEFAULT_MAX_PENDING_DATAGRAMS) / jobs),
    maxFragmentBytes: Math.ceil((opts.maxFragmentBytes ?? DEFAULT_MAX_FRAGMENT_BYTES) / jobs),
    maxFragmentsPerDatagram: opts.maxFragmentsPerDatagram,
  };
  const workers: Worker[] = [];
  const ends: Promise<ShardEnd>[] = [];
  for (let index = 0; index < jobs; index++) {
    const init: WorkerInit = { index, analyzerIds: analyzers.map((a) => a.id), engine, inFlight: inFlightBuf };
    const w = new Worker(new URL("./worker.js", import.meta.url), { workerData: init });
    workers.push(w);
    ends.push(new Promise((resolve, reject) => {
      w.once("message", resolve);
      w.once("error", reject);
      w.once("exit", (code) => reject(new Error(`worker ${index} exited with code ${code} before it finished`)));
    }));
  }
  // A worker that died would never answer: fail the run instead of waiting forever.
  let failure: unknown = null;
  const watch = Promise.all(ends).catch((e) => { failure = e; });

  const writers = workers.map(() => new BatchWriter());
  const flush = (i: number): void => {
    while (Atomics.load(inFlight, 2 * i) >= MAX_IN_FLIGHT) {
      if (Atomics.load(inFlight, 2 * i + 1) !== 0) throw new Error(`worker ${i} failed; see its error below`);
      Atomics.wait(inFlight, 2 * i, Atomics.load(inFlight, 2 * i), 1000);
    }
    const buffer = writers[i]!.take();
    Atomics.add(inFlight, 2 * i, 1);
    workers[i]!.postMessage({ type: "batch", buffer } satisfies WorkerMessage, [buffer]);
  };
  const send = (i: number, r: RecordFields): void => {
    const w = writers[i]!;
    if (!w.fits(r.bytes.length) && !w.isEmpty) flush(i);
    w.add(r);
  };
  const router = new ShardRouter(jobs, {
    timeoutSec: opts.fragmentTimeoutSec ?? DEFAULT_FRAGMENT_TIMEOUT_SEC,
    maxHeldDatagrams: opts.maxPendingDatagrams ?? DEFAULT_MAX_PENDING_DATAGRAMS,
    maxHeldBytes: opts.maxFragmentBytes ?? DEFAULT_MAX_FRAGMENT_BYTES,
  }, send);

  let info: CaptureInfo;
  try {
    let lastPacketTime: number | undefined;
    info = await readCapture(path, (rec) => {
      lastPacketTime = rec.tsSec + rec.tsNsec / 1e9;
      router.route(rec);
    }, { onProgress: opts.onProgress, chunkSize: opts.chunkSize });
    router.finish();
    for (let i = 0; i < jobs; i++) {
      if (!writers[i]!.isEmpty) flush(i);
      workers[i]!.postMessage({ type: "end", lastPacketTime } satisfies WorkerMessage);
    }
    await watch;
    if (failure !== null) throw failure;
  } finally {
    for (const w of workers) w.removeAllListeners("exit");
    await Promise.all(workers.map((w) => w.terminate()));
  }
  return { info, result: mergeShards(await Promise.all(ends), analyzers) };
}
