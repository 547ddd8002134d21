/**
 * One capture's part of a many-capture report, rendered on the worker thread that analysed
 * the capture (run/captures/one.ts): the heavy work of writing a report (JSON text, text
 * tables, HTML pages with their packet series, ECS records) is shared out with the
 * analysis, and only strings (whole lines) cross to the main thread, which writes the parts in order
 * (report/combined*.ts).
 */
import type { FlowSeriesSet } from "./html/series-set.js";
import { reportJsonLines } from "./json.js";
import type { Report } from "./model.js";
import { COLOR, PLAIN } from "./style.js";
import type { CaptureRow } from "./combined.js";

/** How the parts are written: plain data, so a worker gets it as it is. */
export interface PartOptions {
  format: "text" | "json" | "html" | "ndjson-ecs";
  color: boolean;
  brief: boolean;
  all: boolean;
  version: string;
}

/** The indentation of a capture's report inside the combined JSON ("captures": [ { "report": ... } ]); its part starts with `"report": `. */
export const JSON_PART_INDENT = "      ";

export async function renderCapturePart(
  report: Report,
  row: CaptureRow,
  series: FlowSeriesSet | null,
  o: PartOptions,
): Promise<string[]> {
  switch (o.format) {
    case "json": {
      // Pieces of lines as report/json.ts writes them (never the whole report as one string), indented.
      const pieces = [...reportJsonLines(report)].map((p) => p.replaceAll("\n", "\n" + JSON_PART_INDENT));
      pieces[0] = `${JSON_PART_INDENT}"report": ${pieces[0]}`;
      for (let i = 1; i < pieces.length; i++) pieces[i] = JSON_PART_INDENT + pieces[i];
      return pieces;
    }
    case "ndjson-ecs":
      return [
        ...(await import("./ecs.js")).ecsLines(report, {
          version: o.version,
          ...(row.host === null ? {} : { hostName: row.host }),
          ...(row.contentHash === null ? {} : { contentHash: row.contentHash }),
        }),
      ];
    case "html":
      return [(await import("./html/index.js")).renderHtml(report, series)];
    case "text":
      return [
        (await import("./text.js")).renderText(report, {
          style: o.color ? COLOR : PLAIN,
          brief: o.brief,
          all: o.all,
        }),
      ];
  }
}
