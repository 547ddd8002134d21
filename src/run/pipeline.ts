/**
 * One pass over a capture: reader → engine, with optional per-packet observer and
 * progress. The single place the CLI and the library API run an analysis from.
 */
import { availableParallelism } from "node:os";
import { statSync } from "node:fs";
import { newCaptureInfo, readCapture, type ReadOptions } from "../capture/reader.js";
import type { CaptureInfo } from "../capture/record.js";
import { Engine, type EngineOptions, type PacketObserver } from "./packet-loop.js";
import { engineResult, type AnalysisResult } from "../analyze/result.js";
import { buildReportFrom, type FlowFilter, type Report } from "../report/model.js";
import { runParallel } from "./parallel/run.js";
import { ANALYZERS } from "../analyze/registry.js";
import { SelectingSink, type PacketSelection } from "../capture/filter/select.js";

export interface RunOptions extends EngineOptions {
  observer?: PacketObserver;
  onProgress?: ReadOptions["onProgress"];
  chunkSize?: number;
  /** Only these packets are analysed (capture filter, -c): the analyzers never see the others. */
  select?: PacketSelection;
  /** Stops the reading early (Ctrl-C): the packets read until then are analysed (ReadOptions.signal). */
  signal?: AbortSignal;
  /** The input's name in messages, when `path` is a stand-in (the spooled copy of standard input). */
  inputName?: string;
  /** Reads no further than this frame (a second pass over what a first pass read): ReadOptions.lastFrame. */
  lastFrame?: number;
}

export interface RunResult {
  info: CaptureInfo;
  engine: Engine;
  /** What the selection kept, when there was one. */
  selected: SelectingSink | null;
}

/** Reads and analyses the whole capture. Throws CaptureError only if it cannot be read at all. */
export async function runCapture(path: string, opts: RunOptions = {}): Promise<RunResult> {
  const engine = new Engine(opts);
  if (opts.observer) engine.observer = opts.observer;
  const selected = opts.select === undefined ? null : new SelectingSink(opts.select, engine.onPacket);
  // The analyzers read the file's sections and interfaces as the reader learns them.
  const info = newCaptureInfo(path);
  engine.sink.capture = info;
  await readCapture(path, selected?.onPacket ?? engine.onPacket, {
    info,
    onProgress: opts.onProgress,
    chunkSize: opts.chunkSize,
    signal: opts.signal,
    name: opts.inputName,
    lastFrame: opts.lastFrame,
    stop: selected === null ? undefined : () => selected.done,
  });
  engine.finish();
  return { info, engine, selected };
}

export interface AnalyzeOptions extends RunOptions {
  /**
   * Worker threads (`--jobs`): 1 analyses on this thread; more shard the flows across
   * workers with the same outcome. Per-packet callbacks (observer, onFinding, tags),
   * analyzers not in the registry, standard input, a packet selection (capture filter,
   * -c) and captures the router cannot split (IP fragments, several VLANs) run on one
   * thread whatever this says.
   */
  jobs?: number;
  filter?: FlowFilter;
}

/**
 * Below this size a capture is analysed on one thread: it takes a couple of seconds, and a
 * second thread's start-up (a few hundred ms to load its modules) and the main thread's
 * reading, routing and ring writes for all (run/parallel/) eat what sharing the analysis
 * saves. Measured with 2 threads on our 2-vCPU machines, when every thread still framed
 * the whole file: 0.95x at 184 MB, 1.0x at 740 MB, 1.46x at 1.5 GB; with the one reader,
 * 1.02x at 1.7 GB on a moment when the earlier design gave 1.06x (docs/PERFORMANCE.md).
 */
export const PARALLEL_MIN_BYTES = 512 << 20;

/**
 * Threads at most by default: the main thread reads, routes and writes every record for
 * all of them besides analysing its own share, so past a few it is the one they wait for
 * (the README's model of 2 to 16 threads).
 */
export const MAX_DEFAULT_JOBS = 4;

/** `--jobs` when not given: a thread per core (up to MAX_DEFAULT_JOBS) for a capture file big enough to gain from it, else one. */
export function defaultJobs(path: string): number {
  if (path === "-") return 1;
  try {
    if (statSync(path).size < PARALLEL_MIN_BYTES) return 1;
  } catch {
    return 1; // let the reader report why it cannot open it
  }
  return Math.min(availableParallelism(), MAX_DEFAULT_JOBS);
}

/**
 * The least capture share a thread is started for: a worker takes a few hundred ms to
 * load its modules, and a 32 MB share takes about as long to analyse (~1 M packets/s per
 * thread).
 */
export const MIN_BYTES_PER_JOB = 32 << 20;

/** What `--jobs N` comes to (jobsFor), and what capped it, for the CLI to word. */
export interface JobsCap {
  jobs: number;
  /** Why `jobs` is below N: standard input, the file's size, the machine's cores; null when N stands. */
  cappedBy: "stdin" | "size" | "cores" | null;
  /** The file's size in bytes; null when not looked at (N of 1, standard input, a file that cannot be opened). */
  size: number | null;
  cores: number;
}

/**
 * `--jobs N` as the file and the machine can use it: at most one thread per core and
 * per MIN_BYTES_PER_JOB of capture, one for standard input. `--jobs 64` on a 5 KB file
 * started 64 threads (5.9 s and 753 MB for what one does in 0.3 s).
 */
export function jobsFor(path: string, requested: number): JobsCap {
  const cores = availableParallelism();
  if (requested <= 1) return { jobs: 1, cappedBy: null, size: null, cores };
  if (path === "-") return { jobs: 1, cappedBy: "stdin", size: null, cores };
  let size: number;
  try {
    size = statSync(path).size;
  } catch {
    return { jobs: 1, cappedBy: null, size: null, cores }; // the reader says why it cannot open it
  }
  const bySize = Math.max(1, Math.floor(size / MIN_BYTES_PER_JOB));
  const jobs = Math.min(requested, cores, bySize);
  if (jobs === requested) return { jobs, cappedBy: null, size, cores };
  return { jobs, cappedBy: bySize < cores ? "size" : "cores", size, cores };
}

/** Reads and analyses the whole capture, on `jobs` worker threads when more than one. */
export async function analyzeCapture(
  path: string,
  opts: AnalyzeOptions = {},
): Promise<{ info: CaptureInfo; result: AnalysisResult; selected: SelectingSink | null }> {
  const single = async (lastFrame?: number) => {
    const { info, engine, selected } = await runCapture(path, lastFrame === undefined ? opts : { ...opts, lastFrame });
    return { info, result: engineResult(engine), selected };
  };
  const jobs = opts.jobs ?? 1;
  // A selection runs on one thread: the shards would each have to filter the whole file, and -c needs one count.
  const perPacket =
    opts.observer !== undefined ||
    opts.collectTags ||
    opts.onFinding !== undefined ||
    opts.onFlowEnd !== undefined ||
    opts.select !== undefined;
  // Workers read their packets' bytes from the file (so not standard input) and load analyzers from the registry.
  const registered = (opts.analyzers ?? ANALYZERS).every((a) => ANALYZERS.includes(a));
  if (jobs > 1 && !perPacket && path !== "-" && registered)
    return { ...(await runParallel(path, opts, jobs, single)), selected: null };
  return single();
}

/** Library entry point: the whole report of a capture file ("-" for stdin). */
export async function analyzeFile(path: string, opts: AnalyzeOptions = {}): Promise<Report> {
  const { info, result, selected } = await analyzeCapture(path, opts);
  return buildReportFrom(info, result, opts.filter, selected?.summary() ?? null);
}
