/**
 * `sockscope analyze` over several captures (files, directories, globs): each analysed
 * whole by one of --jobs worker threads (run/captures/pool.ts), one combined report
 * (report/combined*.ts) in the format asked for, progress on stderr, and an exit code
 * that says whether every capture could be read.
 */
import { availableParallelism } from "node:os";
import { expandCaptureInputs } from "../run/captures/inputs.js";
import { runCaptures } from "../run/captures/pool.js";
import type { OneCaptureOptions } from "../run/captures/one.js";
import { captureHost, combinedEcsLines, type CombinedRun } from "../report/combined.js";
import { combinedJsonLines } from "../report/combined-json.js";
import { combinedTextParts } from "../report/combined-text.js";
import type { Style } from "../report/style.js";
import { ManyProgress } from "./progress.js";
import { Output, writeLinesToFile } from "./output.js";
import { EXIT_OK, EXIT_USAGE } from "./exit-codes.js";
import { UsageError } from "./args.js";

/** Problem lines printed per capture on stderr; the rest are counted (the report lists them all). */
const MAX_PROBLEM_LINES = 5;

export interface ManyOptions {
  words: string[];
  format: string;
  output: string | undefined;
  jobs: number | undefined;
  quiet: boolean;
  /** --progress: progress lines even when stderr is not a terminal. */
  progress: boolean;
  captureHost: string | undefined;
  text: { style: Style; brief: boolean; all: boolean };
  capture: Omit<OneCaptureOptions, "html">;
  signal: AbortSignal;
  version: string;
}

/**
 * Captures analysed at once: one per core by default (each capture is read by one
 * thread), at most one per capture; more than the cores is capped, and said.
 */
function jobsFor(requested: number | undefined, captures: number, quiet: boolean): number {
  const cores = availableParallelism();
  if (requested === undefined) return Math.max(1, Math.min(cores, captures));
  const jobs = Math.max(1, Math.min(requested, cores, captures));
  if (jobs < requested && !quiet) {
    const why = jobs === captures ? `one per capture, ${captures} here` : `this machine has ${cores} cores`;
    process.stderr.write(`sockscope: --jobs ${requested}: using ${jobs} thread${jobs === 1 ? "" : "s"} (${why})\n`);
  }
  return jobs;
}

export async function analyzeMany(o: ManyOptions): Promise<number> {
  const { captures, skipped } = expandCaptureInputs(o.words);
  for (const s of skipped) process.stderr.write(`sockscope: ${s}\n`);
  if (captures.length === 0) throw new UsageError(`no capture files in ${o.words.join(", ")}`, "analyze");
  const html = o.format === "html";
  const mode = o.quiet ? "off" : process.stderr.isTTY ? "tty" : o.progress ? "lines" : "off";
  const progress = new ManyProgress(mode);
  const outcomes = await runCaptures(
    captures,
    { ...o.capture, html },
    { jobs: jobsFor(o.jobs, captures.length, o.quiet), onProgress: progress.update, signal: o.signal },
  );
  progress.done();
  const run: CombinedRun = { outcomes, hosts: captures.map((f) => captureHost(o.captureHost, f)), warnings: skipped };
  const lines: Iterable<string> =
    o.format === "json"
      ? combinedJsonLines(run)
      : o.format === "ndjson-ecs"
        ? combinedEcsLines(run, o.version)
        : html
          ? [(await import("../report/html/combined.js")).renderCombinedHtml(run, `sockscope ${o.version}`)]
          : combinedTextParts(run, o.text);
  if (o.output !== undefined) {
    try {
      writeLinesToFile(o.output, lines);
    } catch (e) {
      process.stderr.write(`sockscope: cannot write ${o.output}: ${(e as Error).message}\n`);
      return EXIT_USAGE;
    }
  } else {
    const out = new Output();
    for (const l of lines) out.line(l);
    await out.end();
  }
  // Each capture's problems, as a one-capture run prints them: also when the report goes to a file.
  for (const c of outcomes) {
    const lines =
      c.error !== null
        ? [c.error]
        : [...c.problems, ...(o.format === "text" ? [] : c.analysisWarnings.map((w) => `${c.file}: ${w}`))];
    for (const l of lines.slice(0, MAX_PROBLEM_LINES)) process.stderr.write(`sockscope: ${l}\n`);
    if (lines.length > MAX_PROBLEM_LINES)
      process.stderr.write(
        `sockscope: ${c.file}: … and ${lines.length - MAX_PROBLEM_LINES} more (listed in the report)\n`,
      );
  }
  // A capture that could not be read at all fails the run, after the others' report: a cron
  // job over a directory must notice the one broken file. Ctrl-C leaves the rest unread, as asked.
  const unread = outcomes.filter((c) => c.error !== null).length;
  if (unread > 0 && !o.signal.aborted) {
    process.stderr.write(`sockscope: ${unread} of ${outcomes.length} captures could not be read\n`);
    return EXIT_USAGE;
  }
  return EXIT_OK;
}
