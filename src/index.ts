/**
 * sockscope as a library.
 *
 *   import { analyzeFile, packets } from "sockscope";
 *   const report = await analyzeFile("capture.pcapng");        // the JSON report object
 *   for await (const p of packets("capture.pcap")) console.log(p.frame, p.flags);
 */
import { runCapture, type RunOptions } from "./run/pipeline.js";
import { packetLine, type PacketLine } from "./report/packets.js";

export { analyzeFile, runCapture, type RunOptions, type RunResult } from "./run/pipeline.js";
export { readCapture, readSource, type ReadOptions } from "./capture/reader.js";
export { PacketRecord, type CaptureInfo } from "./capture/record.js";
export { CaptureError } from "./capture/errors.js";
export { Engine, type EngineOptions } from "./run/packet-loop.js";
export { ANALYZERS } from "./analyze/registry.js";
export type { Finding, Severity } from "./analyze/finding.js";
export type { AnalyzerDescriptor } from "./analyze/analyzer.js";
export { DecodedPacket } from "./decode/wire/packet.js";
export { PacketDecoder } from "./decode/wire/decoder.js";
export {
  buildReport,
  REPORT_SCHEMA,
  type Report,
  type CaptureSummary,
  type FlowFilter,
} from "./report/model.js";
export type { FlowReport } from "./analyze/result.js";
export { renderText } from "./report/text.js";
export { renderHtml, type FlowSeriesSet, type HtmlOptions } from "./report/html/index.js";
export { SeriesCollector } from "./run/series.js";
export type { PacketLine } from "./report/packets.js";

/**
 * Every packet of a capture as a plain object (flow, direction, flags, relative seq/ack),
 * in frame order. Objects are fresh per packet and safe to keep. Tags are not filled in
 * (they need the whole capture; see `sockscope packets`).
 */
export async function* packets(path: string, opts: RunOptions = {}): AsyncGenerator<PacketLine> {
  // The reader pushes packets per chunk; hand them out through a bounded queue by
  // collecting one chunk's worth at a time.
  const lines: PacketLine[] = [];
  let done = false;
  let failure: unknown = null;
  let wake: (() => void) | null = null;
  const run = runCapture(path, {
    ...opts,
    analyzers: [],
    observer: (rec, p, flow, dir, seg) => {
      lines.push(packetLine(rec, p, flow, dir, seg, []));
    },
    onProgress: () => {
      wake?.();
    },
  }).then(
    () => {
      done = true;
      wake?.();
    },
    (e: unknown) => {
      failure = e;
      done = true;
      wake?.();
    },
  );
  for (;;) {
    while (lines.length > 0) yield lines.shift()!;
    if (done) break;
    await new Promise<void>((r) => {
      wake = r;
    });
    wake = null;
  }
  await run;
  while (lines.length > 0) yield lines.shift()!;
  if (failure !== null) throw failure;
}
