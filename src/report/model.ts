/**
 * The report model: what every output format renders. Built once from the analysis's
 * result (analyze/result.ts) after the capture ends; JSON is this object as is (schema "sockscope.report/1", documented in
 * the README and checked against schema/report.schema.json by test/cli.test.ts).
 */
import type { CaptureInfo } from "../capture/record.js";
import type { SelectionSummary } from "../capture/filter/select.js";
import { mirroredFlowsNote } from "../analyze/mirrored-flows.js";
import { engineResult, round6, type AnalysisResult, type EngineState, type FlowReport } from "../analyze/result.js";
import { SEVERITY_RANK, type Finding } from "../analyze/finding.js";
import { linkTypeName } from "../capture/link.js";
import { EVICT_MIN_IDLE_SEC } from "../decode/flow/lifecycle.js";
import { rawTime, type ClockJump } from "../analyze/clock.js";
import { isoTime } from "./time.js";
import { addressToString, hostOf, portOf } from "../decode/wire/address.js";
import { findHabits, type Habit } from "./habits.js";

export const REPORT_SCHEMA = "sockscope.report/1";

export interface CaptureSummary {
  file: string;
  format: string;
  linkTypes: string[];
  /** What a pcapng file says of what wrote it and where (absent for classic pcap). */
  pcapng?: PcapngOrigin;
  /** Packets analysed: with a capture filter or -c, those kept (selection.packetsRead were read). */
  packets: number;
  /** Bytes of the file read, headers included, whatever was kept of them. */
  bytes: number;
  /** Seconds since the epoch of the first and last packet; null for an empty capture. */
  start: number | null;
  end: number | null;
  /** The stretches between clock jumps added up: a jump is no part of it. */
  durationSec: number;
  /** Where the capture's timestamps jump (analyze/clock.ts): back, or forward by more than a day. */
  clockJumps: { frame: number; fromTime: number; toTime: number }[];
  ipPackets: number;
  nonIpPackets: number;
  truncatedPackets: number;
  fragments: number;
  reassembledDatagrams: number;
  flows: { tcp: number; udp: number };
  /** True when reading stopped at damage: the report covers the packets before it. */
  partial: boolean;
  /** The capture filter and -c the packets were kept by; null when every packet read was analysed. */
  selection: SelectionSummary | null;
}

/**
 * A pcapng file's own word on its origin, as written ("" when an option is absent): each
 * section header's shb_userappl, shb_os and shb_hardware, and each interface's if_name,
 * if_description, if_os and addresses (if_IPv4addr, if_IPv6addr).
 */
export interface PcapngOrigin {
  sections: { application: string; os: string; hardware: string }[];
  interfaces: { name: string; description: string; os: string; addresses: string[] }[];
}

function pcapngOrigin(info: CaptureInfo): PcapngOrigin {
  return {
    sections: info.sections.map((s) => ({ application: s.userAppl, os: s.os, hardware: s.hardware })),
    interfaces: info.interfaces.map((i) => ({
      name: i.name,
      description: i.description,
      os: i.os,
      addresses: i.addresses.map((a) => addressToString(a.version, ...a.words)),
    })),
  };
}

export interface Report {
  schema: typeof REPORT_SCHEMA;
  capture: CaptureSummary;
  flows: FlowReport[];
  findings: Finding[];
  /** The same finding on many connections of one client (habits.ts), naming findings by index. */
  habits: Habit[];
  warnings: string[];
}

export interface FlowFilter {
  flow?: number;
  host?: string;
  port?: number;
}

export function matchesFilter(fr: FlowReport, filter: FlowFilter): boolean {
  if (filter.flow !== undefined && fr.id !== filter.flow) return false;
  if (filter.port !== undefined) {
    if (portOf(fr.client) !== filter.port && portOf(fr.server) !== filter.port) return false;
  }
  if (filter.host !== undefined) {
    const h = normaliseHost(filter.host);
    if (hostOf(fr.client) !== h && hostOf(fr.server) !== h) return false;
  }
  return true;
}

export function hasFilter(filter: FlowFilter): boolean {
  return filter.flow !== undefined || filter.host !== undefined || filter.port !== undefined;
}

function normaliseHost(h: string): string {
  return h.startsWith("[") && h.endsWith("]") ? h.slice(1, -1).toLowerCase() : h.toLowerCase();
}

/** The report of one finished run (runCapture's engine). */
export function buildReport(
  info: CaptureInfo,
  engine: EngineState,
  filter: FlowFilter = {},
  selection: SelectionSummary | null = null,
): Report {
  return buildReportFrom(info, engineResult(engine), filter, selection);
}

export function buildReportFrom(
  info: CaptureInfo,
  result: AnalysisResult,
  filter: FlowFilter = {},
  selection: SelectionSummary | null = null,
): Report {
  const st = result.stats;
  const allFlows = result.flows;
  const flows = hasFilter(filter) ? allFlows.filter((f) => matchesFilter(f, filter)) : allFlows;
  const keep = new Set(flows.map((f) => f.id));
  const findings = hasFilter(filter)
    ? result.findings.filter((f) => f.flow !== null && keep.has(f.flow))
    : result.findings;
  const warnings = captureWarnings(info);
  for (const [text, [count, first]] of st.issues) {
    warnings.push(`${count} packet(s) could not be fully decoded: ${text} (first: frame ${first})`);
  }
  if (st.internalErrors > 0) {
    warnings.push(
      `internal error (a bug in sockscope, please report it with the capture): ${st.internalErrors} packet(s) could not be analysed; first at ${st.firstInternalError.split("\n")[0]}`,
    );
  }
  if (result.flowsEvicted > 0) {
    warnings.push(`flow table full: ${result.flowsEvicted} idle flow(s) evicted early; raise --max-flows to keep them`);
  }
  if (result.untrackedPackets > 0) {
    warnings.push(
      `flow table full and no flow idle for ${EVICT_MIN_IDLE_SEC} s: ${result.untrackedPackets} packet(s) of connections that came then were not analysed; raise --max-flows to take them`,
    );
  }
  if (result.vlanJoined > 0) {
    warnings.push(
      `${result.vlanJoined} connection(s) carried different VLAN tags in their two directions (a trunk or SPAN capture); each was kept as one flow under the client's VLAN`,
    );
  }
  warnings.push(...clockJumpWarnings(result.clockJumps));
  if (result.fragmentEvictions > 0) {
    warnings.push(`fragment reassembly buffers full: ${result.fragmentEvictions} incomplete datagram(s) evicted`);
  }
  if (result.fragmentCopies > 0) {
    warnings.push(
      `${result.fragmentCopies} IP fragment(s) recorded more than once (same datagram, offset and bytes: two capture points or -i any): counted once, not as loss`,
    );
  }
  warnings.push(...notCapturedNotes(allFlows));
  const mirrored = mirroredFlowsNote(result);
  if (mirrored !== null) warnings.push(mirrored);
  const tcpCount = allFlows.filter((f) => f.proto === "tcp").length;
  return {
    schema: REPORT_SCHEMA,
    capture: {
      file: info.file,
      format: info.variant,
      linkTypes: [...new Set(info.interfaces.map((i) => linkTypeName(i.linkType)))],
      ...(info.format === "pcapng" ? { pcapng: pcapngOrigin(info) } : {}),
      packets: selection?.packetsKept ?? info.packets,
      bytes: info.bytesRead,
      // Analysis times (continuous across clock jumps) made real again; the first packet's needs no undoing.
      start: st.firstTime < 0 ? null : round6(st.firstTime),
      end: st.lastTime < 0 ? null : round6(rawTime(st.lastTime, result.clockJumps)),
      // Clamped: the first packet can be a little later than others, reordered across interfaces.
      durationSec: st.firstTime < 0 ? 0 : round6(Math.max(0, st.lastTime - st.firstTime)),
      clockJumps: result.clockJumps.map((j) => ({
        frame: j.frame,
        fromTime: round6(j.fromTime),
        toTime: round6(j.toTime),
      })),
      ipPackets: st.ipPackets,
      nonIpPackets: st.nonIpPackets,
      truncatedPackets: st.truncatedPackets,
      fragments: st.fragments,
      reassembledDatagrams: st.reassembledDatagrams,
      flows: { tcp: tcpCount, udp: allFlows.length - tcpCount },
      partial: info.error !== null,
      selection,
    },
    flows,
    findings,
    habits: findHabits(findings, flows),
    warnings,
  };
}

/** The report's first warnings: the capture's own problems (damage, interruption), as the reader found them. */
function captureWarnings(info: CaptureInfo): string[] {
  const warnings = [...info.warnings];
  if (info.error !== null) warnings.push(`${info.error}; the report covers the ${info.packets} packets before it`);
  return warnings;
}

/**
 * The report's warnings past the capture's own problems (which the commands print from
 * CaptureInfo themselves): those of the analysis, e.g. a full flow table or a clock jump.
 */
export function analysisWarnings(report: Report, info: CaptureInfo): string[] {
  return report.warnings.slice(captureWarnings(info).length);
}

/** Clock jumps named one by one up to this many; the rest counted. */
export const MAX_CLOCK_JUMP_WARNINGS = 10;

/** One warning per clock jump (up to MAX_CLOCK_JUMP_WARNINGS), naming its frame. */
export function clockJumpWarnings(jumps: readonly ClockJump[]): string[] {
  const out = jumps.slice(0, MAX_CLOCK_JUMP_WARNINGS).map((j) => {
    const d = j.toTime - j.fromTime;
    return (
      `the capture's clock jumps ${d < 0 ? "back" : "forward"} ${Math.abs(d).toFixed(3)} s at frame ${j.frame} ` +
      `(from ${isoTime(j.fromTime)} to ${isoTime(j.toTime)}): no duration or timer is measured across it`
    );
  });
  if (jumps.length > MAX_CLOCK_JUMP_WARNINGS)
    out.push(
      `… and ${jumps.length - MAX_CLOCK_JUMP_WARNINGS} more clock jumps (all in capture.clockJumps of --format json)`,
    );
  return out;
}

/** Findings grouped by flow, most severe first (for the text report). */
export function findingsByFlow(findings: Finding[]): Map<number | null, Finding[]> {
  const sorted = [...findings].sort(
    (a, b) => SEVERITY_RANK[b.severity] - SEVERITY_RANK[a.severity] || (a.frames[0] ?? 0) - (b.frames[0] ?? 0),
  );
  const groups = new Map<number | null, Finding[]>();
  for (const f of sorted) {
    const g = groups.get(f.flow);
    if (g) g.push(f);
    else groups.set(f.flow, [f]);
  }
  return new Map(
    [...groups].sort(
      (a, b) => SEVERITY_RANK[b[1][0]!.severity] - SEVERITY_RANK[a[1][0]!.severity] || (a[0] ?? 0) - (b[0] ?? 0),
    ),
  );
}

/** Hosts named one by one in the not-captured note; the rest counted. */
const MAX_NOT_CAPTURED_HOSTS = 5;

/**
 * One note for the hosts whose packets the capture lacks on some connection though their
 * peers acknowledged them (FlowReport.notCaptured): a one-way capture. Said once, with the
 * flows, since no finding rests on their silence.
 */
export function notCapturedNotes(flows: readonly FlowReport[]): string[] {
  const byHost = new Map<string, number[]>();
  for (const f of flows) {
    if (f.notCaptured === null) continue;
    const host = hostOf(f.notCaptured === "client" ? f.client : f.server);
    const ids = byHost.get(host);
    if (ids === undefined) byHost.set(host, [f.id]);
    else ids.push(f.id);
  }
  if (byHost.size === 0) return [];
  const flowsIn = [...byHost.values()].reduce((n, ids) => n + ids.length, 0);
  const named = [...byHost]
    .slice(0, MAX_NOT_CAPTURED_HOSTS)
    .map(
      ([host, ids]) =>
        `${host} on flow${ids.length > 1 ? "s" : ""} ${ids.slice(0, 5).join(", ")}${ids.length > 5 ? ", …" : ""}`,
    );
  const more = byHost.size > named.length ? ` and ${byHost.size - named.length} more host(s)` : "";
  return [
    `${flowsIn} connection(s) hold no packet from one side though the other side's segments acknowledge it ` +
      `(${named.join("; ")}${more}): that direction was not captured (a one-way mirror port, a capture filter, an ` +
      "asymmetric route) or the address was forged; no finding rests on that side's silence",
  ];
}
