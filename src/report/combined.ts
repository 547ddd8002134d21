/**
 * The report of many captures in one run (schema "sockscope.reports/1"): each capture's
 * summary, and every capture's flows, findings and habits with the capture they come from.
 * It is written from the per-capture reports as they are (run/captures/pool.ts), never
 * copied into one object: the combined report holds what the per-capture reports hold.
 *
 * A capture is named in flows, findings and habits by its file, as given on the command
 * line (a directory's files under it); `captures` says, per file, its host (when known),
 * the SHA-256 of its content and its summary. Flow ids, and the `flow` of a finding, are
 * those of the capture's own report; a habit's `findings` index the combined `findings`.
 */
import { basename, dirname, resolve } from "node:path";
import type { CaptureOutcome } from "../run/captures/one.js";
import type { CaptureSummary } from "./model.js";
import { ecsLines } from "./ecs.js";

export const COMBINED_SCHEMA = "sockscope.reports/1";

/** One capture of the run, as `captures[]` of the JSON holds it. */
export interface CombinedCapture {
  file: string;
  /** The host the capture was taken on: --capture-host (its {dir} made the capture's directory name); null when not known. */
  host: string | null;
  /** SHA-256 of the file's bytes, hex: the same capture under another name has the same. */
  contentHash: string | null;
  /** Why no packet of it could be read (file, offset, problem); null when it was analysed. */
  error: string | null;
  summary: CaptureSummary | null;
  findings: { error: number; warning: number; info: number };
  warnings: string[];
}

/**
 * The host of a capture from --capture-host: the name as given, with `{dir}` standing for
 * the name of the directory the capture is in (captures/db1/eth0-0001.pcap → db1). A pcapng
 * file names no host (its sections give application, OS and hardware, in `summary.pcapng`).
 */
export function captureHost(pattern: string | undefined, file: string): string | null {
  if (pattern === undefined) return null;
  return pattern.replaceAll("{dir}", basename(dirname(resolve(file))));
}

export function combinedCapture(o: CaptureOutcome, host: string | null): CombinedCapture {
  const counts = { error: 0, warning: 0, info: 0 };
  for (const f of o.report?.findings ?? []) counts[f.severity]++;
  return {
    file: o.file,
    host,
    contentHash: o.contentHash,
    error: o.error,
    summary: o.report?.capture ?? null,
    findings: counts,
    warnings: o.report?.warnings ?? (o.error === null ? [] : [o.error]),
  };
}

/** Runs that are not one capture's: directory entries skipped, globs that matched nothing. */
export interface CombinedRun {
  outcomes: readonly CaptureOutcome[];
  hosts: readonly (string | null)[];
  warnings: readonly string[];
}

/** The ndjson-ecs lines of every capture: each record with its capture's file, hash and host. */
export function* combinedEcsLines(run: CombinedRun, version: string): Generator<string> {
  for (let i = 0; i < run.outcomes.length; i++) {
    const o = run.outcomes[i]!;
    if (o.report === null) continue;
    const host = run.hosts[i] ?? null;
    yield* ecsLines(o.report, {
      version,
      ...(host === null ? {} : { hostName: host }),
      ...(o.contentHash === null ? {} : { contentHash: o.contentHash }),
    });
  }
}
