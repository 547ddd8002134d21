/**
 * Repeated habits (src/report/habits.ts): the grouping rule on made-up findings, then the
 * text report and the JSON on real corpus captures: arkime--wireshark-smb-on-windows10
 * (one Windows client resetting 5 SMB connections to port 445) and pcpp--example2-mixed
 * (145 findings, 6 habits, among them 40 connections the client closed first and 14 the
 * servers closed first: two habits, not one).
 */
import { join } from "node:path";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { Ajv } from "ajv";
import type { Finding, Severity } from "../src/analyze/finding.js";
import type { FlowReport } from "../src/analyze/result.js";
import { findHabits, MIN_HABIT_FLOWS, SHORT_SUMMARY_CHARS, shortSummary } from "../src/report/habits.js";
import { reportJsonLines } from "../src/report/json.js";
import { renderText } from "../src/report/text.js";
import { analyzeFile } from "../src/run/pipeline.js";
import { CORPUS, ROOT } from "./helpers/paths.js";
import { flowReport } from "./helpers/flow-report.js";

function flow(id: number, client: string, server: string, proto: "tcp" | "udp" = "tcp"): FlowReport {
  return flowReport(id, { client, server, proto });
}

function finding(
  kind: string,
  flowId: number | null,
  opts: { severity?: Severity; side?: Finding["side"]; frame?: number; summary?: string } = {},
): Finding {
  const frame = opts.frame ?? (flowId ?? 0) * 10 + 5;
  return {
    kind,
    severity: opts.severity ?? "warning",
    flow: flowId,
    frames: [frame],
    count: 1,
    time: 1_700_000_000 + frame,
    side: opts.side === undefined ? "client" : opts.side,
    endpoint: null,
    summary: opts.summary ?? `${kind} at frame ${frame}; and so on`,
    explanation: `Why ${kind} happens.`,
    references: ["000 §1"],
    measure: {},
  };
}

/** Flows 1-9: 1-3 from 10.0.0.5 to port 443, 4-5 from 10.0.0.5 to port 443 too, 6-7 from 10.0.0.6, 8 to port 80, 9 UDP 443. */
const FLOWS = [
  flow(1, "10.0.0.5:40001", "10.0.0.9:443"),
  flow(2, "10.0.0.5:40002", "10.0.0.8:443"),
  flow(3, "10.0.0.5:40003", "10.0.0.9:443"),
  flow(4, "10.0.0.5:40004", "10.0.0.9:443"),
  flow(5, "10.0.0.5:40005", "10.0.0.9:443"),
  flow(6, "10.0.0.6:40006", "10.0.0.9:443"),
  flow(7, "10.0.0.6:40007", "10.0.0.9:443"),
  flow(8, "10.0.0.5:40008", "10.0.0.9:80"),
  flow(9, "10.0.0.5:40009", "10.0.0.9:443", "udp"),
];

describe("the grouping rule", () => {
  it("3 flows of one client to one port with the same kind, severity and side are a habit", () => {
    const findings = [finding("abortive-close", 3), finding("abortive-close", 1), finding("abortive-close", 2)];
    const habits = findHabits(findings, FLOWS);
    expect(habits).toEqual([
      {
        kind: "abortive-close",
        severity: "warning",
        side: "client",
        proto: "tcp",
        client: "10.0.0.5",
        serverPort: 443,
        flows: [1, 2, 3],
        findings: [1, 2, 0], // by flow, whatever the input order
        example: 1,
      },
    ]);
  });

  it("2 flows are not, even with several findings each", () => {
    const findings = [
      finding("retransmission", 1, { frame: 11 }),
      finding("retransmission", 1, { frame: 13 }),
      finding("retransmission", 2, { frame: 21 }),
      finding("retransmission", 2, { frame: 23 }),
    ];
    expect(MIN_HABIT_FLOWS).toBe(3);
    expect(findHabits(findings, FLOWS)).toEqual([]);
  });

  it("a different kind, severity, side, client, server port or protocol breaks the group", () => {
    const two = [finding("abortive-close", 1), finding("abortive-close", 2)];
    for (const third of [
      finding("time-wait", 3),
      finding("abortive-close", 3, { severity: "error" }),
      finding("abortive-close", 3, { side: "server" }),
      finding("abortive-close", 6), // client 10.0.0.6
      finding("abortive-close", 8), // port 80
      finding("abortive-close", 9), // UDP
    ]) {
      expect(findHabits([...two, third], FLOWS), `${third.kind} ${third.flow} ${third.severity}`).toEqual([]);
    }
    // The server's address does not matter: flow 2 goes to 10.0.0.8, the others to 10.0.0.9.
    expect(findHabits([...two, finding("abortive-close", 3)], FLOWS)).toHaveLength(1);
  });

  it("capture-wide findings and findings of flows not in the report are never grouped", () => {
    const findings = [finding("fragment-loss", null), finding("fragment-loss", null), finding("fragment-loss", null)];
    expect(findHabits(findings, FLOWS)).toEqual([]);
    expect(findHabits([finding("x", 1), finding("x", 2), finding("x", 30)], FLOWS)).toEqual([]);
  });

  it("orders habits most severe first, then by number of flows", () => {
    const findings = [1, 2, 3].map((id) => finding("time-wait", id, { severity: "info" }));
    findings.push(...[1, 2, 3, 4, 5].map((id) => finding("keepalive", id, { severity: "info" })));
    findings.push(...[1, 2, 3].map((id) => finding("abortive-close", id)));
    expect(findHabits(findings, FLOWS).map((h) => [h.kind, h.flows.length])).toEqual([
      ["abortive-close", 3],
      ["keepalive", 5],
      ["time-wait", 3],
    ]);
  });

  it("a short line cuts the summary at its first clause, but never a differently worded one", () => {
    const ex = finding("k", 1, { summary: "the client reset it (RST frame 15); nothing was in flight" });
    expect(
      shortSummary(finding("k", 2, { summary: "the client reset it (RST frame 25); nothing was in flight" }), ex),
    ).toBe("the client reset it (RST frame 25); …");
    // A first clause over SHORT_SUMMARY_CHARS is cut at a word, with no dangling comma.
    const long = (n: number) =>
      finding("k", n, {
        summary: `${"word ".repeat(20)}and the server had closed too (its FIN, frame ${n}, left before): a race`,
      });
    expect(shortSummary(long(2), long(1))).toBe(`${"word ".repeat(20)}and the server had closed too (its FIN …`);
    expect(shortSummary(long(2), long(1)).length).toBeLessThanOrEqual(SHORT_SUMMARY_CHARS + 2);
    const odd = "both FINs crossed (frames 31 and 33): a simultaneous close; both hold TIME_WAIT";
    expect(shortSummary(finding("k", 3, { summary: odd }), ex)).toBe(odd);
    // Addresses are numbers too: another port or IPv6 address is the same wording.
    const v6 = finding("k", 1, { summary: "reset by [fd00::1]:4431 after 2.5 s; then more" });
    expect(shortSummary(finding("k", 2, { summary: "reset by [fd00::2]:4432 after 13 s; then more" }), v6)).toBe(
      "reset by [fd00::2]:4432 after 13 s; …",
    );
  });
});

function findingsSection(text: string): string {
  return text.slice(text.indexOf("Findings ("), text.indexOf("\nWarnings ("));
}

describe("on real captures", () => {
  const smb = join(CORPUS, "captures", "arkime--wireshark-smb-on-windows10.pcap");
  const mixed = join(CORPUS, "captures", "pcpp--example2-mixed.pcap");

  it("the text report prints a habit once: title, the example in full, one line per other flow", async () => {
    const r = await analyzeFile(smb);
    expect(r.habits.map((h) => [h.kind, h.side, h.client, h.serverPort, h.flows])).toEqual([
      ["abortive-close", "client", "192.168.199.132", 445, [3, 4, 5, 6, 7]],
    ]);
    const text = findingsSection(renderText(r));
    const lines = text.split("\n");
    const at = lines.findIndex((l) => l.startsWith("Habit:"));
    expect(lines[at]).toBe(
      "Habit: WARNING abortive-close by the client on 5 connections from 192.168.199.132 to tcp port 445, flows 3-7 (5)",
    );
    expect(lines[at + 1]).toBe("  flow 3 192.168.199.132:49670 → 192.168.199.133:445, in full:");
    expect(lines[at + 2]).toMatch(/^ {2}WARNING abortive-close: the client \(192\.168\.199\.132:49670\) reset/);
    // The explanation once, for the five.
    const catalogue = r.findings[r.habits[0]!.example]!.explanation.slice(0, 60);
    expect(text.split(catalogue.split(" ").slice(0, 6).join(" ")).length - 1).toBe(1);
    const tail = lines.slice(lines.indexOf("  the other 4:") + 1, lines.indexOf("  the other 4:") + 5);
    expect(tail).toEqual([
      "    flow 4 [frames 56, 57]: the client (192.168.199.132:49671) reset the connection (RST frame 57) without a FIN; …",
      "    flow 5 [frames 66, 67]: the client (192.168.199.132:49672) reset the connection (RST frame 67) without a FIN; …",
      "    flow 6 [frames 76, 77]: the client (192.168.199.132:49673) reset the connection (RST frame 77) without a FIN; …",
      "    flow 7 [frames 88, 89]: the client (192.168.199.132:49674) reset the connection (RST frame 89) without a FIN; …",
    ]);
    // The findings outside the habit are listed by flow as before.
    expect(text).toContain("Flow 1 tcp 192.168.199.133:49671 → 192.168.199.1:139\n  INFO time-wait:");
    expect(text).toContain("Flow 8 tcp 192.168.199.132:49675 → 192.168.199.133:445\n  INFO keepalive:");
  });

  it("nothing is dropped: every finding is printed in full or as its habit's line (all 145 of example2)", async () => {
    const r = await analyzeFile(mixed);
    expect(r.findings).toHaveLength(145);
    const text = findingsSection(renderText(r, { all: true, brief: true }));
    const full = text.match(/^ {2}(ERROR|WARNING|INFO) /gm)!.length;
    const short = text.match(/^ {4}flow \d+ /gm)!.length;
    expect(full + short).toBe(145);
    expect(short).toBe(r.habits.reduce((n, h) => n + h.findings.length - 1, 0));
    for (const f of r.findings) {
      const line = f.frames.length ? `[frames ${f.frames[0]}` : f.summary;
      expect(text, f.summary).toContain(line);
    }
    // The client's closes first and the servers' are two habits, and the one simultaneous
    // close among the client's is printed whole, not cut like its neighbours.
    const tw = r.habits.filter((h) => h.kind === "time-wait" && h.serverPort === 80);
    expect(tw.map((h) => [h.side, h.flows.length])).toEqual([
      ["client", 40],
      ["server", 14],
    ]);
    expect(text).toMatch(
      /^ {4}flow 230 \[frames 4475, 4481, 4482\]: both FINs crossed .* from the final ACK \(frame 4482\)$/m,
    );
  });

  it("summarised past 40 findings, the habits are named one line each after the table", async () => {
    const r = await analyzeFile(mixed);
    const text = findingsSection(renderText(r, { brief: true }));
    const block = text.slice(text.indexOf("Repeated habits (6)"), text.indexOf("One example of each kind"));
    expect(block.trim().split("\n").slice(1)).toEqual([
      "  WARNING retransmission by the server on 11 connections from 10.0.0.1 to tcp port 80, flows 19, 67, 75, 154, 160, 163, 165, 168, 186, 203, … (11)",
      "  INFO keepalive by the client on 55 connections from 10.0.0.1 to tcp port 80, flows 3, 8, 10-15, 20, 22, … (55)",
      "  INFO time-wait by the client on 40 connections from 10.0.0.1 to tcp port 80, flows 23, 33, 34, 36, 39, 43, 44, 53, 55, 58, … (40)",
      "  INFO time-wait by the server on 14 connections from 10.0.0.1 to tcp port 80, flows 18, 19, 49, 51, 75, 89, 130, 154, 165, 186, … (14)",
      // Re-sends the client's D-SACKs show it already had: needless, so info.
      "  INFO retransmission by the server on 6 connections from 10.0.0.1 to tcp port 80, flows 159, 171-174, 176 (6)",
      "  INFO time-wait by the client on 5 connections from 10.0.0.1 to tcp port 443, flows 232, 235, 236, 241, 242 (5)",
    ]);
  });

  it("the JSON keeps every finding and adds habits naming them by index, valid against the schema", async () => {
    const r = await analyzeFile(mixed);
    const json = JSON.parse([...reportJsonLines(r)].join("\n")) as {
      findings: { kind: string; flow: number; severity: string; side: string }[];
      habits: { kind: string; severity: string; side: string; flows: number[]; findings: number[]; example: number }[];
    };
    expect(json.findings).toHaveLength(145);
    expect(Object.keys(json)).toEqual(["schema", "capture", "flows", "findings", "habits", "warnings"]);
    expect(json.habits).toHaveLength(6);
    const named = json.habits.flatMap((h) => h.findings);
    expect(new Set(named).size).toBe(named.length); // a finding is in one habit at most
    for (const h of json.habits) {
      expect(h.findings).toContain(h.example);
      for (const i of h.findings) {
        const f = json.findings[i]!;
        expect([f.kind, f.severity, f.side]).toEqual([h.kind, h.severity, h.side]);
        expect(h.flows).toContain(f.flow);
      }
      expect(new Set(h.findings.map((i) => json.findings[i]!.flow)).size).toBe(h.flows.length);
    }
    const schema = JSON.parse(readFileSync(join(ROOT, "schema", "report.schema.json"), "utf8"));
    const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);
    expect(validate(json), JSON.stringify(validate.errors)).toBe(true);
  });
});
