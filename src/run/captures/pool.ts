/**
 * A many-capture run: every capture analysed whole by one of `jobs` worker threads, each
 * taking the next capture as it finishes one (so a big capture does not hold up the small
 * ones behind it), the outcomes returned in the order the captures were named. With one
 * job the captures are analysed in turn on this thread (no worker to start). A capture is
 * never split across threads here: with many captures, each thread has a whole one.
 *
 * Memory: a worker holds one capture's analysis at a time; what comes back is that
 * capture's report (and HTML page), what a one-capture run would print.
 */
import { Worker } from "node:worker_threads";
import { analyseOneCapture, type CaptureOutcome, type OneCaptureOptions } from "./one.js";
import type { ToPool, ToWorker } from "./protocol.js";

/** Where a run stands, for the progress line. */
export interface PoolProgress {
  done: number;
  total: number;
  /** Packets read so far, of finished captures and those being read. */
  packets: number;
  findings: number;
}

export interface PoolOptions {
  jobs: number;
  onProgress?: (p: PoolProgress) => void;
  /** Ctrl-C: the captures being read end there (their reports cover what was read); the rest are not started. */
  signal?: AbortSignal;
  /**
   * Each capture's outcome as it arrives. With `keepReports: false` the run then forgets
   * its report (runCaptures returns it without), so a caller that uses each report at
   * once (check) holds one at a time.
   */
  onOutcome?: (index: number, o: CaptureOutcome) => void;
  keepReports?: boolean;
}

/** The outcome of a capture Ctrl-C came before. */
function notStarted(file: string, reason: string): CaptureOutcome {
  return {
    file,
    contentHash: null,
    report: null,
    error: `${file}: not read: ${reason} came before its turn`,
    problems: [],
    analysisWarnings: [],
    html: null,
  };
}

export async function runCaptures(
  files: readonly string[],
  options: OneCaptureOptions,
  pool: PoolOptions,
): Promise<CaptureOutcome[]> {
  const outcomes: (CaptureOutcome | undefined)[] = new Array(files.length);
  const reading = new Map<number, number>(); // capture index → packets read so far
  let done = 0,
    donePackets = 0,
    findings = 0;
  const report = () => {
    let packets = donePackets;
    for (const n of reading.values()) packets += n;
    pool.onProgress?.({ done, total: files.length, packets, findings });
  };
  const finish = (index: number, o: CaptureOutcome) => {
    pool.onOutcome?.(index, o);
    outcomes[index] = pool.keepReports === false ? { ...o, report: null, html: null } : o;
    reading.delete(index);
    done++;
    donePackets += o.report?.capture.packets ?? 0;
    findings += o.report?.findings.length ?? 0;
    report();
  };
  const progress = (index: number, packets: number) => {
    reading.set(index, packets);
    report();
  };
  let next = 0;
  const take = (): number | null => (pool.signal?.aborted || next >= files.length ? null : next++);

  if (pool.jobs <= 1 || files.length <= 1) {
    for (let i = take(); i !== null; i = take())
      finish(i, await analyseOneCapture(files[i]!, options, (_b, p) => progress(i, p), pool.signal));
  } else {
    await new Promise<void>((done, reject) => {
      let resolve = done;
      const workers: Worker[] = [];
      let running = 0;
      let failed = false;
      const ended = new Set<Worker>(); // terminated when out of work: their exit is no failure
      const fail = (e: Error) => {
        if (failed) return;
        failed = true;
        for (const w of workers) void w.terminate();
        reject(e);
      };
      const feed = (w: Worker) => {
        const i = take();
        if (i === null) {
          ended.add(w);
          void w.terminate();
          if (--running === 0) resolve();
          return;
        }
        w.postMessage({ type: "capture", index: i, file: files[i]! } satisfies ToWorker);
      };
      const onAbort = () => {
        for (const w of workers)
          w.postMessage({ type: "stop", reason: String(pool.signal!.reason) } satisfies ToWorker);
      };
      pool.signal?.addEventListener("abort", onAbort, { once: true });
      // Every way out of the run takes the listener with it.
      const settle = resolve;
      resolve = () => {
        pool.signal?.removeEventListener("abort", onAbort);
        settle();
      };
      for (let k = 0; k < Math.min(pool.jobs, files.length); k++) {
        const w = new Worker(new URL("./worker.js", import.meta.url), { workerData: options });
        workers.push(w);
        running++;
        w.on("message", (m: ToPool) => {
          if (m.type === "progress") progress(m.index, m.packets);
          else if (m.type === "done") {
            finish(m.index, m.outcome);
            feed(w);
          } else fail(new Error(`analysing ${files[m.index]}: ${m.message}`));
        });
        w.on("exit", (code) => {
          if (!ended.has(w) && !failed) fail(new Error(`a worker exited (code ${code}) before it finished`));
        });
        w.on("error", (e: Error & { code?: string }) =>
          fail(
            e.code === "ERR_WORKER_OUT_OF_MEMORY"
              ? new Error(`a worker ran out of memory (${e.message}): use a lower --max-flows or fewer --jobs`)
              : e,
          ),
        );
        feed(w);
      }
    });
  }
  const reason = String(pool.signal?.reason ?? "an interruption");
  return files.map((f, i) => outcomes[i] ?? notStarted(f, reason));
}
