/**
 * `analyze --sink` over many captures: each capture's report goes into ClickHouse on the
 * thread that analysed it (run/captures/one.ts), so no report crosses threads and captures
 * are stored as they finish. One connection per thread, opened at its first capture and
 * closed when its run ends (closeThreadSink; a pool worker's is closed with the worker).
 */
import type { Report } from "../report/model.js";
import { captureIdOf, CaptureSink } from "./capture-sink.js";
import { describeTarget, SinkError, type ClickHouseTarget } from "./clickhouse-target.js";

/** What a thread needs to store captures: plain data, so a worker gets it as it is. */
export interface ThreadSinkSpec {
  target: ClickHouseTarget;
  version: string;
}

/** One capture's storing: the line to print, or the error that failed it (one line each). */
export interface StoreOutcome {
  line: string | null;
  error: string | null;
}

let open: Promise<CaptureSink> | null = null;

/**
 * Stores the capture's report unless its analysis was interrupted (part of a capture would
 * count as all of it); a server that fails is this capture's error, not the run's end.
 */
export async function storeOnThisThread(
  spec: ThreadSinkSpec,
  report: Report,
  contentHash: string,
  host: string | null,
  interrupted: boolean,
): Promise<StoreOutcome> {
  const where = describeTarget(spec.target);
  if (interrupted) return { line: `${report.capture.file}: interrupted, nothing stored in ${where}`, error: null };
  try {
    open ??= CaptureSink.open(spec.target, spec.version);
    const sink = await open;
    const captureId = captureIdOf(contentHash, report.capture.selection);
    const r = await sink.writeCapture({ captureId, file: report.capture.file, host: host ?? "" }, report);
    const what = `${r.flows} flow(s) and ${r.findings} finding(s) of ${report.capture.file}`;
    return { line: r.written ? `stored ${what} in ${where}` : `${what} already stored: nothing written`, error: null };
  } catch (e) {
    open = null; // the next capture connects afresh: the server may be back
    if (e instanceof SinkError) return { line: null, error: `${report.capture.file}: ${e.message}` };
    throw e;
  }
}

export async function closeThreadSink(): Promise<void> {
  const sink = open;
  open = null;
  if (sink !== null) await (await sink.catch(() => null))?.close();
}
