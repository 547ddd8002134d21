/**
 * The human-readable report: capture summary, flow table (cli-table3), findings by flow,
 * or, past a threshold, findings summarised by kind with one example each.
 */
import Table from "cli-table3";
import { SEVERITY_RANK, type Finding } from "../analyze/finding.js";
import { compressFrames } from "./frames.js";
import { MIN_HABIT_FLOWS, habitFlowList, habitTitle, shortSummary, type Habit } from "./habits.js";
import { DEFAULT_SUMMARY_THRESHOLD, summariseByKind } from "./summary-by-kind.js";
import type { FlowReport } from "../analyze/result.js";
import { processesCell } from "../analyze/side-process.js";
import { findingsByFlow, type CaptureSummary, type Report } from "./model.js";
import { PLAIN, type Style } from "./style.js";
import { isoTime } from "./time.js";

export { compressFrames } from "./frames.js";
export { DEFAULT_SUMMARY_THRESHOLD, summariseByKind, type KindSummary } from "./summary-by-kind.js";

export interface TextOptions {
  style?: Style;
  /** Summaries only, no explanations. */
  brief?: boolean;
  /** Flow table rows shown before "… N more" (the JSON has all). */
  maxFlows?: number;
  /** More findings than this and they are summarised by kind (default DEFAULT_SUMMARY_THRESHOLD). */
  summaryThreshold?: number;
  /** Every finding by flow, however many (analyze --all). */
  all?: boolean;
}

/** How the header names a selection, e.g. `filter "tcp port 80": 12 of 40 packets` or `first 3 packets`. */
export function describeSelection(s: NonNullable<CaptureSummary["selection"]>): string {
  const parts: string[] = [];
  if (s.filter !== null) parts.push(`filter "${s.filter}"`);
  if (s.count !== null && s.packetsKept === s.count)
    parts.push(`first ${s.packetsKept} ${s.filter !== null ? "matching " : ""}packets`);
  else if (s.filter !== null) parts.push(`${s.packetsKept} of ${s.packetsRead} packets`);
  else parts.push(`all ${s.packetsKept} packets (fewer than -c ${s.count})`);
  return parts.join(": ");
}

export function renderSummary(r: Report, st: Style): string {
  const c = r.capture;
  const selection = c.selection === null ? "" : ` (${describeSelection(c.selection)})`;
  const lines = [
    st.bold(`Capture ${c.file}${selection}`) + `  (${c.format}, ${c.linkTypes.join(", ") || "no interfaces"})`,
  ];
  // No packet: the bytes read were the capture's header (a live capture that saw nothing
  // read tcpdump's 24), and there is no time span or flow to speak of.
  // With a selection, the bytes read are not those of the packets kept: both are given.
  const size =
    c.selection === null ? `${c.bytes} bytes` : `${c.selection.bytesKept} bytes captured (of ${c.bytes} bytes read)`;
  if (c.packets === 0)
    lines.push(
      c.selection === null
        ? `  no packets in the ${c.bytes} bytes read`
        : `  no packets kept of the ${c.bytes} bytes read`,
    );
  else {
    lines.push(
      `  ${c.packets} packets, ${size}, ${c.durationSec.toFixed(3)} s from ${isoTime(c.start)}`,
      `  ${c.flows.tcp} TCP and ${c.flows.udp} UDP flows; ${c.ipPackets} IP packets, ${c.nonIpPackets} other` +
        (c.truncatedPackets ? `, ${c.truncatedPackets} cut by the snap length` : "") +
        (c.fragments ? `, ${c.fragments} IP fragments (${c.reassembledDatagrams} datagrams reassembled)` : ""),
    );
  }
  if (c.clockJumps.length > 0) {
    const first = c.clockJumps[0]!;
    lines.push(
      st.yellow(
        `  the clock jumps ${c.clockJumps.length === 1 ? "once" : `${c.clockJumps.length} times`} (first at frame ${first.frame}): ` +
          "the duration adds up the stretches between jumps (see warnings)",
      ),
    );
  }
  if (c.partial) lines.push(st.yellow("  partial: reading stopped at damage in the file (see warnings)"));
  return lines.join("\n");
}

export function renderFlowTable(flows: FlowReport[], st: Style, maxRows = Infinity): string {
  if (flows.length === 0) return "No TCP or UDP flows.";
  // The programs' column only when some flow has them (live attribution, or a pcapng that names them).
  const programs = flows.some((f) => f.process !== undefined);
  const table = new Table({
    head: [
      "flow",
      "proto",
      "client",
      "server",
      "frames",
      "packets c/s",
      "bytes c/s",
      "closed by",
      "end state c / s",
      ...(programs ? ["process c / s"] : []),
    ],
    style: { head: st === PLAIN ? [] : ["cyan"], border: st === PLAIN ? [] : ["grey"], compact: true },
  });
  for (const f of flows.slice(0, maxRows)) {
    const close = f.close === null ? "-" : f.close.first === null ? "open" : `${f.close.first} ${f.close.how}`;
    table.push([
      String(f.id) +
        (f.previous !== null ? ` (reuses ${f.previous})` : "") +
        (f.copyOf !== null ? ` (= ${f.copyOf})` : ""),
      f.proto,
      f.client + (f.rolesGuessed ? " ?" : ""),
      f.server,
      `${f.firstFrame}-${f.lastFrame}`,
      `${f.packets.client} / ${f.packets.server}`,
      `${f.bytes.client} / ${f.bytes.server}`,
      close,
      f.state === null ? "-" : `${f.state.client} / ${f.state.server}`,
      ...(programs ? [processesCell(f.process) ?? "-"] : []),
    ]);
  }
  let out = table.toString();
  if (flows.length > maxRows) out += `\n… ${flows.length - maxRows} more flows (all are in --format json)`;
  if (flows.some((f) => f.rolesGuessed))
    out += "\n? roles guessed from the ports: the connection's SYN was not in the capture";
  return out;
}

function severityLabel(f: { severity: Finding["severity"] }, st: Style): string {
  const label = f.severity.toUpperCase();
  return f.severity === "error" ? st.red(st.bold(label)) : f.severity === "warning" ? st.yellow(label) : st.dim(label);
}

function flowHeading(fr: FlowReport | undefined, st: Style): string {
  return st.bold(fr ? `Flow ${fr.id} ${fr.proto} ${fr.client} → ${fr.server}` : "Capture-wide");
}

/** One finding as the listing prints it: its line, then (unless brief) explanation and references. */
function findingLines(f: Finding, st: Style, brief: boolean): string[] {
  const lines = [`  ${severityLabel(f, st)} ${st.cyan(f.kind)}: ${f.summary}${st.dim(framesNote(f))}`];
  if (!brief) {
    lines.push(indentWrap(f.explanation, 6, 92));
    lines.push(st.dim(`      see ${f.references.join("; ")}`));
  }
  return lines;
}

/**
 * The Findings listing: each habit (habits.ts) once, where its severity puts it among the
 * flows, then every other finding under its flow, most severe flows first.
 */
export function renderFindings(r: Report, st: Style, brief: boolean): string {
  if (r.findings.length === 0) return "No findings: nothing in this capture matched a socket problem sockscope knows.";
  const flowsById = new Map(r.flows.map((f) => [f.id, f]));
  const inHabit = new Set(r.habits.flatMap((h) => h.findings.map((i) => r.findings[i]!)));
  /** Blocks in print order: by severity, then first flow; a flow's own findings before a habit starting there. */
  const blocks: { rank: number; flow: number; habit: boolean; lines: string[] }[] = [];
  for (const h of r.habits) {
    blocks.push({
      rank: SEVERITY_RANK[h.severity],
      flow: h.flows[0]!,
      habit: true,
      lines: habitLines(r, h, flowsById, st, brief),
    });
  }
  for (const [flowId, group] of findingsByFlow(r.findings.filter((f) => !inHabit.has(f)))) {
    const lines = [flowHeading(flowId === null ? undefined : flowsById.get(flowId), st)];
    for (const f of group) lines.push(...findingLines(f, st, brief));
    blocks.push({ rank: SEVERITY_RANK[group[0]!.severity], flow: flowId ?? 0, habit: false, lines });
  }
  blocks.sort((a, b) => b.rank - a.rank || a.flow - b.flow || Number(a.habit) - Number(b.habit));
  return blocks.flatMap((b) => b.lines).join("\n");
}

/** A habit's title line: who, how many connections, the kind, and the flows. */
function habitHeading(h: Habit, st: Style): string {
  return `${st.bold("Habit:")} ${severityLabel(h, st)} ${st.bold(`${habitTitle(h)}, ${habitFlowList(h)}`)}`;
}

/** A habit once: its title, its example in full under its flow, then one short line per other finding. */
function habitLines(r: Report, h: Habit, flowsById: Map<number, FlowReport>, st: Style, brief: boolean): string[] {
  const example = r.findings[h.example]!;
  const fr = flowsById.get(example.flow!);
  const lines = [habitHeading(h, st)];
  lines.push(`  ${fr ? `flow ${fr.id} ${fr.client} → ${fr.server}` : `flow ${example.flow}`}, in full:`);
  lines.push(...findingLines(example, st, brief));
  const others = h.findings.filter((i) => i !== h.example);
  lines.push(`  the other ${others.length}:`);
  for (const i of others) {
    const f = r.findings[i]!;
    lines.push(`    flow ${f.flow}${st.dim(framesNote(f))}: ${shortSummary(f, example)}`);
  }
  return lines;
}

/** " [frames 8, 10, 11]", with "…" when the count is over the frames kept; empty without frames. */
function framesNote(f: Finding): string {
  return f.frames.length === 0 ? "" : ` [frames ${compressFrames(f.frames)}${f.count > f.frames.length ? ", …" : ""}]`;
}

/** The Findings section of a big report: one table row per kind, then one example of each. */
export function renderFindingSummary(r: Report, st: Style, brief: boolean): string {
  const flowsById = new Map(r.flows.map((f) => [f.id, f]));
  const kinds = summariseByKind(r.findings);
  const table = new Table({
    head: ["severity", "kind", "findings", "flows", "top flows (times seen)"],
    style: { head: st === PLAIN ? [] : ["cyan"], border: st === PLAIN ? [] : ["grey"], compact: true },
  });
  for (const k of kinds) {
    const top = k.topFlows.map(({ flow, occurrences }) => {
      const fr = flowsById.get(flow);
      return `${flow}${fr ? ` ${fr.client} → ${fr.server}` : ""} (${occurrences})`;
    });
    const rest = k.flows - k.topFlows.length;
    if (rest > 0) top.push(`… ${rest} more flow${rest === 1 ? "" : "s"}`);
    if (k.captureWide > 0) top.push(`capture-wide (${k.captureWide})`);
    table.push([severityLabel(k.example, st), k.kind, String(k.findings), String(k.flows), top.join("\n")]);
  }
  const out = [table.toString()];
  if (r.habits.length > 0) {
    out.push(
      "",
      st.bold(
        `Repeated habits (${r.habits.length}): the same finding on ${MIN_HABIT_FLOWS} or more connections of one client`,
      ),
    );
    for (const h of r.habits) out.push(`  ${severityLabel(h, st)} ${habitTitle(h)}, ${habitFlowList(h)}`);
  }
  out.push("", st.bold("One example of each kind (its first by flow)"));
  for (const k of kinds) {
    const ex = k.example;
    out.push(flowHeading(ex.flow === null ? undefined : flowsById.get(ex.flow), st));
    out.push(...findingLines(ex, st, brief));
  }
  out.push("", `All ${r.findings.length} findings are listed by --format json (or --all for this text report).`);
  return out.join("\n");
}

export function indentWrap(text: string, indent: number, width: number): string {
  const pad = " ".repeat(indent);
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/)) {
    if (line.length > 0 && line.length + 1 + word.length > width - indent) {
      lines.push(pad + line);
      line = word;
    } else {
      line = line.length > 0 ? `${line} ${word}` : word;
    }
  }
  if (line.length > 0) lines.push(pad + line);
  return lines.join("\n");
}

export function renderText(r: Report, opts: TextOptions = {}): string {
  const st = opts.style ?? PLAIN;
  const brief = opts.brief ?? false;
  const summarise = opts.all !== true && r.findings.length > (opts.summaryThreshold ?? DEFAULT_SUMMARY_THRESHOLD);
  const parts = [
    renderSummary(r, st),
    "",
    st.bold("Flows"),
    renderFlowTable(r.flows, st, opts.maxFlows ?? 200),
    "",
    st.bold(`Findings (${r.findings.length})`),
    summarise ? renderFindingSummary(r, st, brief) : renderFindings(r, st, brief),
  ];
  if (r.warnings.length > 0) {
    parts.push("", st.bold(`Warnings (${r.warnings.length})`), ...r.warnings.map((w) => st.yellow(`  ${w}`)));
  }
  return parts.join("\n") + "\n";
}
