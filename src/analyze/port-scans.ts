/**
 * Port scans, recognised across flows after the analysis (as mirrored-flows.ts is): from
 * one source to one target, ten or more ports each probed by a flow that is no more than
 * a SYN and its answer — the scanner sent only SYNs (and the RST its kernel sends after a
 * SYN-ACK), neither side sent data. Such flows are no connect() at all, so their findings
 * (a refused connect, a timed-out one) are folded into one port-scan finding that counts
 * the open, closed and filtered ports. Runs on the whole result, after a `--jobs` merge
 * too (a scan's probes go to different workers).
 */
import portScan from "./analyzers/port-scan.js";
import { compareFindings, type Finding } from "./finding.js";
import { hostOf, portOf } from "../decode/wire/address.js";

/** What the rule reads of a flow report (result.ts's FlowReport, which calls it). */
interface FlowReport {
  id: number;
  proto: string;
  client: string;
  server: string;
  rolesGuessed: boolean;
  vlan: number | null;
  firstFrame: number;
  start: number;
  durationSec: number;
  packets: { client: number; server: number };
  bytes: { client: number; server: number };
  close: { how: string } | null;
  isn: { client: number | null; server: number | null } | null;
  copyOf: number | null;
}

/** Distinct ports probed before a source counts as scanning its target. */
export const SCAN_MIN_PORTS = 10;
/** A probe: at most a SYN, one re-send and the RST after a SYN-ACK from the scanner; a SYN-ACK and two re-sends, or a RST, from the target. */
const MAX_PROBE_PACKETS = 3;
/** IP + TCP headers with options, no payload: the most a probe's packet takes (IPv4, IPv6). */
const MAX_HEADER_BYTES = [64, 84] as const;
/** Ports named in a summary. */
const MAX_NAMED_PORTS = 8;

export function foldPortScans<R extends { flows: FlowReport[]; findings: Finding[] }>(result: R): R {
  const groups = new Map<string, FlowReport[]>();
  for (const f of result.flows) {
    if (!isProbe(f)) continue;
    const key = `${f.vlan ?? 0} ${hostOf(f.client)} ${hostOf(f.server)}`;
    const g = groups.get(key);
    if (g === undefined) groups.set(key, [f]);
    else g.push(f);
  }
  // Each probe flow's scan, so that folding its findings is one lookup each.
  const scanOf = new Map<number, number>();
  const scans: FlowReport[][] = [];
  for (const g of groups.values()) {
    if (new Set(g.map((f) => portOf(f.server))).size < SCAN_MIN_PORTS) continue;
    for (const f of g) scanOf.set(f.id, scans.length);
    scans.push(g);
  }
  if (scans.length === 0) return result;
  const kept: Finding[] = [];
  const folded: Finding[][] = scans.map(() => []);
  for (const x of result.findings) {
    const scan = x.flow === null ? undefined : scanOf.get(x.flow);
    if (scan === undefined) kept.push(x);
    else folded[scan]!.push(x);
  }
  for (let i = 0; i < scans.length; i++) kept.push(scanFinding(scans[i]!, folded[i]!));
  kept.sort(compareFindings);
  return { ...result, findings: kept };
}

/** No more than a SYN and its answer: no data either way, the client's SYN seen. */
function isProbe(f: FlowReport): boolean {
  if (f.proto !== "tcp" || f.rolesGuessed || f.isn?.client === null || f.copyOf !== null) return false;
  const { client, server } = f.packets;
  if (client === 0 || client > MAX_PROBE_PACKETS || server > MAX_PROBE_PACKETS) return false;
  const most = MAX_HEADER_BYTES[f.client.startsWith("[") ? 1 : 0];
  return f.bytes.client <= client * most && f.bytes.server <= server * most && f.close?.how !== "FIN";
}

/** What the target answered a probe: a SYN-ACK (open), a RST only (closed), nothing (filtered). */
function answer(f: FlowReport): "open" | "closed" | "filtered" {
  if (f.isn?.server !== null && f.isn?.server !== undefined) return "open";
  return f.packets.server > 0 ? "closed" : "filtered";
}

function scanFinding(g: FlowReport[], folded: Finding[]): Finding {
  g.sort((a, b) => a.firstFrame - b.firstFrame);
  const ports = [...new Set(g.map((f) => portOf(f.server)))].sort((a, b) => a - b);
  const by = { open: [] as number[], closed: [] as number[], filtered: [] as number[] };
  for (const f of g) by[answer(f)].push(portOf(f.server));
  const first = g[0]!,
    last = g.reduce((a, b) => (b.start + b.durationSec > a.start + a.durationSec ? b : a));
  const spanSec = Math.max(0, last.start + last.durationSec - first.start);
  const kinds = new Map<string, number>();
  for (const x of folded) kinds.set(x.kind, (kinds.get(x.kind) ?? 0) + 1);
  const foldedText =
    folded.length === 0
      ? ""
      : `; the probes' own findings (${[...kinds].map(([k, n]) => `${n} ${k}`).join(", ")}) are folded into this one: ` +
        "no program called connect()";
  const openText =
    by.open.length === 0
      ? "none open"
      : `${by.open.length} open (${named(by.open)}: SYN-ACK, then the scanner's RST: a half-open scan)`;
  return {
    kind: portScan.id,
    severity: "info",
    flow: null,
    frames: g.map((f) => f.firstFrame).slice(0, 50),
    count: g.length,
    time: first.start,
    side: null,
    endpoint: null,
    summary:
      `${hostOf(first.client)} probed ${ports.length} ports of ${hostOf(first.server)} (${named(ports)}) with a SYN each ` +
      `within ${round3(spanSec)} s and used none: ${openText}, ${by.closed.length} closed (RST), ${by.filtered.length} ` +
      `filtered (no answer); ${g.length} probe flows, the first ${g[0]!.id}, the last ${g[g.length - 1]!.id}${foldedText}`,
    explanation: portScan.explanation,
    references: portScan.references,
    measure: {
      ports: ports.length,
      open: by.open.length,
      closed: by.closed.length,
      filtered: by.filtered.length,
      spanMs: round3(spanSec * 1000),
      foldedFindings: folded.length,
    },
  };
}

/** Sorted ports as runs ("7000-7002, 7005"), the first MAX_NAMED_PORTS runs named. */
function named(ports: number[]): string {
  const runs: string[] = [];
  for (let i = 0; i < ports.length; ) {
    let j = i;
    while (j + 1 < ports.length && ports[j + 1] === ports[j]! + 1) j++;
    runs.push(i === j ? `${ports[i]}` : `${ports[i]}-${ports[j]}`);
    i = j + 1;
  }
  const shown = runs.slice(0, MAX_NAMED_PORTS).join(", ");
  return runs.length > MAX_NAMED_PORTS ? `${shown}, …` : shown;
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
