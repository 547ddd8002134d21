/**
 * The many-capture JSON report, schema "sockscope.reports/1" (schema/reports.schema.json):
 *
 *   { "schema": "sockscope.reports/1",
 *     "captures": [ { "file", "host", "contentHash", "error", "report": <sockscope.report/1> | null } ],
 *     "skipped": [ "one line each" ] }
 *
 * Each capture's `report` is byte for byte what `analyze --format json` prints for it
 * alone (report/json.ts, indented), so its flows and findings are those of its own report
 * and name it by `report.capture.file`; written a capture at a time, never held whole.
 * The JSON text of a capture's report is written by the worker that analysed it.
 */
import { COMBINED_SCHEMA, type CombinedWriter } from "./combined.js";

export function jsonWriter(): CombinedWriter {
  return {
    begin: () => ["{", `  "schema": ${JSON.stringify(COMBINED_SCHEMA)},`, `  "captures": [`],
    *capture(o, index, total) {
      yield "    {";
      for (const key of ["file", "host", "contentHash", "error"] as const)
        yield `      ${JSON.stringify(key)}: ${JSON.stringify(o.row[key])},`;
      // The part is the capture's report as report/json.ts writes it, indented by the worker (capture-part.ts).
      if (o.part === null) yield `      "report": null`;
      else yield* o.part;
      yield index === total - 1 ? "    }" : "    },";
    },
    end: (_rows, skipped) => ["  ],", `  "skipped": ${JSON.stringify(skipped, null, 2).replaceAll("\n", "\n  ")}`, "}"],
  };
}
