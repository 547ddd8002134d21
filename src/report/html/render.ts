/**
 * The self-contained HTML report: one file with the report data as JSON, uPlot (inlined
 * from node_modules) and the page's own script and styles (assets/, inlined), so it opens
 * offline and can be attached to a bug report or kept as a CI artifact.
 *
 * Reusable by any command that has a Report and a FlowSeriesSet (e.g. a live capture):
 *
 *   const series = new SeriesCollector();   // run/series.ts
 *   const { info, engine } = await runCapture(path, { observer: series.observe });
 *   const html = renderHtml(buildReport(info, engine), series);
 *
 * Safety: every string from the capture (file name, addresses, payload bytes, warnings)
 * reaches the page only inside a `<script type="application/json">` block with `<`, `>`
 * and `&` written as \u escapes, and the page puts text in with textContent only. A
 * Content-Security-Policy meta forbids every network access and lets only the two inline
 * scripts (by hash) run.
 */
import { processesCell } from "../../analyze/side-process.js";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { SEVERITY_RANK, type Finding } from "../../analyze/finding.js";
import { ANALYZERS } from "../../analyze/registry.js";
import type { Report } from "../model.js";
import { DEFAULT_SUMMARY_THRESHOLD, summariseByKind } from "../summary-by-kind.js";
import { habitFlowList, habitTitle, shortSummary } from "../habits.js";
import { allocate, selectRows, FLOW_POINTS_MAX, OTHER_FLOW_POINTS_MAX, POINT_BUDGET } from "./downsample.js";
import { FLOW_COLLECT_CAP, META_ACK, META_DIR, META_OLD, TOTAL_COLLECT_CAP, type FlowSeriesSet } from "./series-set.js";

const require = createRequire(import.meta.url);
const VERSION: string = (require("../../../package.json") as { version: string }).version;

/** Flows listed in the page (all flows with findings, then the first others). */
export const MAX_LISTED_FLOWS = 20_000;
/** Findings listed in the page (most severe first). */
export const MAX_LISTED_FINDINGS = 20_000;

export interface HtmlOptions {
  /** Points drawn in all (see downsample.ts). */
  pointBudget?: number;
  /** Text for the generator line; default "sockscope <version>". */
  generator?: string;
}

interface Assets {
  uplotJs: string;
  uplotCss: string;
  js: string;
  css: string;
}
let assets: Assets | null = null;

function loadAssets(): Assets {
  if (assets !== null) return assets;
  const own = (name: string) => readFileSync(new URL(`./assets/${name}`, import.meta.url), "utf8");
  const a: Assets = {
    uplotJs: readFileSync(require.resolve("uplot/dist/uPlot.iife.min.js"), "utf8"),
    uplotCss: readFileSync(require.resolve("uplot/dist/uPlot.min.css"), "utf8"),
    js: own("report.js"),
    css: own("report.css"),
  };
  for (const [name, text] of Object.entries(a)) {
    // An inline script or style ends at the first "</script" / "</style": none may contain one.
    if (/<\/(script|style)|<!--/i.test(text)) throw new Error(`HTML report asset ${name} cannot be inlined`);
  }
  assets = a;
  return a;
}

/** Escapes text for an HTML text node or a quoted attribute. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** JSON that can sit inside a <script> element: no "<", ">" or "&" outside \u escapes. */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, "\\u003c")
    .replace(/>/g, "\\u003e")
    .replace(/&/g, "\\u0026")
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
}

function sha256(text: string): string {
  return `'sha256-${createHash("sha256").update(text, "utf8").digest("base64")}'`;
}

/** Encoded series of one flow: see decodeSeries in assets/report.js for the layout. */
interface SeriesJson {
  n: number;
  c: number;
  d: number;
  u?: 1;
  t: number[];
  f: number[];
  m: number[];
  s: number[];
  l: number[];
  a?: number[];
  w?: number[];
  i?: number[];
}

function encodeSeries(
  s: FlowSeriesSet,
  id: number,
  udp: boolean,
  share: number,
  evidence: ReadonlySet<number>,
  t0: number,
): SeriesJson {
  let rows = s.rowsOf(id);
  // Multi-interface captures can be out of time order: the graphs need ascending time.
  for (let k = 1; k < rows.length; k++) {
    if (s.time[rows[k]!]! < s.time[rows[k - 1]!]!) {
      rows = Uint32Array.from(rows).sort((a, b) => s.time[a]! - s.time[b]! || a - b);
      break;
    }
  }
  const pick = selectRows(s, rows, share, evidence);
  const out: SeriesJson = { n: s.packetsOf(id), c: rows.length, d: pick.length, t: [], f: [], m: [], s: [], l: [] };
  if (udp) out.u = 1;
  else {
    out.a = [];
    out.w = [];
    out.i = [];
  }
  let pt = 0,
    pf = 0;
  const ps = [0, 0],
    pa = [0, 0],
    pw = [0, 0],
    pi = [0, 0];
  for (const k of pick) {
    const r = rows[k]!;
    const dir = s.meta[r]! & META_DIR;
    const t = Math.round((s.time[r]! - t0) * 1e6);
    out.t.push(t - pt);
    pt = t;
    out.f.push(s.frame[r]! - pf);
    pf = s.frame[r]!;
    const m = s.meta[r]!;
    out.m.push(dir | (m & META_OLD ? 2 : 0) | (m & META_ACK ? 4 : 0) | (s.flags[r]! << 3));
    out.s.push(s.seq[r]! - ps[dir]!);
    ps[dir] = s.seq[r]!;
    out.l.push(s.len[r]!);
    if (!udp) {
      if (m & META_ACK) {
        out.a!.push(s.ack[r]! - pa[dir]!);
        pa[dir] = s.ack[r]!;
      } else out.a!.push(0);
      out.w!.push(s.win[r]! - pw[dir]!);
      pw[dir] = s.win[r]!;
      out.i!.push(s.inFlight[r]! - pi[dir]!);
      pi[dir] = s.inFlight[r]!;
    }
  }
  return out;
}

/** Catalogue explanations, to store each once (a finding's own text is "detail + catalogue"). */
const CATALOGUE = new Map(ANALYZERS.map((a) => [a.id, a.explanation]));

export function renderHtml(report: Report, series: FlowSeriesSet | null, opts: HtmlOptions = {}): string {
  const a = loadAssets();
  const t0 = report.capture.start ?? 0;

  // Findings: most severe first when over the cap; texts stored once.
  let findings: Finding[] = report.findings;
  if (findings.length > MAX_LISTED_FINDINGS) {
    findings = [...findings]
      .sort((x, y) => SEVERITY_RANK[y.severity] - SEVERITY_RANK[x.severity])
      .slice(0, MAX_LISTED_FINDINGS);
  }
  const texts: string[] = [];
  const textIndex = new Map<string, number>();
  const text = (s: string): number => {
    let i = textIndex.get(s);
    if (i === undefined) {
      i = texts.length;
      texts.push(s);
      textIndex.set(s, i);
    }
    return i;
  };
  const findingRows = findings.map((f) => {
    const cat = CATALOGUE.get(f.kind);
    let detail = "",
      x: number;
    if (cat !== undefined && f.explanation !== cat && f.explanation.endsWith(` ${cat}`)) {
      detail = f.explanation.slice(0, f.explanation.length - cat.length - 1);
      x = text(cat);
    } else x = text(f.explanation);
    return {
      kind: f.kind,
      severity: f.severity,
      flow: f.flow,
      frames: f.frames,
      count: f.count,
      time: Math.round((f.time - t0) * 1e6) / 1e6,
      side: f.side,
      endpoint: f.endpoint,
      summary: f.summary,
      detail,
      x,
      references: f.references,
      measure: f.measure,
    };
  });

  // Flows: all with findings, then the first others up to the cap.
  const withFindings = new Set<number>();
  const evidence = new Map<number, Set<number>>();
  for (const f of report.findings) {
    if (f.flow === null) continue;
    withFindings.add(f.flow);
    let e = evidence.get(f.flow);
    if (e === undefined) {
      e = new Set();
      evidence.set(f.flow, e);
    }
    for (const fr of f.frames) e.add(fr);
  }
  let flows = report.flows;
  if (flows.length > MAX_LISTED_FLOWS) {
    const others = MAX_LISTED_FLOWS - flows.filter((f) => withFindings.has(f.id)).length;
    let n = 0;
    flows = flows.filter((f) => withFindings.has(f.id) || n++ < others);
  }
  const flowRows = flows.map((f) => {
    const fb = series?.firstBytes(f.id);
    return [
      f.id,
      f.proto,
      f.client,
      f.server,
      f.rolesGuessed ? 1 : 0,
      f.vlan,
      f.firstFrame,
      f.lastFrame,
      Math.round((f.start - t0) * 1e6) / 1e6,
      f.durationSec,
      f.packets.client,
      f.packets.server,
      f.bytes.client,
      f.bytes.server,
      f.close?.first ?? null,
      f.close?.how ?? null,
      f.close?.frame ?? null,
      f.state?.client ?? null,
      f.state?.server ?? null,
      f.previous,
      fb?.[0] ?? null,
      fb?.[1] ?? null,
      f.copyOf,
      processesCell(f.process),
    ];
  });

  // Series, within the point budget.
  const budget = opts.pointBudget ?? POINT_BUDGET;
  const seriesJson: Record<number, SeriesJson> = {};
  /** Flows with packets but no share of the point budget left. */
  const overBudget: number[] = [];
  if (series !== null) {
    const ids = flows.map((f) => f.id);
    const shares = allocate(ids, withFindings, (id) => series.rowsOf(id).length, budget);
    for (const f of flows) {
      if (series.rowsOf(f.id).length === 0) continue;
      const share = shares.get(f.id) ?? 0;
      if (share === 0) {
        overBudget.push(f.id);
        continue;
      }
      seriesJson[f.id] = encodeSeries(series, f.id, f.proto === "udp", share, evidence.get(f.id) ?? new Set(), t0);
    }
  }

  // The summary by kind counts every finding, listed or not (the text report's rule).
  const kinds = summariseByKind(report.findings).map((k) => ({
    kind: k.kind,
    severity: k.severity,
    findings: k.findings,
    flows: k.flows,
    topFlows: k.topFlows,
    captureWide: k.captureWide,
    example: {
      flow: k.example.flow,
      severity: k.example.severity,
      summary: k.example.summary,
      frames: k.example.frames.slice(0, 8),
      count: k.example.count,
      time: Math.round((k.example.time - t0) * 1e6) / 1e6,
    },
  }));

  // Habits (habits.ts) over the listed findings: indexes into findingRows; a finding over
  // the listing cap is left out of its habit's rows, but counted in its title.
  const listedIndex = new Map(findings.map((f, i) => [f, i]));
  const habits = report.habits.map((h) => {
    const example = report.findings[h.example]!;
    const rows = h.findings.filter((i) => listedIndex.has(report.findings[i]!));
    return {
      kind: h.kind,
      severity: h.severity,
      title: `${habitTitle(h)}, ${habitFlowList(h)}`,
      flows: h.flows,
      count: h.findings.length,
      example: listedIndex.get(example) ?? null,
      findings: rows.map((i) => listedIndex.get(report.findings[i]!)!),
      short: rows.map((i) => shortSummary(report.findings[i]!, example)),
    };
  });

  const data = {
    v: 1,
    generator: opts.generator ?? `sockscope ${VERSION}`,
    capture: report.capture,
    warnings: report.warnings,
    flowCount: report.flows.length,
    findingCount: report.findings.length,
    flows: flowRows,
    findings: findingRows,
    habits,
    kinds,
    summaryThreshold: DEFAULT_SUMMARY_THRESHOLD,
    texts,
    series: seriesJson,
    hasSeries: series !== null,
    overBudget,
    limits: {
      pointBudget: budget,
      flowPointsMax: FLOW_POINTS_MAX,
      otherFlowPointsMax: OTHER_FLOW_POINTS_MAX,
      flowCollectCap: FLOW_COLLECT_CAP,
      totalCollectCap: TOTAL_COLLECT_CAP,
      thinned: series?.thinned ?? false,
      maxListedFlows: MAX_LISTED_FLOWS,
      maxListedFindings: MAX_LISTED_FINDINGS,
    },
  };

  const csp = [
    "default-src 'none'",
    `script-src ${sha256(a.uplotJs)} ${sha256(a.js)}`,
    "style-src 'unsafe-inline'",
    "img-src data:",
    "base-uri 'none'",
    "form-action 'none'",
  ].join("; ");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="${escapeHtml(data.generator)}">
<title>sockscope: ${escapeHtml(report.capture.file)}</title>
<style>${a.uplotCss}</style>
<style>${a.css}</style>
</head>
<body>
<noscript><p>This report draws its tables and graphs with JavaScript. The same data is in <code>sockscope analyze --format json</code>.</p></noscript>
<div id="app"></div>
<script type="application/json" id="sockscope-data">${scriptJson(data)}</script>
<script>${a.uplotJs}</script>
<script>${a.js}</script>
</body>
</html>
`;
}
