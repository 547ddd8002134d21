/**
 * A many-capture run: every capture analysed whole by one of `jobs` worker threads, each
 * taking the next capture as it finishes one (so a big capture does not hold up the small
 * ones behind it). Outcomes are handed over in the order the captures were named, so the
 * caller can write each capture's part of the report and let it go. With one job the
 * captures are analysed in turn on this thread (no worker to start). A capture is never
 * split across threads here: with many captures, each thread has a whole one.
 *
 * Memory: a worker holds one capture's analysis at a time and renders its part of the
 * report there (one.ts), and no capture is started more than 2 × jobs places ahead of the
 * oldest one not yet handed over: at most that many rendered parts wait at once, however
 * many captures there are.
 */
import { Worker } from "node:worker_threads";
import { analyseOneCapture, type CaptureOutcome, type OneCaptureOptions } from "./one.js";
import type { ToPool, ToWorker } from "./protocol.js";
import { captureHost, captureRow } from "../../report/combined.js";

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
  /** Each capture's outcome, in the order the captures were named; its report is the caller's to keep or drop. */
  onOutcome: (index: number, o: CaptureOutcome) => void;
}

/** The outcome of a capture Ctrl-C came before. */
function notStarted(file: string, reason: string, host: string | null): CaptureOutcome {
  const error = `${file}: not read: ${reason} came before its turn`;
  return {
    file,
    contentHash: null,
    error,
    problems: [],
    analysisWarnings: [],
    row: captureRow(file, host, null, null, error),
    part: null,
    report: null,
    stored: null,
  };
}

export async function runCaptures(
  files: readonly string[],
  options: OneCaptureOptions,
  pool: PoolOptions,
): Promise<void> {
  const waiting = new Map<number, CaptureOutcome>(); // finished, not yet handed over
  const reading = new Map<number, number>(); // capture index → packets read so far
  let handed = 0,
    done = 0,
    donePackets = 0,
    findings = 0;
  const report = () => {
    let packets = donePackets;
    for (const n of reading.values()) packets += n;
    pool.onProgress?.({ done, total: files.length, packets, findings });
  };
  const finish = (index: number, o: CaptureOutcome) => {
    reading.delete(index);
    done++;
    donePackets += o.row.summary?.packets ?? 0;
    findings += o.row.findings.error + o.row.findings.warning + o.row.findings.info;
    report();
    waiting.set(index, o);
    for (let w = waiting.get(handed); w !== undefined; w = waiting.get(handed)) {
      waiting.delete(handed);
      pool.onOutcome(handed++, w);
    }
  };
  const progress = (index: number, packets: number) => {
    reading.set(index, packets);
    report();
  };
  const jobs = Math.max(1, Math.min(pool.jobs, files.length));
  let next = 0;
  /** The next capture to start; null when there is none, or none may start before an older one is handed over. */
  const take = (): number | null =>
    pool.signal?.aborted || next >= files.length || next >= handed + 2 * jobs ? null : next++;

  if (jobs === 1) {
    for (let i = take(); i !== null; i = take())
      finish(i, await analyseOneCapture(files[i]!, options, (_b, p) => progress(i, p), pool.signal));
  } else {
    await inWorkers(files, options, jobs, pool.signal, take, finish, progress);
  }
  const reason = String(pool.signal?.reason ?? "an interruption");
  for (let i = handed; i < files.length; i++)
    finish(i, notStarted(files[i]!, reason, captureHost(options.captureHost, files[i]!)));
}

/** The captures on `jobs` worker threads; an idle worker waits when `take` has nothing for it yet. */
function inWorkers(
  files: readonly string[],
  options: OneCaptureOptions,
  jobs: number,
  signal: AbortSignal | undefined,
  take: () => number | null,
  finish: (index: number, o: CaptureOutcome) => void,
  progress: (index: number, packets: number) => void,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const workers: Worker[] = [];
    const idle: Worker[] = [];
    const ended = new Set<Worker>(); // terminated when out of work: their exit is no failure
    let busy = 0;
    let failed = false;
    const onAbort = () => {
      for (const w of workers) w.postMessage({ type: "stop", reason: String(signal!.reason) } satisfies ToWorker);
    };
    const end = () => {
      signal?.removeEventListener("abort", onAbort);
      for (const w of workers) {
        ended.add(w);
        void w.terminate();
      }
    };
    const fail = (e: Error) => {
      if (failed) return;
      failed = true;
      end();
      reject(e);
    };
    /** Gives work to every idle worker that can have some; ends the run when none is busy and none can. */
    const feed = () => {
      while (idle.length > 0) {
        const i = take();
        if (i === null) break;
        busy++;
        idle.pop()!.postMessage({ type: "capture", index: i, file: files[i]! } satisfies ToWorker);
      }
      if (busy === 0 && !failed) {
        end();
        resolve();
      }
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    for (let k = 0; k < jobs; k++) {
      const w = new Worker(new URL("./worker.js", import.meta.url), { workerData: options });
      workers.push(w);
      idle.push(w);
      w.on("message", (m: ToPool) => {
        if (m.type === "progress") progress(m.index, m.packets);
        else if (m.type === "done") {
          busy--;
          idle.push(w);
          finish(m.index, m.outcome);
          feed();
        } else fail(new Error(`analysing ${files[m.index]}: ${m.message}`));
      });
      w.on("exit", (code) => {
        if (!ended.has(w)) fail(new Error(`a worker exited (code ${code}) before it finished`));
      });
      w.on("error", (e: Error & { code?: string }) =>
        fail(
          e.code === "ERR_WORKER_OUT_OF_MEMORY"
            ? new Error(`a worker ran out of memory (${e.message}): use a lower --max-flows or fewer --jobs`)
            : e,
        ),
      );
    }
    feed();
  });
}
