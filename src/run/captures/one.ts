/**
 * One capture of a many-capture run, analysed whole on the thread it is given to (a pool
 * worker, or the main thread with one job): its report, content hash and, for the HTML
 * report, its page (rendered where its packet series were collected, so they never cross
 * threads). What goes back is what the per-capture report holds, and its problems as lines.
 */
import { CaptureError } from "../../capture/errors.js";
import { fileContentHash } from "../../capture/content-hash.js";
import { CaptureFilter } from "../../capture/filter/compile.js";
import { analysisWarnings, buildReportFrom, type FlowFilter, type Report } from "../../report/model.js";
import { analyzeCapture, type RunOptions } from "../pipeline.js";

/** The options every capture of the run is analysed with; plain data, so a worker gets them as they are. */
export interface OneCaptureOptions {
  engine: Pick<RunOptions, "analyzer" | "maxFlows" | "fragmentTimeoutSec" | "maxPendingDatagrams" | "maxFragmentBytes">;
  /** The capture filter's expression (compiled per capture: libpcap compiles for its link type) and -c. */
  filter: string | null;
  count: number | null;
  flowFilter: FlowFilter;
  /** Render the capture's HTML page too. */
  html: boolean;
  /** Leave out the content hash (check compares findings, and need not read each file twice). */
  noHash?: boolean;
}

export interface CaptureOutcome {
  file: string;
  /** SHA-256 of the file's bytes (capture/content-hash.ts); null when it could not be read. */
  contentHash: string | null;
  /** null when no packet could be read: `error` says why. */
  report: Report | null;
  /** The capture could not be read at all (one line: file, offset, problem). */
  error: string | null;
  /** The capture's own problems (damage after good packets, interruption), one line each. */
  problems: string[];
  /** The analysis's warnings past the capture's problems (a full flow table, clock jumps). */
  analysisWarnings: string[];
  html: string | null;
}

export async function analyseOneCapture(
  file: string,
  o: OneCaptureOptions,
  onProgress: (bytes: number, packets: number) => void,
  signal: AbortSignal | undefined,
): Promise<CaptureOutcome> {
  const none = { contentHash: null, report: null, analysisWarnings: [], html: null };
  const select =
    o.filter === null && o.count === null
      ? undefined
      : { filter: o.filter === null ? null : new CaptureFilter(o.filter), count: o.count };
  const html = o.html ? await import("../../report/html/index.js") : null;
  const series = html !== null ? new (await import("../series.js")).SeriesCollector() : null;
  let run: Awaited<ReturnType<typeof analyzeCapture>>;
  try {
    run = await analyzeCapture(file, {
      ...o.engine,
      select,
      signal,
      onProgress,
      ...(series === null ? {} : { observer: series.observe }),
    });
  } catch (e) {
    if (e instanceof CaptureError) return { file, ...none, error: e.message, problems: [] };
    throw e;
  }
  const { info, result, selected } = run;
  const problems = [...info.warnings];
  if (info.error !== null && info.packets === 0) return { file, ...none, error: info.error, problems };
  if (info.error !== null) problems.push(info.error);
  const report = buildReportFrom(info, result, o.flowFilter, selected?.summary() ?? null);
  return {
    file,
    contentHash: o.noHash === true ? null : await fileContentHash(file),
    report,
    error: null,
    problems,
    analysisWarnings: analysisWarnings(report, info),
    html: html === null ? null : html.renderHtml(report, series),
  };
}
