/**
 * Folds the workers' outcomes into the one a single engine would have produced: flows
 * numbered in order of their first packet (as one FlowTable numbers them), findings
 * re-pointed at those numbers and sorted the engine's way, statistics summed, the
 * analyzers' capture-wide states merged and resolved, and then the words of findings
 * whose kinds write them from facts (AnalyzerDescriptor.describe).
 */
import type { AnalyzerDescriptor } from "../../analyze/analyzer.js";
import { compareFindings, type Finding } from "../../analyze/finding.js";
import { DecodeStats, readAcrossFlows, type AnalysisResult, type FlowReport } from "../../analyze/result.js";
import { writeWords } from "../../analyze/words.js";

import type { ShardEnd } from "./protocol.js";

export function mergeShards(shards: ShardEnd[], analyzers: AnalyzerDescriptor<any>[]): AnalysisResult {
  // A flow is created by the packet that first names it, so first frames are distinct and
  // their order is the order one engine would have numbered the flows in.
  const tagged: { shard: number; flow: FlowReport }[] = [];
  shards.forEach((s, shard) => {
    for (const flow of s.result.flows) tagged.push({ shard, flow });
  });
  tagged.sort((a, b) => a.flow.firstFrame - b.flow.firstFrame);
  const newId = shards.map(() => new Map<number, number>());
  tagged.forEach(({ shard, flow }, i) => {
    newId[shard]!.set(flow.id, i + 1);
  });
  const flows = tagged.map(({ shard, flow }) => ({
    ...flow,
    id: newId[shard]!.get(flow.id)!,
    previous: flow.previous === null ? null : (newId[shard]!.get(flow.previous) ?? null),
  }));

  const findings: Finding[] = [];
  const byKind = new Map(analyzers.map((a) => [a.id, a]));
  shards.forEach((s, shard) => {
    const reportId = (id: number): number => newId[shard]!.get(id) ?? id;
    for (const f of s.result.findings) {
      // Renumbered in place: capture states hold references to these same objects.
      if (f.flow !== null) f.flow = reportId(f.flow);
      for (const key of byKind.get(f.kind)?.flowMeasures ?? []) {
        const id = f.measure[key];
        if (id !== undefined) f.measure[key] = reportId(id);
      }
      findings.push(f);
    }
  });
  const withdrawn = new Set<Finding>();
  for (const a of analyzers) {
    if (a.capture === undefined) continue;
    const states = shards.map((s) => s.captureStates[a.id]).filter((st) => st !== undefined);
    if (states.length === 0) continue;
    const into = states[0]!;
    for (const st of states.slice(1)) a.capture.merge(into, st);
    a.capture.resolve(into);
    for (const f of a.capture.withdrawn?.(into) ?? []) withdrawn.add(f);
  }
  if (withdrawn.size > 0) findings.splice(0, findings.length, ...findings.filter((f) => !withdrawn.has(f)));
  // Words last: the shards left them to now, when every fact is the report's.
  for (const f of findings) {
    const kind = byKind.get(f.kind);
    if (kind !== undefined) writeWords(f, kind);
  }
  findings.sort(compareFindings);

  // Copies of one connection, or a scan's probes, may have gone to different shards: read over all flows.
  return readAcrossFlows({
    stats: mergeStats(shards.map((s) => s.result.stats)),
    flows,
    findings,
    flowsEvicted: sum(shards, (s) => s.result.flowsEvicted),
    untrackedPackets: sum(shards, (s) => s.result.untrackedPackets),
    vlanJoined: sum(shards, (s) => s.result.vlanJoined),
    fragmentEvictions: sum(shards, (s) => s.result.fragmentEvictions),
    fragmentCopies: sum(shards, (s) => s.result.fragmentCopies),
    clockJumps: shards[0]!.result.clockJumps, // every shard sees every record's time
    mirroredFindings: 0,
  });
}

function mergeStats(all: DecodeStats[]): DecodeStats {
  const m = new DecodeStats();
  const issues: [string, [number, number]][] = [];
  for (const s of all) {
    m.packets += s.packets;
    m.ipPackets += s.ipPackets;
    m.nonIpPackets += s.nonIpPackets;
    m.truncatedPackets += s.truncatedPackets;
    m.fragments += s.fragments;
    m.reassembledDatagrams += s.reassembledDatagrams;
    // The capture starts with its first packet (not its earliest timestamp): the first frame's time.
    if (s.firstTime >= 0 && (m.firstTime < 0 || s.firstFrame < m.firstFrame)) {
      m.firstTime = s.firstTime;
      m.firstFrame = s.firstFrame;
    }
    if (s.lastTime > m.lastTime) m.lastTime = s.lastTime;
    if (s.internalErrors > 0 && (m.internalErrors === 0 || s.firstInternalErrorFrame < m.firstInternalErrorFrame)) {
      m.firstInternalError = s.firstInternalError;
      m.firstInternalErrorFrame = s.firstInternalErrorFrame;
    }
    m.internalErrors += s.internalErrors;
    for (const [text, [count, first]] of s.issues) {
      const seen = m.issues.get(text);
      if (seen === undefined) {
        const entry: [number, number] = [count, first];
        m.issues.set(text, entry);
        issues.push([text, entry]);
      } else {
        seen[0] += count;
        if (first < seen[1]) seen[1] = first;
      }
    }
  }
  // One engine lists issues in the order first seen: by first frame (stable for ties).
  issues.sort((a, b) => a[1][1] - b[1][1]);
  m.issues.clear();
  for (const [text, entry] of issues) m.issues.set(text, entry);
  return m;
}

function sum(shards: ShardEnd[], f: (s: ShardEnd) => number): number {
  return shards.reduce((n, s) => n + f(s), 0);
}
