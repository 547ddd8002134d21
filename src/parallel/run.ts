/**
 * `--jobs N`: N worker threads each read the capture and route every record with the same
 * ShardRouter (router.ts), each analysing the flows of its shard (worker.ts); their
 * outcomes merge into what one engine would have reported (merge.ts).
 */
import { Worker } from "node:worker_threads";
import { CaptureError } from "../capture/errors.js";
import type { CaptureInfo } from "../capture/record.js";
import {
  DEFAULT_FRAGMENT_TIMEOUT_SEC, DEFAULT_MAX_FRAGMENT_BYTES, DEFAULT_MAX_PENDING_DATAGRAMS,
} from "../decode/reassembly.js";
import { DEFAULT_MAX_FLOWS } from "../decode/flow.js";
import { ANALYZERS } from "../analyze/registry.js";
import type { AnalysisResult } from "../report/model.js";
import type { RunOptions } from "../pipeline.js";
import { mergeShards } from "./merge.js";
import type { ShardEnd, WorkerInit, WorkerMessage } from "./protocol.js";

export async function runParallel(path: string, opts: RunOptions, jobs: number): Promise<{ info: CaptureInfo; result: AnalysisResult }> {
  const analyzers = opts.analyzers ?? ANALYZERS;
  // The bounds hold for the whole run: each worker gets its share of them.
  const engine = {
    analyzer: opts.analyzer,
    maxFlows: Math.ceil((opts.maxFlows ?? DEFAULT_MAX_FLOWS) / jobs),
    fragmentTimeoutSec: opts.fragmentTimeoutSec,
    maxPendingDatagrams: Math.ceil((opts.maxPendingDatagrams ?? DEFAULT_MAX_PENDING_DATAGRAMS) / jobs),
    maxFragmentBytes: Math.ceil((opts.maxFragmentBytes ?? DEFAULT_MAX_FRAGMENT_BYTES) / jobs),
    maxFragmentsPerDatagram: opts.maxFragmentsPerDatagram,
  };
  const router = {
    timeoutSec: opts.fragmentTimeoutSec ?? DEFAULT_FRAGMENT_TIMEOUT_SEC,
    maxHeldDatagrams: opts.maxPendingDatagrams ?? DEFAULT_MAX_PENDING_DATAGRAMS,
    maxHeldBytes: opts.maxFragmentBytes ?? DEFAULT_MAX_FRAGMENT_BYTES,
  };
  const outcomes = Array.from({ length: jobs }, (_, index) => new Promise<{ shard: ShardEnd; info: CaptureInfo }>((resolve, reject) => {
    const init: WorkerInit = {
      path, index, workers: jobs, analyzerIds: analyzers.map((a) => a.id), engine, router,
      chunkSize: opts.chunkSize, progress: index === 0 && opts.onProgress !== undefined,
    };
    const w = new Worker(new URL("./worker.js", import.meta.url), { workerData: init });
    let settled = false;
    w.on("message", (m: WorkerMessage) => {
      if (m.type === "progress") opts.onProgress?.(m.bytesRead, m.packets, m.totalBytes);
      else if (m.type === "done") { settled = true; resolve({ shard: m.shard, info: m.info }); }
      else {
        settled = true;
        const c = m.captureError;
        reject(c !== null ? new CaptureError(c.file, c.offset, c.problem) : new Error(`worker ${index}: ${m.message}`));
      }
    });
    w.on("error", (e) => { settled = true; reject(e); });
    w.on("exit", (code) => { if (!settled) reject(new Error(`worker ${index} exited (code ${code}) before it finished`)); });
  }));
  const done = await Promise.all(outcomes);
  // Every worker read the same file; worker 0's account of it stands for all.
  return { info: done[0]!.info, result: mergeShards(done.map((d) => d.shard), analyzers) };
}
