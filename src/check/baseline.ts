/**
 * Baselines: `sockscope check <capture> --update` writes the expectations from what the
 * capture shows now, like a snapshot. Only what stays the same when the same program is
 * recorded again goes in: kind, severity, side, the flow by protocol and server port
 * (never the ephemeral client port, never times, frames or measured values), and how many
 * findings each such group has. Output is deterministic: entries sorted, one per line,
 * keys in a fixed order, so a refreshed baseline reviews as a small diff.
 *
 * Refreshing an existing file keeps what was written by hand: every expect entry that
 * still holds stays as it is (bounds, notes, shorthand), failing ones are replaced by
 * what is found now, and description, capture, strict, absent and allow are kept. Findings
 * that an allow entry covers are not written; findings an absent entry forbids are never
 * blessed (the check still fails on them: edit the rule by hand if it is wrong).
 */
import type { Finding } from "../analyze/finding.js";
import { SEVERITY_RANK } from "../analyze/finding.js";
import type { FlowReport } from "../analyze/result.js";
import type { Report } from "../report/model.js";
import { EXPECT_SCHEMA, readExpectations, type Expectation, type Expectations, type FlowSelector } from "./expect.js";
import { baselineFlow, matchReport, unaccounted, type MatchResult } from "./match.js";

const ENTRY_ORDER = ["kind", "severity", "side", "flow", "findings", "count", "measure", "frames", "note"];
const FLOW_ORDER = ["id", "proto", "serverHost", "serverPort", "clientHost", "clientPort", "host", "port"];
const RANGE_ORDER = ["min", "max"];

function ordered(o: Record<string, unknown>, order: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of order) if (k in o) out[k] = o[k];
  for (const k of Object.keys(o)) if (!(k in out)) out[k] = o[k];
  return out;
}

/** An entry as written: keys in the canonical order, nested objects too. */
export function canonicalEntry(raw: unknown): unknown {
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) return raw;
  const o = ordered(raw as Record<string, unknown>, ENTRY_ORDER);
  if (o.flow !== null && typeof o.flow === "object") o.flow = ordered(o.flow as Record<string, unknown>, FLOW_ORDER);
  for (const k of ["findings", "count"]) {
    if (o[k] !== null && typeof o[k] === "object") o[k] = ordered(o[k] as Record<string, unknown>, RANGE_ORDER);
  }
  if (o.measure !== null && typeof o.measure === "object") {
    const m = o.measure as Record<string, unknown>;
    o.measure = Object.fromEntries(
      Object.keys(m)
        .sort()
        .map((k) => [
          k,
          m[k] !== null && typeof m[k] === "object" ? ordered(m[k] as Record<string, unknown>, RANGE_ORDER) : m[k],
        ]),
    );
  }
  return o;
}

/** One-line JSON with a space after colons and commas: `{ "kind": "x", "findings": 1 }`. */
export function inlineJson(v: unknown): string {
  if (Array.isArray(v)) return v.length === 0 ? "[]" : `[${v.map(inlineJson).join(", ")}]`;
  if (v !== null && typeof v === "object") {
    const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined);
    return entries.length === 0
      ? "{}"
      : `{ ${entries.map(([k, x]) => `${JSON.stringify(k)}: ${inlineJson(x)}`).join(", ")} }`;
  }
  return JSON.stringify(v);
}

const SIDE_RANK = (s: unknown) => (s === undefined ? 0 : s === null ? 1 : s === "client" ? 2 : 3);

function flowRank(f: FlowSelector | null | undefined): [number, string, number, number] {
  if (f === undefined) return [0, "", 0, 0];
  if (f === null) return [1, "", 0, 0];
  return [2, f.proto ?? "", f.serverPort ?? -1, f.id ?? -1];
}

function compareEntries(a: { value: Expectation; text: string }, b: { value: Expectation; text: string }): number {
  const x = a.value,
    y = b.value;
  if (x.kind !== y.kind) return x.kind < y.kind ? -1 : 1;
  const fx = flowRank(x.flow),
    fy = flowRank(y.flow);
  for (let i = 0; i < fx.length; i++) {
    if (fx[i] !== fy[i]) return fx[i]! < fy[i]! ? -1 : 1;
  }
  const sx = SIDE_RANK(x.side),
    sy = SIDE_RANK(y.side);
  if (sx !== sy) return sx - sy;
  const vx = x.severity === undefined ? 0 : SEVERITY_RANK[x.severity],
    vy = y.severity === undefined ? 0 : SEVERITY_RANK[y.severity];
  if (vx !== vy) return vx - vy;
  return a.text < b.text ? -1 : a.text > b.text ? 1 : 0;
}

/** The expectations file text: top-level keys one per line, entries one per line. */
export function formatExpectations(doc: Record<string, unknown>): string {
  const lines: string[] = [];
  const keys = ["$schema", "schema", "description", "capture", "strict", "expect", "absent", "allow"].filter(
    (k) => doc[k] !== undefined,
  );
  keys.forEach((k, i) => {
    const comma = i + 1 < keys.length ? "," : "";
    const v = doc[k];
    if (Array.isArray(v)) {
      if (v.length === 0) {
        lines.push(`  ${JSON.stringify(k)}: []${comma}`);
        return;
      }
      lines.push(`  ${JSON.stringify(k)}: [`);
      v.forEach((e, j) => {
        lines.push(`    ${inlineJson(canonicalEntry(e))}${j + 1 < v.length ? "," : ""}`);
      });
      lines.push(`  ]${comma}`);
    } else {
      lines.push(`  ${JSON.stringify(k)}: ${inlineJson(v)}${comma}`);
    }
  });
  return `{\n${lines.join("\n")}\n}\n`;
}

/** Expect entries for findings, grouped by kind, severity, side and baseline flow. */
export function entriesFor(findings: Finding[], flows: Map<number, FlowReport>): Record<string, unknown>[] {
  const groups = new Map<string, { entry: Record<string, unknown>; n: number }>();
  for (const f of findings) {
    const flow = baselineFlow(f.flow === null ? undefined : flows.get(f.flow), f.flow);
    const entry: Record<string, unknown> = { kind: f.kind, severity: f.severity, side: f.side, flow };
    const key = inlineJson(entry);
    const g = groups.get(key);
    if (g) g.n++;
    else groups.set(key, { entry, n: 1 });
  }
  return [...groups.values()].map(({ entry, n }) => ({ ...entry, findings: n }));
}

export interface UpdateResult {
  /** The new file's text. */
  text: string;
  /** Entries added and removed, as one-line JSON, for the review printout. */
  added: string[];
  removed: { text: string; why: string }[];
  kept: number;
  /** The check of the capture against the new file (fails only on absent rules). */
  after: MatchResult;
}

/**
 * The refreshed expectations for a report. `existing` is the parsed current file, or
 * null to start a new one. Deterministic: the same report and file give the same text.
 */
export function updateExpectations(
  report: Pick<Report, "findings" | "flows">,
  existing: Expectations | null,
  file: string,
): UpdateResult {
  const flows = new Map(report.flows.map((f) => [f.id, f]));
  const base: Expectations = existing ?? {
    strict: true,
    expect: [],
    absent: [],
    allow: [],
    has: { strict: false, absent: false, allow: false },
  };
  const before = matchReport(report, { ...base, strict: true });
  const keep = base.expect.filter((_, i) => before.checks[i]!.ok);
  const removed = base.expect
    .map((e, i) => ({ e, c: before.checks[i]! }))
    .filter(({ c }) => !c.ok)
    .map(({ e, c }) => ({
      text: inlineJson(canonicalEntry(e.raw)),
      why: c.problems.map((p) => `${p.what}: expected ${p.expected}, found ${p.found}`).join("; "),
    }));
  // What the kept entries, allow and absent leave unaccounted for gets new entries.
  const generated = entriesFor(unaccounted(report, { ...base, expect: keep }), flows);
  const all = [
    ...keep.map((e) => ({ raw: e.raw, value: e.value })),
    ...generated.map((g) => ({ raw: g as unknown, value: g as unknown as Expectation })),
  ].map((x) => ({ ...x, text: inlineJson(canonicalEntry(x.raw)) }));
  all.sort(compareEntries);
  const doc: Record<string, unknown> = {};
  if (base.schemaRef !== undefined) doc.$schema = base.schemaRef;
  doc.schema = EXPECT_SCHEMA;
  if (base.description !== undefined) doc.description = base.description;
  if (base.capture !== undefined) doc.capture = base.capture;
  if (base.has.strict) doc.strict = base.strict;
  doc.expect = all.map((x) => x.raw);
  if (base.has.absent) doc.absent = base.absent.map((a) => a.raw);
  if (base.has.allow) doc.allow = base.allow.map((a) => a.raw);
  const text = formatExpectations(doc);
  const after = matchReport(report, readExpectations(JSON.parse(text), file));
  return { text, added: generated.map((g) => inlineJson(canonicalEntry(g))).sort(), removed, kept: keep.length, after };
}
