/**
 * Holds a report's findings to an expectations file. Pure: report + expectations in,
 * a list of checks (each passed or with its problems, and where the findings are) out.
 *
 * Rules, in order:
 * - expect: each entry chooses findings by kind, severity, side and flow; the number it
 *   chooses must be in `findings` (default: at least one), and each chosen finding must
 *   meet `count` and `measure`; `frames` must all be among their evidence frames. Entries
 *   are independent: two may choose the same finding.
 * - absent: a finding an absent entry chooses fails, unless an expect entry chose it
 *   ("no nagle-delay except the one expected on port 5110"). absent wins over allow.
 * - allow: findings it chooses are noise: neither expected nor unexpected.
 * - strict (default): every other finding fails as "unexpected", as a new snapshot would.
 */
import type { Finding } from "../analyze/finding.js";
import type { FlowReport } from "../analyze/result.js";
import type { Report } from "../report/model.js";
import {
  suggest,
  type Entry,
  type Expectation,
  type Expectations,
  type FlowSelector,
  type Range,
  type Selector,
} from "./expect.js";

/** A finding as the check output shows it: what, and where (flow, endpoints, frames). */
export interface FindingRef {
  kind: string;
  severity: string;
  side: "client" | "server" | null;
  flow: number | null;
  proto: "tcp" | "udp" | null;
  client: string | null;
  server: string | null;
  frames: number[];
  count: number;
  measure: Record<string, number>;
  summary: string;
}

export interface Problem {
  /** What was compared: "findings", "count", "measure stallMaxMs", "frames", "unexpected finding". */
  what: string;
  expected: string;
  found: string;
  /** The finding the problem is about, if one. */
  finding?: FindingRef;
}

export type CheckType = "expect" | "absent" | "unexpected";

export interface CheckItem {
  /** "expect[0]", "absent[1]", "unexpected[0]": stable names for reports (JUnit test names). */
  id: string;
  type: CheckType;
  /** JSON path of the entry in the expectations file, for expect and absent. */
  path: string | null;
  /** What the entry asks for, in words. */
  label: string;
  ok: boolean;
  problems: Problem[];
  /** The findings the entry chose (for a passed expect entry: where they are). */
  findings: FindingRef[];
  /** For a failed expect entry: findings of the same kind it did not choose. */
  nearby: FindingRef[];
  /** For an unexpected finding: the expect entry --update would write for it. */
  suggestion?: Record<string, unknown>;
}

export interface MatchResult {
  ok: boolean;
  strict: boolean;
  checks: CheckItem[];
  /** Findings that allow entries made noise. */
  allowed: FindingRef[];
  /** With strict off: findings nothing accounted for (reported, not failed). */
  uncovered: FindingRef[];
}

// ---------------------------------------------------------------- selection

export function canonicalHost(h: string): string {
  const bare = h.startsWith("[") && h.endsWith("]") ? h.slice(1, -1) : h;
  if (!bare.includes(":")) return bare;
  try {
    return new URL(`http://[${bare}]/`).hostname.slice(1, -1);
  } catch {
    return bare.toLowerCase();
  }
}

export function splitEndpoint(endpoint: string): { host: string; port: number } {
  const i = endpoint.lastIndexOf(":");
  return { host: canonicalHost(endpoint.slice(0, i)), port: Number(endpoint.slice(i + 1)) };
}

export function flowMatches(
  sel: FlowSelector | null | undefined,
  flow: FlowReport | undefined,
  findingFlow: number | null,
): boolean {
  if (sel === undefined) return true;
  if (sel === null) return findingFlow === null;
  if (findingFlow === null || flow === undefined) return false;
  if (sel.id !== undefined && flow.id !== sel.id) return false;
  if (sel.proto !== undefined && flow.proto !== sel.proto) return false;
  const c = splitEndpoint(flow.client),
    s = splitEndpoint(flow.server);
  if (sel.serverPort !== undefined && s.port !== sel.serverPort) return false;
  if (sel.clientPort !== undefined && c.port !== sel.clientPort) return false;
  if (sel.port !== undefined && s.port !== sel.port && c.port !== sel.port) return false;
  if (sel.serverHost !== undefined && s.host !== canonicalHost(sel.serverHost)) return false;
  if (sel.clientHost !== undefined && c.host !== canonicalHost(sel.clientHost)) return false;
  if (sel.host !== undefined) {
    const h = canonicalHost(sel.host);
    if (s.host !== h && c.host !== h) return false;
  }
  return true;
}

export function inRange(x: number, r: Range): boolean {
  return (r.min === undefined || x >= r.min) && (r.max === undefined || x <= r.max);
}

export function rangeText(r: Range): string {
  if (r.min !== undefined && r.max !== undefined) return r.min === r.max ? `${r.min}` : `${r.min} to ${r.max}`;
  if (r.min !== undefined) return r.min === 1 ? "at least 1" : `≥ ${r.min}`;
  return `≤ ${r.max}`;
}

/** The identity part of an entry: kind, severity, side, flow. */
function identityMatches(e: Selector | Expectation, f: Finding, flow: FlowReport | undefined): boolean {
  if (e.kind !== undefined && f.kind !== e.kind) return false;
  if (e.severity !== undefined && f.severity !== e.severity) return false;
  if (e.side !== undefined && f.side !== e.side) return false;
  return flowMatches(e.flow, flow, f.flow);
}

/** An allow or absent entry: every field chooses. */
export function selectorMatches(s: Selector, f: Finding, flow: FlowReport | undefined): boolean {
  if (!identityMatches(s, f, flow)) return false;
  if (s.count !== undefined && !inRange(f.count, s.count)) return false;
  if (s.measure !== undefined) {
    for (const [k, r] of Object.entries(s.measure)) {
      const v = f.measure[k];
      if (v === undefined || !inRange(v, r)) return false;
    }
  }
  return true;
}

/** Linux's default ephemeral port range starts here (net.ipv4.ip_local_port_range). */
export const EPHEMERAL_PORT_MIN = 32768;

/**
 * How a baseline names a finding's flow: protocol and server port, which a program
 * chooses and keeps (never the ephemeral client port). Only when the roles were guessed
 * (no SYN: UDP, or a connection caught mid-stream) and both ports look ephemeral is there
 * no stable port: then the flow id.
 */
export function baselineFlow(flow: FlowReport | undefined, findingFlow: number | null): FlowSelector | null {
  if (findingFlow === null) return null;
  if (flow === undefined) return { id: findingFlow };
  const s = splitEndpoint(flow.server).port,
    c = splitEndpoint(flow.client).port;
  if (flow.rolesGuessed && s >= EPHEMERAL_PORT_MIN && c >= EPHEMERAL_PORT_MIN) return { id: flow.id };
  return { proto: flow.proto, serverPort: s };
}

// ---------------------------------------------------------------- labels

/** "tcp to port 5110", "udp from 10.0.0.2 to port 53", "flow 3", "capture-wide" */
export function flowSelectorText(sel: FlowSelector | null | undefined): string {
  if (sel === undefined) return "";
  if (sel === null) return "capture-wide";
  const addr = (host: string | undefined, port: number | undefined) => {
    const h = host === undefined ? undefined : host.includes(":") ? `[${host}]` : host;
    if (h !== undefined && port !== undefined) return `${h}:${port}`;
    return h ?? `port ${port}`;
  };
  const parts: string[] = [sel.proto ?? (sel.id === undefined ? "flows" : "flow")];
  if (sel.id !== undefined) parts.push(sel.proto === undefined ? `${sel.id}` : `flow ${sel.id}`);
  if (sel.clientHost !== undefined || sel.clientPort !== undefined)
    parts.push(`from ${addr(sel.clientHost, sel.clientPort)}`);
  if (sel.serverHost !== undefined || sel.serverPort !== undefined)
    parts.push(`to ${addr(sel.serverHost, sel.serverPort)}`);
  if (sel.host !== undefined) parts.push(`with host ${sel.host}`);
  if (sel.port !== undefined) parts.push(`with port ${sel.port}`);
  return parts.join(" ");
}

/** "nagle-delay warning, client side, tcp to port 5110, stallMaxMs ≤ 5" */
export function selectorText(s: Selector | Expectation): string {
  const head =
    s.kind !== undefined
      ? [s.kind, s.severity].filter((x) => x !== undefined).join(" ")
      : `${s.severity ?? "any"} finding`;
  const parts = [head];
  if (s.side !== undefined) parts.push(s.side === null ? "no side" : `${s.side} side`);
  const flow = flowSelectorText(s.flow);
  if (flow !== "") parts.push(flow);
  if (s.count !== undefined) parts.push(`count ${rangeText(s.count)}`);
  for (const [k, r] of Object.entries(s.measure ?? {})) parts.push(`${k} ${rangeText(r)}`);
  return parts.join(", ");
}

export function findingRef(f: Finding, flow: FlowReport | undefined): FindingRef {
  return {
    kind: f.kind,
    severity: f.severity,
    side: f.side,
    flow: f.flow,
    proto: flow?.proto ?? null,
    client: flow?.client ?? null,
    server: flow?.server ?? null,
    frames: f.frames,
    count: f.count,
    measure: f.measure,
    summary: f.summary,
  };
}

/** "flow 1 tcp 127.0.0.1:50894 → 127.0.0.1:5110, frames 10, 11, 12, … (27 frames)"; brief: "flow 1, frames …" */
export function whereText(r: FindingRef, maxFrames = 8, brief = false): string {
  const flow =
    r.flow === null
      ? "capture-wide"
      : brief
        ? `flow ${r.flow}`
        : `flow ${r.flow} ${r.proto ?? ""} ${r.client ?? "?"} → ${r.server ?? "?"}`;
  if (r.frames.length === 0) return flow;
  const shown = r.frames.slice(0, maxFrames).join(", ");
  const more = r.frames.length > maxFrames ? `, … (${r.frames.length} frames)` : "";
  return `${flow}, frame${r.frames.length === 1 ? "" : "s"} ${shown}${more}`;
}

/** "nagle-delay warning, client side" */
export function findingText(r: FindingRef): string {
  return `${r.kind} ${r.severity}${r.side === null ? "" : `, ${r.side} side`}`;
}

// ---------------------------------------------------------------- checking

function checkExpectation(
  e: Entry<Expectation>,
  index: number,
  findings: Finding[],
  flows: Map<number, FlowReport>,
  ref: (f: Finding) => FindingRef,
): { item: CheckItem; chosen: Finding[] } {
  const x = e.value;
  const chosen = findings.filter((f) => identityMatches(x, f, flowOf(flows, f)));
  const problems: Problem[] = [];
  const want = x.findings ?? { min: 1 };
  if (!inRange(chosen.length, want)) {
    problems.push({ what: "findings", expected: rangeText(want), found: String(chosen.length) });
  }
  for (const f of chosen) {
    if (x.count !== undefined && !inRange(f.count, x.count)) {
      problems.push({ what: "count", expected: rangeText(x.count), found: String(f.count), finding: ref(f) });
    }
    for (const [k, r] of Object.entries(x.measure ?? {})) {
      const v = f.measure[k];
      if (v === undefined) {
        const has = Object.keys(f.measure);
        problems.push({
          what: `measure ${k}`,
          expected: rangeText(r),
          found: `not measured${suggest(k, has)}; this finding has ${has.length ? has.join(", ") : "no measures"}`,
          finding: ref(f),
        });
      } else if (!inRange(v, r)) {
        problems.push({ what: `measure ${k}`, expected: rangeText(r), found: String(v), finding: ref(f) });
      }
    }
  }
  if (x.frames !== undefined) {
    const have = new Set(chosen.flatMap((f) => f.frames));
    const missing = x.frames.filter((n) => !have.has(n));
    if (missing.length > 0) {
      const evidence = [...have].sort((a, b) => a - b);
      problems.push({
        what: "frames",
        expected: `${x.frames.join(", ")} among the evidence`,
        found:
          have.size === 0
            ? "no evidence frames"
            : `${missing.join(", ")} not among ${evidence.slice(0, 20).join(", ")}${evidence.length > 20 ? ", …" : ""}`,
      });
    }
  }
  const ok = problems.length === 0;
  const nearby = ok ? [] : findings.filter((f) => f.kind === x.kind && !chosen.includes(f)).map(ref);
  return {
    item: {
      id: `expect[${index}]`,
      type: "expect",
      path: e.path,
      label: selectorText(x),
      ok,
      problems,
      findings: chosen.map(ref),
      nearby,
    },
    chosen,
  };
}

function flowOf(flows: Map<number, FlowReport>, f: Finding): FlowReport | undefined {
  return f.flow === null ? undefined : flows.get(f.flow);
}

export function matchReport(report: Pick<Report, "findings" | "flows">, x: Expectations): MatchResult {
  return classify(report, x).result;
}

/** Findings that neither an expect nor an allow entry accounts for, and no absent entry forbids. */
export function unaccounted(report: Pick<Report, "findings" | "flows">, x: Expectations): Finding[] {
  return classify(report, { ...x, strict: true }).unexpected;
}

function classify(
  report: Pick<Report, "findings" | "flows">,
  x: Expectations,
): { result: MatchResult; unexpected: Finding[] } {
  const flows = new Map(report.flows.map((f) => [f.id, f]));
  const findings = report.findings;
  const refs = new Map<Finding, FindingRef>();
  const ref = (f: Finding) => {
    let r = refs.get(f);
    if (r === undefined) {
      r = findingRef(f, flowOf(flows, f));
      refs.set(f, r);
    }
    return r;
  };
  const checks: CheckItem[] = [];
  const expected = new Set<Finding>();
  x.expect.forEach((e, i) => {
    const { item, chosen } = checkExpectation(e, i, findings, flows, ref);
    for (const f of chosen) expected.add(f);
    checks.push(item);
  });
  const forbidden = new Set<Finding>();
  x.absent.forEach((a, i) => {
    const hits = findings.filter((f) => !expected.has(f) && selectorMatches(a.value, f, flowOf(flows, f)));
    for (const f of hits) forbidden.add(f);
    checks.push({
      id: `absent[${i}]`,
      type: "absent",
      path: a.path,
      label: `no ${selectorText(a.value)}`,
      ok: hits.length === 0,
      problems: hits.map((f) => ({ what: "absent", expected: "none", found: findingText(ref(f)), finding: ref(f) })),
      findings: hits.map(ref),
      nearby: [],
    });
  });
  const allowed: FindingRef[] = [];
  const uncovered: FindingRef[] = [];
  const unexpected: Finding[] = [];
  for (const f of findings) {
    if (expected.has(f) || forbidden.has(f)) continue;
    if (x.allow.some((a) => selectorMatches(a.value, f, flowOf(flows, f)))) {
      allowed.push(ref(f));
      continue;
    }
    if (!x.strict) {
      uncovered.push(ref(f));
      continue;
    }
    const r = ref(f);
    checks.push({
      id: `unexpected[${unexpected.length}]`,
      type: "unexpected",
      path: null,
      label: `unexpected ${findingText(r)}`,
      ok: false,
      problems: [
        {
          what: "unexpected finding",
          expected: "no finding that the expectations do not account for",
          found: findingText(r),
          finding: r,
        },
      ],
      findings: [r],
      nearby: [],
      suggestion: { kind: f.kind, severity: f.severity, side: f.side, flow: baselineFlow(flowOf(flows, f), f.flow) },
    });
    unexpected.push(f);
  }
  return { result: { ok: checks.every((c) => c.ok), strict: x.strict, checks, allowed, uncovered }, unexpected };
}
