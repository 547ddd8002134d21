/**
 * Writing a finding's words from its facts (AnalyzerDescriptor.describe): once when it is
 * reported, and again whenever its facts change (a `--jobs` merge, capture-wide evidence
 * resolved). Nothing edits a finding's text in place.
 */
import type { AnalyzerDescriptor } from "./analyzer.js";
import type { Finding } from "./finding.js";

/** Writes the words of a finding reported with facts; one reported with its words keeps them. */
export function writeWords(f: Finding, kind: AnalyzerDescriptor<any, any>): void {
  if (kind.describe === undefined || f.facts === undefined) return;
  const words = kind.describe(f);
  f.summary = words.summary;
  f.explanation = words.detail ? `${words.detail} ${kind.explanation}` : kind.explanation;
  flatten(f);
}

/**
 * Summaries are built by concatenation: ropes of a dozen pieces each. Reading a character
 * makes V8 flatten one into a single string, which a long capture's tens of thousands of
 * findings need (a rope costs several times the text).
 */
export function flatten(f: Finding): void {
  f.summary.charCodeAt(0);
  f.explanation.charCodeAt(0);
}
