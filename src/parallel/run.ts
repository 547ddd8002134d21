/**
 * `--jobs N`: N worker threads each read the capture and route every record with the same
 * ShardRouter (router.ts), each analysing the flows of its shard (worker.ts); their
 * outcomes merge into what one engine would have reported (merge.ts). A capture the
 * router finds it cannot split, or one that changed while the workers read it, is
 * analysed again on one thread (`single`).
 */
import { Worker } from "node:worker_threads";
import { CaptureError } from "../capture/errors.js";
import type { CaptureInfo } from "../capture/record.js";
import { DEFAULT_MAX_FLOWS } from "../decode/flow.js";
import { ANALYZERS } from "../analyze/registry.js";
import type { AnalysisResult } from "../report/model.js";
import type { RunOptions } from "../pipeline.js";
import { mergeShards } from "./merge.js";
import type { ShardEnd, WorkerInit, WorkerMessage } from "./protocol.js";

type Outcome = { info: CaptureInfo; result: AnalysisResult };
type ShardOutcome = { shard: ShardEnd; info: CaptureInfo } | { unsplittable: string };

export async function runParallel(path: string, opts: RunOptions, jobs: number, single: () => Promise<Outcome>): Promise<Outcome> {
  const analyzers = opts.analyzers ?? ANALYZERS;
  // The flow-table bound holds for the whole run: each worker gets its share.
  const engine = {
    analyzer: opts.analyzer,
    maxFlows: Math.ceil((opts.maxFlows ?? DEFAULT_MAX_FLOWS) / jobs),
    fragmentTimeoutSec: opts.fragmentTimeoutSec,
    maxPendingDatagrams: opts.maxPendingDatagrams,
    maxFragmentBytes: opts.maxFragmentBytes,
    maxFragmentsPerDatagram: opts.maxFragmentsPerDatagram,
  };
  const workers: Worker[] = [];
  const outcomes = Array.from({ length: jobs }, (_, index) => new Promise<ShardOutcome>((resolve, reject) => {
    const init: WorkerInit = {
      path, index, workers: jobs, analyzerIds: analyzers.map((a) => a.id), engine,
      chunkSize: opts.chunkSize, progress: index === 0 && opts.onProgress !== undefined,
    };
    const w = new Worker(new URL("./worker.js", import.meta.url), { workerData: init });
    workers.push(w);
    let settled = false;
    w.on("message", (m: WorkerMessage) => {
      if (m.type === "progress") opts.onProgress?.(m.bytesRead, m.packets, m.totalBytes);
      else if (m.type === "done") { settled = true; resolve({ shard: m.shard, info: m.info }); }
      else if (m.type === "unsplittable") { settled = true; resolve({ unsplittable: m.reason }); }
      else {
        settled = true;
        const c = m.captureError;
        reject(c !== null ? new CaptureError(c.file, c.offset, c.problem) : new Error(`worker ${index}: ${m.message}`));
      }
    });
    w.on("error", (e: Error & { code?: string }) => {
      settled = true;
      reject(e.code === "ERR_WORKER_OUT_OF_MEMORY"
        ? new Error(`worker ${index} ran out of memory (${e.message}): use --jobs 1, which has the whole heap, or a lower --max-flows`)
        : e);
    });
    w.on("exit", (code) => { if (!settled) reject(new Error(`worker ${index} exited (code ${code}) before it finished`)); });
  }));
  // The first worker to fail, or to find the capture unsplittable, stops them all.
  const stopAll = (): Promise<unknown> => Promise.all(workers.map((w) => w.terminate()));
  let done: ShardOutcome[];
  try {
    done = await new Promise<ShardOutcome[]>((resolve, reject) => {
      const all: ShardOutcome[] = [];
      let left = jobs;
      outcomes.forEach((o, i) => o.then((x) => {
        if ("unsplittable" in x) return resolve([x]);
        all[i] = x;
        if (--left === 0) resolve(all);
      }, reject));
    });
  } catch (e) {
    await stopAll();
    throw e;
  }
  if (done.some((d) => "unsplittable" in d)) {
    await stopAll();
    return single();
  }
  const shards = done.filter((d): d is { shard: ShardEnd; info: CaptureInfo } => "shard" in d);
  // A file still being written: the workers may have read different lengths of it.
  if (shards.length !== jobs || shards.some((s) => s.info.packets !== shards[0]!.info.packets || s.info.error !== shards[0]!.info.error)) {
    return single();
  }
  // Every worker read the same records; worker 0's account of the file stands for all.
  return { info: shards[0]!.info, result: mergeShards(shards.map((d) => d.shard), analyzers) };
}
