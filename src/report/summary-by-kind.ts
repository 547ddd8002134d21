/**
 * Findings grouped by kind, as the text report's summary table and the HTML report's
 * summary show them: one entry per kind with its worst severity, counts, the flows where
 * it happened most and one example. One rule, so both reports agree.
 */
import { SEVERITY_RANK, type Finding } from "../analyze/finding.js";

/** A few screens of findings read fine one by one; beyond that, a per-kind summary does. */
export const DEFAULT_SUMMARY_THRESHOLD = 40;
/** Flows named per kind in the summary table. */
const TOP_FLOWS = 3;

/** What the summary table says of one kind. */
export interface KindSummary {
  kind: string;
  /** The most severe of its findings (a kind such as keepalive is info or error case by case). */
  severity: Finding["severity"];
  findings: number;
  /** Distinct flows with at least one (capture-wide findings are not a flow). */
  flows: number;
  /** The flows where it happened most often (Finding.count summed), then lowest id first; at most TOP_FLOWS. */
  topFlows: { flow: number; occurrences: number }[];
  /** Findings with no flow. */
  captureWide: number;
  /** The first of its most severe findings by flow id, then frame: the one printed in full. */
  example: Finding;
}

/** Capture-wide (null) first, as in the listing; then frame, kind and summary so ties never depend on input order. */
function byFlowThenFrame(a: Finding, b: Finding): number {
  return (
    (a.flow ?? 0) - (b.flow ?? 0) ||
    (a.frames[0] ?? 0) - (b.frames[0] ?? 0) ||
    compareText(a.kind, b.kind) ||
    compareText(a.summary, b.summary)
  );
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Findings summarised per kind, most severe kinds first, then the most frequent, then by name. */
export function summariseByKind(findings: Finding[]): KindSummary[] {
  const byKind = new Map<string, Finding[]>();
  for (const f of findings) {
    const group = byKind.get(f.kind);
    if (group) group.push(f);
    else byKind.set(f.kind, [f]);
  }
  const summaries: KindSummary[] = [];
  for (const [kind, group] of byKind) {
    const perFlow = new Map<number, number>();
    let captureWide = 0;
    for (const f of group) {
      if (f.flow === null) captureWide++;
      else perFlow.set(f.flow, (perFlow.get(f.flow) ?? 0) + f.count);
    }
    const severity = group.reduce(
      (worst, f) => (SEVERITY_RANK[f.severity] > SEVERITY_RANK[worst] ? f.severity : worst),
      group[0]!.severity,
    );
    const topFlows = [...perFlow]
      .map(([flow, n]) => ({ flow, occurrences: n }))
      .sort((a, b) => b.occurrences - a.occurrences || a.flow - b.flow)
      .slice(0, TOP_FLOWS);
    const example = group.filter((f) => f.severity === severity).sort(byFlowThenFrame)[0]!;
    summaries.push({ kind, severity, findings: group.length, flows: perFlow.size, topFlows, captureWide, example });
  }
  return summaries.sort(
    (a, b) =>
      SEVERITY_RANK[b.severity] - SEVERITY_RANK[a.severity] || b.findings - a.findings || compareText(a.kind, b.kind),
  );
}
