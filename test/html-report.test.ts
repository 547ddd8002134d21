/**
 * The HTML report without a browser: series collection and thinning, the downsampling
 * rule, escaping, the page's self-containedness (CSP, inline scripts matching their
 * hashes, no URLs), and `analyze -o` for every format. The browser tests are in
 * html-browser.test.ts.
 */
import { createHash } from "node:crypto";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCapture } from "../src/run/pipeline.js";
import { buildReport } from "../src/report/model.js";
import { renderHtml, scriptJson, escapeHtml } from "../src/report/html/index.js";
import { SeriesCollector } from "../src/run/series.js";
import { fairShares, selectRows, FLOW_POINTS_MAX } from "../src/report/html/downsample.js";
import { META_NOTABLE } from "../src/report/html/series-set.js";
import { TH_FIN, TH_RST, TH_SYN } from "../src/decode/wire/packet.js";
import { DEFAULT_SUMMARY_THRESHOLD, summariseByKind } from "../src/report/summary-by-kind.js";
import { renderText } from "../src/report/text.js";
import { CLI, CORPUS, FIXTURES } from "./helpers/paths.js";

const fixture = (p: string) => join(FIXTURES, p);

async function collect(path: string, collector = new SeriesCollector()) {
  const { info, engine } = await runCapture(path, { observer: collector.observe });
  return { report: buildReport(info, engine), series: collector };
}

/** The page's embedded data. */
function pageData(html: string): any {
  const m = /<script type="application\/json" id="sockscope-data">([^<]*)<\/script>/.exec(html);
  expect(m).not.toBeNull();
  return JSON.parse(m![1]!);
}

describe("series collection", () => {
  it("keeps one row per TCP segment with relative seq/ack, window and bytes in flight", async () => {
    const { report, series } = await collect(fixture("zero-window/stalled-reader.pcap"));
    const f = report.flows[0]!;
    const rows = series.rowsOf(f.id);
    expect(rows.length).toBe(f.packets.client + f.packets.server);
    expect(series.packetsOf(f.id)).toBe(rows.length);
    const first = rows[0]!;
    expect(series.flags[first]! & TH_SYN).toBeTruthy();
    expect(series.seq[first]).toBe(0);
    expect(series.frame[first]).toBe(1);
    // The stalled reader (server, direction 1) advertises a zero window.
    const serverWins = [...rows]
      .filter((r) => (series.meta[r]! & 1) === 1 && (series.flags[r]! & (TH_SYN | TH_RST)) === 0)
      .map((r) => series.win[r]!);
    expect(Math.min(...serverWins)).toBe(0);
    expect(Math.max(...[...rows].map((r) => series.inFlight[r]!))).toBeGreaterThan(0);
    expect(series.firstBytes(f.id)?.[0]).toMatch(/^z+$/);
  });

  it("counts UDP bytes per direction as the sequence", async () => {
    const { report, series } = await collect(fixture("udp-fixed-retry/answered-first.pcap"));
    const f = report.flows.find((x) => x.proto === "udp")!;
    const rows = [...series.rowsOf(f.id)].filter((r) => (series.meta[r]! & 1) === 0);
    let sum = 0;
    for (const r of rows) {
      expect(series.seq[r]).toBe(sum);
      sum += series.len[r]!;
    }
    expect(sum).toBeGreaterThan(0);
  });

  it("thins a flow past its cap but keeps SYN, FIN and RST", async () => {
    const full = await collect(fixture("retransmission/fast.pcap"));
    const small = await collect(fixture("retransmission/fast.pcap"), new SeriesCollector(64, 1 << 20));
    const id = full.report.flows[0]!.id;
    const all = full.series.rowsOf(id).length,
      kept = small.series.rowsOf(id).length;
    expect(all).toBe(1002);
    expect(kept).toBeLessThanOrEqual(64 + 32);
    expect(kept).toBeGreaterThan(16);
    expect(small.series.thinned).toBe(true);
    const flagged = (s: SeriesCollector) =>
      [...s.rowsOf(id)]
        .filter((r) => s.flags[r]! & (TH_SYN | TH_FIN | TH_RST))
        .map((r) => s.frame[r])
        .sort();
    expect(flagged(small.series)).toEqual(flagged(full.series));
  });

  it("thins every flow when the total cap is reached", async () => {
    const small = await collect(
      fixture("time-wait-reuse/server-tw-no-timestamps.pcap"),
      new SeriesCollector(1 << 20, 64),
    );
    let total = 0;
    for (const f of small.report.flows) total += small.series.rowsOf(f.id).length;
    expect(total).toBeLessThanOrEqual(64);
    for (const f of small.report.flows) expect(small.series.rowsOf(f.id).length).toBeGreaterThan(0);
  });
});

describe("downsampling", () => {
  it("gives small flows all their points and big flows equal shares", () => {
    const s = fairShares([10, 5000, 20, 8000], 1000, 4000);
    expect(s[0]).toBe(10);
    expect(s[2]).toBe(20);
    expect(s[1]).toBe(485);
    expect(s[3]).toBe(485);
    expect(s.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(1000);
    expect(Math.abs(s[1]! - s[3]!)).toBeLessThanOrEqual(1);
    expect(fairShares([100000], 1e9, FLOW_POINTS_MAX)[0]).toBe(FLOW_POINTS_MAX);
  });

  it("keeps a flow's first and last packet, its findings' frames and its notable packets", async () => {
    const { report, series } = await collect(fixture("retransmission/fast.pcap"));
    const id = report.flows[0]!.id;
    const rows = series.rowsOf(id);
    const evidence = new Set(report.findings.filter((f) => f.flow === id).flatMap((f) => f.frames));
    const pick = selectRows(series, rows, 200, evidence);
    expect(pick.length).toBeLessThanOrEqual(200);
    expect(pick[0]).toBe(0);
    expect(pick[pick.length - 1]).toBe(rows.length - 1);
    const frames = new Set(pick.map((k) => series.frame[rows[k]!]));
    for (const fr of evidence) expect(frames.has(fr)).toBe(true);
    const notable = [...rows].filter((r) => series.meta[r]! & META_NOTABLE).map((r) => series.frame[r]);
    expect(notable.length).toBeLessThan(100);
    for (const fr of notable) expect(frames.has(fr)).toBe(true);
  });
});

describe("the page", () => {
  it("escapes data for a script element and text for HTML", () => {
    const s = scriptJson({ a: "</script><!-- & \u2028 <img onerror=x>" });
    expect(s).not.toMatch(/[<>&\u2028]/);
    expect(JSON.parse(s)).toEqual({ a: "</script><!-- & \u2028 <img onerror=x>" });
    expect(escapeHtml(`<a href="x">'&`)).toBe("&#60;a href=&#34;x&#34;&#62;&#39;&#38;");
  });

  it("is self-contained: a CSP that forbids the network, inline scripts allowed by hash, no URLs", async () => {
    const { report, series } = await collect(fixture("zero-window/stalled-reader.pcap"));
    const html = renderHtml(report, series);
    const csp = /<meta http-equiv="Content-Security-Policy" content="([^"]+)">/.exec(html)![1]!;
    expect(csp).toMatch(/default-src 'none'/);
    expect(csp).toMatch(/style-src 'unsafe-inline'/);
    expect(csp).toMatch(/img-src data:/);
    expect(csp).not.toMatch(/script-src[^;]*unsafe/);
    const scripts = [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => m[1]!);
    expect(scripts).toHaveLength(2);
    for (const s of scripts) expect(csp).toContain(`'sha256-${createHash("sha256").update(s).digest("base64")}'`);
    expect(html).not.toMatch(/<(script|link|img|iframe)[^>]*\b(src|href)=/i);
    expect(html).not.toMatch(/@import|url\(\s*['"]?https?:/i);
    const data = pageData(html);
    expect(data.findings.map((f: { kind: string }) => f.kind)).toEqual(report.findings.map((f) => f.kind));
    expect(data.flows).toHaveLength(1);
    expect(Object.keys(data.series)).toEqual(["1"]);
    expect(data.series[1].n).toBe(31);
    expect(data.series[1].d).toBe(31);
  });

  it("stores each catalogue explanation once", async () => {
    const { report, series } = await collect(fixture("time-wait-reuse/server-tw-no-timestamps.pcap"));
    const data = pageData(renderHtml(report, series));
    expect(data.texts.length).toBeLessThan(report.findings.length);
    data.findings.forEach((f: { detail: string; x: number }, i: number) => {
      expect((f.detail ? `${f.detail} ` : "") + data.texts[f.x]).toBe(report.findings[i]!.explanation);
    });
  });

  it("renders without series (graphs left out) and for an empty report", async () => {
    const { report } = await collect(fixture("zero-window/stalled-reader.pcap"));
    expect(pageData(renderHtml(report, null)).series).toEqual({});
    const empty = { ...report, flows: [], findings: [], capture: { ...report.capture, start: null } };
    expect(pageData(renderHtml(empty, new SeriesCollector())).flows).toEqual([]);
  });

  it("carries the text report's summary by kind: same kinds, order, counts, top flows and examples", async () => {
    const { report, series } = await collect(join(CORPUS, "captures", "pcpp--example2-mixed.pcap"));
    expect(report.findings.length).toBeGreaterThan(DEFAULT_SUMMARY_THRESHOLD);
    const data = pageData(renderHtml(report, series));
    expect(data.summaryThreshold).toBe(DEFAULT_SUMMARY_THRESHOLD);
    const expected = summariseByKind(report.findings);
    expect(data.kinds.map((k: { kind: string }) => k.kind)).toEqual(expected.map((k) => k.kind));
    data.kinds.forEach((k: any, i: number) => {
      const e = expected[i]!;
      expect([k.severity, k.findings, k.flows, k.captureWide]).toEqual([
        e.severity,
        e.findings,
        e.flows,
        e.captureWide,
      ]);
      expect(k.topFlows).toEqual(e.topFlows);
      expect([k.example.flow, k.example.summary]).toEqual([e.example.flow, e.example.summary]);
    });
    // The text report's table, made by the same rule, names the same kinds in the same order.
    const table = renderText(report).split("One example of each kind")[0]!;
    const order = expected.map((k) => table.indexOf(` ${k.kind} `));
    expect(order.every((x) => x > 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
  });
});

describe("analyze -o", () => {
  const tmp = mkdtempSync(join(tmpdir(), "sockscope-out-"));
  const run = (args: string[]) => {
    const r = spawnSync(process.execPath, [CLI, ...args], {
      env: { ...process.env, NO_COLOR: "1" },
      maxBuffer: 64 << 20,
    });
    return { code: r.status, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
  };
  const capture = fixture("rst-after-fin/write-after-close.pcap");

  it("writes text and JSON to a file, as they would go to standard output", () => {
    for (const format of ["text", "json"]) {
      const out = join(tmp, `r.${format}`);
      const r = run(["analyze", "--format", format, "-o", out, capture]);
      expect(r.code).toBe(0);
      expect(r.stdout).toBe("");
      expect(readFileSync(out, "utf8")).toBe(run(["analyze", "--format", format, capture]).stdout);
    }
  });

  it("writes HTML to a file or a pipe", () => {
    const out = join(tmp, "r.html");
    const r = run(["analyze", "--format", "html", "--output", out, capture]);
    expect(r.code).toBe(0);
    const html = readFileSync(out, "utf8");
    expect(html.startsWith("<!doctype html>")).toBe(true);
    expect(run(["analyze", "-F", "html", capture]).stdout).toBe(html);
  });

  it("says so in one line when the file cannot be written", () => {
    const r = run(["analyze", "-o", join(tmp, "no", "such", "dir", "r.txt"), capture]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/cannot write/);
  });
});
