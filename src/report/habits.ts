/**
 * Repeated habits: the same finding on many connections of one client (a browser
 * resetting its idle TLS connections, a pool closing first every time), said once with
 * the list of flows. One rule for the text, HTML and JSON reports, as summary-by-kind.ts
 * is for the per-kind summary.
 *
 * A habit is the findings of one kind and severity, by the same side (client or server),
 * from one client host to one server port and protocol, on at least MIN_HABIT_FLOWS
 * distinct flows. The side is part of it because the corpus shows both on the same
 * client and port, and they are different habits: pcpp--example2-mixed has 40
 * connections to port 80 that 10.0.0.1 closed first and 14 that the servers closed
 * first. The summary's wording is not part of it: one kind words its cases differently
 * (a retransmission after a timeout or a spurious one, 5 wordings on 17 flows there), so
 * a wording different from the example's is shown in full (differentWording) instead of
 * splitting the habit.
 *
 * Findings keep their place in Report.findings: a habit names them by index, so a
 * consumer of the JSON loses none.
 */
import { SEVERITY_RANK, compareFindings, type Finding, type Severity } from "../analyze/finding.js";
import type { FlowReport } from "../analyze/result.js";
import { hostOf, portOf } from "../decode/wire/address.js";
import { compressFrames } from "./frames.js";

/** Fewer flows than this are two coincidences, not a habit. */
export const MIN_HABIT_FLOWS = 3;

export interface Habit {
  kind: string;
  severity: Severity;
  /** The side whose socket did it each time (Finding.side). */
  side: Finding["side"];
  proto: FlowReport["proto"];
  /** The client's address, without port or brackets. */
  client: string;
  serverPort: number;
  /** Distinct flow ids, ascending. */
  flows: number[];
  /** Indexes into the findings given (Report.findings), in report order (flow, then frame). */
  findings: number[];
  /** The finding printed in full: the first by flow id, then frame (an index, as above). */
  example: number;
}

/** Habits found in `findings`, most severe first, then the most flows, then by kind and first flow. */
export function findHabits(findings: readonly Finding[], flows: readonly FlowReport[]): Habit[] {
  const flowsById = new Map(flows.map((f) => [f.id, f]));
  const groups = new Map<string, number[]>();
  findings.forEach((f, i) => {
    if (f.flow === null) return;
    const fr = flowsById.get(f.flow);
    if (fr === undefined) return;
    const key = [f.kind, f.severity, f.side, fr.proto, hostOf(fr.client), portOf(fr.server)].join(" ");
    const g = groups.get(key);
    if (g) g.push(i);
    else groups.set(key, [i]);
  });
  const habits: Habit[] = [];
  for (const indexes of groups.values()) {
    const flowIds = [...new Set(indexes.map((i) => findings[i]!.flow!))].sort((a, b) => a - b);
    if (flowIds.length < MIN_HABIT_FLOWS) continue;
    indexes.sort((a, b) => compareFindings(findings[a]!, findings[b]!) || a - b);
    const first = findings[indexes[0]!]!;
    const fr = flowsById.get(first.flow!)!;
    habits.push({
      kind: first.kind,
      severity: first.severity,
      side: first.side,
      proto: fr.proto,
      client: hostOf(fr.client),
      serverPort: portOf(fr.server),
      flows: flowIds,
      findings: indexes,
      example: indexes[0]!,
    });
  }
  return habits.sort(
    (a, b) =>
      SEVERITY_RANK[b.severity] - SEVERITY_RANK[a.severity] ||
      b.flows.length - a.flows.length ||
      (a.kind < b.kind ? -1 : a.kind > b.kind ? 1 : 0) ||
      a.flows[0]! - b.flows[0]!,
  );
}

/** How a habit is named, e.g. "time-wait by the client on 40 connections from 10.0.0.1 to tcp port 80". */
export function habitTitle(h: Habit): string {
  const by = h.side === null ? "" : ` by the ${h.side}`;
  return `${h.kind}${by} on ${h.flows.length} connections from ${h.client} to ${h.proto} port ${h.serverPort}`;
}

/** Flow ids named in a habit's title line before "…"; every flow still gets its own line below it. */
export const HABIT_FLOWS_NAMED = 10;

/** "flows 3-7, 9, … (12)": the first HABIT_FLOWS_NAMED flows, ranges compressed, and how many in all. */
export function habitFlowList(h: Habit): string {
  const named = h.flows.slice(0, HABIT_FLOWS_NAMED);
  const more = h.flows.length > named.length ? ", …" : "";
  return `flows ${compressFrames(named)}${more} (${h.flows.length})`;
}

/** Numbers, addresses and ports masked: what stays is the wording. */
function wording(summary: string): string {
  return summary.replace(/\[[0-9a-fA-F:.]+\](?::\d+)?|(?:[0-9a-fA-F]{0,4}:){2,}[0-9a-fA-F.]*|\d[\d.,]*/g, "#");
}

/** True when a finding's summary says something other than the habit's example does, not just other numbers. */
export function differentWording(f: Finding, example: Finding): boolean {
  return wording(f.summary) !== wording(example.summary);
}

/** Longest short line's summary part, in characters, when it is cut at a word. */
export const SHORT_SUMMARY_CHARS = 140;

/**
 * A finding's summary as one short line of its habit: up to its first "; " (the words
 * after it repeat what the example says), at most SHORT_SUMMARY_CHARS; in full when
 * worded differently from the example, so a case unlike the others is never cut away.
 */
export function shortSummary(f: Finding, example: Finding): string {
  if (differentWording(f, example)) return f.summary;
  const semi = f.summary.indexOf("; ");
  const clause = semi < 0 ? f.summary : f.summary.slice(0, semi);
  if (clause.length > SHORT_SUMMARY_CHARS) {
    // Cut at a word, leaving no dangling comma or colon before the ellipsis.
    const space = clause.lastIndexOf(" ", SHORT_SUMMARY_CHARS);
    return `${clause.slice(0, space > 0 ? space : SHORT_SUMMARY_CHARS).replace(/[,:;(]+$/, "")} …`;
  }
  return clause.length < f.summary.length ? `${clause}; …` : clause;
}
