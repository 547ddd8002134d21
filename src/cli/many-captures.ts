/**
 * `sockscope analyze` over several captures (files, directories, globs): each analysed
 * whole by one of --jobs worker threads (run/captures/pool.ts), one combined report
 * (report/combined*.ts) in the format asked for, each capture's part written as soon as
 * it and those before it are done, progress on stderr, and an exit code that says whether
 * every capture could be read.
 */
import { availableParallelism } from "node:os";
import { expandCaptureInputs } from "../run/captures/inputs.js";
import { runCaptures } from "../run/captures/pool.js";
import type { CaptureOutcome, OneCaptureOptions } from "../run/captures/one.js";
import { ecsWriter, type CaptureRow, type CombinedWriter } from "../report/combined.js";
import type { PartOptions } from "../report/capture-part.js";
import { PLAIN } from "../report/style.js";
import { jsonWriter } from "../report/combined-json.js";
import { textWriter } from "../report/combined-text.js";
import type { Style } from "../report/style.js";
import { ManyProgress } from "./progress.js";
import { FileLines, Output } from "./output.js";
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
  capture: Omit<OneCaptureOptions, "output" | "captureHost">;
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

async function writerFor(o: ManyOptions): Promise<CombinedWriter> {
  if (o.format === "json") return jsonWriter();
  if (o.format === "ndjson-ecs") return ecsWriter();
  if (o.format === "html") return (await import("../report/html/combined.js")).htmlWriter(`sockscope ${o.version}`);
  return textWriter(o.text.style);
}

/** Each capture's problems on stderr, as a one-capture run prints them: also when the report goes to a file. */
function printProblems(
  c: { file: string; error: string | null; problems: string[]; analysisWarnings: string[] },
  format: string,
): void {
  const lines =
    c.error !== null
      ? [c.error]
      : [...c.problems, ...(format === "text" ? [] : c.analysisWarnings.map((w) => `${c.file}: ${w}`))];
  for (const l of lines.slice(0, MAX_PROBLEM_LINES)) process.stderr.write(`sockscope: ${l}\n`);
  if (lines.length > MAX_PROBLEM_LINES)
    process.stderr.write(
      `sockscope: ${c.file}: … and ${lines.length - MAX_PROBLEM_LINES} more (listed in the report)\n`,
    );
}

export async function analyzeMany(o: ManyOptions): Promise<number> {
  const { captures, skipped } = expandCaptureInputs(o.words);
  for (const s of skipped) process.stderr.write(`sockscope: ${s}\n`);
  if (captures.length === 0) throw new UsageError(`no capture files in ${o.words.join(", ")}`, "analyze");
  const writer = await writerFor(o);
  let out: FileLines | Output;
  try {
    out = o.output === undefined ? new Output() : new FileLines(o.output);
  } catch (e) {
    process.stderr.write(`sockscope: cannot write ${o.output}: ${(e as Error).message}\n`);
    return EXIT_USAGE;
  }
  const write = (lines: Iterable<string>) => {
    for (const l of lines) out.line(l);
  };
  const mode = o.quiet ? "off" : process.stderr.isTTY ? "tty" : o.progress ? "lines" : "off";
  const progress = new ManyProgress(mode);
  const rows: CaptureRow[] = [];
  const problems: Parameters<typeof printProblems>[0][] = [];
  const stored: NonNullable<CaptureOutcome["stored"]>[] = [];
  try {
    write(writer.begin(captures.length));
    await runCaptures(
      captures,
      {
        ...o.capture,
        captureHost: o.captureHost,
        output: {
          format: o.format as PartOptions["format"],
          color: o.text.style !== PLAIN,
          brief: o.text.brief,
          all: o.text.all,
          version: o.version,
        },
      },
      {
        jobs: jobsFor(o.jobs, captures.length, o.quiet),
        onProgress: progress.update,
        signal: o.signal,
        onOutcome: (i, c) => {
          rows.push(c.row);
          write(writer.capture(c, i, captures.length));
          // What stderr needs of it; its part goes once written.
          problems.push({ file: c.file, error: c.error, problems: c.problems, analysisWarnings: c.analysisWarnings });
          if (c.stored !== null) stored.push(c.stored);
        },
      },
    );
    write(writer.end(rows, skipped));
  } catch (e) {
    if (o.output !== undefined && (e as NodeJS.ErrnoException).code !== undefined) {
      process.stderr.write(`sockscope: cannot write ${o.output}: ${(e as Error).message}\n`);
      return EXIT_USAGE;
    }
    throw e;
  } finally {
    progress.done();
    if (out instanceof FileLines) out.end();
    // With one job the captures were stored on this thread: its connection would keep the process up.
    if (o.capture.sink !== undefined) await (await import("../sink/thread-sink.js")).closeThreadSink();
  }
  if (out instanceof Output) await out.end();
  for (const p of problems) printProblems(p, o.format);
  for (const s of stored) if (s.line !== null && !o.quiet) process.stderr.write(`sockscope: ${s.line}\n`);
  // A capture the store refused fails the run as an unreadable one does: the rest were stored.
  const notStored = stored.filter((s) => s.error !== null);
  for (const s of notStored) process.stderr.write(`sockscope: ${s.error}\n`);
  if (notStored.length > 0) return EXIT_USAGE;
  // A capture that could not be read at all fails the run, after the others' report: a cron
  // job over a directory must notice the one broken file. Ctrl-C leaves the rest unread, as asked.
  const unread = rows.filter((c) => c.error !== null).length;
  if (unread > 0 && !o.signal.aborted) {
    process.stderr.write(`sockscope: ${unread} of ${rows.length} captures could not be read\n`);
    return EXIT_USAGE;
  }
  return EXIT_OK;
}
