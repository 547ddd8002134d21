/**
 * The report of many captures in one run, written as the captures' outcomes arrive (in
 * the order the captures were named, run/captures/pool.ts) so each capture's report is
 * let go once its part is written: the run holds what a few per-capture reports hold,
 * however many captures there are. Every format has the same three parts (CombinedWriter):
 * its opening, one part per capture (that capture's own report as a one-capture run would
 * print it, with its file, host and content hash), and a closing table of the captures.
 */
import { basename, dirname, resolve } from "node:path";
import type { CaptureSummary, Report } from "./model.js";

export const COMBINED_SCHEMA = "sockscope.reports/1";

/** What the closing table says of one capture: kept for every capture (a few hundred bytes each). */
export interface CaptureRow {
  file: string;
  /** The host the capture was taken on (--capture-host); null when not known. */
  host: string | null;
  /** SHA-256 of the file's bytes, hex: the same capture under another name has the same. */
  contentHash: string | null;
  /** Why no packet of it could be read (file, offset, problem); null when it was analysed. */
  error: string | null;
  summary: CaptureSummary | null;
  findings: { error: number; warning: number; info: number };
}

/**
 * The host of a capture from --capture-host: the name as given, with `{dir}` standing for
 * the name of the directory the capture is in (captures/db1/eth0-0001.pcap → db1). A pcapng
 * file names no host (its sections give application, OS and hardware, in `capture.pcapng`).
 */
export function captureHost(pattern: string | undefined, file: string): string | null {
  if (pattern === undefined) return null;
  return pattern.replaceAll("{dir}", basename(dirname(resolve(file))));
}

export function captureRow(
  file: string,
  host: string | null,
  contentHash: string | null,
  report: Report | null,
  error: string | null,
): CaptureRow {
  const findings = { error: 0, warning: 0, info: 0 };
  for (const f of report?.findings ?? []) findings[f.severity]++;
  return { file, host, contentHash, error, summary: report?.capture ?? null, findings };
}

/** What a writer needs of one capture's outcome (run/captures/one.ts makes it). */
export interface CapturePart {
  file: string;
  /** The capture could not be read at all (one line). */
  error: string | null;
  row: CaptureRow;
  /** The capture's part of the report, as lines; null when it could not be read. */
  part: string[] | null;
}

/** One output format of a many-capture run, in its three parts; each returns lines to write. */
export interface CombinedWriter {
  begin(total: number): Iterable<string>;
  capture(o: CapturePart, index: number, total: number): Iterable<string>;
  /** `skipped`: what the command line named that was not read (a directory's other files, a glob matching nothing). */
  end(rows: readonly CaptureRow[], skipped: readonly string[]): Iterable<string>;
}

/** ndjson-ecs: every capture's records (rendered with its file, hash and host), nothing around them. */
export function ecsWriter(): CombinedWriter {
  return {
    begin: () => [],
    capture: (o) => o.part ?? [],
    end: () => [],
  };
}
