#!/usr/bin/env node
// Writes schema/reports.schema.json, the schema of the many-capture JSON report
// (sockscope.reports/1), from schema/report.schema.json: the same flow, finding and habit
// definitions with the `capture` they come from, and capture summaries as one report's
// `capture`. Derived, not hand-copied, so the two cannot drift: test/many-captures.test.ts
// fails when the committed file is not what this writes (run `node scripts/reports-schema.mjs`).
import { readFileSync, writeFileSync } from "node:fs";

const root = new URL("../", import.meta.url);
const one = JSON.parse(readFileSync(new URL("schema/report.schema.json", root), "utf8"));

/** A definition of report.schema.json with a `capture` property (the file it comes from), required and first. */
function withCapture(def) {
  return {
    ...def,
    required: ["capture", ...def.required],
    properties: {
      capture: { type: "string", description: "the capture's file, as in captures[].file" },
      ...def.properties,
    },
  };
}

export function reportsSchema() {
  const d = one.definitions;
  return {
    $schema: one.$schema,
    $id: "https://sockscope.dev/schema/reports-1.json",
    title: "sockscope many-capture report (sockscope analyze with several captures --format json)",
    $comment: "Written by scripts/reports-schema.mjs from report.schema.json; do not edit.",
    type: "object",
    required: ["schema", "captures", "flows", "findings", "habits", "warnings"],
    additionalProperties: false,
    properties: {
      schema: { const: "sockscope.reports/1" },
      captures: {
        type: "array",
        items: {
          type: "object",
          required: ["file", "host", "contentHash", "error", "summary", "findings", "warnings"],
          additionalProperties: false,
          properties: {
            file: { type: "string" },
            host: { type: ["string", "null"] },
            contentHash: { anyOf: [{ type: "string", pattern: "^[0-9a-f]{64}$" }, { type: "null" }] },
            error: { type: ["string", "null"] },
            summary: { anyOf: [one.properties.capture, { type: "null" }] },
            findings: {
              type: "object",
              required: ["error", "warning", "info"],
              additionalProperties: false,
              properties: Object.fromEntries(
                ["error", "warning", "info"].map((k) => [k, { type: "integer", minimum: 0 }]),
              ),
            },
            warnings: { type: "array", items: { type: "string" } },
          },
        },
      },
      flows: { type: "array", items: { $ref: "#/definitions/flow" } },
      findings: { type: "array", items: { $ref: "#/definitions/finding" } },
      habits: { type: "array", items: { $ref: "#/definitions/habit" } },
      warnings: { type: "array", items: { type: "string" } },
    },
    definitions: {
      ...d,
      flow: withCapture(d.flow),
      finding: withCapture(d.finding),
      habit: withCapture(d.habit),
    },
  };
}

export const REPORTS_SCHEMA_TEXT = JSON.stringify(reportsSchema(), null, 2) + "\n";

if (process.argv[1] && new URL(`file://${process.argv[1]}`).href === import.meta.url) {
  writeFileSync(new URL("schema/reports.schema.json", root), REPORTS_SCHEMA_TEXT);
}
