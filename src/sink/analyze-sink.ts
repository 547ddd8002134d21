/**
 * `analyze --sink URL`: what the command does around the analysis. Before it, the URL and
 * password are checked and the server asked for its tables (a server that is away fails
 * the run at once, not after minutes of analysis), and the capture's content hash starts;
 * after it, the report goes in (CaptureSink.writeCapture) and one line says what was stored.
 * Loaded only with --sink: the client library is no part of other runs' start-up.
 */
import type { Report } from "../report/model.js";
import { captureIdOf, CaptureSink } from "./capture-sink.js";
import { contentHashOffThread } from "./content-hash-worker.js";
import { describeTarget, parseSinkUrl, SinkConfigError, type ClickHouseTarget } from "./clickhouse-target.js";
import type { ThreadSinkSpec } from "./thread-sink.js";

export interface AnalyzeSinkOptions {
  url: string;
  passwordFile: string | undefined;
  /** The capture file ("-" is refused: its bytes cannot be hashed after the analysis read them). */
  input: string;
  /** Flow filters store part of a capture under the whole capture's id: refused. */
  flowFiltered: boolean;
  hostName: string | undefined;
  version: string;
}

/**
 * `analyze --sink` over many captures: the URL and options checked and the server asked for
 * its tables once, before any capture; what each thread then needs to store its captures.
 */
export async function threadSinkSpec(o: Omit<AnalyzeSinkOptions, "input" | "hostName">): Promise<ThreadSinkSpec> {
  if (o.flowFiltered)
    throw new SinkConfigError("--sink stores whole captures: --flow, --host and --port cannot be used with it");
  const target = parseSinkUrl(o.url, o.passwordFile);
  await (await CaptureSink.open(target, o.version)).close();
  return { target, version: o.version };
}

export class AnalyzeSink {
  private constructor(
    private readonly sink: CaptureSink,
    private readonly target: ClickHouseTarget,
    private readonly contentHash: Promise<string>,
    private readonly o: AnalyzeSinkOptions,
  ) {}

  /** Throws SinkConfigError (bad URL, options) or SinkError (server away). */
  static async start(o: AnalyzeSinkOptions): Promise<AnalyzeSink> {
    if (o.input === "-")
      throw new SinkConfigError("--sink needs a capture file: standard input cannot be hashed into a capture id");
    if (o.flowFiltered)
      throw new SinkConfigError("--sink stores whole captures: --flow, --host and --port cannot be used with it");
    const target = parseSinkUrl(o.url, o.passwordFile);
    const sink = await CaptureSink.open(target, o.version);
    const hash = contentHashOffThread(o.input);
    hash.catch(() => {}); // awaited in store(); an unreadable file fails the analysis first
    return new AnalyzeSink(sink, target, hash, o);
  }

  /**
   * Writes the report; the line to print on stderr. Throws SinkError when the server fails.
   * An interrupted analysis (Ctrl-C) is not stored: its rows would stand for the whole capture.
   */
  async store(report: Report, interrupted: boolean): Promise<string> {
    try {
      if (interrupted)
        return `the analysis was interrupted: nothing stored in ${describeTarget(this.target)} (part of a capture would count as all of it)`;
      const captureId = captureIdOf(await this.contentHash, report.capture.selection);
      const r = await this.sink.writeCapture(
        { captureId, file: report.capture.file, host: this.o.hostName ?? "" },
        report,
      );
      const what = `${r.flows} flow(s) and ${r.findings} finding(s) of capture ${captureId.slice(0, 12)}`;
      return r.written
        ? `stored ${what} in ${describeTarget(this.target)}`
        : `${what} already stored in ${describeTarget(this.target)}: nothing written`;
    } finally {
      await this.sink.close();
    }
  }

  close(): Promise<void> {
    return this.sink.close();
  }
}
