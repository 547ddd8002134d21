/**
 * The JSON report as a stream of lines, byte for byte what `JSON.stringify(report, null, 2)`
 * gives, without ever holding it as one string: the report of a capture with a million
 * flows is gigabytes of text, more than the report object itself.
 */
import type { Report } from "./model.js";

/** Array elements stringified per call: big enough to cost few calls, small enough to stay a small string. */
const SLICE = 256;

/** Pieces of the document, each one or more whole lines, to be joined with "\n". */
export function* reportJsonLines(r: Report): Generator<string> {
  yield "{";
  const entries = Object.entries(r).filter(([, v]) => v !== undefined);
  for (let i = 0; i < entries.length; i++) {
    const [key, value] = entries[i]!;
    const comma = i < entries.length - 1 ? "," : "";
    if (Array.isArray(value) && value.length > 0) {
      // Big arrays (flows, findings) a slice at a time: one stringify per slice, its
      // brackets cut off and its lines shifted under the key.
      yield `  ${JSON.stringify(key)}: [`;
      for (let j = 0; j < value.length; j += SLICE) {
        const text = JSON.stringify(value.slice(j, j + SLICE), null, 2);
        yield "  " + indent(text.slice(2, -2), "  ") + (j + SLICE < value.length ? "," : "");
      }
      yield `  ]${comma}`;
    } else {
      yield `  ${JSON.stringify(key)}: ${indent(JSON.stringify(value, null, 2), "  ")}${comma}`;
    }
  }
  yield "}";
}

/** Indents every line but the first (JSON strings never hold a raw newline). */
function indent(json: string, pad: string): string {
  return json.includes("\n") ? json.replaceAll("\n", "\n" + pad) : json;
}
