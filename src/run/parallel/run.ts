/**
 * `--jobs N`: the main thread reads the capture once, routes every record with the
 * ShardRouter (router.ts), writes it to a ring every worker reads and analyses shard 0
 * itself (its modules are loaded; a worker takes a few hundred ms to start); N−1 worker
 * threads replay the ring, each analysing its shard's packets and taking every other
 * record as a clock tick (record-ring.ts, shard.ts). Their outcomes merge into what one engine would have
 * reported (merge.ts). A capture the router finds it cannot split is analysed again on one
 * thread (`single`): after Ctrl-C, up to the line the reader was stopped at (its signal
 * has fired, so that reading is not cut short again: see ReadOptions).
 */
import { Worker } from "node:worker_threads";
import type { CaptureInfo } from "../../capture/record.js";
import { DEFAULT_MAX_FLOWS } from "../../decode/flow/table.js";
import { ANALYZERS } from "../../analyze/registry.js";
import type { AnalysisResult } from "../../analyze/result.js";
import type { ReadOptions } from "../../capture/reader.js";
import type { AnalyzerDescriptor } from "../../analyze/analyzer.js";
import { mergeShards } from "./merge.js";
import type { ShardEnd, WorkerEngineOptions, WorkerInit, WorkerMessage } from "./protocol.js";
import { newRing, RingWriter } from "./record-ring.js";
import { readAndAnalyse, Stopped, Unsplittable } from "./shard.js";
import { StopLine } from "./stop-line.js";

type Outcome = { info: CaptureInfo; result: AnalysisResult };

/** What a `--jobs` run takes of the pipeline's options (RunOptions): what every shard is analysed with. */
export interface ParallelOptions extends WorkerEngineOptions {
  analyzers?: AnalyzerDescriptor<any>[];
  chunkSize?: number;
  signal?: AbortSignal;
  onProgress?: ReadOptions["onProgress"];
}

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
  // Ctrl-C: the reader stops at a line (a frame), every shard having seen the records before it.
  const line = StopLine.create(1);
  const signal = opts.signal;
  let lastFrame: number | undefined;
  const drawLine = () => {
    lastFrame = line.draw();
  };
  signal?.addEventListener("abort", drawLine, { once: true });
  if (signal?.aborted) drawLine();
  // Shard 0 is the reader's own. (A reader that only reads and routes, with a worker per
  // shard, cost 20% more CPU in all on 2 cores: docs/PERFORMANCE.md.)
  const ring = newRing(jobs - 1);
  const init = (index: number): WorkerInit => ({
    path,
    index,
    workers: jobs,
    analyzerIds: analyzers.map((a) => a.id),
    engine,
    chunkSize: opts.chunkSize,
    stopLine: line.buffer,
    ring: index === 0 ? null : ring,
  });
  // A failing worker stops the run: the workers are terminated, the reader stops at its next record.
  let stop: Error | null = null;
  const workers: Worker[] = [];
  const others = Array.from(
    { length: jobs - 1 },
    (_, k) =>
      new Promise<ShardEnd>((resolve, reject) => {
        const index = k + 1;
        const w = new Worker(new URL("./worker.js", import.meta.url), { workerData: init(index) });
        workers.push(w);
        let settled = false;
        w.on("message", (m: WorkerMessage) => {
          settled = true;
          if (m.type === "done") resolve(m.shard);
          else reject(new Error(`worker ${index}: ${m.message}`));
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
  let shards: ShardEnd[];
  let info: CaptureInfo;
  try {
    const mine = await readAndAnalyse(
      init(0),
      new RingWriter(ring, jobs - 1),
      opts.onProgress,
      () => stop,
      () => String(signal?.reason),
    );
    info = mine.info;
    shards = [mine.shard, ...(await Promise.all(others))];
  } catch (caught) {
    await stopAll();
    const e = caught instanceof Stopped ? caught.reason : caught;
    if (e instanceof Unsplittable) return single(lastFrame);
    throw e;
  } finally {
    signal?.removeEventListener("abort", drawLine);
  }
  // One reading: its account of the file stands for every shard.
  return { info, result: mergeShards(shards, analyzers) };
}
