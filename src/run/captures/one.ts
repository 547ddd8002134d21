/**
 * One capture of a many-capture run, analysed whole on the thread it is given to (a pool
 * worker, or the main thread with one job), and its part of the report rendered there too
 * (report/capture-part.ts). What goes back is that part as a string, the capture's row of
 * the closing table and its problems as lines, or, for `check`, the report itself.
 */
import { CaptureError } from "../../capture/errors.js";
import { fileContentHash } from "../../capture/content-hash.js";
import { CaptureFilter } from "../../capture/filter/compile.js";
import { analysisWarnings, buildReportFrom, type FlowFilter, type Report } from "../../report/model.js";
import { captureHost, captureRow, type CaptureRow } from "../../report/combined.js";
import { renderCapturePart, type PartOptions } from "../../report/capture-part.js";
import { analyzeCapture, type RunOptions } from "../pipeline.js";
import type { StoreOutcome, ThreadSinkSpec } from "../../sink/thread-sink.js";

/** The options every capture of the run is analysed with; plain data, so a worker gets them as they are. */
export interface OneCaptureOptions {
  engine: Pick<RunOptions, "analyzer" | "maxFlows" | "fragmentTimeoutSec" | "maxPendingDatagrams" | "maxFragmentBytes">;
  /** The capture filter's expression (compiled per capture: libpcap compiles for its link type) and -c. */
  filter: string | null;
  count: number | null;
  flowFilter: FlowFilter;
  /** --capture-host, `{dir}` not yet made the capture's directory. */
  captureHost?: string;
  /** The part of the report to render; "report": none, the report itself comes back (check). */
  output: PartOptions | "report";
  /** analyze --sink: each capture stored by the thread that analysed it. */
  sink?: ThreadSinkSpec;
}

export interface CaptureOutcome {
  file: string;
  /** SHA-256 of the file's bytes (capture/content-hash.ts); null when it could not be read, and for check. */
  contentHash: string | null;
  /** The capture could not be read at all (one line: file, offset, problem). */
  error: string | null;
  /** The capture's own problems (damage after good packets, interruption), one line each. */
  problems: string[];
  /** The analysis's warnings past the capture's problems (a full flow table, clock jumps). */
  analysisWarnings: string[];
  row: CaptureRow;
  /** The capture's part of the report, as lines to write; null when it could not be read, or with output "report". */
  part: string[] | null;
  /** With output "report" only. */
  report: Report | null;
  /** With --sink: what storing the capture gave; null without it or when the capture could not be read. */
  stored: StoreOutcome | null;
}

export async function analyseOneCapture(
  file: string,
  o: OneCaptureOptions,
  onProgress: (bytes: number, packets: number) => void,
  signal: AbortSignal | undefined,
): Promise<CaptureOutcome> {
  const host = captureHost(o.captureHost, file);
  const failed = (error: string, problems: string[]): CaptureOutcome => ({
    file,
    contentHash: null,
    error,
    problems,
    analysisWarnings: [],
    row: captureRow(file, host, null, null, error),
    part: null,
    report: null,
    stored: null,
  });
  const select =
    o.filter === null && o.count === null
      ? undefined
      : { filter: o.filter === null ? null : new CaptureFilter(o.filter), count: o.count };
  // The HTML page's graphs need per-packet series: collected only for it.
  const html = o.output !== "report" && o.output.format === "html";
  const series = html ? new (await import("../series.js")).SeriesCollector() : null;
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
    if (e instanceof CaptureError) return failed(e.message, []);
    throw e;
  }
  const { info, result, selected } = run;
  const problems = [...info.warnings];
  if (info.error !== null && info.packets === 0) return failed(info.error, problems);
  if (info.error !== null) problems.push(info.error);
  const report = buildReportFrom(info, result, o.flowFilter, selected?.summary() ?? null);
  const contentHash = o.output === "report" ? null : await fileContentHash(file);
  const row = captureRow(file, host, contentHash, report, null);
  // Loaded only with --sink: the client library is no part of other runs.
  const stored =
    o.sink === undefined || contentHash === null
      ? null
      : await (await import("../../sink/thread-sink.js")).storeOnThisThread(
          o.sink,
          report,
          contentHash,
          host,
          info.interrupted !== undefined,
        );
  return {
    file,
    contentHash,
    error: null,
    problems,
    analysisWarnings: analysisWarnings(report, info),
    row,
    part: o.output === "report" ? null : await renderCapturePart(report, row, series, o.output),
    report: o.output === "report" ? report : null,
    stored,
  };
}
