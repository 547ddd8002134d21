/**
 * One pass over a capture: reader → engine, with optional per-packet observer and
 * progress. The single place the CLI and the library API run an analysis from.
 */
import { readCapture, type ReadOptions } from "./capture/reader.js";
import type { CaptureInfo } from "./capture/record.js";
import { Engine, type EngineOptions, type PacketObserver } from "./analyze/engine.js";
import { buildReport, type FlowFilter, type Report } from "./report/model.js";

export interface RunOptions extends EngineOptions {
  observer?: PacketObserver;
  onProgress?: ReadOptions["onProgress"];
  chunkSize?: number;
}

export interface RunResult {
  info: CaptureInfo;
  engine: Engine;
}

/** Reads and analyses the whole capture. Throws CaptureError only if it cannot be read at all. */
export async function runCapture(path: string, opts: RunOptions = {}): Promise<RunResult> {
  const engine = new Engine(opts);
  if (opts.observer) engine.observer = opts.observer;
  const info = await readCapture(path, engine.onPacket, { onProgress: opts.onProgress, chunkSize: opts.chunkSize });
  engine.finish();
  return { info, engine };
}

/** Library entry point: the whole report of a capture file ("-" for stdin). */
export async function analyzeFile(path: string, opts: RunOptions & { filter?: FlowFilter } = {}): Promise<Report> {
  const { info, engine } = await runCapture(path, opts);
  return buildReport(info, engine, opts.filter);
}
