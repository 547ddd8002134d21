/**
 * `--jobs N`: N threads each read the capture and route every record with the same
 * ShardRouter (router.ts), each analysing the flows of its shard (shard.ts): the main
 * thread takes shard 0 itself (its modules are loaded; a worker takes a few hundred ms to
 * start) and N−1 worker threads the others (worker.ts). Their outcomes merge into what
 * one engine would have reported (merge.ts). A capture the router finds it cannot split,
 * or one that changed while the threads read it, is analysed again on one thread (`single`):
 * after Ctrl-C, up to the line the threads were stopped at (their signal has fired, so
 * that reading is not cut short again: see ReadOptions).
 */
import { Worker } from "node:worker_threads";
import { CaptureError } from "../../capture/errors.js";
import type { CaptureInfo } from "../../capture/record.js";
import { DEFAULT_MAX_FLOWS } from "../../decode/flow/table.js";
import { ANALYZERS } from "../../analyze/registry.js";
import type { AnalysisResult } from "../../analyze/result.js";
import type { ReadOptions } from "../../capture/reader.js";
import type { AnalyzerDescriptor } from "../../analyze/analyzer.js";
import { mergeShards } from "./merge.js";
import type { ShardEnd, WorkerEngineOptions, WorkerInit, WorkerMessage } from "./protocol.js";
import { analyseShard, Stopped, Unsplittable } from "./shard.js";
import { StopLine } from "./stop-line.js";

type Outcome = { info: CaptureInfo; result: AnalysisResult };

/** What a `--jobs` run takes of the pipeline's options (RunOptions): what every shard is analysed with. */
export interface ParallelOptions extends WorkerEngineOptions {
  analyzers?: AnalyzerDescriptor<any>[];
  chunkSize?: number;
  signal?: AbortSignal;
  onProgress?: ReadOptions["onProgress"];
}
type ShardOutcome = { shard: ShardEnd; info: CaptureInfo };

export async function runParallel(
  path: string,
  opts: ParallelOptions,
  jobs: number,
  single: (lastFrame?: number) => Promise<Outcome>,
): Promise<Outcome> {
  const analyzers = opts.analyzers ?? ANALYZERS;
  // The flow-table bound holds for the whole run: each shard gets its share.
  const engine = {
    analyzer: opts.analyzer,
    maxFlows: Math.ceil((opts.maxFlows ?? DEFAULT_MAX_FLOWS) / jobs),
    fragmentTimeoutSec: opts.fragmentTimeoutSec,
    maxPendingDatagrams: opts.maxPendingDatagrams,
    maxFragmentBytes: opts.maxFragmentBytes,
    maxFragmentsPerDatagram: opts.maxFragmentsPerDatagram,
  };
  // Ctrl-C: every thread stops at the same frame, so that their shards still merge.
  const line = StopLine.create(jobs);
  const signal = opts.signal;
  let lastFrame: number | undefined;
  const drawLine = () => {
    lastFrame = line.draw();
  };
  signal?.addEventListener("abort", drawLine, { once: true });
  if (signal?.aborted) drawLine();
  const init = (index: number): WorkerInit => ({
    path,
    index,
    workers: jobs,
    analyzerIds: analyzers.map((a) => a.id),
    engine,
    chunkSize: opts.chunkSize,
    stopLine: line.buffer,
  });
  // The first shard to fail, or to find the capture unsplittable, stops every other: the
  // workers are terminated, the main thread's shard stops at its next record.
  let stop: Error | null = null;
  const workers: Worker[] = [];
  const others = Array.from(
    { length: jobs - 1 },
    (_, k) =>
      new Promise<ShardOutcome>((resolve, reject) => {
        const index = k + 1;
        const w = new Worker(new URL("./worker.js", import.meta.url), { workerData: init(index) });
        workers.push(w);
        let settled = false;
        w.on("message", (m: WorkerMessage) => {
          settled = true;
          if (m.type === "done") resolve({ shard: m.shard, info: m.info });
          else if (m.type === "unsplittable") reject(new Unsplittable(m.reason));
          else {
            const c = m.captureError;
            reject(
              c !== null ? new CaptureError(c.file, c.offset, c.problem) : new Error(`worker ${index}: ${m.message}`),
            );
          }
        });
        w.on("error", (e: Error & { code?: string }) => {
          settled = true;
          reject(
            e.code === "ERR_WORKER_OUT_OF_MEMORY"
              ? new Error(`worker ${index} ran out of memory (${e.message}): use a lower --max-flows`)
              : e,
          );
        });
        w.on("exit", (code) => {
          if (!settled) reject(new Error(`worker ${index} exited (code ${code}) before it finished`));
        });
      }),
  );
  for (const o of others)
    o.catch((e: Error) => {
      stop ??= e;
    });
  const stopAll = (): Promise<unknown> => Promise.all(workers.map((w) => w.terminate()));
  let shards: ShardOutcome[];
  try {
    const mine = await analyseShard(
      init(0),
      opts.onProgress,
      () => stop,
      () => String(signal?.reason),
    );
    shards = [mine, ...(await Promise.all(others))];
  } catch (caught) {
    await stopAll();
    const e = caught instanceof Stopped ? caught.reason : caught;
    if (e instanceof Unsplittable) return single(lastFrame);
    throw e;
  } finally {
    signal?.removeEventListener("abort", drawLine);
  }
  // A file still being written: the threads may have read different lengths of it.
  if (shards.some((s) => s.info.packets !== shards[0]!.info.packets || s.info.error !== shards[0]!.info.error)) {
    return single(lastFrame);
  }
  // Every thread read the same records; the main thread's account of the file stands for all.
  return {
    info: shards[0]!.info,
    result: mergeShards(
      shards.map((d) => d.shard),
      analyzers,
    ),
  };
}
