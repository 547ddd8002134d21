/**
 * The combined JSON report (schema "sockscope.reports/1", report/combined.ts) as a stream
 * of lines, as report/json.ts writes one capture's: flows and findings a slice at a time,
 * each with the capture it comes from, so no string of the whole document is ever held.
 */
import { COMBINED_SCHEMA, combinedCapture, type CombinedRun } from "./combined.js";

const SLICE = 256;

/**
 * The array of `key` as whole lines: every capture's items, each with `capture` first. A
 * slice is held back until the next one shows whether it needs a comma after it.
 */
function* arrayLines(key: string, run: CombinedRun, items: (i: number) => readonly object[]): Generator<string> {
  let pending: string | null = null;
  for (let i = 0; i < run.outcomes.length; i++) {
    const list = items(i);
    const capture = run.outcomes[i]!.file;
    for (let j = 0; j < list.length; j += SLICE) {
      const text = JSON.stringify(
        list.slice(j, j + SLICE).map((x) => ({ capture, ...x })),
        null,
        2,
      );
      if (pending === null) yield `  ${JSON.stringify(key)}: [`;
      else yield pending + ",";
      pending = "  " + text.slice(2, -2).replaceAll("\n", "\n  ");
    }
  }
  if (pending === null) {
    yield `  ${JSON.stringify(key)}: [],`;
    return;
  }
  yield pending;
  yield "  ],";
}

export function* combinedJsonLines(run: CombinedRun): Generator<string> {
  const captures = run.outcomes.map((o, i) => combinedCapture(o, run.hosts[i] ?? null));
  // A habit's findings are indexes into the capture's own findings: moved past the captures before it.
  const offsets: number[] = [];
  let n = 0;
  for (const o of run.outcomes) {
    offsets.push(n);
    n += o.report?.findings.length ?? 0;
  }
  yield "{";
  yield `  "schema": ${JSON.stringify(COMBINED_SCHEMA)},`;
  yield `  "captures": ${JSON.stringify(captures, null, 2).replaceAll("\n", "\n  ")},`;
  for (const [key, items] of [
    ["flows", (i: number) => run.outcomes[i]!.report?.flows ?? []],
    ["findings", (i: number) => run.outcomes[i]!.report?.findings ?? []],
    [
      "habits",
      (i: number) =>
        (run.outcomes[i]!.report?.habits ?? []).map((h) => ({
          ...h,
          findings: h.findings.map((k) => k + offsets[i]!),
          example: h.example + offsets[i]!,
        })),
    ],
  ] as const) {
    yield* arrayLines(key, run, items);
  }
  yield `  "warnings": ${JSON.stringify(run.warnings, null, 2).replaceAll("\n", "\n  ")}`;
  yield "}";
}
