/**
 * The text report on big captures: past the threshold (TextOptions.summaryThreshold, 40 by
 * default) the Findings section summarises by kind with one example each; `all` (analyze
 * --all) keeps the listing by flow; at or below the threshold the listing is unchanged.
 * The CLI tests run the built CLI (npm run build first).
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { Finding, Severity } from "../src/analyze/finding.js";
import type { FlowReport } from "../src/analyze/result.js";
import { REPORT_SCHEMA, type Report } from "../src/report/model.js";
import { findHabits } from "../src/report/habits.js";
import { DEFAULT_SUMMARY_THRESHOLD, renderText, summariseByKind } from "../src/report/text.js";
import { analyzeFile } from "../src/run/pipeline.js";
import { CLI, CORPUS, FIXTURES } from "./helpers/paths.js";
import { flowReport } from "./helpers/flow-report.js";

const flow = (id: number): FlowReport => flowReport(id);

function finding(kind: string, severity: Severity, flowId: number | null, frame: number): Finding {
  return {
    kind,
    severity,
    flow: flowId,
    frames: [frame, frame + 1],
    count: 2,
    time: 1_700_000_000 + frame,
    side: "client",
    endpoint: null,
    summary: `${kind} in flow ${flowId ?? "-"} at frame ${frame}`,
    explanation: `Why ${kind} happens.`,
    references: [`000 §${kind.length}`],
    measure: {},
  };
}

function report(findings: Finding[], flowCount = 30): Report {
  const flows = Array.from({ length: flowCount }, (_, i) => flow(i + 1));
  return {
    schema: REPORT_SCHEMA,
    capture: {
      file: "synthetic.pcap",
      format: "pcap-us-le",
      linkTypes: ["EN10MB"],
      packets: 300,
      bytes: 30000,
      start: 1_700_000_000,
      end: 1_700_000_030,
      durationSec: 30,
      clockJumps: [],
      ipPackets: 300,
      nonIpPackets: 0,
      truncatedPackets: 0,
      fragments: 0,
      reassembledDatagrams: 0,
      flows: { tcp: flowCount, udp: 0 },
      partial: false,
      selection: null,
    },
    flows,
    findings,
    habits: findHabits(findings, flows),
    warnings: [],
  };
}

/**
 * 50 findings, listed out of order on purpose: time-wait in flows 1-30 (30, info),
 * retransmission 3× in flow 7, 2× in flows 5 and 9, 1× in flows 2 and 4 (9, warning),
 * rst-after-fin in flows 12 and 3 (2, error), keepalive 8 info + 1 error (9, error by its worst).
 */
function bigFindings(): Finding[] {
  const f: Finding[] = [];
  for (let id = 30; id >= 1; id--) f.push(finding("time-wait", "info", id, id * 10 + 8));
  for (const [id, frame] of [
    [9, 95],
    [7, 73],
    [5, 55],
    [7, 71],
    [2, 25],
    [9, 93],
    [4, 45],
    [7, 75],
    [5, 53],
  ] as const) {
    f.push(finding("retransmission", "warning", id, frame));
  }
  f.push(finding("rst-after-fin", "error", 12, 128), finding("rst-after-fin", "error", 3, 38));
  for (const id of [20, 21, 22, 23, 24, 25, 26, 27]) f.push(finding("keepalive", "info", id, id * 10 + 2));
  f.push(finding("keepalive", "error", 29, 292));
  return f;
}

function findingsSection(text: string): string {
  return text.slice(text.indexOf("Findings ("));
}

describe("summary by kind past the threshold", () => {
  const r = report(bigFindings());
  const text = renderText(r);
  const section = findingsSection(text);

  it("counts findings, flows and top flows per kind, most severe kinds first", () => {
    expect(r.findings.length).toBeGreaterThan(DEFAULT_SUMMARY_THRESHOLD);
    const kinds = summariseByKind(r.findings);
    expect(kinds.map((k) => [k.severity, k.kind, k.findings, k.flows])).toEqual([
      ["error", "keepalive", 9, 9], // 9 findings outrank rst-after-fin's 2 among the errors
      ["error", "rst-after-fin", 2, 2],
      ["warning", "retransmission", 9, 5],
      ["info", "time-wait", 30, 30],
    ]);
    const byKind = Object.fromEntries(kinds.map((k) => [k.kind, k]));
    expect(byKind.retransmission!.topFlows).toEqual([
      { flow: 7, occurrences: 6 },
      { flow: 5, occurrences: 4 },
      { flow: 9, occurrences: 4 },
    ]);
    expect(byKind["rst-after-fin"]!.topFlows).toEqual([
      { flow: 3, occurrences: 2 },
      { flow: 12, occurrences: 2 },
    ]);
    expect(byKind["time-wait"]!.topFlows.map((t) => t.flow)).toEqual([1, 2, 3]);
    // Examples: first by flow id, then frame; for a mixed kind, the first of its worst.
    expect(byKind.retransmission!.example.frames[0]).toBe(25);
    expect(byKind["rst-after-fin"]!.example.flow).toBe(3);
    expect(byKind.keepalive!.example.severity).toBe("error");
  });

  it("prints the table, one example per kind and where the full list is", () => {
    expect(section).toMatch(/^Findings \(50\)\n┌/);
    const rows = section
      .split("\n")
      .filter((l) => /^│ (ERROR|WARNING|INFO) /.test(l))
      .map((l) =>
        l
          .split("│")
          .map((c) => c.trim())
          .slice(1, 5),
      );
    expect(rows).toEqual([
      ["ERROR", "keepalive", "9", "9"],
      ["ERROR", "rst-after-fin", "2", "2"],
      ["WARNING", "retransmission", "9", "5"],
      ["INFO", "time-wait", "30", "30"],
    ]);
    expect(section).toContain("7 10.0.0.1:40007 → 10.0.0.2:80 (6)"); // 3 findings of 2 occurrences each
    expect(section).toContain("… 2 more flows");
    expect(section).toContain("… 27 more flows");
    // One example each, in the table's order, printed as the listing prints findings.
    const examples = section.slice(section.indexOf("One example of each kind"));
    expect(examples.match(/^ {2}(ERROR|WARNING|INFO) /gm)).toHaveLength(4);
    expect(examples).toContain(
      "Flow 2 tcp 10.0.0.1:40002 → 10.0.0.2:80\n  WARNING retransmission: retransmission in flow 2 at frame 25 [frames 25, 26]\n      Why retransmission happens.\n      see 000 §14",
    );
    expect(examples.indexOf("keepalive in flow 29")).toBeLessThan(examples.indexOf("rst-after-fin in flow 3 "));
    expect(examples.indexOf("rst-after-fin in flow 3 ")).toBeLessThan(examples.indexOf("time-wait in flow 1 "));
    expect(section.trimEnd().split("\n").at(-1)).toBe(
      "All 50 findings are listed by --format json (or --all for this text report).",
    );
    expect(text).not.toContain("time-wait in flow 2 ");
  });

  it("brief drops the examples' explanations", () => {
    const brief = renderText(r, { brief: true });
    expect(brief).toContain("retransmission in flow 2 at frame 25");
    expect(brief).not.toContain("Why retransmission happens.");
  });

  it("does not depend on the findings' order", () => {
    expect(renderText(report([...bigFindings()].reverse()))).toBe(text);
  });

  it("summaryThreshold moves the switch; all: true lists every finding by flow", () => {
    const all = renderText(r, { all: true });
    expect(all).not.toContain("One example of each kind");
    for (const f of r.findings) expect(all).toContain(f.summary);
    expect(renderText(r, { summaryThreshold: 50 })).toBe(all);
    expect(renderText(r, { summaryThreshold: 49 })).toBe(text);
  });
});

describe("at or below the threshold the listing is unchanged", () => {
  it("exactly at the threshold: the listing by flow", () => {
    const r = report(bigFindings().slice(0, DEFAULT_SUMMARY_THRESHOLD));
    const text = renderText(r);
    expect(text).toBe(renderText(r, { all: true }));
    expect(text).not.toContain("One example of each kind");
    expect(findingsSection(text)).toMatch(
      /^Findings \(40\)\nFlow 12 tcp 10\.0\.0\.1:40012 → 10\.0\.0\.2:80\n {2}ERROR rst-after-fin/,
    );
  });

  it("a real capture renders as before (README example)", async () => {
    const r = await analyzeFile(join(FIXTURES, "rst-after-fin", "write-after-close.pcap"));
    expect(findingsSection(renderText(r))).toBe(`Findings (1)
Flow 1 tcp 127.0.0.1:37322 → 127.0.0.1:5020
  ERROR rst-after-fin: server closed (FIN, frame 8) while the client kept writing: the client's 20 bytes (from frame 10) drew RST (frame 11); the client's next write() gets EPIPE/SIGPIPE [frames 8, 10, 11]
      One program called close() on its socket (its FIN says "I will send no more"), but the
      other program kept writing instead of reading, so it never noticed the end-of-file. A
      socket that was close()d cannot receive, so its kernel answered the new data with a
      reset. For the writer: the first write() after the FIN succeeds (the data left), the
      next write() raises SIGPIPE and fails with EPIPE (if SIGPIPE is ignored or
      MSG_NOSIGNAL is used), and a read() returns 0 or ECONNRESET; any response the closing
      side had sent but the writer had not read yet may be discarded by the reset. Fix the
      protocol so the closing side only closes when the peer is done (or uses
      shutdown(SHUT_WR) and keeps reading until EOF), and make the writer read and handle
      EOF; handle EPIPE instead of dying of SIGPIPE.
      see 000 §2.1; 000 §2.19; 000 §2.22; 002 server termination §3-4
`);
  });

  it("a real capture's findings duplicated past the threshold are summarised", async () => {
    const r = await analyzeFile(join(FIXTURES, "zero-window", "stalled-reader.pcap"));
    const kinds = r.findings.map((f) => f.kind).sort();
    const many: Report = { ...r, findings: Array.from({ length: 15 }, () => r.findings).flat() };
    const text = renderText(many, { brief: true });
    expect(text).toContain(`Findings (${many.findings.length})`);
    for (const kind of kinds)
      expect(text).toMatch(
        new RegExp(`│ \\w+ +│ ${kind} +│ 15 +│ 1 +│ 1 127\\.0\\.0\\.1:\\d+ → 127\\.0\\.0\\.1:5130 \\(\\d+\\)`),
      );
  });
});

describe("analyze --all", () => {
  const run = (args: string[]) => {
    const r = spawnSync(process.execPath, [CLI, ...args], {
      env: { ...process.env, NO_COLOR: "1" },
      maxBuffer: 64 << 20,
    });
    return { code: r.status, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
  };
  const small = join(FIXTURES, "zero-window", "stalled-reader.pcap");

  it("is accepted and documented; a small report is the same with or without it", () => {
    const withAll = run(["analyze", "--all", small]);
    expect(withAll.code).toBe(0);
    expect(withAll.stdout).toBe(run(["analyze", small]).stdout);
    expect(run(["analyze", "--help"]).stdout).toMatch(/--all +list every finding by flow/);
  });

  it("leaves JSON alone", () => {
    expect(run(["analyze", "--all", "-F", "json", small]).stdout).toBe(run(["analyze", "-F", "json", small]).stdout);
  });

  const mixed = join(CORPUS, "captures", "pcpp--example2-mixed.pcap");
  it("a capture with 145 findings: summary by default, the listing with --all", () => {
    const summary = run(["analyze", "--brief", mixed]).stdout;
    expect(summary).toContain("Findings (145)");
    expect(summary).toContain("One example of each kind");
    expect(summary).toMatch(/│ INFO +│ time-wait +│ \d+ +│ \d+ +│/);
    const all = run(["analyze", "--brief", "--all", mixed]).stdout;
    expect(all).not.toContain("One example of each kind");
    // Every finding: in full, or as one line of its habit (test/habits.test.ts).
    const full = all.match(/^ {2}(ERROR|WARNING|INFO) /gm)!.length;
    const short = all.match(/^ {4}flow \d+ /gm)!.length;
    expect(all.match(/^Habit: /gm)).toHaveLength(6);
    expect([full, short, full + short]).toEqual([20, 125, 145]);
  });
});

describe("a capture with no packets", () => {
  it("says so instead of '0 packets, 24 bytes, 0.000 s from -' (a live run that saw nothing read only tcpdump's header)", async () => {
    const { mkdtempSync, writeFileSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const { pcapFile } = await import("./helpers/build.js");
    const path = join(mkdtempSync(join(tmpdir(), "sockscope-empty-")), "header-only.pcap");
    writeFileSync(path, pcapFile([]));
    for (const cmd of ["analyze", "flows"]) {
      const r = spawnSync(process.execPath, [CLI, cmd, path], {
        encoding: "utf8",
        env: { ...process.env, NO_COLOR: "1" },
      });
      expect(r.status).toBe(0);
      expect(r.stdout.split("\n")[1]).toBe("  no packets in the 24 bytes read");
      expect(r.stdout).not.toMatch(/0 packets|from -/);
    }
  });
});
