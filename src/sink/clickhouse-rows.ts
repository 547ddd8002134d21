/**
 * The rows of schema/clickhouse.sql's tables, from the report model's flows and findings
 * (the JSON report's objects): one `flows` row per flow, one `findings` row per finding,
 * one `captures` row per capture. Times are DateTime (seconds, for partitions, sorting and
 * grouping) beside the exact epoch seconds as Float64 (ClickHouse 18.16 has no DateTime64).
 */
import type { Finding } from "../analyze/finding.js";
import type { FlowReport } from "../analyze/result.js";
import type { FlowEndReason } from "../decode/flow/lifecycle.js";
import { hostOf, portOf } from "../decode/wire/address.js";
import { flowCommunityId } from "../report/community-id.js";
import type { Report } from "../report/model.js";

/** Which capture rows belong to, and where it was taken. */
export interface CaptureIdentity {
  /** The capture file's SHA-256 (content-hash.ts), or a live session's id. */
  captureId: string;
  /** The file as named on the command line, or the live interface. */
  file: string;
  /** The host the capture was taken on ("" when unknown). */
  host: string;
}

export type Row = Record<string, string | number | string[] | number[]>;

/** DateTime's range (unsigned 32-bit seconds): a capture's stray timestamp must not fail the insert. */
function dateTime(t: number): number {
  return Number.isFinite(t) ? Math.min(4294967295, Math.max(0, Math.floor(t))) : 0;
}

/** How the flow ended: the live capture's reason when it has one, else what its close shows. */
function endReason(f: FlowReport, why: FlowEndReason | undefined): string {
  if (why !== undefined && why !== "capture-end" && why !== "closed") return why;
  if (f.close === null) return "capture-end";
  if (f.close.how === "RST") return "reset";
  if (f.close.how === "FIN") return "closed";
  return "capture-end";
}

function flowKey(f: FlowReport) {
  return {
    transport: f.proto,
    client_ip: hostOf(f.client),
    client_port: portOf(f.client),
    server_ip: hostOf(f.server),
    server_port: portOf(f.server),
    community_id: flowCommunityId(f.proto, f.client, f.server) ?? "",
  };
}

export function flowRow(
  id: CaptureIdentity,
  f: FlowReport,
  findings: { total: number; errors: number },
  why?: FlowEndReason,
): Row {
  return {
    capture_id: id.captureId,
    capture_file: id.file,
    host: id.host,
    start: dateTime(f.start),
    start_epoch: f.start,
    duration_sec: f.durationSec,
    ...flowKey(f),
    vlan: f.vlan ?? 0,
    flow_id: f.id,
    first_frame: f.firstFrame,
    last_frame: f.lastFrame,
    client_bytes: f.bytes.client,
    client_packets: f.packets.client,
    server_bytes: f.bytes.server,
    server_packets: f.packets.server,
    roles_guessed: f.rolesGuessed ? 1 : 0,
    end_reason: endReason(f, why),
    closed_by: f.close?.first ?? "",
    client_state: f.state?.client ?? "",
    server_state: f.state?.server ?? "",
    finding_count: findings.total,
    error_count: findings.errors,
  };
}

/** `seq`: the finding's place in its capture (report order; a live session's arrival order). */
export function findingRow(id: CaptureIdentity, f: Finding, flow: FlowReport | null | undefined, seq: number): Row {
  const measures = Object.entries(f.measure);
  return {
    capture_id: id.captureId,
    capture_file: id.file,
    host: id.host,
    time: dateTime(f.time),
    time_epoch: f.time,
    seq,
    kind: f.kind,
    severity: f.severity,
    flow_id: f.flow ?? 0,
    ...(flow == null
      ? { transport: "none", client_ip: "", client_port: 0, server_ip: "", server_port: 0, community_id: "" }
      : flowKey(flow)),
    side: f.side ?? "",
    endpoint: f.endpoint ?? "",
    summary: f.summary,
    explanation: f.explanation,
    measure_names: measures.map(([k]) => k),
    measure_values: measures.map(([, v]) => v),
    frames: f.frames,
    count: f.count,
    references: f.references,
  };
}

export function captureRow(
  id: CaptureIdentity,
  source: "file" | "live",
  o: { start: number | null; end: number | null; packets: number; flows: number; findings: number; version: string },
): Row {
  const now = Date.now();
  return {
    capture_id: id.captureId,
    capture_file: id.file,
    host: id.host,
    source,
    start: dateTime(o.start ?? 0),
    end: dateTime(o.end ?? 0),
    packets: o.packets,
    flows: o.flows,
    findings: o.findings,
    sockscope_version: o.version,
    stored_at: Math.floor(now / 1000),
    version: now,
  };
}

/** Findings per flow id: how many, and how many errors (the flows row's counts). */
export function findingCounts(findings: readonly Finding[]): Map<number, { total: number; errors: number }> {
  const counts = new Map<number, { total: number; errors: number }>();
  for (const f of findings) {
    if (f.flow === null) continue;
    let c = counts.get(f.flow);
    if (c === undefined) counts.set(f.flow, (c = { total: 0, errors: 0 }));
    c.total++;
    if (f.severity === "error") c.errors++;
  }
  return counts;
}

/** A whole report's flow rows, made as they are sent (a big capture's rows are never all in memory). */
export function* reportFlowRows(id: CaptureIdentity, r: Report): Generator<Row> {
  const counts = findingCounts(r.findings);
  const none = { total: 0, errors: 0 };
  for (const f of r.flows) yield flowRow(id, f, counts.get(f.id) ?? none);
}

/** A whole report's finding rows, numbered in report order. */
export function* reportFindingRows(id: CaptureIdentity, r: Report): Generator<Row> {
  const byId = new Map(r.flows.map((f) => [f.id, f]));
  let seq = 0;
  for (const f of r.findings) yield findingRow(id, f, f.flow === null ? null : byId.get(f.flow), seq++);
}
